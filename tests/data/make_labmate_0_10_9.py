"""Write a data directory with the real labmate 0.10.9 (run as a script, in its own process).

``python make_labmate_0_10_9.py OUT`` fills OUT with:

* ``data/sine/<stamp>__sine*``: many value types, an ``AcquisitionLoop``, a config file, two
  figures with their analysis cells, ``save_files=True``, a key added during the analysis;
* ``data/steps/<stamp>__steps*``: a two-step acquisition;
* ``cfg1.py`` (the config file), ``init_analyse.py``;
* ``expected.json`` (the file prefixes, relative to OUT, and the acquisition cell) and
  ``expected_arrays.npz`` (the array values that were saved), computed here, not copied.

The tests run it once per session (``tests/conftest.py``); nothing is read from outside the
repository.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from labmate.acquisition_notebook import (  # noqa: E402
    AcquisitionAnalysisManager,
    AcquisitionLoop,
)

CFG1 = "freq = 1.5e9\nn_points = 101\npower = -20  # dBm\nlabel = 'qubit'\narr = [1, 2,\n  3]\n"
INIT = "import numpy as np\nimport matplotlib.pyplot as plt\n"
CELL = "x = np.linspace(0, 1, 101)\naqm.save_acquisition(x=x, y=np.sin(x))\n"
ANALYSIS = "aqm.analysis_cell()\nplt.plot(aqm.d.x, aqm.d.y)\naqm.save_fig()\n"
STEP_ONE = "aqm.acquisition_cell('steps')\nstep_one = 1\n"
STEP_TWO = "aqm.acquisition_cell('steps', step=2)\nstep_two = 2\n"


def _relative(prefix: object, root: Path) -> str:
    return Path(str(prefix)).relative_to(root).as_posix()


def main(out: Path) -> None:
    """Write the data directory and what the tests expect of it into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)
    (out / "cfg1.py").write_text(CFG1, encoding="utf-8")
    (out / "init_analyse.py").write_text(INIT, encoding="utf-8")
    aqm = AcquisitionAnalysisManager(
        str(out / "data"), config_files=[str(out / "cfg1.py")], save_files=True, shell=None
    )
    aqm.set_init_analyse_file(out / "init_analyse.py")

    rng = np.random.default_rng(0)
    arrays = {
        "x": np.linspace(0, 1, 101),
        "n": np.int64(7),
        "f": np.float64(2.5),
        "z": np.complex128(1 + 2j),
        "flag": np.bool_(True),
        "m": rng.random((4, 3)),
        "zc": rng.random(6) + 1j * rng.random(6),
        "b": np.array([True, False, True]),
        "i8": np.arange(5, dtype=np.int8),
    }
    arrays["y"] = np.sin(arrays["x"])

    aqm.acquisition_cell("sine", cell=CELL)
    aqm.aq.loop = loop = AcquisitionLoop()
    for i in loop(range(5)):
        for j in loop(range(3)):
            loop.append(v=10.0 * i + j, c=i + 1j * j)
    aqm.save_acquisition(
        x=arrays["x"],
        y=arrays["y"],
        n=7,
        f=2.5,
        z=1 + 2j,
        flag=True,
        m=arrays["m"],
        zc=arrays["zc"],
        b=arrays["b"],
        i8=arrays["i8"],
        s="hello",
        words=["a", "bb", "ccc"],
        mixed=[1, "two", 3.0],
        floats=[1.0, 2.0, 3.0],
        nested={"a": 1.0, "inner": {"b": np.arange(3)}},
    )
    sine = aqm.current_filepath

    aqm.analysis_cell(cell=ANALYSIS)
    plt.plot(aqm.d.x, aqm.d.y)
    aqm.save_fig()
    aqm.save_fig("named")
    plt.close("all")
    aqm.d["fit"] = np.array([1.0, 2.0])

    aqm.acquisition_cell("steps", cell=STEP_ONE)
    aqm.save_acquisition(a=1)
    aqm.acquisition_cell("steps", cell=STEP_TWO, step=2)
    aqm.save_acquisition(b=2)
    steps = aqm.current_filepath

    (out / "data" / "temp.json").unlink(missing_ok=True)
    np.savez(out / "expected_arrays.npz", **arrays)
    expected = {
        "sine": _relative(sine, out),
        "steps": _relative(steps, out),
        "seed": 0,
        "cell": CELL,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
