"""Overhead of ``%%acquisition`` / ``%%analysis`` on a trivial cell against the plain cell.

Runs a real IPython ``InteractiveShell`` in a temporary directory; prints milliseconds per cell
(median of a few batches) and the ratios. The direct manager calls (``acquisition_cell`` +
``save_acquisition`` without the magic) separate the magic's own cost from the file's.
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
            direct = per_cell_ms(
                cell(
                    "aqm.acquisition_cell('bench', cell='x = 1')\nx = 1\naqm.save_acquisition(x=x);"
                )
            )
            magic = per_cell_ms(cell("%%acquisition bench --save x\nx = 1"))
            analysis_direct = per_cell_ms(cell("aqm.analysis_cell(cell='y = 1')\ny = 1"))
            analysis = per_cell_ms(cell("%%analysis\ny = 1"))
        finally:
            labmate_ext.unload_ipython_extension(shell)
            shell.config.pop("Labmate", None)
            os.chdir(previous)
    print(f"plain cell                         {plain:8.3f} ms")
    print(f"aqm.acquisition_cell + save        {direct:8.3f} ms  ({direct / plain:6.1f}x plain)")
    print(f"%%acquisition --save x             {magic:8.3f} ms  ({magic / plain:6.1f}x plain)")
    print(f"  magic vs direct calls            {magic / direct:8.2f}x")
    print(f"aqm.analysis_cell                  {analysis_direct:8.3f} ms")
    print(
        f"%%analysis                         {analysis:8.3f} ms  ({analysis / plain:6.1f}x plain)"
    )
    print(f"  magic vs direct call             {analysis / analysis_direct:8.2f}x")


if __name__ == "__main__":
    main()
