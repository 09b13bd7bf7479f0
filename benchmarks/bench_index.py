"""The acquisition index: listing the newest 50 of 10,000 acquisitions, and reindex throughput."""

from __future__ import annotations

import datetime
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from labmate_core.dh5 import storage
from labmate_core.index import AcquisitionIndex, FileSummary

N_ROWS = 10_000
N_FILES = 1_000
TARGET_MS = 200.0


def _stamp(i: int) -> str:
    """A distinct time stamp per ``i``: one acquisition every 7 minutes from 2026-01-01."""
    return (datetime.datetime(2026, 1, 1) + datetime.timedelta(minutes=7 * i)).strftime(
        "%Y_%m_%d__%H_%M_%S"
    )


def _fill_rows(index: AcquisitionIndex, data: Path) -> None:
    names = ["sine", "rabi", "ramsey", "t1", "echo"]
    summaries = [
        FileSummary(
            prefix=str(data / names[i % 5] / f"{_stamp(i)}__{names[i % 5]}"),
            name=names[i % 5],
            time_stamp=_stamp(i),
            seq=0,
            status="failed" if i % 17 == 0 else "completed",
            duration=1.0 + i % 30,
            size=10_000 + i,
            mtime_ns=i,
            keys=["acquisition_cell", "experiment_name", "info", "useful", "x", "y"],
        )
        for i in range(N_ROWS)
    ]
    index.add_summaries(summaries)
    for summary in summaries[-200:]:
        index.set_sync(summary.prefix, "mirror", "done")


def _timed(function, repeat: int = 15) -> tuple[float, float]:
    """(first call, median of the others) in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times[0], statistics.median(times[1:])


def _write_files(data: Path, count: int) -> None:
    for i in range(count):
        name = ("sine", "rabi")[i % 2]
        folder = data / name
        folder.mkdir(exist_ok=True)
        with storage.open_write(folder / f"{_stamp(i)}__{name}.h5") as file:
            file["experiment_name"] = name
            file["useful"] = np.bool_(True)
            file["acquisition_cell/1"] = "x = measure()\n"
            file["info/status"] = "completed"
            file["info/acquisition_duration"] = 1.5
            file["x"] = np.arange(100.0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows"
        data.mkdir()
        index = AcquisitionIndex(data)
        start = time.perf_counter()
        _fill_rows(index, data)
        print(f"index: {N_ROWS} rows stored in {time.perf_counter() - start:.2f} s")
        index.close()

        reopened = AcquisitionIndex(data, auto_reindex=False)
        assert reopened.count() == N_ROWS
        first, median = _timed(lambda: reopened.list(limit=50))
        verdict = "OK" if first <= TARGET_MS and median <= TARGET_MS else "SLOW"
        print(
            f"index: newest 50 of {N_ROWS}: first {first:.2f} ms, median {median:.2f} ms "
            f"(target <= {TARGET_MS:.0f} ms: {verdict})"
        )
        for label, kwargs in (
            ("name='rabi'", {"name": "rabi"}),
            ("status='failed'", {"status": "failed"}),
            ("text='ram'", {"text": "ram"}),
            ("page 100", {"offset": 5000}),
        ):
            _, median = _timed(lambda kwargs=kwargs: reopened.list(limit=50, **kwargs))
            print(f"index: newest 50, {label}: median {median:.2f} ms")
        _, median = _timed(lambda: reopened.count())
        print(f"index: count of {N_ROWS}: median {median:.2f} ms")
        reopened.close()

        files = Path(tmp) / "files"
        files.mkdir()
        _write_files(files, N_FILES)
        fresh = AcquisitionIndex(files, auto_reindex=False)
        start = time.perf_counter()
        report = fresh.reindex()
        full = time.perf_counter() - start
        start = time.perf_counter()
        again = fresh.reindex()
        unchanged = time.perf_counter() - start
        assert report.added == N_FILES and again.unchanged == N_FILES
        print(
            f"index: reindex of {N_FILES} new files: {N_FILES / full:.0f} files/s "
            f"({full:.2f} s); unchanged files: {N_FILES / unchanged:.0f} files/s "
            f"({unchanged * 1000:.0f} ms)"
        )
        fresh.close()

        from labmate_ext.panel import LabmatePanel

        start = time.perf_counter()
        panel = LabmatePanel(files, page_size=20)
        built = (time.perf_counter() - start) * 1000
        _, median = _timed(panel.refresh)
        print(
            f"panel: built on {N_FILES} acquisitions in {built:.0f} ms; refresh of a page of 20: "
            f"median {median:.1f} ms"
        )
        panel.close()


if __name__ == "__main__":
    main()
