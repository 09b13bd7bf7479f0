"""`labmate status` on 10,000 acquisitions (10 folders, a companion each, one backend; 1 % of
them changed since their delivery, so hashed again): target <= 2 s."""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from labmate_core.backends.configured import ConfiguredBackends
from labmate_core.backends.delivered import DeliveryRecords
from labmate_core.backends.identity import content_identity
from labmate_core.backends.mirror import MirrorDirectoryBackend
from labmate_core.cli import main as labmate
from labmate_core.dh5 import storage

N = 10_000
FOLDERS = 10
TARGET_S = 2.0


def _make(data: Path, mirror: Path) -> None:
    template = data / "template.h5"
    with storage.open_write(template) as f:
        f["x"] = np.arange(1000)
    generation = struct.pack("<Q", 2)
    backend = MirrorDirectoryBackend(mirror)
    ConfiguredBackends(data).add(backend.name, backend, "magic")
    records = DeliveryRecords(data)
    rows = []
    for i in range(N):
        folder = data / f"exp{i % FOLDERS}"
        folder.mkdir(exist_ok=True)
        prefix = folder / f"2026_01_01__00_00_{i:05d}__exp{i % FOLDERS}"
        shutil.copyfile(template, prefix.with_name(prefix.name + ".h5"))
        storage.lock_path(prefix.with_name(prefix.name + ".h5")).write_bytes(generation)
        (folder / f"{prefix.name}_CELL.py").write_text(f"x = {i}\n")
        identity = content_identity(prefix, names=[prefix.name + ".h5", f"{prefix.name}_CELL.py"])
        rows.append((backend.name, records.relative(prefix), identity.to_json(), time.time()))
    template.unlink()
    storage.lock_path(template).unlink(missing_ok=True)
    records.path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(records.path)) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS delivered (backend TEXT NOT NULL, prefix TEXT NOT NULL,"
            " identity TEXT NOT NULL, time REAL NOT NULL, PRIMARY KEY (backend, prefix))"
        )
        db.executemany("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?)", rows)
        db.commit()
    for i in range(0, N, 100):  # 1 %: changed since delivered (stale)
        folder = data / f"exp{i % FOLDERS}"
        (folder / f"2026_01_01__00_00_{i:05d}__exp{i % FOLDERS}_CELL.py").write_text("x = -1\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, mirror = Path(tmp) / "data", Path(tmp) / "mirror"
        data.mkdir()
        start = time.perf_counter()
        _make(data, mirror)
        print(f"made {N} acquisitions in {time.perf_counter() - start:.1f} s")
        times = []
        for _ in range(4):
            out = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stdout(out):
                code = labmate(["status", str(data)])
            times.append(time.perf_counter() - start)
        stale = out.getvalue().count(" stale (")
        assert code == 1 and stale == N // 100, (code, stale)
        first, median = times[0], statistics.median(times[1:])
        verdict = "OK" if median <= TARGET_S else "SLOW"
        print(
            f"labmate status, {N} acquisitions ({stale} stale): first {first:.2f} s, "
            f"median {median:.2f} s (target <= {TARGET_S} s) {verdict}"
        )


if __name__ == "__main__":
    main()
