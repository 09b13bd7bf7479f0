"""The chunked appender of the store: arrays written point by point (or chunk by chunk,
``H5Dwrite_chunk``) through a :class:`~labmate_core.dh5.storage.WriteSession`, each append one
all-or-nothing commit. ``AcquisitionLoop`` (acquisition/acquisition_loop.py) decides what to
write; this module writes it."""

from __future__ import annotations

import itertools
import logging
import math
import weakref
from collections.abc import Iterable
from typing import Any

import h5py
import numpy as np

from . import storage

logger = logging.getLogger(__name__)

__all__ = [
    "CHUNK_BYTES",
    "Appender",
    "ChunkedDataset",
    "chunk_shape",
    "create_dataset",
    "matching_dataset",
    "write_full",
]

#: Target size of one chunk of a loop array. An append rewrites (and journals) the whole chunk
#: holding its point, so chunks stay small; a point whose value is larger gets a chunk of its own.
CHUNK_BYTES = 2 * 1024


class ChunkedDataset:
    """A cached low-level handle of one loop array (``f[name]`` costs ~90 us, this nothing).

    Chunked, unfiltered datasets whose bytes are the array's are written chunk by chunk from
    the array in memory (``H5Dwrite_chunk``: no selection, no chunk cache, nothing left for the
    flush); others point by point through ``H5Dwrite``.
    """

    __slots__ = ("dsid", "space", "shape", "dtype", "chunks", "direct", "_mspaces")

    def __init__(self, dataset: h5py.Dataset) -> None:
        self.dsid = dataset.id
        self.space = dataset.id.get_space()
        self.shape = dataset.shape
        self.dtype = dataset.dtype
        self.chunks: tuple[int, ...] | None = dataset.chunks
        self.direct = (
            self.chunks is not None
            and dataset.id.get_create_plist().get_nfilters() == 0
            and dataset.id.get_type().get_size() == self.dtype.itemsize
        )
        self._mspaces: dict[tuple, Any] = {}

    def write(self, array: np.ndarray, points: Iterable[tuple]) -> None:
        """Write the values of ``array`` (same shape and dtype) at ``points`` (loop indices)."""
        if self.direct:
            assert self.chunks is not None
            chunks = self.chunks
            starts = {tuple(i - i % c for i, c in zip(p, chunks, strict=False)) for p in points}
            for start in starts:  # each chunk once, however many of its points changed
                self._write_chunks(array, start)
            return
        for point in points:
            self._write_point(point, array[tuple(point) + (...,)])

    def _write_chunks(self, array: np.ndarray, start: tuple) -> None:
        """The chunk(s) beginning at ``start`` along the loop dimensions, whole values."""
        chunks = self.chunks
        assert chunks is not None
        loop_dims = len(start)
        if chunks[loop_dims:] == array.shape[loop_dims:]:  # ours: a chunk holds whole values
            offsets: Iterable[tuple] = (start + (0,) * (array.ndim - loop_dims),)
        else:
            offsets = (
                start + rest
                for rest in itertools.product(
                    *(
                        range(0, n, c)
                        for n, c in zip(array.shape[loop_dims:], chunks[loop_dims:], strict=True)
                    )
                )
            )
        for offset in offsets:
            block = array[tuple(slice(o, o + c) for o, c in zip(offset, chunks, strict=True))]
            if block.shape != chunks:  # an edge chunk: stored whole, zeros beyond the edge
                padded = np.zeros(chunks, dtype=array.dtype)
                padded[tuple(slice(0, n) for n in block.shape)] = block
                block = padded
            self.dsid.write_direct_chunk(offset, np.ascontiguousarray(block))

    def _write_point(self, point: tuple, row: np.ndarray) -> None:
        count = (1,) * len(point) + row.shape
        mspace = self._mspaces.get(count)
        if mspace is None:
            mspace = self._mspaces[count] = h5py.h5s.create_simple(count)
        self.space.select_hyperslab(point + (0,) * row.ndim, count)
        self.dsid.write(mspace, self.space, np.ascontiguousarray(row))

    def write_all(self, array: np.ndarray) -> None:
        self.dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(array))


def close_session(session: storage.WriteSession) -> None:
    try:
        session.close()
    except Exception:  # a safety net (gc / interpreter exit): the file is consistent anyway
        logger.exception("Could not close the loop's file %s", session.path)


class Appender:
    """Where an attached loop writes: ``<h5_path>`` group ``<key>``, through a write session."""

    def __init__(self, h5_path: str, key: str, eager: bool) -> None:
        self.h5_path = h5_path
        self.key = key.strip("/")
        self.eager = eager
        self.session: storage.WriteSession | None = None
        self._finalizer: weakref.finalize | None = None
        self.datasets: dict[str, ChunkedDataset] = {}
        self._datasets_of: tuple[Any, int] | None = None  # (file object, epoch) they come from

    def open(self, owner: object) -> storage.WriteSession:
        """The session (created on first use; closed at the latest when ``owner`` is collected
        or the interpreter exits)."""
        if self.session is None:
            self.session = storage.WriteSession(self.h5_path)
            self._finalizer = weakref.finalize(owner, close_session, self.session)
        return self.session

    def datasets_for(self, file: h5py.File) -> dict[str, ChunkedDataset]:
        """The cached handles, emptied when the session reopened the file since they were taken."""
        assert self.session is not None
        known = self._datasets_of
        if known is None or known[0] is not file or known[1] != self.session.epoch:
            self.datasets = {}
            self._datasets_of = (file, self.session.epoch)
        return self.datasets

    def close(self) -> None:
        """Close the session (written data stays; the next write opens a new one)."""
        self.datasets = {}
        self._datasets_of = None
        finalizer, self._finalizer, self.session = self._finalizer, None, None
        if finalizer is not None:
            finalizer()


def matching_dataset(group: Any, name: str, array: np.ndarray) -> Any:
    """The dataset ``name`` with ``array``'s shape and dtype (resized in place if it can), or
    None."""
    dataset = group.get(name)
    if dataset is None or not hasattr(dataset, "shape") or dataset.dtype != array.dtype:
        return None
    if dataset.shape == array.shape:
        return dataset
    if (
        dataset.ndim == array.ndim
        and dataset.maxshape
        and all(m is None or m >= s for m, s in zip(dataset.maxshape, array.shape, strict=True))
    ):
        dataset.resize(array.shape)
        return dataset
    return None


def chunk_shape(shape: tuple[int, ...], loop_dims: int, itemsize: int) -> tuple[int, ...]:
    """Chunks of about :data:`CHUNK_BYTES`: whole values, innermost loop levels first."""
    chunk = [max(1, n) for n in shape]
    budget = max(1, CHUNK_BYTES // max(1, itemsize * math.prod(chunk[loop_dims:])))
    for dim in reversed(range(loop_dims)):
        chunk[dim] = min(chunk[dim], budget)
        budget //= chunk[dim]
        if budget <= 1:
            budget = 1
    return tuple(chunk)


def create_dataset(group: Any, name: str, array: np.ndarray, loop_dims: int) -> Any:
    """A new dataset shaped like ``array``, full of zeros (no chunk written yet)."""
    if name in group:
        del group[name]
    if array.ndim == 0:
        return group.create_dataset(name, shape=(), dtype=array.dtype)
    return group.create_dataset(
        name,
        shape=array.shape,
        dtype=array.dtype,
        maxshape=(None,) * array.ndim,
        chunks=chunk_shape(array.shape, loop_dims, array.dtype.itemsize),
    )


def write_full(group: Any, name: str, array: np.ndarray, loop_dims: int) -> Any:
    """Write the whole ``array`` (in place when a matching dataset exists); the dataset."""
    dataset = matching_dataset(group, name, array)
    if dataset is None:
        dataset = create_dataset(group, name, array, loop_dims)
    dataset.id.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(array))
    return dataset
