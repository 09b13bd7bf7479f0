"""File names of acquisitions: validation, time stamps, unique prefixes, name resolution.

An acquisition named ``sine`` started at 2026-11-24 16:56:38 lives in
``<data>/sine/2026_11_24__16_56_38__sine.h5``; a second one started in the same second gets
``…__sine__1.h5``, then ``__2`` (labmate's form). The suffix is chosen atomically by creating
the file's storage lock (``.<prefix>.h5.lock``) with ``O_CREAT | O_EXCL``, so two kernels never
pick the same file; the lock file then serves as the file's lock (lock files are never deleted).
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import io
import os
import pathlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..dh5.storage import lock_path

__all__ = [
    "FilePath",
    "TIMESTAMP_FORMAT",
    "get_timestamp",
    "parse_timestamp",
    "validate_name",
    "validate_suffix_name",
    "reserve_prefix",
    "release_reservation",
    "split_file_name",
    "resolve_acquisition_path",
    "strip_h5",
]

TIMESTAMP_FORMAT = "%Y_%m_%d__%H_%M_%S"
MAX_NAME_BYTES = 120
_MAX_SUFFIX = 100_000

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in "123456789"
}
_FORBIDDEN_CHARS = set('<>:"/\\|?*')
_FILE_NAME_RE = re.compile(r"^(\d{4}_\d{2}_\d{2}__\d{2}_\d{2}_\d{2})__(.+?)(?:__(\d+))?$")


def get_timestamp(moment: datetime.datetime | None = None) -> str:
    """``YYYY_MM_DD__HH_MM_SS`` of ``moment`` (default: now, local time)."""
    return (moment or datetime.datetime.now()).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(time_stamp: str) -> float | None:
    """The epoch time of a :func:`get_timestamp` text (local time); None if it is not one."""
    try:
        return datetime.datetime.strptime(time_stamp, TIMESTAMP_FORMAT).timestamp()
    except (TypeError, ValueError):
        return None


def validate_suffix_name(name: object, what: str = "name") -> str:
    """Check that ``name`` can be one component of a file name on every OS; return it.

    Raises ``ValueError`` for an empty name, a path separator, ``.``/``..``, NUL or control
    characters, characters Windows refuses, a trailing dot or space, reserved device names
    (``CON``, ``nul.txt``…), or a name longer than :data:`MAX_NAME_BYTES` bytes.
    """
    if not isinstance(name, str):
        raise ValueError(f"The {what} must be a string, not {type(name).__name__}")
    if name == "":
        raise ValueError(f"The {what} cannot be empty")
    if name in (".", ".."):
        raise ValueError(f"The {what} {name!r} would escape the data directory")
    bad = sorted({c for c in name if c in _FORBIDDEN_CHARS or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise ValueError(
            f"The {what} {name!r} contains characters that are not allowed in a file name: "
            f"{''.join(repr(c) for c in bad)}"
        )
    if name[-1] in ". ":
        raise ValueError(f"The {what} {name!r} cannot end with a dot or a space")
    if name.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        raise ValueError(f"The {what} {name!r} is a reserved device name on Windows")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(
            f"The {what} is too long ({len(name.encode('utf-8'))} bytes, at most "
            f"{MAX_NAME_BYTES}): {name[:40]!r}…"
        )
    return name


def validate_name(name: object) -> str:
    """Validate an acquisition (experiment) name; see :func:`validate_suffix_name`.

    A leading dot is refused too: the name is a folder of the data directory, and hidden
    folders (``.labmate``…) are skipped when the index is rebuilt.
    """
    checked = validate_suffix_name(name, "acquisition name")
    if checked.startswith("."):
        raise ValueError(
            f"The acquisition name {checked!r} cannot start with a dot "
            "(it would be a hidden folder, skipped by the index)"
        )
    return checked


def _as_file_paths(value: Any) -> Any:
    """A result of ``pathlib.Path``'s API with its paths as :class:`FilePath`."""
    if isinstance(value, pathlib.PurePath):
        return FilePath(value)
    if type(value) in (list, tuple):
        return type(value)(_as_file_paths(v) for v in value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, tuple)):  # .parents
        return tuple(_as_file_paths(v) for v in value)
    if isinstance(value, Iterator) and not isinstance(value, io.IOBase):
        return (_as_file_paths(v) for v in value)  # glob, rglob, iterdir (not open()'s file)
    return value


class FilePath(str):
    """A path that is a ``str`` (``+``, ``==``, ``open``, str methods work as before) with the
    helpers of labmate's ``dh5.path.Path``: ``basename``, ``dirname``, ``/``, ``str``,
    ``make_extension``, ``makedirs``, and the rest of ``pathlib.Path``'s API (``stem``,
    ``suffix``, ``with_suffix()``, ``as_posix()``, ``parts``, ``resolve()``, ``glob()``…: the
    paths they give are :class:`FilePath` too). Where ``str`` and ``pathlib`` share a name
    (``replace``…), the ``str`` method is kept."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        """The rest of ``pathlib.Path``'s API."""
        try:
            if name.startswith("__"):
                raise AttributeError(name)
            value = getattr(pathlib.Path(self), name)
        except AttributeError:
            raise AttributeError(f"'FilePath' object has no attribute {name!r}") from None
        if callable(value):

            def call(*args: Any, **kwargs: Any) -> Any:
                return _as_file_paths(value(*args, **kwargs))

            call.__name__ = name
            call.__doc__ = value.__doc__
            return call
        return _as_file_paths(value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(pathlib.Path)))

    def __fspath__(self) -> str:
        return str.__str__(self)

    @property
    def basename(self) -> FilePath:
        """Same as ``os.path.basename``."""
        return FilePath(os.path.basename(self))

    @property
    def dirname(self) -> FilePath:
        """Same as ``os.path.dirname``."""
        return FilePath(os.path.dirname(self))

    name = basename

    @property
    def parent(self) -> FilePath:
        return FilePath(os.path.dirname(self) or ".")

    @property
    def str(self) -> str:  # noqa: A003 - labmate's name
        return str.__str__(self)

    # (below, the property ``str`` hides the builtin in annotations: ``builtins.str``)
    def __truediv__(self, other: builtins.str | os.PathLike) -> FilePath:
        return FilePath(os.path.join(self, os.fspath(other)))

    def __add__(self, other: builtins.str | os.PathLike) -> FilePath:
        return FilePath(str.__add__(self, os.fspath(other)))

    def exists(self) -> bool:
        return os.path.exists(self)

    def makedirs(self, mode: int = 0o777, exist_ok: bool = False) -> FilePath:
        """Create the directory (the parent one when the last part has a dot)."""
        folder = os.path.dirname(self) if "." in os.path.basename(self) else self
        if folder and not os.path.exists(folder):
            os.makedirs(folder, mode=mode, exist_ok=exist_ok)
        return self

    def make_extension(
        self, extension: builtins.str | list[builtins.str] | tuple[builtins.str, ...]
    ) -> FilePath:
        """This path, with the first of ``extension`` appended unless it ends with one."""
        options = [extension] if isinstance(extension, str) else list(extension)
        options = [e if e.startswith(".") else "." + e for e in options]
        if any(self.endswith(e) for e in options):
            return self
        return self + options[0]


def strip_h5(path: str | os.PathLike) -> str:
    """``path`` as a string without a trailing ``.h5``."""
    text = os.fspath(path)
    return text[:-3] if text.endswith(".h5") else text


#: base -> the first suffix worth trying: those before it were taken by this process (a burst
#: of acquisitions in one second does not re-check every earlier name). Only the last base.
_next_index: dict[str, int] = {}


def reserve_prefix(directory: str | os.PathLike, time_stamp: str, name: str) -> str:
    """Pick and reserve the first free ``<dir>/<time_stamp>__<name>[__<n>]`` prefix.

    The reservation is the exclusive creation of the future file's (empty) storage lock file,
    so concurrent callers (threads or processes) always get distinct prefixes, and creating
    the file afterwards costs no extra file. Call :func:`release_reservation` once the ``.h5``
    exists (or its creation failed).
    """
    base = os.path.join(os.fspath(directory), f"{time_stamp}__{name}")
    for index in range(_next_index.get(base, 0), _MAX_SUFFIX):
        prefix = base if index == 0 else f"{base}__{index}"
        h5 = prefix + ".h5"
        if os.path.exists(h5):
            continue
        try:
            fd = os.open(lock_path(h5), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue  # reserved (or written) by somebody else
        os.close(fd)
        if os.path.exists(h5):  # created meanwhile by a writer that does not reserve:
            continue  # the new lock file is that file's lock now
        _next_index.clear()
        _next_index[base] = index + 1
        return prefix
    raise RuntimeError(f"No free file name for {base!r}")


def release_reservation(prefix: str) -> None:
    """End the reservation of ``prefix``: nothing to do once its ``.h5`` exists (the lock file
    is its lock); otherwise (creation failed) the empty lock file is removed."""
    h5 = prefix + ".h5"
    if not os.path.exists(h5):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path(h5))


def split_file_name(file_name: str) -> tuple[str, str, str] | None:
    """``'2026_..__sine__1'`` -> ``('2026_..', 'sine', '1')``; None if not an acquisition name."""
    match = _FILE_NAME_RE.match(strip_h5(file_name))
    if match is None:
        return None
    return match.group(1), match.group(2), match.group(3) or ""


def resolve_acquisition_path(filename: str | os.PathLike, data_directory: str | os.PathLike) -> str:
    """Where the acquisition ``filename`` is, as a prefix without ``.h5``.

    A bare ``<time_stamp>__<name>[__n]`` resolves to ``<data>/<name>/…``; a path (absolute, or
    relative to the working directory, else to the data directory) is used as it is.
    """
    text = strip_h5(filename)
    if not text:
        raise ValueError("The file name cannot be empty")
    if "\x00" in text:
        raise ValueError("The file name cannot contain NUL characters")
    if os.sep in text or "/" in text or (os.altsep and os.altsep in text):
        if os.path.isabs(text) or os.path.exists(text + ".h5"):
            return text
        candidate = os.path.join(data_directory, text)
        return candidate if os.path.exists(candidate + ".h5") else text
    parts = split_file_name(text)
    if parts is not None:
        time_stamp, name, suffix = parts
        candidates = [os.path.join(data_directory, name, text)]
        if suffix:  # the name itself may end with __<digits>
            candidates.append(os.path.join(data_directory, f"{name}__{suffix}", text))
        for candidate in candidates:
            if os.path.exists(candidate + ".h5"):
                return candidate
        return candidates[0]
    for candidate in (os.path.join(data_directory, text), text):
        if os.path.exists(candidate + ".h5"):
            return candidate
    return text
