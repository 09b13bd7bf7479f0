"""LazyArray: a dataset of an ``.h5`` file read partially, without loading it whole."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import storage
from .codec import read_dataset


class LazyArray:
    """A handle on ``<file>/<key>``; every slice is read through ``storage.open_read``.

    The file is not held open: each ``arr[...]`` opens, reads that selection, and closes.

    >>> lazy = DH5("big.h5").get_lazy("x")      # doctest: +SKIP
    >>> lazy.shape, lazy.dtype, lazy[10:20]     # doctest: +SKIP
    """

    def __init__(self, h5_path: str | os.PathLike, key: str) -> None:
        self._h5_path = os.fspath(h5_path)
        self._key = key
        with storage.open_read(self._h5_path) as file:
            dataset = file.get(key)
            if dataset is None or not hasattr(dataset, "shape"):
                raise KeyError(f"{key!r} is not a dataset of {self._h5_path}")
            self._shape: tuple[int, ...] = tuple(dataset.shape)
            self._dtype = dataset.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the dataset."""
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the dataset."""
        return self._dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def key(self) -> str:
        """Path of the dataset inside the file."""
        return self._key

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d LazyArray")
        return self._shape[0]

    def __getitem__(self, selection: Any) -> Any:
        with storage.open_read(self._h5_path) as file:
            return read_dataset(file[self._key], selection)

    def read(self) -> Any:
        """Load the whole dataset."""
        return self[()]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.asarray(self.read())
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyArray({self._key!r}, shape={self._shape}, dtype={self._dtype})"
