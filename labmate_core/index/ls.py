"""``labmate ls DIR [--name TEXT] [--since DATE] [--status S]``: the recent acquisitions.

``cli.py`` adds it with ``register_ls(subparsers)``; :func:`main_ls` runs it from an argv list.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .store import Acquisition, AcquisitionIndex

STATUS_CHOICES = ("running", "completed", "failed", "unreadable")


def _directory(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    return path


def _date(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (expected e.g. 2026-11-24 or '2026-11-24 16:30')"
        ) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return value


def format_size(size: int | None) -> str:
    """``1.5 MB``-style size."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_sync(row: Acquisition) -> str:
    """``mirror:done s3:failed``."""
    return " ".join(f"{name}:{state.state}" for name, state in row.sync.items())


def is_data_directory(path: Path) -> bool:
    """Whether ``path`` is a data directory: it holds ``.labmate/`` (ours) or ``temp.json``
    (labmate's). An experiment folder or a mirror holds neither."""
    return (path / ".labmate").is_dir() or (path / "temp.json").is_file()


class FilesOnlyIndex(AcquisitionIndex):
    """An index kept in memory, filled from the files: lists a folder without writing in it."""

    def _connect(self) -> None:
        self._close_conn()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._memory = True
        self._ensure_schema()
        self._on_fresh()


def _not_a_data_directory(directory: Path) -> str:
    """The line ``labmate ls`` prints (on stderr) for a folder that is not a data directory."""
    text = (
        f"labmate ls: {directory} is not a data directory (no .labmate/ nor temp.json): "
        "listed from its files, no index kept there (--index keeps one)"
    )
    for parent in list(directory.absolute().parents)[:2]:
        if is_data_directory(parent):
            return f"{text}; it is inside the data directory {parent}"
    return text


def register_ls(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``ls`` subcommand to the ``labmate`` command's subparsers."""
    parser = subparsers.add_parser(
        "ls",
        help="list the recent acquisitions of a data directory",
        description="List the acquisitions of a data directory, newest first, from its index "
        "(DIR/.labmate/index.sqlite), which is first brought up to date with the files.",
    )
    parser.add_argument("directory", type=_directory, help="the data directory")
    parser.add_argument("--name", help="only names containing TEXT", metavar="TEXT")
    parser.add_argument("--since", type=_date, help="only acquisitions started since DATE")
    parser.add_argument("--until", type=_date, help="only acquisitions started before DATE")
    parser.add_argument("--status", choices=STATUS_CHOICES, help="only this status")
    parser.add_argument("--limit", type=_count, default=50, help="at most N rows (default 50)")
    parser.add_argument("--offset", type=_count, default=0, help="skip the N newest")
    parser.add_argument(
        "--no-reindex", action="store_true", help="do not look for changed files first"
    )
    parser.add_argument(
        "--index",
        action="store_true",
        help="keep an index in DIR/.labmate even when DIR is not (yet) a data directory",
    )
    parser.set_defaults(func=run_ls)
    return parser


def run_ls(args: argparse.Namespace) -> int:
    """Print the listing; returns the exit code (0).

    A folder that is not a data directory (an experiment folder, a mirror) is listed from its
    files through an index in memory, and a line on stderr says so; ``--index`` keeps one.
    """
    from .events import open_index

    index: AcquisitionIndex
    if getattr(args, "index", False) or is_data_directory(args.directory):
        index = open_index(args.directory)
        if not args.no_reindex:
            index.reindex()
    else:
        sys.stderr.write(_not_a_data_directory(args.directory) + "\n")
        index = FilesOnlyIndex(args.directory)
    filters = {"name": args.name, "since": args.since, "status": args.status, "until": args.until}
    rows = index.list(limit=args.limit, offset=args.offset, **filters)
    total = index.count(**filters)
    out = sys.stdout
    if not rows:
        out.write(f"no acquisitions in {args.directory}" + (" match" if total else "") + "\n")
        return 0
    table = [
        (
            row.started.strftime("%Y-%m-%d %H:%M:%S"),
            row.name,
            row.status,
            format_duration(row.duration),
            format_size(row.size),
            format_sync(row),
            row.stem + (f"  # {row.notes}" if row.notes else ""),
        )
        for row in rows
    ]
    header = ("TIME", "NAME", "STATUS", "DURATION", "SIZE", "SYNC", "FILE")
    widths = [max(len(header[i]), *(len(r[i]) for r in table)) for i in range(len(header) - 1)]
    for line in [header, *table]:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        out.write("  ".join([*cells, line[-1]]).rstrip() + "\n")
    if total > args.offset + len(rows):
        out.write(f"({args.offset + 1}-{args.offset + len(rows)} of {total}; see --offset)\n")
    return 0


#: exit status of a command whose reader went away (128 + SIGPIPE, as ``ls | head`` gives)
BROKEN_PIPE_STATUS = 141


def pipe_safe(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``, stopping quietly when stdout's reader went away (``labmate ls | head``):
    no ``BrokenPipeError`` traceback, now or when Python flushes stdout at exit."""
    try:
        code = int(run(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())  # the final flush writes nowhere
        finally:
            os.close(devnull)
        return BROKEN_PIPE_STATUS


def main_ls(argv: Sequence[str] | None = None) -> int:
    """``labmate ls`` on its own: ``main_ls(["DATA", "--status", "failed"])``."""
    parser = argparse.ArgumentParser(prog="labmate")
    register_ls(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ls", *(sys.argv[1:] if argv is None else argv)])
    return pipe_safe(run_ls, args)
