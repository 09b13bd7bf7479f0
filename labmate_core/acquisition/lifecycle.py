"""The state of a manager's current acquisition: one enum, every transition here.

``Phase``: ``IDLE`` (nothing started by this manager; a run reopened from ``temp.json`` after a
restart is idle too), ``RUNNING`` (started; whoever started it reports the end: the
``%%acquisition`` magic, ``with aqm.acquisition()``, or the end of the shell cell of
``acquisition_cell``), ``OPEN`` (started, nobody reports the end: ``acquisition_cell`` without a
shell, ``new_acquisition``; or a kept-open one saved since: its extra files ended then),
``KEPT_OPEN`` (its cell ended without a save or data: labmate measures in the next cells),
``COMPLETED``, ``FAILED`` (its end recorded by :meth:`AcquisitionManager.acquisition_finished`
or by the next acquisition). The table of transitions is in
``docs/architecture.md``; a move that is not in :data:`TRANSITIONS` raises ``RuntimeError``.

A save in ``RUNNING`` keeps the file's status *running* (the code still runs): a kill in the
middle of a ``%%acquisition`` body never leaves a *completed* run. A save in any other phase
but ``FAILED`` writes *completed* in the file (``IDLE``: a run reopened from ``temp.json``). ``FAILED`` never moves but to a new start.
"""

from __future__ import annotations

import enum
import logging

logger = logging.getLogger(__name__)

__all__ = ["Event", "Lifecycle", "Phase", "Reporter", "TRANSITIONS"]


class Phase(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    OPEN = "open"
    KEPT_OPEN = "kept-open"
    COMPLETED = "completed"
    FAILED = "failed"


class Reporter(enum.Enum):
    """Who reports the end of the current acquisition."""

    CALLER = "caller"  # the magic, ``with aqm.acquisition()``: acquisition_finished()
    CELL = "cell"  # the end of the shell cell that ran acquisition_cell
    NOBODY = "nobody"  # a save (or the next acquisition) ends it


class Event(enum.Enum):
    START = "start"  # a new acquisition (the previous one ended first)
    CONTINUE = "continue"  # labmate's step N > 1
    SAVE = "save"  # save_acquisition
    KEEP_OPEN = "keep-open"  # its cell ended, nothing saved, no error
    BODY_DONE = "body-done"  # the magic's body ran without an error (its --save comes next)
    COMPLETE = "complete"  # ended without an error
    FAIL = "fail"  # ended with an error (or never saved)


_ANY = tuple(Phase)
_STARTED = (Phase.RUNNING, Phase.OPEN, Phase.KEPT_OPEN)

#: (event, from) -> the phases it may lead to
TRANSITIONS: dict[tuple[Event, Phase], tuple[Phase, ...]] = {
    **{(Event.START, p): (Phase.RUNNING, Phase.OPEN) for p in _ANY},
    **{
        (Event.CONTINUE, p): (Phase.RUNNING, Phase.OPEN)
        for p in (*_STARTED, Phase.COMPLETED, Phase.IDLE)
    },
    (Event.CONTINUE, Phase.FAILED): (Phase.FAILED,),
    (Event.SAVE, Phase.RUNNING): (Phase.RUNNING,),
    (Event.SAVE, Phase.OPEN): (Phase.OPEN,),
    (Event.SAVE, Phase.KEPT_OPEN): (Phase.OPEN,),
    (Event.SAVE, Phase.IDLE): (Phase.IDLE,),
    (Event.SAVE, Phase.COMPLETED): (Phase.COMPLETED,),
    (Event.SAVE, Phase.FAILED): (Phase.FAILED,),
    (Event.KEEP_OPEN, Phase.RUNNING): (Phase.KEPT_OPEN,),
    (Event.BODY_DONE, Phase.RUNNING): (Phase.OPEN,),
    **{(Event.COMPLETE, p): (Phase.COMPLETED,) for p in (*_STARTED, Phase.IDLE)},
    **{(Event.FAIL, p): (Phase.FAILED,) for p in (*_STARTED, Phase.IDLE, Phase.COMPLETED)},
    (Event.FAIL, Phase.FAILED): (Phase.FAILED,),
}


class Lifecycle:
    """The phase of the current acquisition, who reports its end, whether it was saved, and
    whether the last acquisition cell failed. Every change goes through :meth:`move`."""

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.reporter = Reporter.NOBODY
        self.saved = False  # the first save writes the duration, logs and prints
        self.last_failed = False  # the last acquisition cell failed (analysis_cell refuses)
        self.ended_in_cell = False  # an acquisition ended in the shell cell being run

    def move(self, event: Event, to: Phase) -> Phase:
        """Apply ``event``: the phase becomes ``to`` (``RuntimeError`` if not allowed)."""
        allowed = TRANSITIONS.get((event, self.phase), ())
        if to not in allowed:
            raise RuntimeError(
                f"acquisition lifecycle: {event.value} from {self.phase.value} "
                f"to {to.value} is not allowed"
            )
        logger.debug("acquisition %s: %s -> %s", event.value, self.phase.value, to.value)
        self.phase = to
        return to

    # -- the events ---------------------------------------------------------------------------
    def start(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.saved = False
        self.last_failed = False
        self.move(Event.START, Phase.OPEN if reporter is Reporter.NOBODY else Phase.RUNNING)

    def continue_step(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.last_failed = False
        if self.phase is Phase.FAILED:
            self.move(Event.CONTINUE, Phase.FAILED)
        else:
            self.move(Event.CONTINUE, Phase.OPEN if reporter is Reporter.NOBODY else Phase.RUNNING)

    def save_completes(self) -> bool:
        """Whether a save now completes the acquisition (its file's status becomes
        *completed*); not while its code still runs, nor once it failed."""
        return self.phase not in (Phase.RUNNING, Phase.FAILED)

    def save(self) -> None:
        """A save was written."""
        self.saved = True
        self.move(Event.SAVE, TRANSITIONS[(Event.SAVE, self.phase)][0])

    def cell_started(self) -> None:
        self.ended_in_cell = False

    def body_done(self) -> None:
        """The code of a running acquisition ran without an error: a save now completes it
        (``%%acquisition --save x``: data and *completed* in one write)."""
        if self.phase is Phase.RUNNING:
            self.move(Event.BODY_DONE, Phase.OPEN)

    def keep_open(self) -> None:
        self.last_failed = False
        self.ended_in_cell = True
        self.move(Event.KEEP_OPEN, Phase.KEPT_OPEN)

    def ended(self, status: str, *, by_error: bool = False) -> None:
        """The file now records ``status`` (``completed`` / ``failed``)."""
        self.ended_in_cell = True
        self.last_failed = by_error
        if status == Phase.FAILED.value:
            self.move(Event.FAIL, Phase.FAILED)
        else:
            self.move(Event.COMPLETE, Phase.COMPLETED)

    # -- queries --------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Nothing of this manager's is waiting for an end."""
        return self.phase not in _STARTED

    @property
    def awaits_cell_end(self) -> bool:
        """The end of the shell cell being run records how the acquisition ended."""
        return self.phase is Phase.RUNNING and self.reporter is Reporter.CELL
