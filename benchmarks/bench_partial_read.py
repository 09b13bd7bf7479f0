"""Reading part of a big key in analysis: open + ``d.big[:10]`` against plain h5py and labmate.

Prints ratios (no thresholds): ``python -m benchmarks.bench_partial_read``.

Each contender opens the file and reads the first ten values of a 40 MB key (set
``BENCH_PARTIAL_MB`` for another size, e.g. 1024), warm page cache, median of many runs:

* plain h5py: ``h5py.File(path, "r")`` + ``f["big"][:10]``;
* labmate_core: ``AnalysisData(path, open_on_init=False)`` (what ``aqm.load_file`` and
  ``aqm.d`` do) + ``d.big[:10]``: the locked array is a read-only view of the file's pages;
* labmate_core, ``open_on_init=True`` (every key read at open: the big one mapped);
* labmate 0.10.9: ``AnalysisData(path)`` + ``d.big[:10]`` (reads the whole key).

A chunked key (what ``AcquisitionLoop`` writes) is still read whole by ``d.key``;
``d.get_lazy("key")[:10]`` reads only the slice: both are printed.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from labmate_core.acquisition.analysis_data import AnalysisData

try:
    from labmate.acquisition import AnalysisData as OldAnalysisData
except ImportError:  # pragma: no cover
    OldAnalysisData = None


def median_ms(func: Callable[[], object], runs: int) -> float:
    """Median wall time of ``func`` in ms over ``runs`` runs (after one warm-up)."""
    func()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _make_files(run: Path, loop: Path, megabytes: int) -> np.ndarray:
    """``run``: a big contiguous key (what ``save_acquisition`` writes) and small ones;
    ``loop``: the same values in a chunked key (what ``AcquisitionLoop`` writes)."""
    values = np.random.default_rng(0).random(megabytes * 2**20 // 8)
    with h5py.File(run, "w") as file:
        file["big"] = values
        file["small"] = np.arange(10)
        file["info"] = "an acquisition"
    with h5py.File(loop, "w") as file:
        file.create_dataset("chunked", data=values, chunks=(2**16,))
    return values[:10].copy()


def main() -> None:
    megabytes = int(os.environ.get("BENCH_PARTIAL_MB", "40"))
    with tempfile.TemporaryDirectory(prefix="bench_partial_") as name:
        path, loop = Path(name) / "run.h5", Path(name) / "loop.h5"
        expected = _make_files(path, loop, megabytes)

        def raw() -> np.ndarray:
            with h5py.File(path, "r") as file:
                return file["big"][:10]

        def ours() -> np.ndarray:
            return AnalysisData(path, open_on_init=False).big[:10]

        def ours_eager() -> np.ndarray:
            return AnalysisData(path).big[:10]

        def raw_chunked() -> np.ndarray:
            with h5py.File(loop, "r") as file:
                return file["chunked"][:10]

        def ours_chunked() -> np.ndarray:
            return AnalysisData(loop, open_on_init=False).chunked[:10]

        def ours_chunked_lazy() -> np.ndarray:
            return AnalysisData(loop, open_on_init=False).get_lazy("chunked")[:10]

        for func in (raw, ours, ours_eager, ours_chunked, ours_chunked_lazy):
            assert np.array_equal(func(), expected), func.__name__
        runs = 200
        t_raw = median_ms(raw, runs)
        t_ours = median_ms(ours, runs)
        t_eager = median_ms(ours_eager, runs)
        print(f"partial read, {megabytes} MB key, open + d.big[:10] (median of {runs} runs):")
        print(f"  plain h5py open + slice: {t_raw:.3f} ms")
        print(f"  labmate_core (open_on_init=False): {t_ours:.3f} ms = {t_ours / t_raw:.2f}x h5py")
        print(
            f"  labmate_core (open_on_init=True):  {t_eager:.3f} ms = {t_eager / t_raw:.2f}x h5py"
        )
        if OldAnalysisData is not None:

            def theirs() -> np.ndarray:
                return OldAnalysisData(str(path)).big[:10]

            assert np.array_equal(theirs(), expected)
            t_old = median_ms(theirs, max(5, runs // 20))
            print(
                f"  labmate 0.10.9: {t_old:.3f} ms = {t_old / t_raw:.1f}x h5py, "
                f"{t_old / t_ours:.0f}x labmate_core"
            )
        t_raw_c = median_ms(raw_chunked, runs)
        t_c = median_ms(ours_chunked, max(5, runs // 20))
        t_lazy = median_ms(ours_chunked_lazy, runs)
        print(f"  chunked key, plain h5py: {t_raw_c:.3f} ms")
        print(f"  chunked key, d.chunked[:10] (read whole): {t_c:.3f} ms = {t_c / t_raw_c:.1f}x")
        print(
            f"  chunked key, d.get_lazy('chunked')[:10]: {t_lazy:.3f} ms = {t_lazy / t_raw_c:.2f}x"
        )


if __name__ == "__main__":
    main()
