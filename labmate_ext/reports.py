"""Plain-text reports shown by ``%labmate`` and ``%labmate_backend`` (returned, so they can be
inspected as objects and are displayed by IPython like any value)."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any

__all__ = [
    "BackendRow",
    "BackendReport",
    "LabmateReport",
    "Message",
    "current_prefix",
    "earlier_snapshots",
]


def current_prefix(manager: Any) -> str | None:
    """The current acquisition's path prefix, or None when there is none."""
    try:
        return os.fspath(manager.current_filepath)
    except (ValueError, OSError, KeyError):
        return None


def earlier_snapshots(manager: Any) -> list[Any]:
    """The journal entries of the data directory (``.labmate/pending``) that this manager's
    backends do not track: snapshots an earlier kernel left undelivered or failed (what
    ``labmate status DATA`` lists). Read-only."""
    from labmate_core.backends.journal import Journal

    status = manager.backend_status() or {}
    tracked = {(name, os.path.abspath(prefix)) for prefix, per in status.items() for name in per}
    unrestored = getattr(manager, "unrestored_backends", {}) or {}  # their own report row
    journal = Journal(manager.data_directory)
    try:
        entries = journal.entries()
    except OSError:
        return []
    return [
        entry
        for entry in entries
        if (entry.backend, os.path.abspath(journal.absolute(entry.prefix))) not in tracked
        and entry.backend not in unrestored
    ]


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Message:
    """A one-line message displayed as plain text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclasses.dataclass
class BackendRow:
    """One backend: how many acquisitions are in each state, and the last error."""

    name: str
    description: str
    counts: dict[str, int]
    current_state: str | None = None
    last_error: str | None = None
    #: where it came from (magic, config, api; "" when not recorded in the data directory)
    origin: str = ""
    #: why a backend recorded in the data directory was not re-created (None: it runs)
    not_restored: str | None = None
    #: when this kernel last delivered to it (epoch)
    delivered_at: float | None = None
    #: (acquisition, last error line, attempts, next try epoch) of the copies waiting to retry
    retrying: list[tuple[str, str, int, float | None]] = dataclasses.field(default_factory=list)
    #: data directory: acquisitions whose content changed since delivered / never delivered
    stale: int = 0
    never: int = 0

    @property
    def pending(self) -> int:
        return sum(self.counts.get(state, 0) for state in ("pending", "copying", "retrying"))

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


@dataclasses.dataclass
class BackendReport:
    """The configured backends and where their copies stand."""

    rows: list[BackendRow]
    headline: str = ""

    @classmethod
    def of(cls, manager: Any, headline: str = "") -> BackendReport:
        status = manager.backend_status() or {}
        current = current_prefix(manager)
        current_abs = os.path.abspath(current) if current else None
        rows = []
        for name, backend in manager.backends.items():
            counts: dict[str, int] = {}
            last_error = None
            current_state = None
            row = BackendRow(name, repr(backend), counts)
            for prefix, per_backend in status.items():
                item = per_backend.get(name)
                if item is None:
                    continue
                state = "retrying" if getattr(item, "retrying", False) else str(item.state)
                counts[state] = counts.get(state, 0) + 1
                if state == "done":
                    row.delivered_at = max(row.delivered_at or 0.0, item.time)
                elif state == "retrying":
                    row.retrying.append(
                        (
                            os.path.basename(prefix),
                            _last_line(item.last_error),
                            item.attempts,
                            getattr(item, "next_try", None),
                        )
                    )
                if state == "failed" and item.last_error:
                    last_error = _last_line(item.last_error)
                if current_abs is not None and os.path.abspath(prefix) == current_abs:
                    current_state = state
            row.current_state, row.last_error = current_state, last_error
            rows.append(row)
        _add_record_info(manager, rows)
        _add_data_directory_states(manager, rows)
        return cls(rows, headline)

    @property
    def pending(self) -> int:
        return sum(row.pending for row in self.rows)

    @property
    def failed(self) -> int:
        return sum(row.failed for row in self.rows)

    def __repr__(self) -> str:
        lines = [self.headline] if self.headline else []
        if not self.rows:
            lines.append("no backend configured (add one with: %labmate_backend mirror PATH)")
            return "\n".join(lines)
        lines.append(f"{len(self.rows)} backend(s):")
        for row in self.rows:
            counts = ", ".join(f"{n} {state}" for state, n in sorted(row.counts.items()))
            current = f"; current acquisition: {row.current_state}" if row.current_state else ""
            origin = f" (added by {row.origin})" if row.origin else ""
            if row.not_restored is not None:
                lines.append(f"  {row.name}{origin}  NOT RESTORED [{counts or 'nothing missed'}]")
                lines.append(f"      {row.not_restored}")
                if row.last_error:
                    lines.append(f"      last error: {row.last_error}")
                continue
            lines.append(f"  {row.name}{origin}  [{counts or 'nothing copied yet'}{current}]")
            if row.delivered_at:
                lines.append(f"      last delivered: {_when(row.delivered_at)}")
            elif row.not_restored is None:
                lines.append("      nothing delivered yet")
            for stem, error, attempts, next_try in row.retrying:
                when = f", next try {_when(next_try)}" if next_try else ""
                lines.append(f"      retrying {stem}: {error} (attempt {attempts}{when})")
            if row.last_error:
                lines.append(f"      last error: {row.last_error}")
            if row.stale or row.never:
                lines.append(
                    f"      in the data directory: {row.stale} stale (changed since "
                    f"delivered), {row.never} never delivered (labmate sync)"
                )
        return "\n".join(lines)


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def _add_data_directory_states(manager: Any, rows: list[BackendRow]) -> None:
    """Each running backend's stale and never-delivered acquisitions of the data directory
    (``labmate status``: judged by content)."""
    from labmate_core.backends.survey import survey

    names = [row.name for row in rows if row.not_restored is None]
    if not names:
        return
    try:
        result = survey(manager.data_directory, names)
    except OSError:
        return
    counts = result.counts()
    last: dict[str, float] = {}
    for acquisition in result.acquisitions:
        for name, item in acquisition.backends.items():
            if item.delivered:
                last[name] = max(last.get(name, 0.0), item.delivered)
    for row in rows:
        per = counts.get(row.name, {})
        row.stale, row.never = per.get("stale", 0), per.get("never", 0)
        if row.delivered_at is None and row.name in last:  # delivered by an earlier kernel
            row.delivered_at = last[row.name]


def _add_record_info(manager: Any, rows: list[BackendRow]) -> None:
    """Each row's origin (the data directory's record), plus a row per recorded backend this
    process could not re-create, with what it misses (journaled as pending)."""
    from labmate_core.backends.configured import ConfiguredBackends
    from labmate_core.backends.journal import Journal

    try:
        recorded = ConfiguredBackends(manager.data_directory).load()
    except OSError:
        recorded = {}
    restored = getattr(manager, "restored_backends", {}) or {}
    for row in rows:
        if row.name in recorded:
            row.origin = recorded[row.name].origin
        if row.name in restored:
            row.origin += ", restored"
    unrestored = getattr(manager, "unrestored_backends", {}) or {}
    for name, why in unrestored.items():
        counts: dict[str, int] = {}
        last_error = None
        try:
            for entry in Journal(manager.data_directory).entries(name):
                state = "failed" if entry.state == "failed" else "pending"
                counts[state] = counts.get(state, 0) + 1
                last_error = _last_line(entry.last_error) or last_error
        except OSError:
            pass
        origin = recorded[name].origin if name in recorded else ""
        rows.append(BackendRow(name, "", counts, None, last_error, origin, why))


@dataclasses.dataclass
class LabmateReport:
    """What ``%labmate`` shows: where data goes, the current acquisition, the backends."""

    manager_name: str
    data_directory: str
    configured_directory: str
    save_files: bool
    config_files: list[str]
    current: str | None
    current_status: str | None
    backends: BackendReport
    #: journaled snapshots not tracked by this manager (left by an earlier kernel)
    earlier_undelivered: int = 0
    earlier_failed: int = 0

    def __repr__(self) -> str:
        lines = [f"labmate: manager `{self.manager_name}`, data in {self.data_directory}"]
        configured = os.path.abspath(os.path.expanduser(self.configured_directory))
        if configured != os.path.abspath(self.data_directory):
            lines.append(f"  (Labmate.data_directory is {configured}; not applied to this manager)")
        lines.append(f"  save files: {self.save_files}")
        if self.config_files:
            lines.append(f"  config files: {', '.join(self.config_files)}")
        if self.current:
            status = f" ({self.current_status})" if self.current_status else ""
            lines.append(f"  current acquisition: {self.current}.h5{status}")
        else:
            lines.append("  current acquisition: none")
        lines.append(f"  pending copies: {self.backends.pending}, failed: {self.backends.failed}")
        if self.earlier_undelivered:
            failed = f" ({self.earlier_failed} failed)" if self.earlier_failed else ""
            lines.append(
                f"  undelivered from earlier runs: {self.earlier_undelivered}{failed} "
                f"(labmate sync {self.data_directory}, or add the same backend)"
            )
        lines.extend("  " + line for line in repr(self.backends).splitlines())
        return "\n".join(lines)
