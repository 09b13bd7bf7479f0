"""Another process holds the write lock of ``delivered.sqlite`` (a stopped or slow process in
the middle of a transaction): the worker waits for it, the kernel's submit does not
(attack/sqlite_locked.py: an acquisition took 19.6 s while the lock was held)."""

from __future__ import annotations

import subprocess
import sys
import time

from labmate_core.backends import MirrorDirectoryBackend
from labmate_core.backends.delivered import DeliveryRecords

HOLD = 6.0


def test_a_submit_never_waits_for_the_delivery_records(data_dir, tmp_path, dispatchers, lab):
    first = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_38")
    second = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_39")
    dispatcher = dispatchers(data_dir, [MirrorDirectoryBackend(tmp_path / "m")])
    dispatcher.submit(first)
    assert dispatcher.wait(30)  # delivered.sqlite exists
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(float(sys.argv[2]))",
            str(DeliveryRecords(data_dir).path),
            str(HOLD),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lab.rewrite_h5(first, 2)
        dispatcher.submit(first)  # the worker copies it, then waits to record it
        time.sleep(1.0)
        start = time.monotonic()
        for _ in range(3):
            dispatcher.submit(second)
            dispatcher.submit(first)
        took = time.monotonic() - start
        assert took < 1.0, f"submits waited {took:.1f} s for delivered.sqlite"
    finally:
        holder.kill()
        holder.wait()
    assert dispatcher.wait(60)
