"""Fixtures shared by every test: the labmate-written files in ``../shared/fixtures``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Files written by labmate 0.10.9 and older (read-only; copy before writing next to them).
SHARED_FIXTURES = Path(
    os.environ.get("LABMATE_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the shared fixtures."""
    if not SHARED_FIXTURES.is_dir():
        raise FileNotFoundError(f"the shared fixtures are missing: {SHARED_FIXTURES}")
    target = tmp_path / "fixtures"
    shutil.copytree(SHARED_FIXTURES, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture(autouse=True)
def _fresh_index_registry():
    """Each test gets its own index objects and listeners."""
    yield
    from labmate_core import index

    index.flush(5)
    index.reset()


@pytest.fixture
def coarse_fs(tmp_path: Path):
    """A folder on a real filesystem with 1-second timestamps: a loop-mounted ext2 image made
    with ``mkfs.ext2 -I 128`` (128-byte inodes have no sub-second times). Skipped, with the
    reason, where it cannot be mounted (not root, no loop devices)."""
    import subprocess

    image, mountpoint = tmp_path / "coarse.img", tmp_path / "coarse"
    mountpoint.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(64 << 20)
    made = subprocess.run(
        ["mkfs.ext2", "-q", "-F", "-I", "128", str(image)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot make an ext2 image: {made.stderr.strip()}")
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mountpoint)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot loop-mount an ext2 image (needs root): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        from labmate_core import index

        index.flush(5)  # the index writer thread must be done with it
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
