"""Staging: a private, consistent copy of one acquisition, taken without blocking writers."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from ..dh5 import storage
from .base import AcquisitionSnapshot
from .copying import atomic_copy, clone_or_copy, process_alive, same_file_state
from .files import acquisition_files

logger = logging.getLogger(__name__)

MAX_STAGE_ATTEMPTS = 5


class AcquisitionMissingError(FileNotFoundError):
    """The acquisition has no ``.h5`` file any more."""


def copy_set(files: list[Path], destination: Path) -> bool:
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


def copy_consistently(
    h5: Path, copy: Callable[[], bool], locked_copy: Callable[[], bool] | None = None
) -> None:
    """Run ``copy`` (a copy of the acquisition of ``h5``) until it returns a consistent set.

    Each try goes through ``storage.read_consistently``: the copy runs without blocking the
    writer and is taken again if the ``.h5`` was written meanwhile (its write generation moved);
    after a few such tries ``locked_copy`` (default ``copy``) runs under the shared lock, so it
    must be a fast local copy (the writer waits for it). ``copy`` returns False when a companion
    file changed while being copied; the whole copy is then taken again.
    """
    for attempt in range(1, MAX_STAGE_ATTEMPTS + 1):
        if storage.read_consistently(h5, copy, locked_read=locked_copy):
            return
        logger.debug("%s changed while being copied (attempt %d)", h5, attempt)
    raise OSError(f"{h5}: files kept changing while being copied ({MAX_STAGE_ATTEMPTS} tries)")


#: the local staging folder of the backend running on this thread (set by its worker)
_STAGING_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "labmate_staging_root", default=None
)


@contextlib.contextmanager
def using_staging_root(root: Path) -> Iterator[None]:
    """Backends called in this block stage their local copies under ``root``."""
    token = _STAGING_ROOT.set(root)
    try:
        yield
    finally:
        _STAGING_ROOT.reset(token)


@contextlib.contextmanager
def private_staging_dir() -> Iterator[Path]:
    """A fresh private folder for a backend's local copy, removed afterwards.

    Under its worker's staging folder (``<pid>-<token>``, created on first use: a dead process's
    are removed at the next start), else (a backend called directly) a new temporary folder
    of its own (``tempfile.mkdtemp``).
    """
    root = _STAGING_ROOT.get()
    if root is not None:
        folder = new_token_dir(root)
    else:
        folder = Path(tempfile.mkdtemp(prefix="labmate-staging-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_token_dir(staging_root: Path) -> Path:
    """A fresh private folder name under ``staging_root`` that records this process's id."""
    return staging_root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def remove_stale_staging(staging_root: Path) -> int:
    """Delete the staging folders ``<root>/<backend>/[load/]<pid>-<token>`` of dead processes.

    Returns how many were removed. Folders of live processes (or not named by a pid) stay.
    """
    removed = 0
    try:
        backends = [Path(e.path) for e in os.scandir(staging_root) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for folder in backends + [b / "load" for b in backends]:
        try:
            tokens = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for token in tokens:
            pid, sep, _ = token.name.partition("-")
            if not (sep and pid.isdigit() and token.is_dir()) or process_alive(int(pid)):
                continue
            logger.info("removing the staging folder of a dead process: %s", token.path)
            shutil.rmtree(token.path, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def staged_snapshot(
    prefix: Path, staging_root: Path, experiment_name: str | None = None
) -> Iterator[AcquisitionSnapshot]:
    """Yield a snapshot of the acquisition at ``prefix`` whose files are private copies.

    The copies are taken without blocking the kernel's writer (see :func:`copy_consistently`):
    the set handed to the backend is one the files had at one moment. The staged folder is
    named like the experiment folder, and is removed when the block ends.
    """
    h5 = prefix.with_name(prefix.name + ".h5")
    token_dir = new_token_dir(staging_root)
    folder = token_dir / prefix.parent.name

    try:
        copy_consistently(h5, lambda: stage_files(prefix, folder))
        yield AcquisitionSnapshot.from_prefix(folder / prefix.name, prefix, experiment_name)
    finally:
        shutil.rmtree(token_dir, ignore_errors=True)


def stage_files(prefix: Path, folder: Path) -> bool:
    """Copy the acquisition's files afresh into ``folder`` (emptied first; one try of
    :func:`copy_consistently`): False when one changed while being copied,
    :class:`AcquisitionMissingError` when its ``.h5`` is gone."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    h5 = prefix.with_name(prefix.name + ".h5")
    if not h5.exists():
        raise AcquisitionMissingError(f"acquisition file {h5} does not exist")
    return copy_set(acquisition_files(prefix), folder)


def needs_staging(backend: object) -> bool:
    """False only for a backend whose ``save_snapshot`` reads the source consistently itself.

    The class that defines ``save_snapshot`` must itself set ``reads_source_consistently =
    True``: a subclass overriding ``save_snapshot`` (or any user backend) is staged.
    """
    for cls in type(backend).__mro__:
        if "save_snapshot" in vars(cls):
            return vars(cls).get("reads_source_consistently") is not True
    return True


def direct_snapshot(prefix: Path, experiment_name: str | None = None) -> AcquisitionSnapshot:
    """The snapshot of the acquisition in place, for backends that need no staging."""
    h5 = prefix.with_name(prefix.name + ".h5")
    if not h5.exists():
        raise AcquisitionMissingError(f"acquisition file {h5} does not exist")
    return AcquisitionSnapshot.from_prefix(prefix, prefix, experiment_name)


@contextlib.contextmanager
def staging_area(staging_root: Path, prefix: Path) -> Iterator[AcquisitionSnapshot]:
    """An empty private folder named like ``prefix``'s experiment folder (for loading)."""
    token_dir = new_token_dir(staging_root)
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
