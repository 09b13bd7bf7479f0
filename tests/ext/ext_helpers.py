"""Helpers for the extension tests (imported as ``ext_helpers``)."""

from __future__ import annotations

from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

from labmate_core import DH5


def run(shell: InteractiveShell, code: str):
    """Run one cell as a notebook would (stored in history)."""
    return shell.run_cell(code, store_history=True)


def h5_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.h5"))


def only_h5(directory: Path) -> DH5:
    files = h5_files(directory)
    assert len(files) == 1, files
    return DH5(files[0])
