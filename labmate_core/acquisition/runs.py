"""Runs in progress, named on disk before their file exists: ``<data>/.labmate/running/``.

Before an acquisition's ``.h5`` is created (or set *running* again, a labmate step N), a marker
is created in its data directory's ``.labmate/running/`` folder: its name is the prefix relative
to the data directory (quoted), its content the owner (``host@pidns:pid:start``, owner.py). It
is removed once the file records a final status. So every ``.h5`` that can say *running* is
named where the next process looks: :func:`dead_runs` lists the runs whose process is gone,
whatever that process managed to write (a kill between the marker and the file leaves a
marker and no file: it is dropped). One ``listdir`` when nothing is running.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from urllib.parse import quote, unquote

from ..textfiles import write_text_atomically
from .owner import owner_alive, this_process

logger = logging.getLogger(__name__)

__all__ = ["dead_runs", "forget", "mark_running", "marker_path", "running_directory"]


def running_directory(data_directory: str | os.PathLike) -> Path:
    """The folder of the markers of ``data_directory``."""
    return Path(data_directory) / ".labmate" / "running"


def marker_path(data_directory: str | os.PathLike, prefix: str) -> Path:
    """The marker of the acquisition ``prefix`` (without ``.h5``) of ``data_directory``."""
    relative = os.path.relpath(prefix, data_directory)
    return running_directory(data_directory) / quote(relative.replace(os.sep, "/"), safe="")


def mark_running(data_directory: str | os.PathLike, prefix: str) -> Path:
    """Name ``prefix`` as running in this process (before its file says so)."""
    path = marker_path(data_directory, prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, this_process())  # never seen empty by another process
    return path


def forget(data_directory: str | os.PathLike, prefix: str) -> None:
    """Drop the marker of ``prefix`` (its file records a final status, or was never created)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker_path(data_directory, prefix))


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
        if name.startswith("."):
            continue
        try:
            owner = (folder / name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:  # ended meanwhile
            continue
        except OSError as error:
            logger.warning("Cannot read the run marker %s: %s", folder / name, error)
            continue
        if owner_alive(owner) is not False:
            continue
        relative = unquote(name)
        if os.path.isabs(relative) or ".." in relative.split("/"):
            logger.warning("Ignoring the run marker %s: not a path in %s", name, folder)
            continue
        found.append((os.path.join(os.fspath(data_directory), relative), owner))
    return found
