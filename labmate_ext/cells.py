"""Running a magic's cell body as a normal cell, and failing the cell that holds the magic.

The body runs through ``shell.run_cell``, so output, display and tracebacks look exactly like
those of any cell (the same path ``%%capture`` uses). Its error is then recorded against the
cell that contains the magic: when that cell ends (``post_run_cell``) its ``ExecutionResult``
gets the error, so the kernel reports the cell as failed without printing a second traceback.
Outside any cell (``run_cell_magic`` called from a script) the error is raised instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["CellRunner"]


class CellRunner:
    """Tracks the cells being run on ``shell`` and runs magic bodies as nested cells."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._running: list[Any] = []  # ExecutionInfo of the cells in progress (nested last)
        self._failures: list[tuple[Any, BaseException]] = []
        self._registered = False

    def register(self) -> None:
        """Listen to the shell's ``pre_run_cell`` / ``post_run_cell`` events (once)."""
        if self._registered:
            return
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self._registered = True

    def unregister(self) -> None:
        """Stop listening (safe to call twice)."""
        if not self._registered:
            return
        for event, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                logger.debug("%s handler was already removed", event)
        self._registered = False
        self._running.clear()
        self._failures.clear()

    # -- events ---------------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        self._running.append(info)

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        for index in range(len(self._running) - 1, -1, -1):
            if self._running[index] is info:
                del self._running[index:]
                break
        for index, (failed_info, error) in enumerate(self._failures):
            if failed_info is info:
                del self._failures[index]
                if result.error_before_exec is None and result.error_in_exec is None:
                    result.error_in_exec = error
                    self.shell.last_execution_succeeded = False
                break

    # -- running ----------------------------------------------------------------------------------
    @property
    def in_cell(self) -> bool:
        """True while a cell run by the shell is executing."""
        return bool(self._running)

    def cannot_await(self, code: str) -> bool:
        """True when ``code`` has a top-level ``await`` that cannot run nested here (in a kernel,
        the event loop is busy running the cell that holds the magic)."""
        if "await" not in code:
            return False
        try:
            transformed = self.shell.transform_cell(code)
            needs_loop = self.shell.should_run_async(
                code, transformed_cell=transformed, preprocessing_exc_tuple=None
            )
        except Exception:  # let run_cell report what is wrong with the code
            return False
        if not needs_loop:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False  # terminal IPython: run_cell starts a loop for it
        return True

    def ends_with_semicolon(self, code: str) -> bool:
        """Whether ``code`` ends with ``;``: IPython then shows no value, as for any cell
        (its display hook looks at the text of the outer cell, the magic call)."""
        if ";" not in code:
            return False
        try:
            transformed = self.shell.transform_cell(code)
            return bool(self.shell.displayhook.semicolon_at_end_of_expression(transformed))
        except Exception:  # the code does not tokenize: run_cell reports it
            return False

    def run(self, code: str) -> BaseException | None:
        """Run ``code`` as a cell (not stored in history); return its error, if any.

        A trailing ``;`` hides the value of the last expression, as in a normal cell.
        """
        if self.ends_with_semicolon(code):
            interactivity = self.shell.ast_node_interactivity
            self.shell.ast_node_interactivity = "none"
            try:
                result = self.shell.run_cell(code, store_history=False)
            finally:
                self.shell.ast_node_interactivity = interactivity
        else:
            result = self.shell.run_cell(code, store_history=False)
        if result.error_before_exec is not None:
            return result.error_before_exec
        return result.error_in_exec

    def fail_current_cell(self, error: BaseException) -> None:
        """Make the cell holding the running magic end as failed with ``error``.

        Outside a cell the error is raised (its traceback was already shown).
        """
        if not self._running:
            raise error
        self._failures.append((self._running[-1], error))
