"""Runs in progress, named on disk before their file exists: ``<data>/.labmate/running/``.

Before an acquisition's ``.h5`` is created (or set *running* again, a labmate step N), a marker
is created in its data directory's ``.labmate/running/`` folder, named
``<hash of the prefix>=<owner>`` (the owner quoted: ``host@pidns:pid:start``, owner.py) and
holding the prefix relative to the data directory. It is removed once the file records a final
status. So every ``.h5`` that can say *running* is named where the next process looks:
:func:`dead_runs` lists the runs whose process is gone, whatever that process managed to write
(a kill between the marker and the file leaves a marker and no file: it is dropped, and so is
a marker left empty by a kill while it was written, before the file was created). A live
process's marker is never read. One ``listdir`` when nothing is running.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import quote, unquote

from ..dh5.errors import SaveFailedError
from .owner import owner_alive, this_process

logger = logging.getLogger(__name__)

__all__ = ["dead_runs", "forget", "mark_running", "marker_path", "running_directory"]


def running_directory(data_directory: str | os.PathLike) -> Path:
    """The folder of the markers of ``data_directory``."""
    return Path(data_directory) / ".labmate" / "running"


def _relative(data_directory: str | os.PathLike, prefix: str) -> str:
    return os.path.relpath(prefix, data_directory).replace(os.sep, "/")


def _key(data_directory: str | os.PathLike, prefix: str) -> str:
    relative = _relative(data_directory, prefix).encode("utf-8", "surrogateescape")
    return hashlib.sha1(relative).hexdigest()[:24]


def marker_path(data_directory: str | os.PathLike, prefix: str, owner: str | None = None) -> Path:
    """The marker of the acquisition ``prefix`` (without ``.h5``) run by ``owner`` (default:
    this process)."""
    name = f"{_key(data_directory, prefix)}={quote(owner or this_process(), safe='')}"
    return running_directory(data_directory) / name


def mark_running(data_directory: str | os.PathLike, prefix: str) -> Path:
    """Name ``prefix`` as running in this process (before its file says so)."""
    path = marker_path(data_directory, prefix)
    try:
        _write_marker(path, _relative(data_directory, prefix))
    except OSError as exc:
        path.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):  # a full disk: say which run
            raise SaveFailedError(exc, f"{prefix}.h5") from exc
        raise
    return path


def _write_marker(path: Path, text: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
    try:
        os.write(fd, text.encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def forget(data_directory: str | os.PathLike, prefix: str) -> None:
    """Drop the markers of ``prefix`` (its file records a final status, or was never
    created): this process's, and any other left for it."""
    try:
        os.unlink(marker_path(data_directory, prefix))
    except FileNotFoundError:
        pass
    start = _key(data_directory, prefix) + "="
    folder = running_directory(data_directory)
    try:
        names = [name for name in os.listdir(folder) if name.startswith(start)]
    except FileNotFoundError:
        return
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / name)


def dead_runs(data_directory: str | os.PathLike) -> list[tuple[str, str]]:
    """``(prefix, owner)`` of every marker whose process is gone (never a live process's, nor
    one that cannot be told: another host)."""
    folder = running_directory(data_directory)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        key, separator, owner = name.partition("=")
        if not separator or name.startswith("."):
            continue
        owner = unquote(owner)
        if owner_alive(owner) is not False:
            continue
        try:
            relative = (folder / name).read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:  # dropped meanwhile
            continue
        if not relative:  # killed while writing it, before its file was created
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
            continue
        if os.path.isabs(relative) or ".." in relative.split("/"):
            logger.warning("Ignoring the run marker %s: not a path in %s", name, folder)
            continue
        found.append((os.path.join(os.fspath(data_directory), relative), owner))
    return found
