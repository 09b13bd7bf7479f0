"""``SyncNp``: a numpy array that, once a value of a DH5, writes its element changes to the file
(dh5 0.8.1's ``dh5.dh5_types.SyncNp``).

>>> d = DH5("run.h5", "w=")                        # doctest: +SKIP
>>> d["trace"] = SyncNp((100, 1000))               # doctest: +SKIP
>>> d["trace"][3, :] = measured_row                 # doctest: +SKIP  (just that row is written)

Changes go through :meth:`DH5.write_slice`: with ``save_on_edit`` only the changed slice is
written (under the file's lock and journal), otherwise the key is marked changed and written by
the next ``save()``. A slice of a SyncNp (``arr[1:3]``) is a plain view: writing into it is not
followed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SyncNp"]


class SyncNp(np.ndarray):
    """An array whose ``arr[index] = value`` reaches the DH5 (and file) it belongs to."""

    __should_not_be_converted__ = True  # kept as is when assigned (not turned into a list)

    _dh5_node: Any
    _dh5_name: str | None
    _dh5_changed: bool
    _dh5_writing: bool

    def __new__(cls, data: Any) -> SyncNp:
        """From an array or a list; a tuple is a shape (zeros); a SyncNp is returned as is."""
        if isinstance(data, SyncNp):
            return data
        if isinstance(data, tuple):
            array = np.zeros(shape=data)
        else:
            array = np.asarray(data)
        return array.view(cls)

    def __array_finalize__(self, obj: Any) -> None:
        self._dh5_node = None
        self._dh5_name = None
        self._dh5_changed = False
        self._dh5_writing = False

    def _dh5_bind(self, node: Any, name: str) -> None:
        """Called by the DH5 that stores this array under ``name``."""
        self._dh5_node = node
        self._dh5_name = name

    def _bound_node(self) -> Any:
        node = self._dh5_node
        if node is None or node._value(self._dh5_name) is not self:
            self._dh5_node = None  # replaced or removed meanwhile: no longer followed
            return None
        return node

    def __setitem__(self, index: Any, value: Any) -> None:
        node = None if self._dh5_writing else self._bound_node()
        if node is None:
            super().__setitem__(index, value)
            self._dh5_changed = True
            return
        self._dh5_writing = True
        try:
            node.write_slice(self._dh5_name, index, value)
        finally:
            self._dh5_writing = False

    def save(self, only_update: bool = True) -> SyncNp:
        """Write this array's key now; ``ValueError`` if it was changed and belongs to no DH5."""
        del only_update  # the key is written whole or by slices as DH5.save decides
        node = self._bound_node()
        if node is None:
            if self._dh5_changed:
                raise ValueError("Cannot save a SyncNp that is not a value of a DH5 with a file")
            return self
        if node.h5_path is not None:
            node.save([self._dh5_name])
        return self

    def asarray(self) -> np.ndarray:
        """This data as a plain ``np.ndarray`` view."""
        return self.view(np.ndarray)
