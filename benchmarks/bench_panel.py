"""The panel on a big data directory, and the cost of a loop's progress bar.

* 10,000 real acquisition files (written with plain h5py to keep the setup short; the index
  reads them like any other): the panel's first render (constructor: the first page of 20 rows
  from the index, which already exists as when a notebook reopens the panel; the files are then
  re-read in the background, timed apart) must take <= 300 ms, a filter change <= 100 ms. The
  widgets are built without a kernel (no comm messages; the browser's drawing is not timed).
* An ``AcquisitionLoop`` writing to a file, with and without its progress bar, and with the
  live plot of ``%%acquisition --live`` (each throttled): each must cost <= 5 % of the sweep
  (a CPU-bound sweep of appends only, and one with 1 ms of instrument time per point).
"""

from __future__ import annotations

import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

N_FILES = int(os.environ.get("LABMATE_BENCH_PANEL_FILES", "10000"))
FIRST_RENDER_MS = 300.0
FILTER_MS = 100.0
#: (points, instrument time per point in s, repetitions): a CPU-bound sweep, and an 8 s one in
#: which the live plot draws several times (its first drawing waits ~2 s after the start)
SWEEPS = ((8000, 0.0, 5), (4000, 0.002, 3))
LOOP_OVERHEAD = 0.05


def _stamp(i: int) -> str:
    return (datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=7 * i)).strftime(
        "%Y_%m_%d__%H_%M_%S"
    )


def _write_files(data: Path, count: int) -> None:
    names = ["sine", "rabi", "ramsey", "t1", "echo"]
    for name in names:
        (data / name).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = names[i % 5]
        with h5py.File(data / name / f"{_stamp(i)}__{name}.h5", "w") as file:
            file["experiment_name"] = name
            file["useful"] = np.bool_(True)
            file["acquisition_cell/1"] = "x = measure()\n"
            file["info/status"] = "failed" if i % 17 == 0 else "completed"
            file["info/acquisition_duration"] = 1.5
            file["x"] = np.arange(10.0)


def _median_ms(function, repeat: int = 9) -> tuple[float, float]:
    """(median, max) in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def bench_panel() -> None:
    from labmate_core.index import AcquisitionIndex
    from labmate_ext.panel import LabmatePanel

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        _write_files(data, N_FILES)
        written = time.perf_counter() - start
        start = time.perf_counter()
        AcquisitionIndex(data).close()  # the index is built once (a new directory's first open)
        built = time.perf_counter() - start
        print(f"panel: {N_FILES} files written in {written:.1f} s, indexed in {built:.1f} s")

        panels = []
        times = []
        for _ in range(7):
            start = time.perf_counter()
            panels.append(LabmatePanel(data, page_size=20))
            times.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            assert panels[-1].wait_reindexed()  # the files re-read in the background
            reindexed = (time.perf_counter() - start) * 1000
        render, render_max = statistics.median(times), max(times)
        print(f"panel: then the background re-read of the {N_FILES} files: {reindexed:.0f} ms")
        panel = panels[-1]
        assert panel.total == N_FILES, panel.total
        verdict = "OK" if render <= FIRST_RENDER_MS else "SLOW"
        print(
            f"panel: first render on {N_FILES} acquisitions: median {render:.0f} ms, "
            f"max {render_max:.0f} ms (target <= {FIRST_RENDER_MS:.0f} ms: {verdict})"
        )
        values = iter(["failed", "completed", "", "failed", "", "completed", "", "failed", ""] * 3)

        def status_change() -> None:
            panel.status_filter.value = next(values)

        texts = iter(["ram", "", "t1", "", "sine", "", "ech", "", "rabi"] * 3)

        def text_change() -> None:
            panel.text_filter.value = next(texts)

        for label, change in (("status", status_change), ("text", text_change)):
            median, worst = _median_ms(change)
            verdict = "OK" if median <= FILTER_MS else "SLOW"
            print(
                f"panel: {label} filter change: median {median:.1f} ms, max {worst:.1f} ms "
                f"(target <= {FILTER_MS:.0f} ms: {verdict})"
            )
        panel.status_filter.value = ""
        panel.text_filter.value = ""
        median, _ = _median_ms(lambda: panel.go_to(panel.page + 1))
        print(f"panel: next page: median {median:.1f} ms")
        for made in panels:
            made.close()


def _sweep(path: Path, mode: str, points: int, work: float) -> float:
    """Seconds for a sweep of ``points`` points, each ``work`` s of instrument time
    (sleep) + one append; ``mode``: off (no progress), bar (widget bar), live (bar + plot)."""
    import contextlib

    from labmate_core.acquisition import AcquisitionLoop
    from labmate_core.display import progress

    saved = progress.start, progress.has_frontend
    if mode == "off":
        progress.start = lambda length, path_of, loop=None: None  # type: ignore[assignment]
    else:
        progress.has_frontend = lambda: True  # type: ignore[assignment]
    try:
        with progress.live_plots() if mode == "live" else contextlib.nullcontext():
            loop = AcquisitionLoop()
            loop.attach(str(path), "loop")
            start = time.perf_counter()
            for f in loop(np.linspace(0, 1, points)):
                if work:
                    time.sleep(work)
                loop.append(f=f, v=np.sin(f))
            elapsed = time.perf_counter() - start
            loop.close()
            live = getattr(loop._progress, "live", None)
            if live is not None:  # its last drawing must not run into the next sweep
                live._executor.shutdown(wait=True)
    finally:
        progress.start, progress.has_frontend = saved  # type: ignore[assignment]
    return elapsed


def bench_progress() -> None:
    import contextlib
    import io
    import logging

    logging.getLogger("labmate_core.display.progress").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        results: dict[tuple[str, float], list[float]] = {}
        for points, work, repeat in SWEEPS:
            for i in range(repeat):
                modes = ("off", "bar", "live") if i % 2 else ("live", "bar", "off")
                for mode in modes:
                    path = Path(tmp) / f"{mode}{work}{i}.h5"
                    with h5py.File(path, "w") as file:
                        file["x"] = 1
                    results.setdefault((mode, work), []).append(_sweep(path, mode, points, work))
    from labmate_core.display import progress

    bar = progress.Progress(100_000, widget=False)
    bar.set_done(0)
    start = time.perf_counter()
    for i in range(100_000):
        progress.advance(bar, [i], [100_000])
    each = (time.perf_counter() - start) / 100_000
    print(
        f"progress: bookkeeping per point: {each * 1e6:.1f} us ({each / 1e-3:.2%} of a 1 ms point)"
    )
    saved = progress.has_frontend
    progress.has_frontend = lambda: True  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            made, _ = _median_ms(lambda: progress.Progress(100, widget=True), repeat=5)
    finally:
        progress.has_frontend = saved  # type: ignore[assignment]
    print(f"progress: creating and displaying the bar (once per loop): median {made:.1f} ms")
    for points, work, _ in SWEEPS:
        off = statistics.median(results[("off", work)])
        for mode in ("bar", "live"):
            ratio = statistics.median(results[(mode, work)]) / off
            verdict = "OK" if ratio <= 1 + LOOP_OVERHEAD else "SLOW"
            what = "bar" if mode == "bar" else "bar + live plot"
            print(
                f"progress: {points}-point sweep ({work * 1000:.0f} ms of instrument time "
                f"per point, {off:.2f} s) with {what} / without: {ratio:.3f} "
                f"(target <= {1 + LOOP_OVERHEAD:.2f}: {verdict})"
            )


def main() -> None:
    bench_progress()
    bench_panel()


if __name__ == "__main__":
    main()
