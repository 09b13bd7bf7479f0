"""Real small filesystems for fault tests (tests run as root in CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def mount_tmpfs(where: Path, options: str) -> Path:
    """Mount a real tmpfs (``-o options``, e.g. ``size=20m``) on a new folder ``where``; skips
    the test, printing the reason, where mounting is impossible. Unmount with :func:`unmount`."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}"
        print(reason)
        pytest.skip(reason)
    return where


def unmount(where: Path) -> None:
    """Unmount ``where`` once the index writer is done with it (lazily: a late reader holds it)."""
    from labmate_core import index

    index.flush(5)
    subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
