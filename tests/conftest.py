"""Fixtures shared by every test: labmate-written files, made or copied inside the repository."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Files in labmate's older layout, kept in the repository (see tests/data/README.md).
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def labmate_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``labmate-0.10.9/`` written now by the real labmate 0.10.9, and ``labmate-old/``.

    The labmate directory holds ``data/`` plus ``expected.json`` / ``expected_arrays.npz``
    computed by the script that wrote it (``tests/data/make_labmate_0_10_9.py``).
    """
    if importlib.util.find_spec("labmate") is None:
        pytest.skip("labmate 0.10.9 is not installed (pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("labmate-fixtures")
    made = subprocess.run(
        [sys.executable, str(TEST_DATA / "make_labmate_0_10_9.py"), str(root / "labmate-0.10.9")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if made.returncode != 0:
        raise RuntimeError(f"labmate 0.10.9 could not write the fixture:\n{made.stderr}")
    shutil.copytree(TEST_DATA / "labmate-old", root / "labmate-old")
    return root


@pytest.fixture
def fixture_copy(tmp_path: Path, labmate_fixtures: Path) -> Path:
    """A private, writable copy of the labmate-written fixtures."""
    target = tmp_path / "fixtures"
    shutil.copytree(labmate_fixtures, target)
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

