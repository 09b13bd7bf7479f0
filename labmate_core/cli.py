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
        help="what is not delivered to the backends of a data directory",
        description="For each backend of a data directory (recorded by the kernels that used "
        "it, or named by a pending record) and each acquisition: pending, retrying, failed "
        "(with the last error), stale (the local content differs from the delivered one), "
        "never delivered; and the records that cannot be read. One line per acquisition not "
        "delivered. Exit code 1 when anything is not delivered (labmate sync repairs it).",
    )
    parser.add_argument("directory", type=_data_dir, help="the data directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="show full tracebacks")
    parser.add_argument("--json", action="store_true", help="the whole survey as JSON")
    parser.add_argument(
        "--all", action="store_true", help="one line per acquisition, delivered ones too"
    )
    parser.set_defaults(func=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    from .acquisition.endings import end_dead_runs
    from .backends.survey import dumps, survey

    ended = end_dead_runs(args.directory)  # runs a dead kernel left running: failed
    result = survey(args.directory)
    if args.json:
        _out(dumps(result))
        return 0 if result.ok else 1
    for prefix in ended:
        _out(f"failed (the kernel running it died): {prefix}")
    _print_survey(result, verbose=args.verbose, everything=args.all)
    return 0 if result.ok else 1


def _describe(name: str, item: Any, verbose: bool) -> list[str]:
    """``name state (details)``, plus the traceback when ``verbose``."""
    details = []
    if item.state == "stale":
        details.append(f"local content changed since delivered {_when(item.delivered)}")
    elif item.state == "delivered" and item.delivered:
        details.append(_when(item.delivered))
    elif item.state == "never":
        details.append("never delivered")
    if item.attempts:
        details.append(f"attempts {item.attempts}")
    if item.next_try:
        details.append(f"next try {_when(item.next_try)}")
    if item.error and not verbose:
        details.append(f"last error: {_last_line(item.error)}")
    text = f"{name} {item.state}" + (f" ({'; '.join(details)})" if details else "")
    lines = [text]
    if item.error and verbose:
        lines.extend(f"      | {line}" for line in item.error.rstrip().splitlines())
    return lines


def _print_survey(result: Any, verbose: bool = False, everything: bool = False) -> None:
    undelivered = result.undelivered()
    if not result.backends:
        _out(f"no backend recorded or pending in {result.directory}")
    else:
        _out(
            f"{result.directory}: {len(result.acquisitions)} acquisition(s), "
            f"{len(undelivered)} not delivered everywhere"
        )
    for name, counts in result.counts().items():
        origin = result.backends.get(name, "")
        listed = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing"
        extra = "; cannot be re-created here (no spec)" if name in result.unrestorable else ""
        _out(f"  backend {name} (added by {origin}{extra}): {listed}")
    for acquisition in result.acquisitions if everything else undelivered:
        parts: list[str] = []
        tracebacks: list[str] = []
        for name, item in acquisition.backends.items():
            if item.state == "delivered" and not everything:
                continue
            first, *rest = _describe(name, item, verbose)
            parts.append(first)
            tracebacks.extend(rest)
        _out(f"{acquisition.prefix}: " + "; ".join(parts))
        for line in tracebacks:
            _out(line)
    for name, prefix, state in result.orphans:
        _out(f"{prefix}: {name} {state} but its .h5 is gone (labmate sync drops the record)")
    for problem in result.problems:
        _out(f"problem: {problem}")
    if result.ok:
        _out("everything is delivered")


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
    _repair_records(args.directory)
    journal_before = Journal(args.directory).entries()
    if not args.backend:
        return _sync_recorded(args, journal_before)
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


def _repair_records(directory: Path) -> None:
    """Unreadable pending records and delivery records are set aside (their acquisitions are
    then judged by content: stale or never delivered, and delivered again); pending records of
    acquisitions whose ``.h5`` is gone are dropped."""
    from .backends.delivered import DeliveryRecords
    from .backends.journal import Journal
    from .backends.survey import survey
    from .index.notes import migrate_notes

    if migrate_notes(directory):
        _out("moved the notes of .labmate/notes.jsonl into their acquisitions")
    journal = Journal(directory)
    for path, why in journal.unreadable():
        aside = journal.set_aside(path)
        _out(f"set aside the unreadable pending record {path.name} ({why}) as {aside.name}")
    if DeliveryRecords(directory).repair():
        _out("set aside the unreadable delivery records: every acquisition is delivered again")
    for name, prefix, state in survey(directory).orphans:
        journal.remove(name, journal.absolute(prefix))
        _out(f"dropped the {state} record of {prefix} for {name}: its .h5 is gone")


def _recorded_specs(
    directory: Path, entries: Sequence[Any]
) -> tuple[dict[str, dict[str, Any]], list[str], bool]:
    """The spec of each backend of the data directory (its record of backends, then the
    newest spec journaled with a pending record), the names that have none, and whether the
    record of backends is unreadable (reported)."""
    from .backends.configured import ConfiguredBackends, ConfiguredBackendsError

    specs: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    unreadable = False
    try:
        for name, entry in ConfiguredBackends(directory).load().items():
            names.append(name)
            if entry.spec is not None:
                specs[name] = entry.spec
    except ConfiguredBackendsError as error:
        unreadable = True
        _out(
            f"error: {error}; its backends are unknown (repair or remove the file, or give "
            "them: --backend KIND ARGS... --name NAME)"
        )
    for entry in sorted(entries, key=lambda e: e.updated):
        if entry.backend not in names:
            names.append(entry.backend)
        if isinstance(entry.spec, dict) and entry.backend not in specs:
            specs[entry.backend] = entry.spec
    return specs, [name for name in names if name not in specs], unreadable


def _sync_recorded(args: argparse.Namespace, entries: Sequence[Any]) -> int:
    """``labmate sync DIR``: the backends re-created from the data directory's record of
    backends and from the specs journaled with the pending records."""
    from .backends import create_backend

    specs, missing, unreadable = _recorded_specs(args.directory, entries)
    if unreadable and not specs:
        return 2
    if missing:
        _out(
            "error: the data directory does not record how to create backend(s) "
            + ", ".join(repr(name) for name in missing)
            + "; give each one: --backend KIND ARGS... --name NAME "
            "(e.g. --backend fsspec s3://bucket/data key=K secret=S --name NAME)"
        )
        if not specs:
            return 2
    if not specs:
        _out(f"nothing to deliver: no backend recorded or pending in {args.directory}")
        return 0
    backends = []
    for name, spec in specs.items():
        try:
            backend = create_backend(spec["kind"], *spec["args"], **spec["kwargs"])
        except (KeyError, ValueError, TypeError, OSError, ImportError) as error:
            _out(f"error: cannot re-create backend {name!r} from its recorded spec {spec}: {error}")
            return 2
        backends.append(backend)
    args.name = list(specs)
    code = _deliver(args, backends, entries)
    return max(code, 2 if missing or unreadable else 0)


def _deliver(args: argparse.Namespace, backends: list[Any], journal_before: Sequence[Any]) -> int:
    """Resume the journaled snapshots of ``backends`` (named by ``args.name``), deliver what
    is stale or never delivered, wait; exit 0 only when the status is then clean."""
    import functools

    from . import index
    from .backends import BackendDispatcher
    from .backends.survey import resubmit_undelivered, survey

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
        resubmit_undelivered(dispatcher, names)
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
        code = _report_sync(dispatcher.status(), finished)
    finally:
        dispatcher.close(0)
        index.flush(30)
    after = survey(args.directory, names)
    if code == 0 and not after.ok:
        _print_survey(after)
        code = 1
    return code


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


# --- labmate backend ------------------------------------------------------------------------------


def _add_backend_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backend",
        help="the backends recorded in a data directory (list, remove)",
        description="List the backends recorded in DATA/.labmate/backends.json (restored by "
        "every kernel or process that writes there), or remove one: labmate backend remove "
        "DIR NAME (its pending copies are dropped too).",
    )
    parser.add_argument("action", choices=["list", "remove"])
    parser.add_argument("directory", type=_data_dir, help="the data directory")
    parser.add_argument("name", nargs="?", help="the backend to remove")
    parser.set_defaults(func=_run_backend_command)


def _run_backend_command(args: argparse.Namespace) -> int:
    from .backends.configured import ConfiguredBackends, ConfiguredBackendsError
    from .backends.delivered import DeliveryRecords
    from .backends.journal import Journal

    configured = ConfiguredBackends(args.directory)
    try:
        if args.action == "list":
            if args.name:
                _out("error: labmate backend list takes no name")
                return 2
            recorded = configured.load()
            if not recorded:
                _out(f"no backend recorded in {args.directory}")
            for name, entry in recorded.items():
                how = "restorable" if entry.restorable else "cannot be re-created (no spec)"
                _out(f"  {name}  (added by {entry.origin}, {_when(entry.added)}; {how})")
            return 0
        if not args.name:
            _out("error: labmate backend remove DIR NAME: which backend?")
            return 2
        if not configured.remove(args.name):
            known = ", ".join(configured.load()) or "none"
            _out(f"error: no backend named {args.name!r} in {args.directory} (recorded: {known})")
            return 1
    except ConfiguredBackendsError as error:
        _out(f"error: {error}")
        return 2
    journal = Journal(args.directory)
    for pending in journal.entries(args.name):
        journal.remove(args.name, journal.absolute(pending.prefix))
    DeliveryRecords(args.directory).forget(args.name)
    _out(f"removed backend {args.name!r} from {args.directory}")
    return 0


# --- entry point ---------------------------------------------------------------------------------

def _add_ls(subparsers: Any) -> None:
    """``labmate ls DIR`` (the index) or ``labmate ls --server URL`` (a Tiled server)."""
    from .remote_ls import add_server_option

    add_server_option(register_ls(subparsers))


SUBCOMMANDS: list[Callable[[Any], object]] = [
    _add_status,
    _add_sync,
    _add_ls,
    _add_backend_command,
]


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
