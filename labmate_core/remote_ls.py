"""``labmate ls --server URL [--name T1 --status failed --since DATE]``: runs across the lab.

:func:`add_server_option` extends the ``ls`` parser: with ``--server`` the directory is not
needed and the listing comes from the Tiled server's catalog (see :mod:`labmate_core.remote`).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any


def add_server_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``DIR`` optional and add ``--server URL`` to the ``ls`` parser."""
    for action in parser._actions:  # argparse has no public way to relax a positional
        if action.dest == "directory":
            action.nargs = "?"
            action.default = None
    parser.add_argument(
        "--server",
        metavar="URL",
        help="list the runs of a Tiled server (key from $TILED_API_KEY or the keyring)",
    )
    local = parser.get_default("func")
    parser.set_defaults(func=lambda args: run_remote_ls(args, local))
    return parser


def run_remote_ls(args: argparse.Namespace, local: Any) -> int:
    """Run the local listing, or the server's one with ``--server``."""
    if not getattr(args, "server", None):
        if args.directory is None:
            sys.stderr.write("labmate ls: give a data directory or --server URL\n")
            return 2
        return int(local(args))
    from .backends.tiled_backend import TiledAuthError
    from .remote import search_runs

    try:
        runs = search_runs(
            args.server,
            name=args.name,
            status=args.status,
            since=args.since,
            until=getattr(args, "until", None),
            limit=(getattr(args, "offset", 0) or 0) + args.limit if args.limit else None,
        )
    except (TiledAuthError, OSError, ValueError) as error:
        sys.stderr.write(f"labmate ls: {args.server}: {type(error).__name__}: {error}\n")
        return 1
    runs = runs[getattr(args, "offset", 0) or 0 :]
    if not runs:
        sys.stdout.write("no matching runs\n")
    for run in runs:
        sys.stdout.write(format_run(run) + "\n")
    return 0


def format_run(run: dict[str, Any]) -> str:
    """``2026-11-24 16:56:38  completed  12.0 s  host user  T1/2026_..._T1  [error]``."""
    start = run.get("start_time")
    when = datetime.datetime.fromtimestamp(start).strftime("%Y-%m-%d %H:%M:%S") if start else "?"
    duration = run.get("duration")
    took = f"{duration:.1f} s" if isinstance(duration, (int, float)) else ""
    line = (
        f"{when}  {run.get('status', '?'):<9}  {took:>9}  {run.get('host', '')} "
        f"{run.get('user', '')}  {run['path']}"
    )
    if run.get("error"):
        line += f"  {run['error']}"
    if run.get("notes"):
        line += f"  # {run['notes']}"
    return line
