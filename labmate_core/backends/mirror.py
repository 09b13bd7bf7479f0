"""MirrorDirectoryBackend: a copy of each acquisition in another folder (disk, share, USB)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from .base import AcquisitionBackend, AcquisitionSnapshot
from .copying import (
    atomic_copy,
    clone_or_copy,
    remove_stale_temporaries,
    same_file_state,
    sync_directory,
    sync_file,
    temporary_name,
)
from .files import acquisition_files
from .staging import copy_consistently, private_staging_dir, stage_files

logger = logging.getLogger(__name__)


class MirrorDirectoryBackend(AcquisitionBackend):
    """Copies an acquisition's own files to ``root/<experiment folder>/``.

    Each file is written under a hidden temporary name, size-checked and renamed, so a
    destination file is complete or absent. Every file is copied each time (what is unchanged is
    judged by content, by the worker: see ``identity.py``, never by size and mtime).
    ``root`` is created now if missing (``create=True``) but never re-created later: a mirror
    that disappeared (an unmounted disk) makes the snapshot fail and be retried.
    """

    #: ``save_snapshot`` takes a consistent copy of the live files: no staging needed
    reads_source_consistently = True

    def __init__(self, root: str | os.PathLike, *, create: bool = True):
        if not isinstance(root, (str, os.PathLike)) or not os.fspath(root):
            raise TypeError(f"the mirror root must be a path, got {root!r}")
        self.root = Path(root).expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"mirror root {self.root} is not a directory")
        if create and not self.root.exists():
            self.root.mkdir(parents=True)
            logger.info("created mirror root %s", self.root)

    def default_name(self) -> str:
        return f"mirror:{self.root}"

    def spec(self) -> dict[str, Any]:
        """Re-created by ``labmate sync`` without ``--backend`` (never re-creating the root)."""
        return {"kind": "mirror", "args": [str(self.root)], "kwargs": {"create": False}}

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"mirror root {self.root} does not exist (unmounted or removed?)"
            )

    def save_snapshot(self, acquisition: AcquisitionSnapshot) -> None:
        """Copy the files at ``acquisition.filepath`` to ``root/<its folder name>/``.

        The files may be the live ones: each changed file is copied to a hidden temporary name
        at the destination, and the whole set is taken again if the ``.h5`` was written (or a
        companion changed) meanwhile, without blocking the writer (``copy_consistently``). When
        the writer keeps writing, the set is taken under the shared lock into a local staging
        folder only (fast: the writer waits for it), and shipped from there after the lock is
        released, so a slow destination never holds up the writer. Only then are the
        temporaries renamed into place, the ``.h5`` last.
        """
        self._check_root()
        source = Path(acquisition.filepath)
        destination = self.root / source.parent.name
        h5 = source.with_name(source.name + ".h5")
        copies: list[tuple[Path, Path]] = []  # (temporary, final) of the current try
        counts = [0, 0]
        staging = contextlib.ExitStack()
        staged: Path | None = None  # the private staging folder, made when first needed
        was_staged = False  # the last try was stage(): its copy is yet to be shipped

        def copy_from(folder: Path) -> bool:
            nonlocal was_staged
            _discard(copies)
            was_staged = False
            files = acquisition_files(folder / source.name)
            if not files:
                raise FileNotFoundError(f"no files for acquisition {source}")
            destination.mkdir(exist_ok=True)
            counts[:] = [0, len(files)]
            for path in files:
                if not self._copy_file(path, destination / path.name, copies):
                    return False
            return True

        def stage() -> bool:  # under the shared lock: a local copy only
            nonlocal staged, was_staged
            _discard(copies)
            if staged is None:
                staged = staging.enter_context(private_staging_dir()) / source.parent.name
            was_staged = True
            return stage_files(source, staged)

        remove_stale_temporaries(destination)
        try:
            copy_consistently(h5, lambda: copy_from(source.parent), locked_copy=stage)
            if was_staged and staged is not None and not copy_from(staged):
                raise OSError(f"staged copy of {source} changed while being shipped")
            for tmp, final in copies:  # the .h5 is the last of the files
                os.replace(tmp, final)
                counts[0] += 1
            if copies:
                sync_directory(destination)
        finally:
            _discard(copies)
            staging.close()
        logger.debug("mirrored %s: %d/%d file(s) copied", source.name, *counts)

    def copy_file(self, source: Path, target: Path) -> None:
        """Write ``source`` to ``target`` at the destination (never under a lock of the source)."""
        clone_or_copy(source, target)

    def _copy_file(self, source: Path, final: Path, copies: list[tuple[Path, Path]]) -> bool:
        """Copy ``source`` to a temporary beside ``final``.

        Appends (temporary, final) to ``copies``; False when ``source`` changed during the copy.
        """
        try:
            before = source.stat()
        except FileNotFoundError:
            return False  # replaced (renamed over) or removed meanwhile: take the set again
        tmp = temporary_name(final)
        copies.append((tmp, final))
        try:
            self.copy_file(source, tmp)
            after = source.stat()
        except FileNotFoundError:
            if not final.parent.is_dir():
                raise
            return False
        if not same_file_state(before, after):
            return False
        got = tmp.stat().st_size
        if got != after.st_size:
            raise OSError(f"copy of {source} is {got} bytes instead of {after.st_size}")
        sync_file(tmp)
        return True

    def load_snapshot(self, acquisition: AcquisitionSnapshot) -> bool:
        """Copy the mirrored files back next to ``acquisition.filepath``; False if absent."""
        self._check_root()
        target = Path(acquisition.filepath)
        mirrored = self.root / target.parent.name / target.name
        files = acquisition_files(mirrored)
        if not any(f.name == target.name + ".h5" for f in files):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_changed(files, target.parent)
        return True

    def __repr__(self) -> str:
        return f"MirrorDirectoryBackend({str(self.root)!r})"


def _copy_changed(files: list[Path], destination: Path) -> int:
    for source in files:
        atomic_copy(source, destination / source.name)
    return len(files)


def _discard(copies: list[tuple[Path, Path]]) -> None:
    """Remove the temporaries still listed in ``copies`` (renamed ones are already gone)."""
    for tmp, _ in copies:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    copies.clear()
