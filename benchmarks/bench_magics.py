"""Overhead of ``%%acquisition`` / ``%%analysis`` on a trivial cell against the plain cell.

Runs a real IPython ``InteractiveShell`` in a temporary directory; prints milliseconds per cell
(median of a few batches) and the ratios. The direct manager calls (``acquisition_cell`` +
``save_acquisition`` without the magic) separate the magic's own cost from the file's; a cell
writing the same file and cell copy with raw h5py is the floor; labmate 0.10.9's
``acquisition_cell`` + ``save_acquisition`` (it has no magic), when installed, runs in the same
shell. The issue's bound: ``%%acquisition`` costs at most 5 ms over the plain cell.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

from IPython.core.interactiveshell import InteractiveShell

CELLS = 20
BATCHES = 5
BOUND_MS = 5.0

#: A cell writing what a trivial ``%%acquisition bench --save x`` writes, with raw h5py.
RAW_H5PY = """
import os, h5py, time
def raw_acquisition(folder, cell="x = 1"):
    raw_acquisition.n = getattr(raw_acquisition, "n", 0) + 1
    prefix = os.path.join(folder, f"{time.strftime('%Y_%m_%d__%H_%M_%S')}__raw__{raw_acquisition.n}")
    with h5py.File(prefix + ".h5.tmp", "w") as f:
        f["useful"] = True
        f["experiment_name"] = "raw"
        f["acquisition_cell/1"] = cell
        f["x"] = 1
        for key, value in {"status": "completed", "owner": "host:1:2", "logs": "",
                           "prints": "", "acquisition_duration": 0.001}.items():
            f["info/" + key] = value
    os.replace(prefix + ".h5.tmp", prefix + ".h5")
    with open(prefix + "_CELL.py", "w") as f:
        f.write(cell)
"""


def per_cell_ms(run: Callable[[], object]) -> float:
    """Median over BATCHES of the mean time of CELLS calls, in ms."""
    times = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(CELLS):
            run()
        times.append((time.perf_counter() - start) / CELLS * 1e3)
    return statistics.median(times)


def main() -> None:
    import labmate_ext

    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        shell = InteractiveShell.instance()
        shell.config.Labmate.data_directory = os.path.join(tmp, "data")
        labmate_ext.load_ipython_extension(shell)
        try:

            def cell(code: str) -> Callable[[], None]:
                def run() -> None:
                    if not shell.run_cell(code, store_history=True).success:
                        raise RuntimeError(f"benchmark cell failed: {code!r}")

                return run

            plain = per_cell_ms(cell("x = 1"))
            raw_folder = os.path.join(tmp, "raw")
            os.makedirs(raw_folder)
            shell.run_cell(RAW_H5PY)
            raw = per_cell_ms(cell(f"raw_acquisition({raw_folder!r})\nx = 1"))
            direct = per_cell_ms(
                cell(
                    "aqm.acquisition_cell('bench', cell='x = 1')\nx = 1\naqm.save_acquisition(x=x);"
                )
            )
            magic = per_cell_ms(cell("%%acquisition bench --save x\nx = 1"))
            analysis_direct = per_cell_ms(cell("aqm.analysis_cell(cell='y = 1')\ny = 1"))
            analysis = per_cell_ms(cell("%%analysis\ny = 1"))
            theirs = _labmate_cell_ms(shell, cell, os.path.join(tmp, "labmate"))
        finally:
            labmate_ext.unload_ipython_extension(shell)
            shell.config.pop("Labmate", None)
            os.chdir(previous)
    print(f"plain cell                         {plain:8.3f} ms")
    print(f"raw h5py: same file + cell copy    {raw:8.3f} ms  ({raw / plain:6.1f}x plain)")
    print(f"aqm.acquisition_cell + save        {direct:8.3f} ms  ({direct / raw:6.2f}x raw h5py)")
    if theirs is not None:
        print(
            f"labmate 0.10.9 acquisition_cell+save {theirs:6.3f} ms  "
            f"({theirs / raw:6.2f}x raw h5py, {theirs / direct:.2f}x ours)"
        )
    print(f"%%acquisition --save x             {magic:8.3f} ms  ({magic / raw:6.2f}x raw h5py)")
    verdict = "within" if magic - plain <= BOUND_MS else "OVER"
    print(
        f"  over the plain cell              {magic - plain:8.3f} ms  "
        f"({verdict} the {BOUND_MS:.0f} ms bound)"
    )
    print(f"  magic vs direct calls            {magic / direct:8.2f}x")
    print(f"aqm.analysis_cell                  {analysis_direct:8.3f} ms")
    print(
        f"%%analysis                         {analysis:8.3f} ms  ({analysis / plain:6.1f}x plain)"
    )
    print(f"  magic vs direct call             {analysis / analysis_direct:8.2f}x")


def _labmate_cell_ms(shell: InteractiveShell, cell: Callable, directory: str) -> float | None:
    """labmate 0.10.9's acquisition_cell + save_acquisition in a cell, if it is installed."""
    try:
        import labmate.acquisition_notebook  # noqa: F401
    except ImportError:
        return None
    setup = (
        "from labmate.acquisition_notebook import AcquisitionAnalysisManager as _LabmateAQM\n"
        f"_lm = _LabmateAQM({directory!r}, save_files=True, shell=None)\n"
        "import logging; logging.getLogger().setLevel(logging.WARNING)  # labmate sets INFO"
    )
    if not shell.run_cell(setup).success:
        return None
    return per_cell_ms(
        cell("_lm.acquisition_cell('bench', cell='x = 1')\nx = 1\n_lm.save_acquisition(x=x);")
    )


if __name__ == "__main__":
    main()
