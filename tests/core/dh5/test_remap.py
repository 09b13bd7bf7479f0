"""remap.make_private: a mapping's bytes stay readable after its file is truncated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labmate_core.dh5 import remap

pytestmark = pytest.mark.skipif(not remap.AVAILABLE, reason="mremap is Linux only")

_SCRIPT = """
import mmap, os, sys
import numpy as np
from labmate_core.dh5 import remap
path, private = sys.argv[1], sys.argv[2] == "1"
np.arange(1_000_000, dtype=float).tofile(path)
fd = os.open(path, os.O_RDONLY)
pages = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
os.close(fd)
array = np.frombuffer(pages, dtype=float)[10:]
if private:
    assert remap.make_private(pages)
os.truncate(path, 0)
assert array[-1] == 999_999.0 and not array.flags.writeable
del array
pages.close()
print("ok")
"""


@pytest.mark.parametrize("private", [True, False])
def test_truncated_file(tmp_path, private):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "f.bin"), "1" if private else "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if private:
        assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
    else:  # what make_private prevents: reading a mapping past the end of its file
        assert result.returncode == -7, (result.returncode, result.stderr[-2000:])  # SIGBUS


def test_closed_mapping_is_left_alone(tmp_path):
    import mmap

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 4096)
    with open(path, "rb") as handle:
        pages = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    pages.close()
    assert remap.make_private(pages) is False
