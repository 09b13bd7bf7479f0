"""Overhead of ``%%acquisition`` / ``%%analysis`` on a trivial cell against the plain cell.

Runs a real IPython ``InteractiveShell`` in a temporary directory; prints milliseconds per cell
(median of a few batches) and the ratios. The direct manager calls (``acquisition_cell`` +
``save_acquisition`` without the magic) separate the magic's own cost from the file's; a cell
writing the same file and cell copy with raw h5py is the floor; labmate 0.10.9's
``acquisition_cell`` + ``save_acquisition`` (it has no magic), when installed, runs in the same
shell. The goal: ``%%acquisition`` on a trivial cell takes at most 2x the same cell writing the
same ``.h5`` and ``_CELL.py`` with raw h5py (the former 5 ms bound is withdrawn: the file is
written with status *running* before the body, then completed, crash-safe).
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from IPython.core.interactiveshell import InteractiveShell

CELLS = 20
BATCHES = 7
GOAL_RATIO = 2.0

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


def per_cell_ms(runs: dict[str, Callable[[], object]], batches: int = BATCHES) -> dict[str, float]:
    """For each run, the median over ``batches`` of the mean time of CELLS calls, in ms; the
    batches of the runs are interleaved, so that a machine slowing down slows them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(batches):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(CELLS):
                run()
            times[name].append((time.perf_counter() - start) / CELLS * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    import labmate_ext

    previous = os.getcwd()
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    root.setLevel(logging.WARNING)  # as in a fresh kernel: importing labmate (another
    root.handlers = []  # benchmark) sets INFO and a handler that would print every start
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

            raw_folder = os.path.join(tmp, "raw")
            os.makedirs(raw_folder)
            shell.run_cell(RAW_H5PY)
            # the goal's three first, by themselves: the other cells rewrite files in place
            # (journaled saves), which slows the next file creations
            ms = per_cell_ms(
                {
                    "plain": cell("x = 1"),
                    "raw": cell(f"raw_acquisition({raw_folder!r})\nx = 1"),
                    "magic": cell("%%acquisition bench --save x\nx = 1"),
                }
            )
            others = {
                "direct": cell(
                    "aqm.acquisition_cell('bench', cell='x = 1')\nx = 1\naqm.save_acquisition(x=x);"
                ),
                "analysis_direct": cell("aqm.analysis_cell(cell='y = 1')\ny = 1"),
                "analysis": cell("%%analysis\ny = 1"),
            }
            theirs = _labmate_cell(shell, cell, os.path.join(tmp, "labmate"))
            if theirs is not None:
                others["theirs"] = theirs
            ms.update(per_cell_ms(others))
        finally:
            labmate_ext.unload_ipython_extension(shell)
            shell.config.pop("Labmate", None)
            os.chdir(previous)
            root.setLevel(level)
            root.handlers = handlers
    plain, raw, direct, magic = ms["plain"], ms["raw"], ms["direct"], ms["magic"]
    analysis_direct, analysis, theirs = ms["analysis_direct"], ms["analysis"], ms.get("theirs")
    print(f"plain cell                         {plain:8.3f} ms")
    print(f"raw h5py: same file + cell copy    {raw:8.3f} ms  ({raw / plain:6.1f}x plain)")
    print(f"aqm.acquisition_cell + save        {direct:8.3f} ms  ({direct / raw:6.2f}x raw h5py)")
    if theirs is not None:
        print(
            f"labmate 0.10.9 acquisition_cell+save {theirs:6.3f} ms  "
            f"({theirs / raw:6.2f}x raw h5py, {theirs / direct:.2f}x ours)"
        )
    ratio = magic / raw
    verdict = "within" if ratio <= GOAL_RATIO else "OVER"
    print(
        f"%%acquisition --save x             {magic:8.3f} ms  ({ratio:6.2f}x raw h5py: "
        f"{verdict} the {GOAL_RATIO:.0f}x goal)"
    )
    print(
        f"  over the plain cell              {magic - plain:8.3f} ms  "
        f"(raw h5py: {raw - plain:.3f} ms over plain)"
    )
    print(f"  magic vs direct calls            {magic / direct:8.2f}x")
    print(f"aqm.analysis_cell                  {analysis_direct:8.3f} ms")
    print(
        f"%%analysis                         {analysis:8.3f} ms  ({analysis / plain:6.1f}x plain)"
    )
    print(f"  magic vs direct call             {analysis / analysis_direct:8.2f}x")


def _labmate_cell(shell: InteractiveShell, cell: Callable, directory: str) -> Callable | None:
    """labmate 0.10.9's acquisition_cell + save_acquisition in a cell, if it is installed."""
    try:
        import labmate.acquisition_notebook  # noqa: F401
    except ImportError:
        return None
    setup = (
        "from labmate.acquisition_notebook import AcquisitionAnalysisManager as _LabmateAQM\n"
        f"_lm = _LabmateAQM({directory!r}, save_files=True, shell=None)\n"
        "import logging\n"
        "logging.getLogger().setLevel(logging.WARNING)  # labmate sets INFO and a handler\n"
        "logging.getLogger().handlers = []\n"
        "from labmate.logger import logger as _lm_logger  # its own handler prints every start\n"
        "for _h in _lm_logger.handlers:\n"
        "    if type(_h) is logging.StreamHandler:\n"
        "        _h.setLevel(logging.WARNING)"
    )
    if not shell.run_cell(setup).success:
        return None
    return cell("_lm.acquisition_cell('bench', cell='x = 1')\nx = 1\n_lm.save_acquisition(x=x);")


if __name__ == "__main__":
    main()
