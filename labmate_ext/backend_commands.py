"""What ``%labmate_backend`` does: add a backend of a kind, list, remove, retry, wait."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .config import check_writable_directory
from .reports import BackendReport, Message

logger = logging.getLogger(__name__)

__all__ = ["parse_options", "run_backend_command"]

_LIST = {None, "list", "status"}


def parse_options(options: list[str]) -> dict[str, Any]:
    """``["key=K", 'client_kwargs={"a": 1}']`` -> keyword arguments (JSON values, else text)."""
    result: dict[str, Any] = {}
    for option in options:
        key, sep, raw = option.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"%labmate_backend: --option takes KEY=VALUE, got {option!r}")
        try:
            result[key] = json.loads(raw)
        except ValueError:
            result[key] = raw
    return result


def run_backend_command(session: Any, args: argparse.Namespace) -> Any:
    """Run the parsed ``%labmate_backend`` line against ``session``'s manager."""
    command = args.command
    if command in _LIST:
        if args.args or args.option:
            raise UsageError(f"%labmate_backend {command or ''}: takes no argument".strip())
        return BackendReport.of(session.manager)
    if command == "remove":
        return _remove(session, args.args)
    if command == "wait":
        return _wait(session, args.args)
    if command == "retry":
        return _retry(session, args.args)
    return _add(session, command, args.args, parse_options(args.option), args.name)


def _add(session: Any, kind: str, values: list[str], options: dict[str, Any], name: Any) -> None:
    from labmate_core.backends import available_backends, create_backend

    if kind not in available_backends():
        raise UsageError(
            f"%labmate_backend: unknown backend kind {kind!r}; known kinds: "
            f"{', '.join(available_backends())} (or: list, remove, wait, retry)"
        )
    if kind == "mirror":
        if len(values) != 1:
            raise UsageError("%labmate_backend mirror takes one directory: mirror PATH")
        try:
            root = check_writable_directory(values[0], "mirror directory")
        except ValueError as error:
            raise UsageError(f"%labmate_backend mirror: {error}") from None
        if root.resolve() == Path(session.manager.data_directory).resolve():
            raise UsageError("%labmate_backend mirror: the mirror cannot be the data directory")
    try:
        backend = create_backend(kind, *values, **options)
    except (ValueError, TypeError, OSError, ImportError) as error:
        raise UsageError(f"%labmate_backend {kind}: cannot create the backend: {error}") from None
    try:
        added = session.add_backend(backend, name=name)
    except (ValueError, TypeError) as error:
        raise UsageError(f"%labmate_backend {kind}: {error}") from None
    display(Message(f"labmate: added backend {added!r}"))


def _remove(session: Any, values: list[str]) -> None:
    if len(values) != 1:
        raise UsageError("%labmate_backend remove takes one backend name (see %labmate_backend)")
    manager = session.manager
    try:
        manager.remove_backend(values[0])
    except KeyError as error:
        raise UsageError(f"%labmate_backend remove: {error.args[0]}") from None
    display(Message(f"labmate: removed backend {values[0]!r}"))


def _wait(session: Any, values: list[str]) -> BackendReport:
    if len(values) > 1:
        raise UsageError("%labmate_backend wait takes at most one timeout in seconds")
    timeout = None
    if values:
        try:
            timeout = float(values[0])
        except ValueError:
            raise UsageError(
                f"%labmate_backend wait: the timeout must be seconds, got {values[0]!r}"
            ) from None
        if not timeout >= 0:
            raise UsageError(f"%labmate_backend wait: the timeout must be >= 0, got {timeout}")
    manager = session.manager
    finished = manager.wait_backends(timeout)
    report = BackendReport.of(manager)
    if not finished:
        report.headline = f"timeout: {report.pending} copy(ies) still pending"
    elif report.failed:
        report.headline = f"{report.failed} copy(ies) failed (fix, then %labmate_backend retry)"
    else:
        report.headline = "all copies done"
    return report


def _retry(session: Any, values: list[str]) -> BackendReport:
    """Restart the failed copies of one backend (or of all) from the journal."""
    manager = session.manager
    backends = manager.backends
    names = values or list(backends)
    unknown = [name for name in names if name not in backends]
    if unknown:
        known = ", ".join(repr(name) for name in backends) or "none"
        raise UsageError(f"%labmate_backend retry: no backend named {unknown[0]!r} ({known})")
    for name in names:
        backend = manager.remove_backend(name)
        session.add_backend(backend, name=name)  # resumes its journaled (failed) copies
    return BackendReport.of(manager, headline=f"retrying: {', '.join(names) or 'nothing'}")
