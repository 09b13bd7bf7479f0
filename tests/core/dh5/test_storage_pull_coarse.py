"""``pull`` sees every save by another process, also two in one second on a 1-second-timestamp
filesystem (same inode, size and mtime: only the write generation tells them apart)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labmate_core.dh5 import DH5

WRITER = """
import sys
from labmate_core.dh5 import DH5
d = DH5(sys.argv[1], "a=")
for line in sys.stdin:
    d["x"] = float(line)
    print("ok", flush=True)
"""


def test_pull_sees_a_second_save_in_the_same_second(coarse_fs: Path) -> None:
    path = coarse_fs / "run.h5"
    DH5(path, "w=")["x"] = 0.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert writer.stdin is not None and writer.stdout is not None

    def write(value: float) -> None:
        writer.stdin.write(f"{value}\n")  # type: ignore[union-attr]
        writer.stdin.flush()  # type: ignore[union-attr]
        assert writer.stdout.readline().strip() == "ok"  # type: ignore[union-attr]

    same_second = 0
    try:
        for attempt in range(6):
            time.sleep(1.05 - time.time() % 1)  # start just after a second boundary
            write(attempt + 0.25)
            reader = DH5(path)
            assert float(reader.x) == attempt + 0.25
            first = os.stat(path)
            write(attempt + 0.75)
            second = os.stat(path)
            if (first.st_mtime_ns, first.st_size) != (second.st_mtime_ns, second.st_size):
                continue  # the second boundary was crossed: not the case under test
            same_second += 1
            assert reader.pull_available(), f"attempt {attempt}: a save in the same second"
            assert float(reader.pull().x) == attempt + 0.75
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    print(f"{same_second} of 6 attempts wrote twice in the same second")
    assert same_second >= 1
