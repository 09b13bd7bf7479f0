"""Library errors in a notebook: the user's own frames and one line; ``%tb`` shows everything.

An error that the library raises on purpose (a value that cannot be stored, a read-only key,
a missing file: ``ValueError``, ``TypeError``, ``KeyError``, ``OSError``, ...) is shown with the
frames of the user's code only, then its one-line message, which names the key or file and the
fix; the frames of ``labmate_core`` / ``labmate_ext`` below are hidden (a last line says how many).
``%tb`` shows the full traceback. Errors raised elsewhere (the user's code, numpy, a bug of ours
such as an ``AssertionError``) are shown as IPython always shows them.

This is IPython's custom exception handler (``shell.set_custom_exc``), installed by the
extension only when no other one is set, and removed with it. Unlike ``__tracebackhide__``
(which IPython hides from ``%tb`` too) it keeps the full traceback one ``%tb`` away.
"""

from __future__ import annotations

import logging
import os
import sys
import types
from typing import Any

import labmate_core
import labmate_ext

logger = logging.getLogger(__name__)

__all__ = ["install", "uninstall", "is_library_error"]

#: the error types the library raises to refuse a request
SHORTENED = (LookupError, ValueError, TypeError, AttributeError, OSError, RuntimeError)
#: ... except these, which mean a bug: shown in full
_BUGS = (NotImplementedError, RecursionError, UnicodeError)

_PACKAGES = tuple(
    os.path.dirname(os.path.abspath(module.__file__ or "")) + os.sep
    for module in (labmate_core, labmate_ext)
)


def _is_ours(tb: types.TracebackType) -> bool:
    return os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PACKAGES)


def _frames(tb: types.TracebackType | None) -> list[types.TracebackType]:
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    return frames


def is_library_error(value: BaseException, tb: types.TracebackType | None) -> bool:
    """True when ``value`` was raised by our code on purpose (see the module's docstring)."""
    frames = _frames(tb)
    return (
        isinstance(value, SHORTENED)
        and not isinstance(value, _BUGS)
        and len(frames) > 1
        and _is_ours(frames[-1])
    )


def _user_part(tb: types.TracebackType) -> tuple[types.TracebackType, int]:
    """A copy of the chain ``tb`` stopped before the first frame of ours; the hidden count."""
    frames = _frames(tb)
    cut = next(i for i in range(1, len(frames)) if _is_ours(frames[i]))
    head: types.TracebackType | None = None
    for frame in reversed(frames[:cut]):
        head = types.TracebackType(head, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    assert head is not None
    return head, len(frames) - cut


def _handler(
    shell: Any,
    etype: type[BaseException],
    value: BaseException,
    tb: types.TracebackType,
    tb_offset: int | None = None,
) -> list[str]:
    """``set_custom_exc`` handler: shows the error (returns its lines, already shown)."""
    if tb is None or tb.tb_frame.f_code.co_name != "run_code":  # the cell did not compile
        shell.showsyntaxerror()
        return []
    if not is_library_error(value, tb):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %tb
    if hasattr(sys, "last_exc"):
        sys.last_exc = value
    shown, hidden = _user_part(tb)
    cause, suppress = value.__cause__, value.__suppress_context__
    try:  # the chained errors are library internals too: %tb shows them
        value.__cause__, value.__suppress_context__ = None, True
        stb = shell.InteractiveTB.structured_traceback(etype, value, shown, tb_offset=tb_offset)
    finally:
        value.__cause__, value.__suppress_context__ = cause, suppress
    stb = [*stb, f"({hidden} frames of labmate hidden: %tb shows the full traceback)"]
    shell._showtraceback(etype, value, stb)
    if shell.call_pdb:
        shell.debugger(force=True)
    return stb


def install(shell: Any) -> bool:
    """Use the handler on ``shell`` unless another custom handler is set; True if installed."""
    if shell.custom_exceptions:
        logger.info("a custom exception handler is set: labmate errors are shown in full")
        return False
    shell.set_custom_exc(SHORTENED, _handler)
    return True


def uninstall(shell: Any) -> None:
    """Remove the handler installed by :func:`install` (IPython's default comes back)."""
    if shell.custom_exceptions == SHORTENED:
        shell.set_custom_exc((), None)
