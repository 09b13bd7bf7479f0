"""MirrorDirectoryBackend: a copy of each acquisition in another folder (disk, share, USB)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .base import AcquisitionBackend, AcquisitionSnapshot
from .copying import atomic_copy, remove_stale_temporaries, same_file_state
from .files import acquisition_files

logger = logging.getLogger(__name__)


class MirrorDirectoryBackend(AcquisitionBackend):
    """Copies an acquisition's own files to ``root/<experiment folder>/``.

    Each file is written under a hidden temporary name, size-checked and renamed, so a
    destination file is complete or absent; files with the same size and mtime are skipped.
    ``root`` is created now if missing (``create=True``) but never re-created later: a mirror
    that disappeared (an unmounted disk) makes the snapshot fail and be retried.
    """

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

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"mirror root {self.root} does not exist (unmounted or removed?)"
            )

    def save_snapshot(self, acquisition: AcquisitionSnapshot) -> None:
        """Copy the files at ``acquisition.filepath`` to ``root/<its folder name>/``."""
        self._check_root()
        source = Path(acquisition.filepath)
        files = acquisition_files(source)
        if not files:
            raise FileNotFoundError(f"no files for acquisition {source}")
        destination = self.root / source.parent.name
        destination.mkdir(exist_ok=True)
        remove_stale_temporaries(destination)
        copied = _copy_changed(files, destination)
        logger.debug("mirrored %s: %d/%d file(s) copied", source.name, copied, len(files))

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
    copied = 0
    for source in files:
        target = destination / source.name
        try:
            if same_file_state(source.stat(), target.stat()):
                continue
        except FileNotFoundError:
            pass
        atomic_copy(source, target)
        copied += 1
    return copied
