"""Staging: a private, consistent copy of one acquisition taken under the file's shared lock."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..dh5 import storage
from .base import AcquisitionSnapshot
from .copying import atomic_copy, clone_or_copy, same_file_state
from .files import acquisition_files

logger = logging.getLogger(__name__)

MAX_STAGE_ATTEMPTS = 5


class AcquisitionMissingError(FileNotFoundError):
    """The acquisition has no ``.h5`` file any more."""


def _copy_set(files: list[Path], destination: Path) -> bool:
    """Copy ``files`` into ``destination``; False when one of them changed while being copied."""
    for source in files:
        try:
            before = source.stat()
            clone_or_copy(source, destination / source.name)
            after = source.stat()
        except FileNotFoundError:
            return False  # a companion was replaced (rename) during the copy: take it again
        if not same_file_state(before, after):
            return False
    return True


@contextlib.contextmanager
def staged_snapshot(
    prefix: Path, staging_root: Path, experiment_name: str | None = None
) -> Iterator[AcquisitionSnapshot]:
    """Yield a snapshot of the acquisition at ``prefix`` whose files are private copies.

    The copies are taken under ``storage.file_lock(<prefix>.h5, shared=True)`` (writers take it
    exclusive) and re-taken if a file still changed meanwhile. The staged folder is named like
    the experiment folder, and is removed when the block ends.
    """
    h5 = prefix.with_name(prefix.name + ".h5")
    token_dir = staging_root / uuid.uuid4().hex[:12]
    folder = token_dir / prefix.parent.name
    try:
        for attempt in range(1, MAX_STAGE_ATTEMPTS + 1):
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            with storage.file_lock(h5, shared=True):
                if not h5.exists():
                    raise AcquisitionMissingError(f"acquisition file {h5} does not exist")
                if _copy_set(acquisition_files(prefix), folder):
                    break
            logger.debug("%s changed while being staged (attempt %d)", prefix, attempt)
        else:
            raise OSError(
                f"{prefix}: files kept changing while being staged ({MAX_STAGE_ATTEMPTS} tries)"
            )
        yield AcquisitionSnapshot.from_prefix(folder / prefix.name, prefix, experiment_name)
    finally:
        shutil.rmtree(token_dir, ignore_errors=True)


@contextlib.contextmanager
def staging_area(staging_root: Path, prefix: Path) -> Iterator[AcquisitionSnapshot]:
    """An empty private folder named like ``prefix``'s experiment folder (for loading)."""
    token_dir = staging_root / uuid.uuid4().hex[:12]
    folder = token_dir / prefix.parent.name
    folder.mkdir(parents=True)
    try:
        yield AcquisitionSnapshot.from_prefix(folder / prefix.name, prefix)
    finally:
        shutil.rmtree(token_dir, ignore_errors=True)


def install_files(staged_prefix: Path, prefix: Path) -> list[Path]:
    """Move the staged acquisition files next to ``prefix`` (``.h5`` last, each atomically)."""
    installed = []
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for source in acquisition_files(staged_prefix):
        target = prefix.parent / source.name
        try:
            os.replace(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            atomic_copy(source, target)
        installed.append(target)
    return installed
