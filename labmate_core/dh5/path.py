"""``Path``: ``pathlib.Path`` with dh5 0.8.1's helpers (``+``, ``makedirs``, ``make_extension``,
``dirname``, ``basename``) and :func:`get_file_path`."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

__all__ = ["Path", "get_file_path"]


class Path(type(pathlib.Path())):  # type: ignore[misc]
    """A concrete ``pathlib.Path`` (Posix or Windows) with a few string-like helpers."""

    def __add__(self, other: str | os.PathLike) -> Path:
        """Concatenate as strings: ``Path("a/b") + ".h5"`` is ``Path("a/b.h5")``."""
        return type(self)(self.as_posix() + os.fspath(other))

    def makedirs(self, mode: int = 0o777, exist_ok: bool = False) -> Path:
        """Create the directory (for a name with a dot in it: its parent directory)."""
        directory = os.path.dirname(self) if "." in os.path.basename(self) else os.fspath(self)
        if directory and not os.path.exists(directory):
            os.makedirs(directory, mode=mode, exist_ok=exist_ok)
        return self

    def make_extension(self, extension: str | Iterable[str]) -> Path:
        """This path if it ends with one of ``extension`` (dot optional), else with the first."""
        if isinstance(extension, str):
            extension = [extension]
        if not isinstance(extension, Iterable):
            raise ValueError("Extension must be a string or an iterable of strings")
        wanted = [ext if ext.startswith(".") else "." + ext for ext in extension]
        if not wanted:
            raise ValueError("No extension given")
        text = self.as_posix()
        if any(text.endswith(ext) for ext in wanted):
            return self
        return type(self)(text + wanted[0])

    @property
    def dirname(self) -> Path:
        """``os.path.dirname`` as a Path."""
        return type(self)(os.path.dirname(self))

    @property
    def basename(self) -> Path:
        """``os.path.basename`` as a Path."""
        return type(self)(os.path.basename(self))

    @property
    def str(self) -> str:
        """The path as ``str``."""
        return os.fspath(self)


def get_file_path(
    filename: str | os.PathLike,
    *,
    path: str | os.PathLike | None = None,
    extension: str | None = None,
) -> Path:
    """``Path(path, filename)`` with ``extension`` made sure of."""
    file = Path(filename)
    if extension:
        file = file.make_extension(extension)
    return Path(path, file) if path is not None else file
