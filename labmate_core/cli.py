"""The ``labmate`` command: ``labmate status DIR``, ``labmate sync DIR [--backend KIND ARGS...]``,
``labmate ls DIR`` (the acquisitions, from the index).

Subcommands are registered by the functions in ``SUBCOMMANDS`` (each adds its parser and sets
``func``, which returns the exit code); a new subcommand appends its own function.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .index import register_ls
from .index.ls import pipe_safe

logger = logging.getLogger(__name__)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _data_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    return path


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _last_line(error: str | None) -> str:
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- labmate status ------------------------------------------------------------------------------


def _add_status(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="snapshots waiting for or failed in a backend",
        description="List the pending and failed backend snapshots journaled in a data "
        "directory, with their last error. Exit code 1 when some failed for good.",
    )
    parser.add_argument("directory", type=_data_dir, help="the data directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="show full tracebacks")
    parser.set_defaults(func=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    from .backends.journal import Journal

    entries = Journal(args.directory).entries()
    if not entries:
        _out(f"no pending or failed snapshots in {args.directory}")
        return 0
    _out(f"{len(entries)} snapshot(s) not delivered in {args.directory}:")
    for entry in entries:
        _out(
            f"  {entry.state:<8} {entry.backend}  {entry.prefix}  "
            f"(attempts {entry.attempts}, submitted {_when(entry.submitted)})"
        )
        if entry.last_error:
            if args.verbose:
                for line in entry.last_error.rstrip().splitlines():
                    _out(f"           | {line}")
            else:
                _out(f"           last error: {_last_line(entry.last_error)}")
    return 1 if any(entry.state == "failed" for entry in entries) else 0


# --- labmate sync --------------------------------------------------------------------------------


def _backend_arguments(values: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """``["/mnt/x", "key=v", "opts={...}"]`` -> positional and keyword arguments (JSON values)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if sep and key.isidentifier():
            try:
                kwargs[key] = json.loads(raw)
            except ValueError:
                kwargs[key] = raw
        else:
            args.append(value)
    return args, kwargs


def _add_sync(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="deliver the journaled snapshots of a data directory",
        description="Deliver the snapshots journaled for the given backend(s) (matched by "
        "backend name, by default the one labmate gives it) and wait for them. Without "
        "--backend, every journaled backend is re-created from the spec recorded with its "
        "snapshots (built-in mirrors, fsspec URLs without options). "
        "Backend arguments: positional values, and key=value (JSON values accepted), "
        "e.g. --backend fsspec s3://bucket/data key=K secret=S "
        '\'client_kwargs={"endpoint_url": "http://host:9000"}\'. Exit code 1 when some '
        "snapshot was not delivered.",
    )
    parser.add_argument("directory", type=_data_dir, help="the data directory")
    parser.add_argument(
        "--backend",
        nargs="+",
        action="append",
        default=[],
        metavar="KIND_AND_ARGS",
        help="a backend kind and its arguments (repeatable); default: the journaled specs",
    )
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        help="name of the n-th --backend, when it was configured under another name",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also deliver acquisitions journaled for other backend names",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--backoff", type=float, default=1.0, help="first retry delay (s)")
    parser.set_defaults(func=_run_sync)


def _run_sync(args: argparse.Namespace) -> int:
    from .backends import create_backend
    from .backends.journal import Journal

    if len(args.name) > len(args.backend):
        _out("error: more --name than --backend options")
        return 2
    journal_before = Journal(args.directory).entries()
    if not args.backend:
        return _sync_journaled(args, journal_before)
    backends = []
    for spec in args.backend:
        kind, values = spec[0], spec[1:]
        positional, keywords = _backend_arguments(values)
        try:
            backends.append(create_backend(kind, *positional, **keywords))
        except (ValueError, TypeError, OSError, ImportError) as error:
            _out(f"error: cannot create backend {kind!r}: {error}")
            return 2
    return _deliver(args, backends, journal_before)


def _journaled_specs(entries: Sequence[Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The newest recorded spec of each journaled backend name, and the names without one."""
    specs: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for entry in sorted(entries, key=lambda e: e.updated):
        if entry.backend not in names:
            names.append(entry.backend)
        if isinstance(entry.spec, dict):
            specs[entry.backend] = entry.spec
    return specs, [name for name in names if name not in specs]


def _sync_journaled(args: argparse.Namespace, entries: Sequence[Any]) -> int:
    """``labmate sync DIR``: the backends re-created from the specs recorded in the journal."""
    from .backends import create_backend

    if not entries:
        _out(f"nothing to deliver: no pending or failed snapshots in {args.directory}")
        return 0
    specs, missing = _journaled_specs(entries)
    if missing:
        _out(
            "error: the journal does not record how to create backend(s) "
            + ", ".join(repr(name) for name in missing)
            + "; give each one: --backend KIND ARGS... --name NAME "
            "(e.g. --backend fsspec s3://bucket/data key=K secret=S --name NAME)"
        )
        return 2
    backends = []
    for name, spec in specs.items():
        try:
            backend = create_backend(spec["kind"], *spec["args"], **spec["kwargs"])
        except (KeyError, ValueError, TypeError, OSError, ImportError) as error:
            _out(
                f"error: cannot re-create backend {name!r} from its journaled spec {spec}: {error}"
            )
            return 2
        backends.append(backend)
    args.name = list(specs)
    return _deliver(args, backends, entries)


def _deliver(args: argparse.Namespace, backends: list[Any], journal_before: Sequence[Any]) -> int:
    """Resume the journaled snapshots of ``backends`` (named by ``args.name``) and wait."""
    import functools

    from . import index
    from .backends import BackendDispatcher

    dispatcher = BackendDispatcher(
        args.directory, max_attempts=args.max_attempts, backoff=args.backoff, drain_timeout=0
    )
    # the index (labmate ls, the panel) hears of every delivery, as in a kernel
    dispatcher.add_listener(
        functools.partial(index.on_backend_status, data_directory=args.directory)
    )
    try:
        names = [
            dispatcher.add(backend, args.name[i] if i < len(args.name) else None)
            for i, backend in enumerate(backends)
        ]
        if args.all:
            others = {e.prefix: e for e in journal_before if e.backend not in names}
            for entry in others.values():
                try:
                    dispatcher.submit(
                        dispatcher.journal.absolute(entry.prefix), entry.experiment_name
                    )
                except FileNotFoundError as error:
                    _out(f"skipped: {error}")
        work = dispatcher.status()
        if not work:
            other_names = sorted({e.backend for e in journal_before} - set(names))
            hint = (
                f" (journaled for: {', '.join(other_names)}; see --name / --all)"
                if other_names
                else ""
            )
            _out(f"nothing to deliver for {', '.join(names)}{hint}")
            return 0
        _out(f"delivering {len(work)} acquisition(s) to {', '.join(names)}...")
        finished = dispatcher.wait(args.timeout)
        return _report_sync(dispatcher.status(), finished)
    finally:
        dispatcher.close(0)
        index.flush(30)


def _report_sync(status: dict[str, Any], finished: bool) -> int:
    failures = 0
    for prefix, per_backend in status.items():
        for name, item in per_backend.items():
            _out(f"  {item.state:<8} {name}  {prefix}")
            if item.state != "done":
                failures += 1
                if item.last_error:
                    _out(f"           last error: {_last_line(item.last_error)}")
    if not finished:
        _out("timeout: what is not delivered stays in the journal")
    return 1 if failures else 0


# --- entry point ---------------------------------------------------------------------------------

def _add_ls(subparsers: Any) -> None:
    """``labmate ls DIR`` (the index) or ``labmate ls --server URL`` (a Tiled server)."""
    from .remote_ls import add_server_option

    add_server_option(register_ls(subparsers))


SUBCOMMANDS: list[Callable[[Any], object]] = [_add_status, _add_sync, _add_ls]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="labmate", description="labmate data directories")
    parser.add_argument("--log-level", default="WARNING", help="logging level (e.g. INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``labmate`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING))
    return pipe_safe(args.func, args)  # `labmate ... | head`: no BrokenPipeError traceback


if __name__ == "__main__":
    sys.exit(main())
