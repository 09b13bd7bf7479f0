"""AcquisitionLoop: points appended inside (nested) loops, each on disk when ``append`` returns.

```
aqm.aq.loop = loop = AcquisitionLoop()
for i in loop(10):
    for f in loop(freqs):
        loop.append(x=i, y=measure(f))
```
On disk (labmate's layout): a group with one array per key whose leading dimensions are the
loop levels, ``__index_<level>__`` (1-based position of the finished iterations, 0 = not done)
and ``__loop_shape__`` (``"__json__[n1, n2]"``).

Once the loop is attached to a file (assigned into an acquisition, or given a file path), every
``append`` writes only the new point, in one transaction of the storage layer: a process killed at
any moment keeps every point whose ``append`` returned. The loop keeps one
:class:`~labmate_core.dh5.storage.WriteSession` (the file stays open between appends, the lock
does not) and its dataset handles while a loop level runs; the session is closed at the end of
the outermost level (a write outside any running level closes it at once), when the acquisition
is saved or finished, on :meth:`AcquisitionLoop.close`, and at the latest when the loop is garbage
collected or the interpreter exits. Arrays have the exact loop shape from the
first append (as labmate writes them), chunked and resizable, so an append never resizes except
when a level is run again (the loop continues) or a value grows.

The ``__index_*`` marks of finished iterations are bookkeeping: they ride along with the first
append ``MAX_DEFER_S`` after they were last written (with every append of a slow loop), and are
written at the end of each level and when the loop is closed or saved. So a kill may make
``already_saved()`` redo the iterations finished in the last ``MAX_DEFER_S`` (at least one), never
lose a point; a fast loop does not pay a second chunk write per append.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import h5py
import numpy as np

from ..dh5 import codec, storage
from ..dh5.appender import CHUNK_BYTES, chunk_shape  # noqa: F401 (re-exported)
from ..dh5.appender import Appender as _Sink
from ..dh5.appender import ChunkedDataset as _Dataset
from ..dh5.appender import create_dataset as _create
from ..dh5.appender import matching_dataset as _matching_dataset
from ..dh5.appender import write_full as _write_full
from ..display import progress

logger = logging.getLogger(__name__)

__all__ = ["AcquisitionLoop", "GeneratorToIterator"]

LOOP_SHAPE_KEY = "__loop_shape__"
#: Longest time the bookkeeping of finished iterations (``__index_*``) waits for the next append.
MAX_DEFER_S = 1.0
#: Above this many changed points of one key, the whole array is written at once.
MAX_POINT_WRITES = 64


def index_key(level: int) -> str:
    """Name of the key that marks the finished iterations of ``level`` (1-based)."""
    return f"__index_{level}__"


def parse_loop_shape(raw: Any) -> list[int] | None:
    """``__loop_shape__`` as written by any labmate version -> list of ints."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, str):
        raw = json.loads(
            raw[len(codec.JSON_PREFIX) :] if raw.startswith(codec.JSON_PREFIX) else raw
        )
    return [int(n) for n in np.atleast_1d(np.asarray(raw)).tolist()]


class GeneratorToIterator:
    """An iterator with ``len()`` (for progress bars such as tqdm)."""

    def __init__(self, generator: Iterator, length: int | None = None) -> None:
        self.generator = generator
        self.length = length

    def __iter__(self) -> GeneratorToIterator:
        return self

    def __next__(self) -> Any:
        return next(self.generator)

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("This loop has no known length")
        return self.length


class AcquisitionLoop:
    """Collects loop data level by level; see the module docstring.

    ``AcquisitionLoop()`` starts empty; ``AcquisitionLoop(existing)`` (a mapping, e.g.
    ``DH5(path, 'a')['loop']``) resumes a saved loop, with :meth:`already_saved` to skip the
    iterations that were completed; ``AcquisitionLoop(path)`` keeps the loop at the root of the
    ``.h5`` file ``path``.
    """

    _save_indexes = True

    def __init__(self, data: Mapping | str | os.PathLike | None = None, /, **kwds: Any) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._extra: dict[str, Any] = {}  # keys set directly (not appended)
        self._shape: list[int] = []
        self._level = 0
        self._iteration: list[int] = []
        self._sink: _Sink | None = None
        self._dirty_points: dict[str, set[tuple]] = {}
        self._dirty_full: set[str] = set()
        self._fresh: set[str] = set()  # new since the last write: zeros but the dirty points
        self._loop_dims: dict[str, int] = {}  # how many leading dimensions are loop levels
        self._shape_dirty = False
        self._rewrite_pending = False  # keys set with update(): written with everything
        self._last_flush = time.monotonic()
        self._progress: progress.Progress | None = None  # the bar of a running loop
        if isinstance(data, (str, os.PathLike)):
            path = codec_path = os.fspath(data)
            if not codec_path.endswith(".h5"):
                path = codec_path + ".h5"
            if storage.exists(path):
                with storage.open_read(path) as file:
                    self._load(_read_group(file["/"]))
            self._sink = _Sink(path, "", eager=True)
        elif data is not None:
            if not isinstance(data, Mapping) and not hasattr(data, "keys"):
                raise TypeError(
                    f"AcquisitionLoop(data) takes a mapping of saved loop data or a file path, "
                    f"not {type(data).__name__}"
                )
            self._load(data)
        if kwds:
            raise TypeError(f"Unexpected arguments: {', '.join(kwds)}")

    def _load(self, data: Mapping) -> None:
        for key in list(data.keys()):
            value = data[key]
            if key == LOOP_SHAPE_KEY:
                self._shape = parse_loop_shape(value) or []
            elif isinstance(value, Mapping) or hasattr(value, "keys"):
                self._extra[key] = value
            else:
                array = np.asarray(value)
                if array.dtype.kind in "biufc":
                    self._arrays[key] = np.array(array, dtype=_storage_dtype(array))
                else:
                    self._extra[key] = value

    # -- mapping-like read access -----------------------------------------------------------
    def keys(self) -> set[str]:
        keys = set(self._arrays) | set(self._extra)
        if self._shape:
            keys.add(LOOP_SHAPE_KEY)
        return keys

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __getitem__(self, key: str | tuple) -> Any:
        if isinstance(key, tuple):  # as dh5: loop["i", 1] is loop["i"][1]
            if not key:
                raise KeyError(key)
            value = self[key[0]]
            return value if len(key) == 1 else value[key[1:] if len(key) > 2 else key[1]]
        if key == LOOP_SHAPE_KEY and self._shape:
            return list(self._shape)
        if key in self._arrays:
            view = self._arrays[key].view()
            view.flags.writeable = False
            return view
        if key in self._extra:
            return self._extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"The loop has no key {name!r}") from None

    def items(self) -> Any:
        """``(key, value)`` of every key, ``__loop_shape__`` (a list) and the indexes too."""
        return {key: self[key] for key in self.keys()}.items()

    def values(self) -> Any:
        return {key: self[key] for key in self.keys()}.values()

    def __setitem__(self, key: str, value: Any) -> None:
        """Store a value that is not appended (e.g. the sweep's axis) beside the loop data."""
        self.update({key: value})

    def update(self, mapping: Mapping | None = None, /, **kwds: Any) -> AcquisitionLoop:
        """Store values that are not appended (labmate's ``DH5.update``); appended keys and the
        loop's own (``__loop_shape__``, ``__index_<n>__``) cannot be replaced."""
        items = dict(mapping or {})
        items.update(kwds)
        prefix = f"{self._sink.key}/" if self._sink is not None and self._sink.key else ""
        for key, value in items.items():  # all checked before anything changes
            try:
                codec.check_key(key)
            except (TypeError, ValueError) as error:
                raise ValueError(f"A loop key must be a plain name: {error}") from None
            if key in self._arrays or key == LOOP_SHAPE_KEY or key.startswith("__index_"):
                raise ValueError(f"The key {key!r} is appended by the loop: it cannot be set")
            if value is not None:
                codec.encode(value, prefix + key)  # UnstorableValueError: nothing changed
        old_extra, old_pending = dict(self._extra), self._rewrite_pending
        self._extra.update(items)
        if self._sink is not None:
            self._rewrite_pending = True
            try:
                self._changed()
            except BaseException:  # not written: the old values stay (on disk and here)
                self._extra, self._rewrite_pending = old_extra, old_pending
                raise
        return self

    def save(
        self, only_update: Any = True, filepath: str | None = None, force: bool | None = None
    ) -> AcquisitionLoop:
        """Write what is pending to the acquisition file (labmate's ``DH5.save``; a loop is
        saved where it is attached: ``aqm.aq.loop = loop``)."""
        del only_update
        if filepath is not None:
            raise ValueError(
                "A loop is saved in the acquisition it is attached to (aqm.aq.loop = loop), "
                "not to another file"
            )
        self.flush(rewrite=bool(force))
        return self

    def asdict(self) -> dict[str, Any]:
        """The loop as labmate stores it (arrays, indexes, ``__loop_shape__`` as JSON text)."""
        out: dict[str, Any] = dict(self._extra)
        out.update(self._arrays)
        if self._shape:
            out[LOOP_SHAPE_KEY] = codec.json_text(self._shape)
        return out

    def _dh5_encode_group(self) -> dict[str, Any]:
        return self.asdict()

    def __len__(self) -> int:
        """Length of the outer loop level (0 before a loop started)."""
        return self._shape[0] if self._shape else 0

    def __repr__(self) -> str:
        where = f" -> {self._sink.h5_path}:{self._sink.key or '/'}" if self._sink else ""
        return f"AcquisitionLoop(shape={self._shape}, keys={sorted(self._arrays)}{where})"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._shape)

    # -- attaching to a file ----------------------------------------------------------------
    def attach(self, h5_path: str | os.PathLike, key: str, *, eager: bool = True) -> None:
        """Keep this loop in ``h5_path`` under ``key`` and write its whole content there now
        (``eager=False``: only when :meth:`flush` is called)."""
        h5_path = os.fspath(h5_path)
        if not h5_path.endswith(".h5"):
            h5_path += ".h5"
        self.close()
        self._sink = _Sink(h5_path, key, eager)
        self._dirty_points.clear()
        self._fresh.clear()
        self._dirty_full = set(self._arrays)
        self._shape_dirty = bool(self._shape)
        if eager:
            self.flush(rewrite=True)

    def detach(self) -> None:
        """Stop writing to the file (the data already written stays)."""
        self.close()
        self._sink = None

    def close(self) -> None:
        """Write the pending bookkeeping (eager loops) and close the file kept open for the
        appends. The loop stays attached: the next write opens it again. Done by itself at the
        end of the outermost loop level."""
        sink = self._sink
        if sink is None:
            return
        try:
            if sink.eager:
                self.flush()
        finally:
            sink.close()

    @property
    def attached(self) -> bool:
        return self._sink is not None

    def flush(self, rewrite: bool = False, marks: bool = True) -> None:
        """Write what changed since the last write (everything with ``rewrite=True``);
        ``marks=False`` leaves the pending ``__index_*`` marks for a later write."""
        sink = self._sink
        if sink is None:
            return
        rewrite = rewrite or self._rewrite_pending
        held = None if marks or rewrite else self._hold_marks()
        try:
            if not (rewrite or self._dirty_points or self._dirty_full or self._shape_dirty):
                return
            session = sink.open(self)
            with session.transaction() as file:
                self._write(file, sink, rewrite)
            self._dirty_points.clear()
            self._dirty_full.clear()
            self._fresh.clear()
            self._shape_dirty = False
            self._rewrite_pending = False
            if held is None:
                self._last_flush = time.monotonic()
        finally:
            if held:
                self._release_marks(held)
        if self._level == 0:  # no loop running: no more appends to keep the file open for
            sink.close()

    def _hold_marks(self) -> list[tuple[str, set[tuple], bool, bool]] | None:
        """Take the pending ``__index_*`` marks out of what the next write writes."""
        held = [
            (key, self._dirty_points.pop(key), key in self._dirty_full, key in self._fresh)
            for key in [k for k in self._dirty_points if k.startswith("__index_")]
        ]
        for key, _, _, _ in held:
            self._dirty_full.discard(key)
            self._fresh.discard(key)
        return held

    def _release_marks(self, held: list[tuple[str, set[tuple], bool, bool]]) -> None:
        for key, points, full, fresh in held:
            pending = self._dirty_points.get(key)
            if pending is None:
                self._dirty_points[key] = points  # no copy: this set may hold many marks
            else:
                pending.update(points)
            if full:
                self._dirty_full.add(key)
            if fresh:
                self._fresh.add(key)

    def _write(self, file: h5py.File, sink: _Sink, rewrite: bool) -> None:
        """The body of one transaction: the changed points through cached handles when the
        dataset on disk already has the array's shape and dtype, else the slow path."""
        datasets = sink.datasets_for(file)
        group: Any = None
        if rewrite:
            datasets.clear()
            group = file.require_group(sink.key) if sink.key else file["/"]
            for name in list(group.keys()):
                if name not in self.keys():
                    del group[name]
            for name, value in self._extra.items():
                if value is not None:
                    codec.write(group, name, codec.encode(value, f"{sink.key}/{name}"))
        if rewrite:
            names: Iterable[str] = self._arrays
        elif self._dirty_full:
            names = self._dirty_full | self._dirty_points.keys()
        else:
            names = self._dirty_points  # the usual append: no set to build
        for name in names:
            array = self._arrays[name]
            points = self._dirty_points.get(name, ())
            handle = datasets.get(name)
            full = rewrite or name in self._dirty_full
            if full or handle is None or handle.shape != array.shape or handle.dtype != array.dtype:
                if group is None:
                    group = file.require_group(sink.key) if sink.key else file["/"]
                datasets.pop(name, None)
                loop_dims = self._loop_dims.get(name, min(len(self._shape), array.ndim))
                if name in self._fresh:  # first write: zeros but the points
                    dataset = _create(group, name, array, loop_dims)
                else:  # resized in place if possible, else written whole
                    dataset = None if full else _matching_dataset(group, name, array)
                    if dataset is None:
                        dataset = _write_full(group, name, array, loop_dims)
                        points = ()
                handle = datasets[name] = _Dataset(dataset)
            if len(points) > MAX_POINT_WRITES or () in points:
                handle.write_all(array)
            elif points:
                handle.write(array, points)
        if (rewrite or self._shape_dirty) and self._shape:
            if group is None:
                group = file.require_group(sink.key) if sink.key else file["/"]
            codec.write(group, LOOP_SHAPE_KEY, codec.JSON_PREFIX + json.dumps(list(self._shape)))

    def _changed(self, defer: bool = False, marks: bool = True) -> None:
        """Write now (eager sink); ``defer``: bookkeeping that may wait; ``marks=False``: the
        ``__index_*`` marks wait. What waits is written at the end of the level, or with the
        first write :data:`MAX_DEFER_S` seconds after the marks were last written."""
        if self._sink is None or not self._sink.eager:
            return
        overdue = time.monotonic() - self._last_flush >= MAX_DEFER_S
        if defer and not overdue:
            return
        self.flush(marks=marks or overdue)

    # -- loops ------------------------------------------------------------------------------
    def __call__(self, *args: Any, iterable: Iterable | None = None, **kwds: Any) -> Any:
        """``loop(x=1)`` appends; ``loop(n)``, ``loop(start, stop, step)``, ``loop(iterable)``
        iterate (``np.arange`` for numbers)."""
        if iterable is None and not args:
            self.append(**kwds)
            return None
        if iterable is None:
            first = args[0]
            if isinstance(first, (int, float, np.integer, np.floating)):
                iterable = np.arange(*args)
            elif len(args) == 1:
                iterable = first
            else:
                raise TypeError("loop(iterable) takes one iterable")
        return self.iter(iterable, **kwds)

    def iter(self, iterable: Iterable, length: int | None = None) -> GeneratorToIterator:
        """Iterate ``iterable`` as one loop level (``length`` if it has no ``len()``)."""
        if length is None:
            if not hasattr(iterable, "__len__"):
                raise TypeError("The iterable needs a len(), or give length=")
            length = len(iterable)  # type: ignore[arg-type]
        return GeneratorToIterator(self._run_level(iterable, int(length)), int(length))

    def enum(self, *args: Any, iterable: Iterable | None = None, **kwds: Any) -> Iterator:
        """``enumerate(loop(...))``."""
        return enumerate(self(*args, iterable=iterable, **kwds))

    def _start_level(self, level: int, length: int) -> None:
        if len(self._iteration) <= level:
            self._iteration.append(0)
        if len(self._shape) <= level:
            self._shape.append(length)
            self._shape_dirty = True
        elif self._iteration[level] != 0 and (level == 0 or self._iteration[level - 1] == 0):
            # the same level is run again: the loop continues
            self._shape[level] += length
            self._shape_dirty = True

    def _run_level(self, iterable: Iterable, length: int) -> Iterator:
        level = self._level
        self._start_level(level, length)
        if self._shape_dirty:
            self._changed(defer=True)
        if level == 0:
            self._progress = progress.start(
                length, lambda: self._sink.h5_path if self._sink else None, self
            )
        self._level += 1
        try:
            for position, item in enumerate(iterable):
                yield item
                if self._save_indexes:
                    self._append(defer=True, **{index_key(self._level): position + 1})
                if len(self._iteration) - 1 > level:
                    self._iteration[-1] = 0
                self._iteration[self._level - 1] += 1
                progress.advance(self._progress, self._iteration, self._shape)
        finally:
            if len(self._iteration) - 1 > level:
                self._iteration.pop()
            self._level -= 1
            try:
                self._changed()
            except Exception:  # the generator may be closed during garbage collection
                logger.exception("Could not write the end of a loop level")
            if level == 0:
                progress.finish(self._progress)
            if level == 0 and self._sink is not None:
                self._sink.close()  # the loop is over: no more appends to keep the file open for

    def append(self, level: int | None = None, **kwds: Any) -> None:
        """Store ``key=value`` at the current position of the loops; written before returning."""
        del level  # kept for labmate's signature: the position is given by the running loops
        self._append(defer=False, **kwds)

    def _append(self, defer: bool, **kwds: Any) -> None:
        if not kwds:
            raise ValueError("You should provide keywords and values to save.")
        for key in kwds:
            if key in self._extra:
                raise ValueError(
                    f"The key {key!r} was set with update() (or loaded as a plain value): "
                    "it cannot be appended; use another key"
                )
        shape = tuple(self._shape[: self._level])
        point = tuple(self._iteration[: self._level])
        prepared = {key: _prepare(key, value, shape) for key, value in kwds.items()}
        for key, (value, key_shape) in prepared.items():
            self._store(key, value, key_shape, point)
        self._changed(defer=defer, marks=False)

    def _store(self, key: str, value: Any, key_shape: tuple, point: tuple) -> None:
        array = self._arrays.get(key)
        if array is None:
            dtype = np.complex128 if np.iscomplexobj(value) else np.float64
            array = np.zeros(key_shape, dtype=dtype)
            self._fresh.add(key)
            self._dirty_full.add(key)
            self._loop_dims[key] = len(point)
        elif array.shape != key_shape:
            if len(key_shape) != array.ndim:
                raise ValueError(
                    f"Key {key!r} cannot be appended with shape {key_shape[len(point) :]}: "
                    f"before it was {array.shape[len(point) :]}."
                )
            if any(w < s for w, s in zip(key_shape, array.shape, strict=True)):
                key_shape = tuple(max(w, s) for w, s in zip(key_shape, array.shape, strict=True))
            # grown at the end of each dimension: what was written keeps its coordinates, so
            # the dataset on disk is resized in place (exactly: readers see the loop's shape)
            array = np.pad(array, [(0, w - s) for w, s in zip(key_shape, array.shape, strict=True)])
        if np.iscomplexobj(value) and array.dtype.kind != "c":
            array = array.astype(np.complex128)
            self._dirty_full.add(key)
        array[point] = value
        self._arrays[key] = array
        self._dirty_points.setdefault(key, set()).add(point)

    def already_saved(self, key: str | None = None) -> bool:
        """True if the current iteration was completed before (resume an interrupted loop)."""
        if key is None:
            if not self._save_indexes:
                raise ValueError("As indexes are not saved with the loop, key should be provided.")
            key = index_key(self._level)
        array = self._arrays.get(key)
        if array is None:
            return False
        point = tuple(self._iteration[: self._level])
        try:
            return bool(np.any(array[point] != 0))
        except IndexError:
            return False

    def reset_level(self) -> None:
        """Forget the position inside the loops (after an interrupted iteration)."""
        self._level = 0
        self._iteration = []
        self.close()


def _storage_dtype(array: np.ndarray) -> Any:
    return np.complex128 if array.dtype.kind == "c" else np.float64


def _prepare(key: str, value: Any, shape: tuple) -> tuple[Any, tuple]:
    if key == LOOP_SHAPE_KEY:
        raise ValueError(f"{LOOP_SHAPE_KEY!r} is reserved for the loop's shape")
    codec.check_key(key)
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"Cannot append {key!r}: loops store numbers and numeric arrays, not "
            f"{type(value).__name__}"
        )
    return array, (*shape, *array.shape)


def _read_group(group: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, item in group.items():
        if hasattr(item, "shape"):
            out[name] = codec.read_dataset(item)
        else:
            out[name] = _read_group(item)
    return out
