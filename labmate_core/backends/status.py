"""Status of one acquisition's snapshot for one backend."""

from __future__ import annotations

import dataclasses
import enum


class State(str, enum.Enum):
    """Where a snapshot stands: waiting, being copied, delivered, or given up on."""

    PENDING = "pending"
    COPYING = "copying"
    DONE = "done"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class SnapshotStatus:
    """``state`` of the latest snapshot of ``prefix`` for backend ``backend``.

    ``attempts`` counts the tries of that snapshot, ``last_error`` is the formatted traceback of
    the last failure (kept after a later success is superseded only by a new failure or submit),
    ``time`` the epoch of this change, ``submitted`` the epoch of the submit it belongs to.
    """

    prefix: str
    backend: str
    state: State
    attempts: int = 0
    last_error: str | None = None
    time: float = 0.0
    submitted: float = 0.0
    #: epoch of the next attempt of a snapshot waiting to be retried (None: not waiting)
    next_try: float | None = None

    @property
    def retrying(self) -> bool:
        """Pending again after a failed attempt (``last_error``; ``next_try`` says when)."""
        return self.state == State.PENDING and self.attempts > 0 and bool(self.last_error)

    @property
    def finished(self) -> bool:
        """True for done and failed."""
        return self.state in (State.DONE, State.FAILED)
