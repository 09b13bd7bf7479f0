"""The magics: ``%%acquisition``, ``%%analysis``, ``%labmate_backend``, ``%labmate``,
``%labmate_panel``."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from labmate_core.acquisition import naming
from labmate_core.acquisition.acquisition_data import RESERVED_KEYS  # ``--save`` refuses them
from labmate_core.display import progress

from .backend_commands import run_backend_command
from .reports import LabmateReport, current_prefix
from .session import LabmateSession

logger = logging.getLogger(__name__)

__all__ = ["LabmateMagics"]

#: errors of the library that mean "this request cannot be done", shown as one line
_REFUSALS = (ValueError, TypeError, KeyError, OSError, ChildProcessError)


def unquote(text: str | None) -> str | None:
    """``'a b'`` -> ``a b``: IPython's argument splitting keeps the quotes."""
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_line(magic: str, function: Any, line: str) -> Any:
    """``parse_argstring`` whose quoting errors (``No closing quotation``) are one-line
    ``UsageError``s like its other errors."""
    try:
        return parse_argstring(function, line)
    except ValueError as error:  # raised by shlex before argparse sees the line
        raise UsageError(f"%{magic}: {error} in {line.strip()!r}") from None
    except UsageError as error:
        text = str(error)
        extra = text.partition("unrecognized arguments: ")[2]
        if magic == "%acquisition" and (
            "required: name" in text or (extra and not extra.startswith("-"))
        ):
            hint = " (NAME comes first and is one word: %%acquisition NAME --save X Y)"
            raise UsageError(f"{error}{hint}") from None
        raise


def _one_line(error: BaseException) -> str:
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__


@magics_class
class LabmateMagics(Magics):
    """Magics of ``labmate_ext``; the settings live in the ``Labmate`` configurable."""

    shell: Any  # the InteractiveShell (IPython's ``Magics`` declares it ``None``)

    def __init__(self, shell: Any, session: LabmateSession) -> None:
        super().__init__(shell=shell)
        self.session = session

    # -- %%acquisition ------------------------------------------------------------------------
    @magic_arguments()
    @argument("name", help="name of the acquisition (a folder of the data directory)")
    @argument("--step", type=int, default=1, help="continue the acquisition at step N (> 1)")
    @argument(
        "--save",
        nargs="+",
        default=[],
        metavar="VAR",
        help="variables saved into the file after the cell ran (as aqm.save_acquisition(VAR=VAR))",
    )
    @argument("--live", action="store_true", help="plot the latest points of the cell's loops")
    @line_cell_magic
    def acquisition(self, line: str, cell: str | None = None) -> None:
        """Run the cell as the acquisition NAME.

        The cell is written into the file (``acquisition_cell/<step>``) and, with
        ``Labmate.save_files``, as ``<prefix>_CELL.py``. In the cell, ``aqm.save_acquisition(x=x)``
        saves data (or use ``--save x``). When the cell raises, what was saved stays, the file
        records the failure (``info/status``, ``info/error``) and the cell fails as usual.
        """
        cell = _need_cell("acquisition", cell)
        args = parse_line("%acquisition", self.acquisition, line)
        args.name = unquote(args.name)
        _check_name(args.name)
        if args.step < 1:
            raise UsageError(f"%%acquisition: --step must be >= 1, got {args.step}")
        for var in args.save:
            if not var.isidentifier():
                raise UsageError(f"%%acquisition: --save takes variable names, got {var!r}")
            if var in RESERVED_KEYS:
                raise UsageError(
                    f"%%acquisition: --save {var}: {var!r} is a key the acquisition file keeps "
                    "for itself; save it under another name"
                )
        manager = self.session.manager
        code = _with_header("acquisition", line, cell)
        self._check_no_await("acquisition", code)
        before = current_prefix(manager)
        try:
            manager.acquisition_started(args.name, cell=code, step=args.step)
        except Exception as start_error:
            if current_prefix(manager) != before:
                manager.acquisition_finished(start_error)
            if isinstance(start_error, _REFUSALS):
                logger.debug("%%%%acquisition %s refused", args.name, exc_info=True)
                raise UsageError(f"%%acquisition {args.name}: {_one_line(start_error)}") from None
            raise
        try:
            with progress.live_plots() if args.live else contextlib.nullcontext():
                error = self.session.runner.run(code)
            if error is None:  # the body ran: --save writes the data and "completed" at once
                manager.acquisition_body_done()
            save_error = self._save_variables(manager, args.save, failed=error is not None)
        except BaseException as unexpected:  # e.g. KeyboardInterrupt while saving
            _finish_failed(manager, args.name, unexpected)
            raise
        if error is not None and save_error is not None:
            logger.warning("%%%%acquisition %s: %s", args.name, _one_line(save_error))
        error = error or save_error
        manager.acquisition_finished(error)
        if save_error is not None and error is save_error:
            raise UsageError(f"%%acquisition {args.name}: {_one_line(save_error)}")
        if error is not None:
            self.session.runner.fail_current_cell(error)

    def _check_no_await(self, magic: str, code: str) -> None:
        if self.session.runner.cannot_await(code):
            raise UsageError(
                f"%%{magic}: top-level await cannot run inside a magic cell in this kernel; "
                "await in a cell of its own"
            )

    def _save_variables(self, manager: Any, names: list[str], failed: bool) -> BaseException | None:
        """Save the variables ``names``; after a failure only those that exist. A variable
        that is None is refused (labmate skips None values: nothing would be stored).

        When a value cannot be stored (nothing of that save is written), the others are saved
        one by one so that no storable variable is lost; the error names the refused ones.
        """
        if not names:
            return None
        user_ns = self.shell.user_ns
        missing = [name for name in names if name not in user_ns]
        nones = [name for name in names if name in user_ns and user_ns[name] is None]
        data = {name: user_ns[name] for name in names if user_ns.get(name) is not None}
        try:
            if data:
                manager.save_acquisition(**data)
        except Exception:
            logger.debug("--save of %s failed; saving one by one", list(data), exc_info=True)
            refused = []
            for name, value in data.items():
                try:
                    manager.save_acquisition(**{name: value})
                except Exception as error:
                    refused.append(f"{name} ({_one_line(error)})")
            if refused:
                return TypeError(f"--save could not store {', '.join(refused)}")
        if missing and not failed:
            return NameError(f"--save: {', '.join(missing)} not defined after the cell ran")
        if nones:  # labmate stores nothing for None: say so rather than lose it silently
            return TypeError(
                f"--save {' '.join(nones)}: None is not stored (labmate skips None); "
                "give it a value, or leave it out of --save"
            )
        return None

    # -- %%analysis ------------------------------------------------------------------------------
    @magic_arguments()
    @argument(
        "file",
        nargs="?",
        default=None,
        help="an older acquisition: a file name (2026_11_24__16_56_38__sine) or a path; "
        "default the current acquisition",
    )
    @argument(
        "--name",
        default=None,
        metavar="REGEX",
        help="refuse unless the current acquisition is named so (a regex when it starts with ^)",
    )
    @line_cell_magic
    def analysis(self, line: str, cell: str | None = None) -> None:
        """Run the cell as an analysis of the current acquisition (or of FILE).

        ``aqm.d`` holds the data; figures saved with ``aqm.save_fig()`` carry this cell.
        """
        cell = _need_cell("analysis", cell)
        args = parse_line("%analysis", self.analysis, line)
        args.file, args.name = unquote(args.file), unquote(args.name)
        manager = self.session.manager
        code = _with_header("analysis", line, cell)
        self._check_no_await("analysis", code)
        try:
            manager.analysis_cell(args.file, acquisition_name=args.name, cell=code)
        except _REFUSALS as refused:
            logger.debug("%%%%analysis refused", exc_info=True)
            raise UsageError(f"%%analysis: {_one_line(refused)}") from None
        error = self.session.runner.run(code)
        if error is not None:
            self.session.runner.fail_current_cell(error)

    # -- %labmate_backend -------------------------------------------------------------------------
    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default=None,
        help="a backend kind (mirror, fsspec, or any registered kind) to add one; "
        "remove NAME; wait [TIMEOUT]; retry [NAME]; nothing to list the backends",
    )
    @argument("args", nargs="*", help="arguments of the backend kind or of the command")
    @argument(
        "-o",
        "--option",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument of the backend (JSON values accepted)",
    )
    @argument("--name", default=None, help="name of the new backend")
    @line_magic
    def labmate_backend(self, line: str = "") -> Any:
        """Add, list, remove, retry and wait for the backends that copy acquisitions.

        ``%labmate_backend mirror /path``, ``%labmate_backend fsspec s3://bucket/data -o
        key=K secret=S``, ``%labmate_backend remove NAME``, ``%labmate_backend wait 30``.
        """
        args = parse_line("labmate_backend", self.labmate_backend, line)
        args.args = [unquote(value) for value in args.args]
        args.option = [unquote(value) for value in args.option]
        args.name = unquote(args.name)
        return run_backend_command(self.session, args)

    # -- %labmate_panel -------------------------------------------------------------------------
    @line_magic
    def labmate_panel(self, line: str = "") -> None:
        """Show the panel of the recent acquisitions of the data directory."""
        if line.strip():
            raise UsageError("%labmate_panel takes no arguments")
        from .panel import show_panel

        manager = self.session.manager
        # the manager, not its dispatcher: that one appears with the first backend
        panel = show_panel(manager.data_directory, shell=self.shell, manager=manager)
        self.session.panels.append(panel)

    # -- %labmate ----------------------------------------------------------------------------
    @line_magic
    def labmate(self, line: str = "") -> LabmateReport:
        """Where data goes, the current acquisition, the backends and pending copies."""
        if line.strip():
            raise UsageError("%labmate takes no arguments (see %labmate_backend)")
        return self.session.report()


def _with_header(magic: str, line: str, cell: str) -> str:
    """The cell as runnable Python: the magic line as a comment, so line numbers match."""
    header = f"# %%{magic} {line.strip()}".rstrip()
    return f"{header}\n{cell}"


def _need_cell(magic: str, cell: str | None) -> str:
    """``cell``, refused when None: the line form exists only so that ``%acquisition?`` shows
    the help."""
    if cell is None:
        raise UsageError(
            f"%%{magic} is a cell magic: put %%{magic} ... on the first line of the cell "
            f"(%%{magic}? for help)"
        )
    return cell


def _finish_failed(manager: Any, name: str, error: BaseException) -> None:
    """Record ``error`` as the end of the acquisition; the caller raises ``error`` itself."""
    try:
        manager.acquisition_finished(error)
    except Exception as failure:
        logger.warning("%%%%acquisition %s: could not record the failure: %s", name, failure)
        logger.debug("acquisition_finished failed", exc_info=True)


def _check_name(name: str) -> None:
    try:
        naming.validate_name(name)
    except ValueError as error:
        raise UsageError(f"%%acquisition: {error}") from None
