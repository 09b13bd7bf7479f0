"""hash_file: the sha256 of a file's bytes, on every supported Python (3.10 has no
``hashlib.file_digest``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from labmate_core.backends.identity import hash_file


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 17])
def test_hash_file_is_the_sha256_of_the_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "companion.bin"
    path.write_bytes(data)
    assert hash_file(path) == hashlib.sha256(data).hexdigest()
