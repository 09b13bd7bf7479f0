"""Counterparts of dh5 0.8.1's helper names (``dh5.utils``, ``dh5.dh5_class.h5py_utils``,
``...function_save``, ``dh5.errors.FileLockedError``) so that code importing them runs.

dh5 code importing ``dh5.X.Y`` finds these through :mod:`labmate_core.dh5`; see
``docs/differences.md`` for what behaves differently on purpose.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from . import storage
from .file import DH5

logger = logging.getLogger(__name__)

__all__ = [
    "FileLockedError",
    "Function",
    "function_to_str",
    "get_path_from_filename",
    "get_timestamp",
    "keys_h5",
    "lstrip_int",
    "open_h5",
    "save_dict",
    "del_dict",
    "sleep",
]

#: dh5's "the file is locked by another writer": here, the lock could not be taken in time.
FileLockedError = storage.LockTimeout


def sleep(delay: float) -> None:
    """Wait ``delay`` seconds (dh5's ``utils.async_utils.sleep``: ``threading.Event().wait``)."""
    threading.Event().wait(delay)


def get_timestamp() -> str:
    """Now, as ``YYYY_MM_DD__HH_MM_SS`` (local time)."""
    return datetime.datetime.now().strftime("%Y_%m_%d__%H_%M_%S")


def lstrip_int(line: str) -> tuple[str, str, str] | None:
    """Split ``"<digits, '_' or '-'>_<name>[__<number>]"`` into (prefix, name, number or '');
    None when ``line`` does not start that way.

    >>> lstrip_int("2023_01_10__12_14_15__scan__3")
    ('2023_01_10__12_14_15', 'scan', '3')
    """
    start = re.search("_[A-Za-z]", line)
    if start is None:
        return None
    prefix, main = line[: start.start()], line[start.start() + 1 :]
    suffix = ""
    if "__" in main:
        cut = main.rfind("__")
        if main[cut + 2 :].isdecimal():
            main, suffix = main[:cut], main[cut + 2 :]
    if not prefix.replace("_", "").replace("-", "").isdigit():
        return None
    return prefix.strip("_"), main, suffix


def get_path_from_filename(filename: str | os.PathLike) -> str | tuple[str, str]:
    """A name with a directory in it as is; else ``(name after the timestamp, name without .h5)``
    when it starts with a timestamp, or the name without ``.h5``."""
    name = os.fspath(filename)
    if "/" in name or "\\" in name:
        return name
    name = name[:-3] if name.endswith(".h5") else name
    parts = lstrip_int(name)
    return (parts[1], name) if parts else name


def open_h5(
    fullpath: str | os.PathLike,
    key: str | Iterable[str] | None = None,
    key_prefix: str | None = None,
) -> dict[str, Any]:
    """The content of an ``.h5`` file as a plain dict (only ``key`` if given, under
    ``key_prefix``), read under the file's lock."""
    data = DH5(fullpath, mode="r")
    node: Any = data[key_prefix] if key_prefix else data
    names = [key] if isinstance(key, str) else (list(key) if key is not None else None)
    if names is None:
        return node.asdict()
    return {name: node.get_raw(name) for name in names if name in node}


def keys_h5(filename: str | os.PathLike, key_prefix: str | None = None) -> set[str]:
    """Names stored at the top of the file (or under ``key_prefix``), nothing loaded."""
    data = DH5(filename, mode="r", open_on_init=False)
    node: Any = data[key_prefix] if key_prefix else data
    return set(node.keys())


def save_dict(
    filename: str | os.PathLike,
    data: dict[str, Any],
    key_prefix: str | None = None,
    use_compression: Any = None,
) -> float:
    """Write ``data`` into the file (created if missing) under ``key_prefix``; a None value
    deletes its key. Under the file's lock, all or nothing. Returns the file's mtime.

    ``use_compression`` is refused: values are stored uncompressed (byte-compatible with dh5).
    """
    if use_compression:
        raise ValueError("save_dict stores values uncompressed: use_compression is not supported")
    target = DH5(filename, mode="a", open_on_init=False)
    node: Any = target
    if key_prefix:
        node = target[key_prefix] if key_prefix in target else None
        if node is None:
            target[key_prefix] = {}
            node = target[key_prefix]
    for key, value in data.items():
        if value is None:
            if key in node:
                del node[key]
        else:
            node[key] = value
    target.save()
    return os.path.getmtime(target.h5_path or "")


def del_dict(filename: str | os.PathLike, key: str, key_prefix: str | None = None) -> float:
    """Delete ``key`` (under ``key_prefix``) from the file. Returns the file's mtime."""
    target = DH5(filename, mode="a", open_on_init=False)
    del target[f"{key_prefix}/{key}" if key_prefix else key]
    target.save()
    return os.path.getmtime(target.h5_path or "")


class Function:
    """Stored function source, compiled on the first :meth:`eval` (dh5's ``Function``).

    >>> f = Function("def add(a, b): return a + b")
    >>> f.code
    'def current_func(a, b): return a + b\\n'
    >>> f.eval(1, 2), f(1, 2)
    (3, 3)
    """

    def __init__(self, code: str) -> None:
        self.code = ""
        self.original_name = ""
        self.func: Any = None
        open_paren = code.find("(")
        if open_paren == -1:
            return
        self.original_name = code[4:open_paren].strip()
        self.code = "def current_func" + code[open_paren:]
        if not self.code.endswith("\n"):
            self.code += "\n"

    def _compile(self) -> None:
        if not self.code:
            raise ValueError(f"Function {self.original_name!r} has no code to run")
        namespace: dict[str, Any] = {}
        try:
            exec(compile(self.code, f"<function {self.original_name}>", "exec"), namespace)
        except SyntaxError:
            logger.warning("Function %s cannot be compiled (SyntaxError)", self.original_name)
            return
        self.func = namespace.get("current_func")

    def eval(self, *args: Any, **kwargs: Any) -> Any:
        """Compile (once) and call."""
        if self.func is None:
            self._compile()
        if self.func is None:
            raise SyntaxError(f"Cannot run the function defined by:\n{self.code}")
        return self.func(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call, once :meth:`eval` has compiled the function (ImportError before)."""
        if self.func is None:
            raise ImportError("Function was never evaluated: call .eval(...) the first time")
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Function({self.original_name or '?'})"


def function_to_str(func: Any) -> str:
    """Source code of the plain function ``func`` (ValueError for anything else)."""
    if inspect.isfunction(func):
        return inspect.getsource(func)
    name = getattr(func, "__name__", type(func).__name__)
    raise ValueError(f"{name} must be a function, not a module, class or other object")
