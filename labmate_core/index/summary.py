"""What the index knows of one acquisition file, read cheaply from the file and its name.

Only the root keys and a few small scalars (``experiment_name``, ``useful``, ``info/status``,
``info/acquisition_duration``, ``info/error``) are read, through :func:`storage.open_read`;
data sets are never loaded.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..dh5 import storage

logger = logging.getLogger(__name__)

TIME_STAMP_FORMAT = "%Y_%m_%d__%H_%M_%S"
#: ``<YYYY_MM_DD__HH_MM_SS>__<name>[__<n>]`` (labmate's file names).
FILE_NAME_RE = re.compile(r"^(\d{4}_\d{2}_\d{2}__\d{2}_\d{2}_\d{2})__(.+?)(?:__(\d+))?$")
#: Keys every acquisition has; the others are the user's "saved keys".
STANDARD_KEYS = frozenset(
    ("acquisition_cell", "analysis_cell", "analysis_cells", "configs", "experiment_name")
    + ("info", "useful")
)
STATUSES = ("running", "completed", "failed", "unreadable")
#: How long a reader waits for a writer of the file before giving up for now (s).
READ_TIMEOUT = 2.0


@dataclasses.dataclass
class FileSummary:
    """One acquisition file as the index stores it (``prefix``: absolute, without ``.h5``)."""

    prefix: str
    name: str
    time_stamp: str
    seq: int
    status: str
    duration: float | None
    size: int
    mtime_ns: int
    keys: list[str]
    error: str | None = None

    @property
    def stem(self) -> str:
        """The file name without ``.h5`` (stable when the file is moved)."""
        return os.path.basename(self.prefix)


@functools.lru_cache(maxsize=1024)
def parse_file_name(stem: str) -> tuple[str, str, int] | None:
    """``(time_stamp, name, seq)`` of a labmate file name (without ``.h5``), else None."""
    match = FILE_NAME_RE.match(stem)
    if match is None:
        return None
    try:
        datetime.datetime.strptime(match.group(1), TIME_STAMP_FORMAT)
    except ValueError:
        return None
    return match.group(1), match.group(2), int(match.group(3) or 0)


def time_stamp_of(moment: datetime.datetime | datetime.date | float) -> str:
    """The ``YYYY_MM_DD__HH_MM_SS`` form of a datetime, a date (midnight) or an epoch."""
    if isinstance(moment, (int, float)):
        moment = datetime.datetime.fromtimestamp(moment)
    elif not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    return moment.strftime(TIME_STAMP_FORMAT)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None


def _scalar(file: Any, key: str) -> Any:
    """A small scalar dataset's value (bytes decoded), None when absent or not a scalar."""
    try:
        item = file.get(key)
    except (KeyError, ValueError, OSError):
        return None
    if item is None or not hasattr(item, "shape") or item.shape != ():
        return None
    value = item[()]
    text = _text(value)
    return text if text is not None else value


def _last_line(text: str | None) -> str | None:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else None


def _status(stored: Any, useful: Any) -> str:
    if isinstance(stored, str) and stored in ("running", "completed", "failed"):
        return stored
    # labmate 0.10.9 files have no status: useful=True once save_acquisition ran
    return "completed" if bool(useful) else "failed"


def _empty_summary(h5_path: Path, stat: os.stat_result | None) -> FileSummary:
    """What the file's name and ``stat`` tell (status ``unreadable`` until filled)."""
    prefix = str(h5_path.with_name(h5_path.name[:-3]) if h5_path.name.endswith(".h5") else h5_path)
    stem = os.path.basename(prefix)
    parsed = parse_file_name(stem)
    stat = stat or h5_path.stat()
    if parsed is None:
        time_stamp, name, seq = time_stamp_of(stat.st_mtime), stem, 0
    else:
        time_stamp, name, seq = parsed
    return FileSummary(
        prefix=prefix,
        name=name,
        time_stamp=time_stamp,
        seq=seq,
        status="unreadable",
        duration=None,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        keys=[],
    )


def _fill(summary: FileSummary, keys: Any, scalar: Any) -> None:
    """Fill ``summary`` from the root ``keys`` and ``scalar(key)`` (a small value or None)."""
    summary.keys = sorted(str(key) for key in keys)
    experiment_name = scalar("experiment_name")
    if isinstance(experiment_name, str) and experiment_name:
        summary.name = experiment_name
    summary.status = _status(scalar("info/status"), scalar("useful"))
    duration = scalar("info/acquisition_duration")
    if duration is not None and _text(duration) is None:
        try:
            summary.duration = float(duration)
        except (TypeError, ValueError):
            summary.duration = None
    if summary.status == "failed":
        summary.error = _last_line(_text(scalar("info/error")))


#: The ``stat`` of a file not created yet.
_NOT_CREATED: Any = SimpleNamespace(st_size=0, st_mtime=0.0, st_mtime_ns=0)


#: The root keys whose (small, scalar) values a summary uses.
_SUMMARY_KEYS = (
    "experiment_name",
    "info/status",
    "useful",
    "info/acquisition_duration",
    "info/error",
)


@dataclasses.dataclass(frozen=True)
class DataSnapshot:
    """What a summary needs of an in-memory acquisition: its root keys, a few scalars, and the
    ``stat`` of its file taken at the same moment (so that a later write is seen as a change)."""

    keys: tuple[str, ...]
    scalars: dict[str, Any]
    stat: Any


def snapshot_of_data(h5_path: str | os.PathLike, data: Any) -> DataSnapshot:
    """Take from a DH5 (``data``) and its file's ``stat`` what :func:`summary_of_snapshot`
    needs, without reading the file: cheap enough for the kernel thread, the rest is done by
    the index writer. A file not there (yet) gets size 0 and mtime 0:
    the next refresh reads the real file."""
    try:
        stat = os.stat(h5_path)
    except FileNotFoundError:
        stat = _NOT_CREATED

    def scalar(key: str) -> Any:
        try:
            value = data.get(key)
        except (KeyError, ValueError, TypeError, OSError):
            return None
        if hasattr(value, "keys") or bool(getattr(value, "shape", ())):
            return None  # a group or an array: not a small scalar
        text = _text(value)
        return text if text is not None else value

    return DataSnapshot(tuple(data.keys()), {key: scalar(key) for key in _SUMMARY_KEYS}, stat)


def summary_of_snapshot(h5_path: str | os.PathLike, snapshot: DataSnapshot) -> FileSummary:
    """The summary of an acquisition from :func:`snapshot_of_data`."""
    summary = _empty_summary(Path(h5_path), snapshot.stat)
    _fill(summary, snapshot.keys, snapshot.scalars.get)
    return summary


def summary_of_data(h5_path: str | os.PathLike, data: Any) -> FileSummary:
    """Summarise an acquisition from the DH5 that just saved it (``data``: its root keys and
    values) and the file's ``stat``, without opening the file."""
    return summary_of_snapshot(h5_path, snapshot_of_data(h5_path, data))


def read_summary(h5_path: str | os.PathLike, stat: os.stat_result | None = None) -> FileSummary:
    """Summarise an acquisition ``.h5`` file; an unreadable file gives status ``unreadable``.

    Raises ``FileNotFoundError`` when it does not exist and :class:`storage.LockTimeout` when a
    writer holds it longer than :data:`READ_TIMEOUT`.
    """
    h5_path = Path(h5_path)
    summary = _empty_summary(h5_path, stat)
    try:
        with storage.open_read(h5_path, timeout=READ_TIMEOUT) as file:
            _fill(summary, file.keys(), lambda key: _scalar(file, key))
    except (FileNotFoundError, storage.LockTimeout):
        raise
    except OSError as error:  # not an HDF5 file, truncated...
        logger.warning("cannot read acquisition file %s: %s", h5_path, error)
        summary.error = f"{type(error).__name__}: {error}"[:500]
    return summary


def iter_h5_files(data_directory: str | os.PathLike) -> list[tuple[str, os.stat_result]]:
    """Every visible ``.h5`` file under ``data_directory`` (hidden files and folders skipped)."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [os.fspath(data_directory)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            logger.warning("cannot list %s: %s", folder, error)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(".h5") and entry.is_file():
                    found.append((entry.path, entry.stat()))
            except OSError:
                continue
    return found
