"""Backends: what the kernel pays for dispatching, and mirror throughput against ``cp``.

Run with ``python -m benchmarks`` (calls ``main()``) or ``python benchmarks/bench_backends.py``.
``LABMATE_BENCH_MB`` sets the size of the mirrored file (default 200).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from labmate_core.backends import (
    AcquisitionBackend,
    AcquisitionSnapshot,
    BackendDispatcher,
    MirrorDirectoryBackend,
)
from labmate_core.dh5 import storage

STAMP = "2026_11_24__16_56_38"


class Sleeping(AcquisitionBackend):
    def __init__(self, seconds: float):
        self.seconds = seconds

    def save_snapshot(self, acquisition) -> None:
        time.sleep(self.seconds)


class Blocked(AcquisitionBackend):
    def __init__(self, name: str, gate: threading.Event):
        self.name = name
        self.gate = gate

    def save_snapshot(self, acquisition) -> None:
        self.gate.wait()


def _save(prefix: Path, value: np.ndarray) -> None:
    with storage.open_write(prefix.with_name(prefix.name + ".h5")) as f:
        if "data" in f and f["data"].shape == value.shape:
            f["data"][...] = value
        else:
            if "data" in f:
                del f["data"]
            f["data"] = value


def _acquisition(data_dir: Path, stamp: str = STAMP) -> Path:
    prefix = data_dir / "bench" / f"{stamp}__bench"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    _save(prefix, np.zeros(1000))
    (prefix.parent / f"{prefix.name}_CELL.py").write_text("x = 1\n")
    return prefix


def bench_save_with_slow_backend(work: Path, repeats: int = 30) -> None:
    """(1) save + submit with a backend that sleeps 2 s, vs the save alone (medians)."""
    data_dir = work / "DATA1"
    prefix = _acquisition(data_dir)
    value = np.random.default_rng(0).random(125_000)  # 1 MB

    def timed(submit) -> tuple[float, float]:
        totals, submits = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            _save(prefix, value)
            middle = time.perf_counter()
            submit()
            end = time.perf_counter()
            totals.append(end - start)
            submits.append(end - middle)
        return float(np.median(totals)), float(np.median(submits))

    alone, _ = timed(lambda: None)
    dispatcher = BackendDispatcher(data_dir, [Sleeping(2.0)], drain_timeout=0)
    with_backend, submit = timed(lambda: dispatcher.submit(prefix))
    dispatcher.close(0)
    print(
        f"save 1 MB + submit (backend sleeping 2 s): {with_backend * 1e3:.2f} ms "
        f"(submit {submit * 1e6:.0f} us) vs save alone {alone * 1e3:.2f} ms "
        f"-> ratio {with_backend / alone:.2f}"
    )


def bench_mirror_vs_cp(work: Path, megabytes: int) -> None:
    """(2) mirror throughput vs ``cp`` of the same files: direct, and through the dispatcher."""
    data_dir = work / "DATA2"
    prefix = data_dir / "bench" / f"{STAMP}__bench"
    prefix.parent.mkdir(parents=True)
    data = np.frombuffer(np.random.default_rng(1).bytes(megabytes * 2**20), dtype=np.uint8)
    with storage.open_write(prefix.with_name(prefix.name + ".h5")) as f:  # as labmate writes
        f["data"] = data
    (prefix.parent / f"{prefix.name}_CELL.py").write_text("x = 1\n")
    files = [str(p) for p in AcquisitionSnapshot.from_prefix(prefix).files()]

    def cp() -> float:
        target = work / f"cp-{time.monotonic_ns()}"
        target.mkdir()
        start = time.perf_counter()
        subprocess.run(["cp", "-p", *files, str(target)], check=True)
        elapsed = time.perf_counter() - start
        shutil.rmtree(target)
        return elapsed

    def mirror_direct() -> float:
        root = work / f"mirror-{time.monotonic_ns()}"
        backend = MirrorDirectoryBackend(root)
        start = time.perf_counter()
        backend.save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
        elapsed = time.perf_counter() - start
        shutil.rmtree(root)
        return elapsed

    def mirror_dispatched() -> float:
        root = work / f"mirror-{time.monotonic_ns()}"
        dispatcher = BackendDispatcher(data_dir, [MirrorDirectoryBackend(root)])
        start = time.perf_counter()
        dispatcher.submit(prefix)
        dispatcher.wait()
        elapsed = time.perf_counter() - start
        dispatcher.close()
        shutil.rmtree(root)
        return elapsed

    cp()  # warm the page cache
    t_cp = min(cp() for _ in range(3))
    t_direct = min(mirror_direct() for _ in range(3))
    t_dispatched = min(mirror_dispatched() for _ in range(3))
    rate = megabytes / t_cp
    print(
        f"mirror {megabytes} MB: cp {t_cp:.3f} s ({rate:.0f} MB/s); "
        f"MirrorDirectoryBackend.save_snapshot {t_direct:.3f} s "
        f"({megabytes / t_direct:.0f} MB/s, {t_cp / t_direct:.2f}x cp); "
        f"through the dispatcher, submit + wait (no staging: one copy, consistent read) "
        f"{t_dispatched:.3f} s ({megabytes / t_dispatched:.0f} MB/s, "
        f"{t_cp / t_dispatched:.2f}x cp; required >= 0.8x)"
    )


class NoOp(AcquisitionBackend):
    def __init__(self, name: str):
        self.name = name

    def save_snapshot(self, acquisition) -> None:
        pass


def bench_submit_cost(work: Path, submits: int = 2000, fresh: int = 200) -> None:
    """(3) kernel-thread cost of one submit with 3 backends (journal writes included)."""
    data_dir = work / "DATA3"
    prefixes = [_acquisition(data_dir, f"2026_11_24__16_56_3{i}") for i in range(3)]
    start = time.perf_counter()
    for _ in range(200):
        _save(prefixes[0], np.zeros(1000))
    per_save = (time.perf_counter() - start) / 200
    # busy backends: each submit supersedes a pending one (its record is already journaled)
    gate = threading.Event()
    dispatcher = BackendDispatcher(
        data_dir, [Blocked(f"b{i}", gate) for i in range(3)], drain_timeout=0
    )
    start = time.perf_counter()
    for i in range(submits):
        dispatcher.submit(prefixes[i % 3])
    coalesced = (time.perf_counter() - start) / submits
    gate.set()
    dispatcher.close(5)
    # idle backends: every submit writes one journal file listing the 3 backends
    dispatcher = BackendDispatcher(data_dir, [NoOp(f"n{i}") for i in range(3)])
    elapsed = 0.0
    for i in range(fresh):
        start = time.perf_counter()
        dispatcher.submit(prefixes[i % 3])
        elapsed += time.perf_counter() - start
        dispatcher.wait()
    dispatcher.close()
    first = elapsed / fresh
    print(
        f"submit with 3 backends, on the kernel thread: {first * 1e6:.0f} us when idle "
        f"(one journal file for the 3 backends), {coalesced * 1e6:.0f} us when superseding "
        f"pending work; "
        f"a small h5 save: {per_save * 1e6:.0f} us -> ratios {first / per_save:.2f} / "
        f"{coalesced / per_save:.2f}"
    )


def main() -> None:
    """Run the three backend benchmarks and print their ratios."""
    megabytes = int(os.environ.get("LABMATE_BENCH_MB", "200"))
    logging.getLogger("labmate_core.backends").setLevel(logging.ERROR)  # expected drain warnings
    with tempfile.TemporaryDirectory(prefix="labmate-bench-") as tmp:
        work = Path(tmp)
        bench_save_with_slow_backend(work)
        bench_mirror_vs_cp(work, megabytes)
        bench_submit_cost(work)


if __name__ == "__main__":
    main()
