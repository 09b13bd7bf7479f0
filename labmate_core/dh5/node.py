"""In-memory tree of a DH5: nodes, lazy loading from an open group, protection of locked values.

A DH5 object is a node; a group inside it is a child node (also a ``DH5``) that knows its
parent and its name, so that it reads and writes under ``<parent prefix>/<name>`` of the same
file. This module holds the plumbing shared by those nodes; ``file.py`` holds the public API.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from . import storage
from .codec import EncodedGroup, encode, read_dataset
from .keys import join_key
from .mapped import map_dataset

if TYPE_CHECKING:
    from .file import DH5

logger = logging.getLogger(__name__)

DELETE = object()  # marker of a key to delete in a save plan


def file_signature(h5_path: str | None) -> tuple[int, int, int] | None:
    """What ``pull_available`` compares: (inode, size, mtime in ns), or None if absent."""
    if h5_path is None:
        return None
    try:
        st = os.stat(h5_path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def freeze(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` that nobody can make writable again (its base is frozen)."""
    array.flags.writeable = False
    view = array.view()
    view.flags.writeable = False
    return view


def _is_sealed(array: np.ndarray) -> bool:
    """A read-only view of a read-only array (what :func:`freeze` returns): safe to hand out."""
    base = array.base
    return (
        not array.flags.writeable
        and isinstance(base, np.ndarray)
        and base.base is None
        and not base.flags.writeable
    )


def sealed_view(array: np.ndarray) -> np.ndarray:
    """An O(1) read-only view of ``array`` that cannot be made writable again, leaving
    ``array`` itself (maybe the user's own object) untouched: its buffer is exported read-only.
    """
    try:
        view = np.asarray(memoryview(array).toreadonly())
    except (TypeError, ValueError, BufferError):  # dtypes without a buffer form (datetime64)
        view = array.copy()
        view.flags.writeable = False
        return view
    if type(array) is not np.ndarray:
        view = view.view(type(array))
    return view


def protect(value: Any) -> Any:
    """What a locked key hands out: a read-only view for arrays, a copy for mutable containers."""
    if isinstance(value, np.ndarray):
        if _is_sealed(value):
            return value  # already frozen for good at load time: no new object at all
        base = value.base if isinstance(value.base, np.ndarray) else value
        if not base.flags.writeable and base.base is None:
            view = value.view()  # the buffer itself is frozen: the view cannot be unfrozen
            view.flags.writeable = False
            return view
        return sealed_view(value)
    if isinstance(value, (list, dict, set)):
        return copy.deepcopy(value)
    return value


class NodeIO:
    """Reading and saving for one node; mixed into ``DH5``."""

    # --- state present on every node (set by DH5._init_node) ---
    _parent: DH5 | None
    _name: str
    _data: dict[str, Any]
    _unloaded: set[str]
    _dirty: set[str]
    _locked: set[str]
    _from_disk: set[str]

    # --- position -------------------------------------------------------------------------
    @property
    def _root(self) -> DH5:
        node: Any = self
        while node._parent is not None:
            node = node._parent
        return node

    @property
    def key_prefix(self) -> str:
        """Path of this node inside the file ('' for the top level)."""
        if self._parent is None:
            return ""
        return join_key(self._parent.key_prefix, self._name)

    @property
    def h5_path(self) -> str | None:
        """Full path of the ``.h5`` file this node reads and writes (None when in memory)."""
        return self._root._h5

    def _chain_dirty(self) -> bool:
        """True if this node (or an ancestor) will be rewritten whole by an ancestor's save."""
        node: Any = self
        while node._parent is not None:
            if node._name in node._parent._dirty:
                return True
            node = node._parent
        return False

    def _is_locked(self, name: str) -> bool:
        root = self._root
        if root._read_only:
            return True
        if name in self._locked:
            return True
        return self._parent is not None and self._parent._is_locked(self._name)

    # --- reading --------------------------------------------------------------------------
    def _group_of(self, file: h5py.File) -> h5py.Group:
        prefix = self.key_prefix
        return file[prefix] if prefix else file

    def _fill(self, group: h5py.Group, names: Any = None, lazy: bool = False) -> None:
        """Load ``names`` (default: all) of ``group`` into this node, skipping unsaved keys."""
        names = list(group.keys()) if names is None else list(names)
        for name in names:
            if name in self._dirty:
                continue
            obj = group.get(name)
            if obj is None:
                self._unloaded.discard(name)
                self._data.pop(name, None)
                continue
            if isinstance(obj, h5py.Group):
                child = self._new_child(name)
                if lazy:
                    child._unloaded = set(obj.keys())
                else:
                    child._fill(obj)
                value: Any = child
            else:
                value = self._read_value(obj, name)
                if isinstance(value, np.ndarray) and self._is_locked(name):
                    value = freeze(value)
                self._from_disk.add(name)
            self._data[name] = value
            self._unloaded.discard(name)

    def _read_value(self, dataset: h5py.Dataset, name: str) -> Any:
        """A dataset's value; a locked array of a root that maps them (``AnalysisData``) comes
        back as a read-only view of the file's pages (see ``dh5/mapped.py``)."""
        root = self._root
        if root._maps_arrays(self, name):
            mapped = map_dataset(dataset, root._h5)
            if mapped is not None:
                return mapped
        return read_dataset(dataset)

    def _maps_arrays(self, node: NodeIO, name: str) -> bool:
        """Whether ``node[name]`` may be a view of the file's pages (asked of the root; only
        ``AnalysisData`` says yes, for its locked keys)."""
        return False

    def _list_from(self, group: h5py.Group) -> None:
        """Lazy open: remember the names on disk, load nothing."""
        self._unloaded = {name for name in group.keys() if name not in self._dirty}

    def _load_names(self, names: Any, lazy: bool | None = None) -> None:
        names = [name for name in names if name in self._unloaded]
        if not names:
            return
        root = self._root
        lazy = root._lazy if lazy is None else lazy
        with storage.open_read(root._h5) as file:
            self._fill(self._group_of(file), names, lazy=lazy)
        for name in names:
            self._unloaded.discard(name)

    def _load_all(self) -> None:
        """Load every unloaded value of this subtree in one read."""
        if not self._has_unloaded():
            return
        with storage.open_read(self._root._h5) as file:
            self._fill_all(self._group_of(file))

    def _has_unloaded(self) -> bool:
        if self._unloaded:
            return True
        return any(isinstance(v, NodeIO) and v._has_unloaded() for v in self._data.values())

    def _fill_all(self, group: h5py.Group) -> None:
        if self._unloaded:
            self._fill(group, sorted(self._unloaded), lazy=False)
        for name, value in self._data.items():
            if isinstance(value, NodeIO) and value._has_unloaded() and name in group:
                value._fill_all(group[name])

    def _stored(self, name: str) -> Any:
        """The value held for ``name`` (loading it if needed), unprotected; KeyError if absent."""
        if name in self._unloaded:
            self._load_names([name])
        if name not in self._data:
            raise KeyError(join_key(self.key_prefix, name))
        value = self._data[name]
        if (
            isinstance(value, np.ndarray)
            and not value.flags.writeable
            and name in self._from_disk
            and not self._is_locked(name)
        ):
            value = self._data[name] = value.copy()  # unlocked since loading: give a mutable copy
        return value

    # --- saving ---------------------------------------------------------------------------
    def _dh5_encode_group(self) -> dict[str, Any]:
        """Mapping of every value of this node, for writing it as a whole group."""
        self._load_all()
        return dict(self._data)

    def _plan(self, names: Any, full: bool, ops: list, saved: list) -> None:
        """Append ``(path, encoded | DELETE)`` for this subtree; remember what gets clean."""
        prefix = self.key_prefix
        selected = set(self._dirty) if names is None else set(self._dirty) & set(names)
        for name in sorted(selected):
            path = join_key(prefix, name)
            if name in self._data:
                ops.append((path, encode(self._data[name], path)))
                value = self._data[name]
                if isinstance(value, NodeIO):
                    saved.append((value, None))
            else:
                ops.append((path, DELETE))
        saved.append((self, selected))
        for name, value in self._data.items():
            if name in selected or (names is not None and name not in names):
                continue
            if isinstance(value, NodeIO):
                value._plan(None, full, ops, saved)
            elif full:
                path = join_key(prefix, name)
                ops.append((path, encode(value, path)))

    @staticmethod
    def _mark_clean(saved: list) -> None:
        for node, names in saved:
            if names is None:
                node._mark_subtree_clean()
            else:
                node._dirty -= names

    def _mark_subtree_clean(self) -> None:
        self._dirty.clear()
        for value in self._data.values():
            if isinstance(value, NodeIO):
                value._mark_subtree_clean()

    @staticmethod
    def _write_ops(file: h5py.File, ops: list) -> None:
        from .codec import write

        groups: dict[str, h5py.Group] = {}  # parents already looked up in this write
        for path, encoded in ops:
            parent_path, _, name = path.rpartition("/")
            if encoded is DELETE:
                if path in file:
                    del file[path]
                groups.clear()
                continue
            if not parent_path:
                group = file
            else:
                group = groups.get(parent_path)
                if group is None:
                    group = groups[parent_path] = file.require_group(parent_path)
            write(group, name, encoded)
            groups.pop(path, None)  # replaced by what was just written

    def _whole_content(self) -> EncodedGroup:
        """This node's full content, encoded (values loaded first)."""
        return encode(self, self.key_prefix or "/")
