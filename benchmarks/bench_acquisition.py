"""Acquisition benchmarks: AcquisitionLoop.append and analysis_cell on a large file.

Prints ratios (no thresholds): ``python -m benchmarks.bench_acquisition``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

N_POINTS = 300


def _time(function, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def bench_raw_h5py(directory: Path, n: int) -> float:
    """A resizable dataset grown by one point per append, flushed each time."""
    path = directory / "raw.h5"

    def run() -> None:
        with h5py.File(path, "w") as file:
            x = file.create_dataset("x", shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
            for i in range(n):
                x.resize((i + 1,))
                x[i] = float(i)
                file.flush()

    return _time(run) / n


def bench_ours(directory: Path, n: int) -> float:
    from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData

    counter = iter(range(10_000))

    def run() -> None:
        aq = NotebookAcquisitionData(str(directory / f"ours{next(counter)}"), cell="c")
        aq.loop = loop = AcquisitionLoop()
        for i in loop(n):
            loop.append(x=float(i))

    return _time(run) / n


def bench_labmate(directory: Path, n: int) -> float | None:
    try:
        from labmate.acquisition import AcquisitionLoop
        from labmate.acquisition.acquisition_data import NotebookAcquisitionData
    except ImportError:
        return None
    logging.getLogger("Labmate").setLevel(logging.ERROR)
    counter = iter(range(10_000))

    def run() -> None:
        aq = NotebookAcquisitionData(str(directory / f"lm{next(counter)}"), cell="c")
        aq.loop = loop = AcquisitionLoop()
        for i in loop(n):
            loop.append(x=float(i))

    return _time(run) / n


def bench_analysis_cell(directory: Path, size: int = 16_000_000) -> tuple[float, float | None]:
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    data = directory / "DATA"
    logging.getLogger("labmate_core").setLevel(logging.WARNING)
    aqm = AcquisitionAnalysisManager(data, shell=None)
    aqm.acquisition_cell("big", cell="c")
    aqm.save_acquisition(x=np.ones(size), y=np.zeros(size))
    prefix = aqm.current_filepath

    def ours() -> None:
        reader = AcquisitionAnalysisManager(data, shell=None)
        reader.analysis_cell(os.path.basename(prefix))

    ours_time = _time(ours, repeat=3)
    try:
        from labmate.acquisition_notebook import AcquisitionAnalysisManager as LabmateAQM
    except ImportError:
        return ours_time, None

    def theirs() -> None:
        reader = LabmateAQM(str(data), shell=None)
        reader.analysis_cell(prefix)
        _ = reader.d.x  # labmate loads everything at first access

    return ours_time, _time(theirs, repeat=3)


def main() -> None:
    """Run the acquisition benchmarks and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for n in (N_POINTS, 10 * N_POINTS):
            raw = bench_raw_h5py(directory, n)
            ours = bench_ours(directory, n)
            theirs = bench_labmate(directory, n)
            print(f"AcquisitionLoop.append ({n} points, each on disk when append returns)")
            print(f"  raw h5py resize+write+flush : {raw * 1e6:9.1f} us/point")
            print(
                f"  labmate_core                : {ours * 1e6:9.1f} us/point  ({ours / raw:.1f}x raw)"
            )
            if theirs is not None:
                print(
                    f"  labmate 0.10.9              : {theirs * 1e6:9.1f} us/point  "
                    f"({theirs / raw:.1f}x raw, {theirs / ours:.2f}x ours)"
                )
        ours_open, theirs_open = bench_analysis_cell(directory)
        print("analysis_cell on a 256 MB acquisition")
        print(f"  labmate_core (lazy)         : {ours_open * 1e3:9.1f} ms")
        if theirs_open is not None:
            print(
                f"  labmate 0.10.9 (+ d.x)      : {theirs_open * 1e3:9.1f} ms  "
                f"({theirs_open / ours_open:.0f}x ours)"
            )


if __name__ == "__main__":
    main()
