"""In-memory tree of a DH5: nodes, lazy loading from an open group, protection of locked values.

A DH5 object is a node; a group inside it is a child node (also a ``DH5``) that knows its
parent and its name, so that it reads and writes under ``<parent prefix>/<name>`` of the same
file. This module holds the plumbing shared by those nodes; ``file.py`` holds the public API.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

from . import storage
from .codec import EncodedGroup, encode, read_dataset, write
from .errors import UnstorableValueError
from .keys import join_key
from .mapped import map_dataset

logger = logging.getLogger(__name__)

DELETE = object()  # marker of a key to delete in a save plan


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: A slot's value when the key is in the file but not read yet.
NOT_LOADED: Any = _Marker("not loaded")
#: A slot's value when the key has no value: deleted (a pending delete when dirty), or a name
#: locked before it was set.
ABSENT: Any = _Marker("absent")


class Slot:
    """Everything a node knows about one key: its value (or NOT_LOADED / ABSENT), whether it
    must be saved (``dirty``), whether it is read-only (``locked``), and whether the value is
    the one read from the file (``from_disk``: arrays may then be frozen when locked)."""

    __slots__ = ("dirty", "from_disk", "locked", "value")

    def __init__(self, value: Any = ABSENT) -> None:
        self.value = value
        self.dirty = False
        self.locked = False
        self.from_disk = False

    def __repr__(self) -> str:
        flags = [flag for flag in ("dirty", "locked", "from_disk") if getattr(self, flag)]
        return f"Slot({self.value!r}{', ' if flags else ''}{', '.join(flags)})"


def file_signature(h5_path: str | None) -> tuple[int, int, int, int] | None:
    """What ``pull_available`` compares: (inode, size, mtime in ns, write generation), or None
    if absent. The generation tells apart two saves in one second of the same size (1-second
    timestamps); take it under the file's lock so no save slips in after the read."""
    if h5_path is None:
        return None
    try:
        st = os.stat(h5_path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, storage.generation(h5_path))


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
        # numpy's stubs declare ndarray.__buffer__ only for Python >= 3.12; it has the protocol
        view = np.asarray(memoryview(array).toreadonly())  # type: ignore[arg-type]
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
    """Reading and saving for one node; mixed into ``DH5``.

    A node's state is one :class:`Slot` per key in ``_slots`` (insertion ordered); the helpers
    below are the only code that reads or changes slots.
    """

    # --- state present on every node (set by DH5._init_node) ---
    _parent: Any  # the parent node (a DH5), None at the top
    _name: str
    _slots: dict[str, Slot]
    # --- state of the top node only (set by DH5.__init__) ---
    _h5: str | None
    _read_only: bool
    _lazy: bool
    _replace_pending: bool

    def _new_child(self, name: str) -> Any:
        """A new empty child node named ``name`` (provided by DH5)."""
        raise NotImplementedError

    # --- slots ----------------------------------------------------------------------------
    def _has(self, name: str) -> bool:
        """``name`` is a key here (loaded or not)."""
        slot = self._slots.get(name)
        return slot is not None and slot.value is not ABSENT

    def _is_loaded(self, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is not None and slot.value is not ABSENT and slot.value is not NOT_LOADED

    def _is_unloaded(self, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is not None and slot.value is NOT_LOADED

    def _is_dirty(self, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is not None and slot.dirty

    def _value(self, name: str, default: Any = None) -> Any:
        """The loaded value of ``name`` (``default`` if absent or not loaded)."""
        slot = self._slots.get(name)
        if slot is None or slot.value is ABSENT or slot.value is NOT_LOADED:
            return default
        return slot.value

    def _names(self) -> set[str]:
        return {name for name, slot in self._slots.items() if slot.value is not ABSENT}

    def _loaded_items(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every loaded key, in order."""
        for name, slot in list(self._slots.items()):
            if slot.value is not ABSENT and slot.value is not NOT_LOADED:
                yield name, slot.value

    def _children(self) -> Iterator[NodeIO]:
        for slot in list(self._slots.values()):
            if isinstance(slot.value, NodeIO):
                yield slot.value

    def _unloaded_names(self) -> list[str]:
        return [name for name, slot in self._slots.items() if slot.value is NOT_LOADED]

    def _dirty_names(self) -> set[str]:
        return {name for name, slot in self._slots.items() if slot.dirty}

    def _put(self, name: str, value: Any, dirty: bool = False, from_disk: bool = False) -> None:
        """Hold ``value`` (or NOT_LOADED / ABSENT) for ``name``; mark it dirty if asked."""
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = Slot()
        slot.value = value
        slot.from_disk = from_disk
        if dirty:
            slot.dirty = True
        elif value is ABSENT:
            self._tidy(name)

    def _set_dirty(self, name: str, dirty: bool = True) -> None:
        slot = self._slots.get(name)
        if slot is None:
            if not dirty:
                return
            slot = self._slots[name] = Slot()
        slot.dirty = dirty
        if not dirty:
            self._tidy(name)

    def _set_locked(self, name: str, locked: bool = True) -> None:
        slot = self._slots.get(name)
        if slot is None:
            if not locked:
                return
            slot = self._slots[name] = Slot()
        slot.locked = locked
        if not locked:
            self._tidy(name)

    def _tidy(self, name: str) -> None:
        """Forget a slot that says nothing any more (no value, not dirty, not locked)."""
        slot = self._slots.get(name)
        if slot is not None and slot.value is ABSENT and not slot.dirty and not slot.locked:
            del self._slots[name]

    # --- position -------------------------------------------------------------------------
    @property
    def _root(self) -> Any:
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
            if node._parent._is_dirty(node._name):
                return True
            node = node._parent
        return False

    def _is_locked(self, name: str) -> bool:
        root = self._root
        if root._read_only:
            return True
        slot = self._slots.get(name)
        if slot is not None and slot.locked:
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
            if self._is_dirty(name):
                continue
            obj = group.get(name)
            if obj is None:  # gone, or a dangling link
                self._put(name, ABSENT)
                continue
            from_disk = False
            if isinstance(obj, h5py.Group):
                child = self._new_child(name)
                if lazy:
                    child._list_from(obj)
                else:
                    child._fill(obj)
                value: Any = child
            else:
                value = self._read_value(obj, name)
                if isinstance(value, np.ndarray) and self._is_locked(name):
                    value = freeze(value)
                from_disk = True
            self._put(name, value, from_disk=from_disk)

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
        for name in group.keys():
            if not self._is_dirty(name):
                self._put(name, NOT_LOADED)

    def _load_names(self, names: Any, lazy: bool | None = None) -> None:
        names = [name for name in names if self._is_unloaded(name)]
        if not names:
            return
        root = self._root
        lazy = root._lazy if lazy is None else lazy
        with storage.open_read(root._h5) as file:
            self._fill(self._group_of(file), names, lazy=lazy)
        for name in names:
            if self._is_unloaded(name):
                self._put(name, ABSENT)

    def _load_all(self) -> None:
        """Load every unloaded value of this subtree in one read."""
        if not self._has_unloaded():
            return
        with storage.open_read(self._root._h5) as file:
            self._fill_all(self._group_of(file))

    def _has_unloaded(self) -> bool:
        for slot in self._slots.values():
            value = slot.value
            if value is NOT_LOADED or (isinstance(value, NodeIO) and value._has_unloaded()):
                return True
        return False

    def _fill_all(self, group: h5py.Group) -> None:
        unloaded = self._unloaded_names()
        if unloaded:
            self._fill(group, sorted(unloaded), lazy=False)
        for name, value in self._loaded_items():
            if isinstance(value, NodeIO) and value._has_unloaded() and name in group:
                value._fill_all(group[name])

    def _stored(self, name: str) -> Any:
        """The value held for ``name`` (loading it if needed), unprotected; KeyError if absent."""
        slot = self._slots.get(name)
        if slot is not None and slot.value is NOT_LOADED:
            self._load_names([name])
            slot = self._slots.get(name)
        if slot is None or slot.value is ABSENT:
            raise KeyError(join_key(self.key_prefix, name))
        value = slot.value
        if (
            isinstance(value, np.ndarray)
            and not value.flags.writeable
            and slot.from_disk
            and not self._is_locked(name)
        ):
            value = slot.value = value.copy()  # unlocked since loading: give a mutable copy
        return value

    # --- saving ---------------------------------------------------------------------------
    def _dh5_encode_group(self) -> dict[str, Any]:
        """Mapping of every value of this node, for writing it as a whole group."""
        self._load_all()
        return dict(self._loaded_items())

    def _plan(self, names: Any, full: bool, ops: list, saved: list) -> None:
        """Append ``(path, encoded | DELETE)`` for this subtree; remember what gets clean."""
        prefix = self.key_prefix
        selected = self._dirty_names()
        if names is not None:
            selected &= set(names)
        for name in sorted(selected):
            path = join_key(prefix, name)
            if self._is_loaded(name):
                value = self._slots[name].value
                ops.append((path, encode(value, path)))
                if isinstance(value, NodeIO):
                    saved.append((value, None))
            else:
                ops.append((path, DELETE))
        saved.append((self, selected))
        for name, value in self._loaded_items():
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
                for name in names:
                    node._set_dirty(name, False)

    def _mark_subtree_clean(self) -> None:
        for name in list(self._slots):
            self._set_dirty(name, False)
        for child in self._children():
            child._mark_subtree_clean()

    @staticmethod
    def _write_ops(file: h5py.File, ops: list) -> None:
        """Apply a save plan. A value HDF5 refuses (which :func:`encode` let through) raises
        :class:`UnstorableValueError` naming its key: the caller's write is rolled back."""
        groups: dict[str, h5py.Group] = {}  # parents already looked up in this write
        for path, encoded in ops:
            parent_path, _, name = path.rpartition("/")
            if encoded is DELETE:
                with contextlib.suppress(KeyError):  # absent (or a link already gone)
                    del file[path]
                groups.clear()
                continue
            if not parent_path:
                group = file
            else:
                group = groups.get(parent_path)
                if group is None:
                    group = groups[parent_path] = file.require_group(parent_path)
            try:
                write(group, name, encoded)
            except (TypeError, ValueError, UnicodeError) as exc:
                raise UnstorableValueError(path, f"HDF5 refused it ({exc})") from exc
            groups.pop(path, None)  # replaced by what was just written

    def _whole_content(self) -> EncodedGroup:
        """This node's full content, encoded (values loaded first)."""
        return encode(self, self.key_prefix or "/")
