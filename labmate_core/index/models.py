"""What the index returns: acquisitions, their sync states, reindex reports; query bounds."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any

from .summary import STANDARD_KEYS, time_stamp_of


@dataclasses.dataclass(frozen=True)
class SyncState:
    """The latest snapshot state of one acquisition for one backend."""

    state: str
    attempts: int = 0
    last_error: str | None = None
    time: float = 0.0


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """One indexed acquisition. ``prefix`` is the absolute path without ``.h5``."""

    prefix: str
    name: str
    time_stamp: str
    status: str
    duration: float | None
    size: int
    keys: tuple[str, ...]
    sync: dict[str, SyncState]
    notes: str = ""
    error: str | None = None

    @property
    def path(self) -> str:
        """The ``.h5`` file."""
        return self.prefix + ".h5"

    @property
    def stem(self) -> str:
        """The file name without ``.h5``, e.g. ``2026_11_24__16_56_38__sine``."""
        return os.path.basename(self.prefix)

    @property
    def started(self) -> datetime.datetime:
        """The start time encoded in the file name."""
        return datetime.datetime.strptime(self.time_stamp, "%Y_%m_%d__%H_%M_%S")

    @property
    def user_keys(self) -> tuple[str, ...]:
        """The saved keys that are not labmate's own bookkeeping."""
        return tuple(k for k in self.keys if k not in STANDARD_KEYS)


@dataclasses.dataclass(frozen=True)
class ReindexReport:
    """What :meth:`AcquisitionIndex.reindex` changed."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0


def since_text(value: Any, what: str) -> str | None:
    """A ``since``/``until`` bound (datetime, date, epoch, ISO text) as a time stamp string."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip().replace("_", "-"))
        except ValueError:
            raise ValueError(
                f"{what} must be a date like 2026-11-24 or 2026-11-24 16:30, got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(
        value, (datetime.date, datetime.datetime, int, float)
    ):
        raise TypeError(f"{what} must be a date, a datetime, an epoch or a string, got {value!r}")
    return time_stamp_of(value)
