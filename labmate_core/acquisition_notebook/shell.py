"""The manager's link to a running IPython (a part the manager holds): the current cell text
and the cell events.

``shell=True`` means "the running IPython, if any"; ``shell=None`` means none (cells are passed
explicitly). With an IPython shell the link listens to ``pre_run_cell`` (to know the cell
being run) and ``post_run_cell``, and tells the manager, which records how an acquisition cell
ended (see lifecycle.py).
"""

from __future__ import annotations

import io
import logging
import re
import tokenize
import weakref
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["resolve_shell", "ShellLink"]

#: The methods whose call makes a cell an acquisition cell: ``aqm.acquisition_cell(``,
#: ``aqm.acquisition_started(``, the context manager ``with aqm.acquisition(`` (``%%acquisition``
#: too; ``save_acquisition(`` and ``create_acquisition(`` do not count).
ACQUISITION_METHODS = frozenset({"acquisition", "acquisition_cell", "acquisition_started"})
_CELL_MAGIC = re.compile(r"\s*%%acquisition\b")


def runs_acquisition(raw_cell: str) -> bool:
    """Whether ``raw_cell`` is an acquisition cell: ``%%acquisition`` or a real call
    ``<obj>.acquisition(``/``.acquisition_cell(``/``.acquisition_started(`` (comments, strings
    and functions of the user's named alike do not count)."""
    if _CELL_MAGIC.match(raw_cell):
        return True
    code: list[str] = []  # the operators and names, without comments and strings
    try:
        for token in tokenize.generate_tokens(io.StringIO(raw_cell).readline):
            if token.type in (tokenize.OP, tokenize.NAME):
                code.append(token.string)
    except (tokenize.TokenError, SyntaxError):  # a cell that does not parse: what came before
        pass
    return any(
        code[i] == "." and code[i + 1] in ACQUISITION_METHODS and code[i + 2] == "("
        for i in range(len(code) - 2)
    )


def _is_usage_error(error: BaseException | None) -> bool:
    """Whether ``error`` is IPython's ``UsageError``: a magic refusing its arguments. A magic
    that ends an acquisition with a failure records it itself (``acquisition_finished``)."""
    if error is None:
        return False
    try:
        from IPython.core.error import UsageError
    except ImportError:
        return False
    return isinstance(error, UsageError)


def resolve_shell(shell: Any) -> Any:
    """``True``/``False`` -> the running IPython or None; anything else is taken as given."""
    if shell is True or shell is False:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        return get_ipython()
    return shell


def _register(shell: Any, owner: ShellLink) -> tuple[Any, Any] | None:
    """Listen to ``shell``'s cell events for ``owner`` (weakly); the callbacks, or None."""
    events = getattr(shell, "events", None)
    if events is None:
        return None
    ref = weakref.ref(owner)

    def pre_run_cell(info: Any) -> None:
        link = ref()
        if link is None:
            _unregister(events, pre_run_cell, post_run_cell)
            return
        link._on_pre_run_cell(getattr(info, "raw_cell", None))

    def post_run_cell(result: Any) -> None:
        link = ref()
        if link is None:
            _unregister(events, pre_run_cell, post_run_cell)
            return
        link._on_post_run_cell(result)

    try:
        events.register("pre_run_cell", pre_run_cell)
        events.register("post_run_cell", post_run_cell)
    except Exception:  # an unusual shell: work without events
        logger.debug("Cannot listen to the shell's events", exc_info=True)
        return None
    return pre_run_cell, post_run_cell


def _unregister(events: Any, *callbacks: Any) -> None:
    for event, callback in zip(("pre_run_cell", "post_run_cell"), callbacks, strict=True):
        try:
            events.unregister(event, callback)
        except ValueError:
            pass


class ShellLink:
    """A manager's link to its IPython shell, with its own state: the shell, the text of the
    cell being run, the cells in progress and the event callbacks. Tells ``owner`` (weakly
    referenced: the callbacks go with it) when a cell starts (``_cell_started()``) and ends
    (``_cell_ended(result)``)."""

    def __init__(self, shell: Any, owner: Any) -> None:
        self.shell = resolve_shell(shell)
        self.running_cell: str | None = None
        self.depth = 0  # cells in progress (a magic runs its body as a nested cell)
        self._owner = weakref.ref(owner)
        self._callbacks = None if self.shell is None else _register(self.shell, self)

    def detach(self) -> None:
        """Stop listening to the shell's cell events (safe to call twice)."""
        callbacks, self._callbacks = self._callbacks, None
        events = getattr(self.shell, "events", None)
        if callbacks is not None and events is not None:
            _unregister(events, *callbacks)

    # -- events -----------------------------------------------------------------------------
    def _on_pre_run_cell(self, raw_cell: str | None) -> None:
        self.running_cell = raw_cell
        self.depth += 1
        owner = self._owner()
        if owner is not None:
            owner._cell_started()

    def _on_post_run_cell(self, result: Any) -> None:
        self.running_cell = None
        self.depth = max(0, self.depth - 1)
        owner = self._owner()
        if owner is None:
            self.detach()
            return
        owner._cell_ended(result)

    # -- queries ----------------------------------------------------------------------------
    def current_cell(self) -> str | None:
        """Text of the cell being run, if a shell can tell."""
        shell = self.shell
        if shell is None:
            return None
        if self.running_cell is not None:
            return self.running_cell
        get_parent = getattr(shell, "get_parent", None)
        if callable(get_parent):
            try:
                code = get_parent()["content"]["code"]
                if isinstance(code, str):
                    return code
            except (KeyError, TypeError, AttributeError):
                pass
        history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
        if history:
            return history[-1]
        return None

    def last_cell_failed_acquisition(self) -> bool:
        """True when the shell's last executed cell was an acquisition cell that failed."""
        result = getattr(self.shell, "last_execution_result", None) if self.shell else None
        if result is None or getattr(result, "success", True):
            return False
        if _is_usage_error(getattr(result, "error_in_exec", None)):
            return False  # a magic refused its line before starting anything
        raw = getattr(getattr(result, "info", None), "raw_cell", None) or ""
        return runs_acquisition(raw)
