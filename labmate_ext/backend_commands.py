"""What ``%labmate_backend`` does: add a backend of a kind, list, remove, retry, wait."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .config import check_writable_directory, holds
from .reports import BackendReport, Message

logger = logging.getLogger(__name__)

__all__ = ["check_fsspec_url", "parse_options", "run_backend_command"]

_LIST = {None, "list", "status"}
_PROTOCOL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*(::[A-Za-z][A-Za-z0-9+.\-]*)*")


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
    """Add a backend of ``kind``; every argument is checked before anything is created."""
    from labmate_core.backends import available_backends, create_backend
    from labmate_core.backends.base import backend_name

    if kind not in available_backends():
        raise UsageError(
            f"%labmate_backend: unknown backend kind {kind!r}; known kinds: "
            f"{', '.join(available_backends())} (or: list, remove, wait, retry)"
        )
    if name is not None and not name.strip():
        raise UsageError(f"%labmate_backend {kind}: --name must not be empty")
    manager = session.manager
    if kind == "mirror":
        _check_mirror(values, manager)
        options.setdefault("create", False)  # created below, once everything is checked
    elif kind == "fsspec" and values:
        try:
            check_fsspec_url(values[0])
        except ValueError as error:
            raise UsageError(f"%labmate_backend fsspec: {error}") from None
    try:
        backend = create_backend(kind, *values, **options)
    except (ValueError, TypeError, OSError, ImportError) as error:
        raise UsageError(f"%labmate_backend {kind}: cannot create the backend: {error}") from None
    chosen = name or backend_name(backend)
    if chosen in manager.backends and chosen not in manager.restored_backends:
        raise UsageError(
            f"%labmate_backend {kind}: a backend named {chosen!r} is already configured; "
            "remove it first or give this one another --name"
        )
    if kind == "mirror":
        try:
            check_writable_directory(values[0], "mirror directory")
        except ValueError as error:
            raise UsageError(f"%labmate_backend mirror: {error}") from None
    try:
        added = session.add_backend(backend, name=name)
    except (ValueError, TypeError) as error:
        raise UsageError(f"%labmate_backend {kind}: {error}") from None
    display(Message(f"labmate: added backend {added!r}"))


def _check_mirror(values: list[str], manager: Any) -> None:
    """The mirror's one directory: not the data directory nor inside it, not a file (nothing
    created)."""
    if len(values) != 1 or not values[0].strip():
        raise UsageError("%labmate_backend mirror takes one directory: mirror PATH")
    path = Path(values[0]).expanduser().absolute()
    data = Path(manager.data_directory).resolve()
    if path.resolve() == data:
        raise UsageError("%labmate_backend mirror: the mirror cannot be the data directory")
    if holds(data, path):
        raise UsageError(
            f"%labmate_backend mirror: the mirror {path} is inside the data directory {data}: "
            "its copies would be taken for acquisitions; choose a directory outside it"
        )
    for parent in (path, *path.parents):
        if parent.exists():
            if parent == path and not path.is_dir():
                raise UsageError(
                    f"%labmate_backend mirror: the mirror directory {path} exists and is not "
                    "a directory"
                )
            if not parent.is_dir():
                raise UsageError(
                    f"%labmate_backend mirror: cannot create the mirror directory {path}: "
                    f"{parent} is not a directory"
                )
            break


def check_fsspec_url(url: str) -> None:
    """``ValueError`` unless ``url`` names a location: ``s3://bucket/dir``, ``/local/dir``.

    Refused: empty or blank, ``://`` with no protocol before it, a protocol with nothing after
    it (``s3://``: no bucket).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"the URL must not be empty, got {url!r}")
    if url != url.strip():
        raise ValueError(f"the URL has leading or trailing spaces: {url!r}")
    if "://" not in url:
        return  # a local path
    protocol, _, location = url.partition("://")
    if not _PROTOCOL.fullmatch(protocol):
        raise ValueError(f"{url!r} has no valid protocol before '://' (e.g. s3://bucket/data)")
    if not location.strip("/"):
        raise ValueError(
            f"{url!r} names no location after '{protocol}://' (e.g. {protocol}://bucket/data)"
        )


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
    failed = {row.name for row in BackendReport.of(manager).rows if row.failed}
    retried = [name for name in names if name in failed]
    for name in retried:  # a healthy backend keeps its worker (and the list of its copies)
        backend = manager.remove_backend(name, forget=False)
        # resumes its journaled (failed) copies; the data directory's record is unchanged
        session.add_backend(backend, name=name, record=False)
    healthy = [name for name in names if name not in failed]
    headline = f"retrying: {', '.join(retried)}" if retried else "nothing failed: nothing to retry"
    if retried and healthy:
        headline += f" (nothing failed in {', '.join(healthy)})"
    return BackendReport.of(manager, headline=headline)
