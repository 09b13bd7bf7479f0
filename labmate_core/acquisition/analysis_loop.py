"""AnalysisLoop: read back what an AcquisitionLoop saved, level by level.

```
for row in aqm.d.loop:          # outer index
    for point in row:           # next level
        print(point.x, point.y)
part = aqm.d.loop[2:10:2]       # an AnalysisLoop again; part.x is the sliced array
```
Values are taken from the underlying mapping only when asked for, so a lazily loaded file is
read key by key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, cast

from .acquisition_loop import LOOP_SHAPE_KEY, parse_loop_shape

__all__ = ["AnalysisLoop", "LoopPoint"]


def _is_scalar(value: Any) -> bool:
    return not hasattr(value, "__getitem__") or isinstance(value, (str, bytes, int, float, complex))


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def _take(value: Any, index: int | slice) -> Any:
    """labmate's rule: scalars pass, a length-1 array is broadcast, others are indexed."""
    if _is_scalar(value) or _length(value) is None:
        return value
    if _length(value) == 1:
        return value[0]
    return value[index]


def _unwrap_single(value: Any) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == 1:
        if not isinstance(value[0], Sequence):
            return value[0]
    return value


class _KeyedData(Protocol):
    """What a loop reads its values from: a mapping, or a ``DH5`` (group)."""

    def keys(self) -> Any: ...
    def get(self, key: str, /) -> Any: ...
    def __contains__(self, key: Any, /) -> bool: ...
    def __getitem__(self, key: str, /) -> Any: ...


class _AttrAccess:
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name.startswith("i") and name[1:].isdigit() and name[1:] in self.keys():
            name = name[1:]
        try:
            return cast(Mapping[str, Any], self)[name]  # mixed into classes with __getitem__
        except KeyError:
            raise AttributeError(f"No key {name!r}") from None


class LoopPoint(_AttrAccess, Mapping):
    """The values of one point of the innermost loop level."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self):  # noqa: D102
        return self._values.keys()

    def asdict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"LoopPoint({', '.join(self._values)})"


class AnalysisLoop(_AttrAccess):
    """A saved loop: ``len()`` = outer length, iterate by outer index, slice ``loop[a:b:c]``."""

    def __init__(
        self,
        data: _KeyedData | None = None,
        loop_shape: Sequence[int] | None = None,
        *,
        _ops: tuple = (),
    ) -> None:
        if data is None:
            data = {}
        if not hasattr(data, "keys"):
            raise TypeError(f"AnalysisLoop takes a mapping, not {type(data).__name__}")
        self._data = data
        if loop_shape is None:
            loop_shape = parse_loop_shape(
                data.get(LOOP_SHAPE_KEY) if LOOP_SHAPE_KEY in data else None
            )
        self._loop_shape = list(loop_shape) if loop_shape is not None else None
        self._ops = _ops

    @property
    def loop_shape(self) -> list[int] | None:
        return None if self._loop_shape is None else list(self._loop_shape)

    def keys(self) -> set[str]:
        return set(self._data.keys())

    def __contains__(self, key: object) -> bool:
        return key in self._data.keys()

    def _value(self, key: str) -> Any:
        value = self._data[key]
        for op in self._ops:
            value = _take(value, op)
        return value

    def __getitem__(self, key: str | slice | tuple) -> Any:
        if isinstance(key, slice):
            length = len(self)
            indices = range(*key.indices(length))
            normalized = slice(indices.start, indices.stop, indices.step)
            shape = [len(indices), *self._loop_shape[1:]]  # type: ignore[index]
            return AnalysisLoop(self._data, shape, _ops=(*self._ops, normalized))
        if isinstance(key, tuple):
            value: Any = self
            for part in key:
                value = value[part]
            return value
        if key == LOOP_SHAPE_KEY and not self._ops:
            return self._data[key]
        if key not in self._data.keys():
            raise KeyError(key)
        return self._value(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[AnalysisLoop | LoopPoint]:
        if self._loop_shape is None:
            raise ValueError("loop_shape should be set before iterating over it")
        names = [key for key in self._data.keys() if not str(key).startswith("_")]
        for index in range(self._loop_shape[0]):
            if len(self._loop_shape) > 1:
                yield AnalysisLoop(self._data, self._loop_shape[1:], _ops=(*self._ops, index))
            else:
                yield LoopPoint(
                    {name: _unwrap_single(_take(self._value(name), index)) for name in names}
                )

    def __len__(self) -> int:
        if self._loop_shape is None:
            raise ValueError("loop_shape should be set before iterating over it")
        return self._loop_shape[0]

    def asdict(self) -> dict[str, Any]:
        """Every key with the slicing applied."""
        return {key: self[key] for key in self._data.keys()}

    def items(self) -> Any:
        """``(key, value)`` of every key (as labmate's, ``__loop_shape__`` and the indexes too)."""
        return self._listed().items()

    def values(self) -> Any:
        return self._listed().values()

    def _listed(self) -> dict[str, Any]:
        data = self.asdict()
        if LOOP_SHAPE_KEY in data:
            data[LOOP_SHAPE_KEY] = self.loop_shape
        return data

    def get_slice(self, index: slice | None = None, /) -> tuple[dict[str, Any], list[int]]:
        """labmate's ``(data, loop_shape)`` of ``loop[index]`` (default: everything); the data
        leaves out the ``_``-keys."""
        sliced = self[slice(None) if index is None else index]
        data = {key: sliced[key] for key in sliced.keys() if not str(key).startswith("_")}
        return data, sliced.loop_shape or []

    def __repr__(self) -> str:
        keys = sorted(k for k in self._data.keys() if not str(k).startswith("_"))
        return f"AnalysisLoop(shape={self._loop_shape}, keys={keys})"
