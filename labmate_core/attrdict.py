"""`AttrDict`: a dict whose keys are also attributes, with search and title output."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, overload

_T = TypeVar("_T", bound="AttrDict")


class AttrDict(dict):
    """A dict whose keys can be read and written as attributes; nested dicts become AttrDicts.

    Methods (``keys``, ``find``, ``output``...) win over keys of the same name: use ``d["keys"]``.

    >>> d = AttrDict({"param_1": 1, "sub": {"x": 2}})
    >>> d.param_1, d.sub.x
    (1, 2)
    """

    _attributes: frozenset[str] = frozenset()  # names stored as real attributes, not keys

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as `dict`."""
        super().__init__()
        self.update(*args, **kwargs)

    @staticmethod
    def _wrap(value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value, AttrDict):
            return AttrDict(value)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, self._wrap(value))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Like `dict.update`, wrapping nested dicts."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Like `dict.setdefault`, wrapping a nested dict."""
        if key not in self:
            self[key] = default
        return self[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no key or attribute {name!r}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._attributes:
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *(k for k in self if isinstance(k, str) and k.isidentifier())]

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {super().__repr__()}"

    def copy(self: _T) -> _T:
        """A shallow copy of the same type."""
        return type(self)(self)

    def __add__(self: _T, other: dict) -> _T:
        """A copy updated with `other` (the right side wins)."""
        if not isinstance(other, dict):
            return NotImplemented
        result = self.copy()
        result.update(other)
        return result

    def _matches(self, key: str) -> list[tuple[str, Any]]:
        if not isinstance(key, str):
            raise TypeError(f"Search key must be a str (or a list of str), got {key!r}")
        return [(k, v) for k, v in self.items() if isinstance(k, str) and key in k]

    @overload
    def find_all(self, key: str) -> list[tuple[str, Any]]: ...
    @overload
    def find_all(self, key: list[str] | tuple[str, ...]) -> list[list[tuple[str, Any]]]: ...
    def find_all(self, key: Any) -> Any:
        """All ``(key, value)`` whose key contains `key`; a list of keys gives a list of results."""
        if isinstance(key, (list, tuple)):
            return [self._matches(k) for k in key]
        return self._matches(key)

    @overload
    def find(self, key: str) -> tuple[str, Any] | None: ...
    @overload
    def find(self, key: list[str] | tuple[str, ...]) -> list[tuple[str, Any] | None]: ...
    def find(self, key: Any) -> Any:
        """The first ``(key, value)`` whose key contains `key`, or None; a list gives a list."""
        if isinstance(key, (list, tuple)):
            return [self.find(k) for k in key]
        matches = self._matches(key)
        return matches[0] if matches else None

    def output(self, keys: Iterable[str], max_length: int | None = None) -> str:
        """Title of the ``"key,unit,fmt"`` `keys`: ``output(["p,m/s,1f"])`` -> ``"p = 123.4 (m/s)"``.

        Raises ValueError for a key that is not in the dict.
        """
        from .parsing.title import format_values, values_for_print  # parsing imports AttrDict

        try:
            items = values_for_print(self, keys)
        except KeyError as error:
            raise ValueError(f"{error.args[0]} inside {type(self).__name__}") from None
        return format_values(items, max_length=max_length)
