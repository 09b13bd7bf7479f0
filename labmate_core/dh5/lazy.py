"""LazyArray: a dataset of an ``.h5`` file read partially, without loading it whole."""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from . import storage
from .codec import read_dataset


class LazyArray:
    """A handle on ``<file>/<key>``; every slice is read through ``storage.open_read``.

    The file is not held open: each ``arr[...]`` opens, reads that selection, and closes.
    Creating the handle opens nothing: shape and dtype are read at the first access, so
    ``d.get_lazy(key)[:10]`` opens the file once (a key that is no dataset raises then).

    >>> lazy = DH5("big.h5").get_lazy("x")      # doctest: +SKIP
    >>> lazy.shape, lazy.dtype, lazy[10:20]     # doctest: +SKIP
    """

    def __init__(self, h5_path: str | os.PathLike, key: str) -> None:
        self._h5_path = os.fspath(h5_path)
        self._key = key
        self._meta: tuple[tuple[int, ...], np.dtype] | None = None  # read at the first open

    def _dataset(self, file: h5py.File) -> h5py.Dataset:
        """The dataset in the open ``file`` (its shape and dtype remembered); KeyError if none."""
        dataset = file.get(self._key)
        if dataset is None or not hasattr(dataset, "shape"):
            raise KeyError(f"{self._key!r} is not a dataset of {self._h5_path}")
        if self._meta is None:
            self._meta = (tuple(dataset.shape), dataset.dtype)
        return dataset

    def _info(self) -> tuple[tuple[int, ...], np.dtype]:
        if self._meta is None:
            with storage.open_read(self._h5_path) as file:
                self._dataset(file)
        assert self._meta is not None
        return self._meta

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the dataset."""
        return self._info()[0]

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the dataset."""
        return self._info()[1]

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def key(self) -> str:
        """Path of the dataset inside the file."""
        return self._key

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d LazyArray")
        return shape[0]

    def __getitem__(self, selection: Any) -> Any:
        with storage.open_read(self._h5_path) as file:
            return read_dataset(self._dataset(file), selection)

    def read(self) -> Any:
        """Load the whole dataset."""
        return self[()]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.asarray(self.read())
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        shape, dtype = self._info()
        return f"LazyArray({self._key!r}, shape={shape}, dtype={dtype})"
