"""DH5 operations that touch the file as a whole: save, load, pull, close, locks, slices."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from . import storage
from .codec import encode
from .errors import ReadOnlyKeyError, UnstorableValueError
from .keys import h5_path, join_key, split_key
from .mapped import release
from .node import ABSENT, DELETE, NOT_LOADED, NodeIO, file_signature, freeze

_Self = TypeVar("_Self", bound="FileOps")
_DISCARDED = "Nothing was written; that value was discarded, the other changes are still pending."


@overload
def _names(keys: str | Iterable[str]) -> list[str]: ...
@overload
def _names(keys: str | Iterable[str] | None) -> list[str] | None: ...
def _names(keys: str | Iterable[str] | None) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        return [keys]
    return list(keys)


def _same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


class FileOps(NodeIO):
    """Mixed into ``DH5`` (which provides ``_node_for``, ``_root`` state and the dict API)."""

    if TYPE_CHECKING:  # provided by DH5

        def _node_for(self, parts: tuple[str, ...], create: bool = False) -> tuple[Any, str]: ...
        def keys(self) -> set[str]: ...

    def save(
        self: _Self,
        only_update: bool | Iterable[str] = True,
        filepath: str | os.PathLike | None = None,
        force: bool | None = None,
    ) -> _Self:
        """Write changes: only changed keys, or everything with ``force``/``only_update=False``.

        ``filepath`` writes a full copy of this object into another file (this object keeps its
        own file). Every value is encoded first: an unstorable one raises ``TypeError`` naming
        its key before the file is opened, and nothing pending is dropped.
        """
        root: Any = self._root
        if root._read_only:
            raise ValueError("Cannot save a DH5 opened read-only; reopen it with mode='a'")
        own = root._h5
        target = None if filepath is None else h5_path(filepath)
        if target is not None and (own is None or not _same_file(target, own)):
            return self._save_copy(target)
        if own is None:
            raise ValueError("This DH5 has no file: give save(filepath=...) or set .filepath")
        if self._parent is not None and (self._chain_dirty() or root._replace_pending):
            root.save(force=force)
            return self
        full = bool(force) or only_update is False or target is not None
        names = None if isinstance(only_update, bool) else _names(only_update)

        ops, saved = self._checked_plan(names, full)
        try:
            if root._replace_pending:
                with storage.replace_atomically(own) as file:
                    self._write_ops(file, ops)
                root._replace_pending = False
            else:
                if not ops:
                    return self
                release(own, [path for path, _ in ops])  # arrays handed out keep their bytes
                keys = [op[0] for op in ops]  # named by the error of a failed save (disk full)
                try:
                    with storage.open_write(own, keys=keys) as file:
                        self._write_ops(file, ops)
                except storage.FileAppearedError:  # created meanwhile without our lock
                    with storage.open_write(own, keys=keys) as file:  # (plain h5py): add to it
                        self._write_ops(file, ops)
        except UnstorableValueError as exc:  # refused by HDF5 itself: the save was rolled back
            if not root._discard_unstorable(exc.key):
                raise
            raise UnstorableValueError(exc.key, f"{exc.reason}. {_DISCARDED}") from exc
        self._mark_clean(saved)
        root._signature = file_signature(own)
        return self

    def _checked_plan(self, names: list[str] | None, full: bool) -> tuple[list, list]:
        """The save plan, every value encoded. An unstorable value is not kept pending: it is
        dropped (the key shows its saved value again, if any) and ``TypeError`` names it, before
        anything is written; the other pending keys stay pending."""
        root: Any = self._root
        errors: list[UnstorableValueError] = []
        while True:
            ops: list = []
            saved: list = []
            try:
                if root._replace_pending:
                    ops = [(name, encode(value, name)) for name, value in root._loaded_items()]
                    saved = [(root, None)]
                else:
                    self._plan(names, full, ops, saved)
            except UnstorableValueError as exc:
                if not root._discard_unstorable(exc.key):
                    raise
                errors.append(exc)
                continue
            if not errors:
                return ops, saved
            keys = ", ".join(repr(exc.key) for exc in errors)
            raise UnstorableValueError(
                errors[0].key,
                f"{errors[0].reason}. Nothing was written; the unstorable value(s) of {keys} "
                "were discarded, the other changes are still pending.",
            )

    def _discard_unstorable(self, path: str) -> bool:
        """Forget the in-memory value at ``path`` (back to the file's value, if any)."""
        root: Any = self._root
        try:
            node, name = root._node_for(split_key(path))
        except (KeyError, TypeError, ValueError):
            return False
        if not node._is_loaded(name):
            return False
        on_disk = False
        if not root._replace_pending and not node._chain_dirty() and os.path.exists(root._h5):
            with storage.open_read(root._h5) as file:
                on_disk = path in file
        node._set_dirty(name, False)
        node._put(name, NOT_LOADED if on_disk else ABSENT)
        return True

    def _save_copy(self: _Self, target: str) -> _Self:
        root: Any = self._root
        if root._h5 is not None and os.path.exists(root._h5):
            self._load_all()
        prefix = self.key_prefix
        ops = [
            (join_key(prefix, name), encode(value, join_key(prefix, name)))
            for name, value in self._loaded_items()
        ]
        ops += [
            (join_key(prefix, name), DELETE)
            for name in self._dirty_names()
            if not self._is_loaded(name)
        ]
        with storage.open_write(target) as file:
            self._write_ops(file, ops)
        return self

    def load(
        self: _Self,
        filepath: str | os.PathLike | None = None,
        key: str | Iterable[str] | None = None,
    ) -> _Self:
        """(Re)read values from the file (unsaved keys are kept), or import them from another.

        Values imported from another file are marked to be saved into this object's file.
        """
        root: Any = self._root
        source = root._h5 if filepath is None else h5_path(filepath)
        if source is None:
            raise ValueError("This DH5 has no file to load from: give load(filepath=...)")
        names = _names(key)
        paths = None if names is None else [split_key(name) for name in names]
        other = root._h5 is None or not _same_file(source, root._h5)
        with storage.open_read(source) as file:
            prefix = self.key_prefix
            group = file[prefix] if prefix else file
            if paths is None:
                self._load_here(group, list(group.keys()), other)
            else:
                missing = [join_key(*parts) for parts in paths if join_key(*parts) not in group]
                if missing:
                    raise KeyError(f"{missing} not in {source}")
                for parts in paths:  # 'a/b' is 'b' inside the group 'a', as everywhere
                    node = self._load_parent(parts[:-1], other)
                    node._load_here(
                        group[join_key(*parts[:-1])] if parts[1:] else group, [parts[-1]], other
                    )
            if not other:
                root._signature = file_signature(source)
        return self

    def _load_here(self, group: Any, names: list[str], other: bool) -> None:
        """Read ``names`` of ``group`` into this node; from another file they become pending."""
        if other:
            for name in names:
                self._set_dirty(name, False)
        self._fill(group, names, lazy=False)
        if other:
            for name in names:
                if self._is_loaded(name):
                    self._slots[name].from_disk = False
                if not self._root._read_only:
                    self._set_dirty(name)

    def _load_parent(self, parts: tuple[str, ...], other: bool) -> Any:
        """The node of the group ``parts`` (created in memory when this object lacks it)."""
        node: Any = self
        for part in parts:
            if node._has(part):
                child = node._stored(part)
                if not isinstance(child, NodeIO):
                    raise KeyError(f"{join_key(node.key_prefix, part)!r} is not a group")
            else:
                child = node._new_child(part)
                node._put(part, child, dirty=other and not self._root._read_only)
            node = child
        return node

    def pull_available(self) -> bool:
        """True when the file changed on disk since this object last read or wrote it."""
        root: Any = self._root
        if root._h5 is None:
            raise ValueError("Cannot pull: this DH5 has no file")
        return file_signature(root._h5) != root._signature

    def pull(self: _Self, force_pull: bool = False) -> _Self:
        """Reload from the file if it changed on disk (or always with ``force_pull``).

        Keys with unsaved changes keep their in-memory values.
        """
        root: Any = self._root
        if root._h5 is None:
            raise ValueError("Cannot pull: this DH5 has no file")
        if not (force_pull or root.pull_available()):
            return self
        shielded = []  # kept for their pending changes below: not reloaded, not dirty
        for name, slot in list(root._slots.items()):
            value = slot.value
            if slot.dirty:
                slot.from_disk = False
            elif isinstance(value, FileOps) and value._has_pending():
                slot.from_disk = False
                slot.dirty = True
                shielded.append(name)
            else:
                root._put(name, ABSENT)
        try:
            root._open_file()
        finally:
            for name in shielded:
                root._set_dirty(name, False)
        return self

    def close_data(
        self: _Self, key: str | Iterable[str] | None = None, every: bool | None = None
    ) -> _Self:
        """Drop values from memory (they load again on access); unsaved keys are kept.

        ``key=None`` or ``every=True`` (dh5's spelling) closes every key.
        """
        root: Any = self._root
        if root._h5 is None or root._replace_pending:
            raise ValueError("Nothing to reload from: closing would lose the data")
        names = None if every else _names(key)
        with storage.open_read(root._h5) as file:
            prefix = self.key_prefix
            on_disk = (
                set((file[prefix] if prefix else file).keys())
                if (not prefix or prefix in file)
                else set()
            )
        for name in names if names is not None else [name for name, _ in self._loaded_items()]:
            value = self._value(name)
            pending = self._is_dirty(name) or (isinstance(value, FileOps) and value._has_pending())
            if pending or name not in on_disk:
                if names is not None and self._is_loaded(name):
                    raise ValueError(f"{join_key(self.key_prefix, name)!r} has unsaved changes")
                continue
            self._put(name, NOT_LOADED)
        return self

    def lock_data(self: _Self, keys: str | Iterable[str] | None = None) -> _Self:
        """Make keys (default: all current keys) read-only: changes raise ReadOnlyKeyError."""
        root: Any = self._root
        if root._read_only:
            raise ValueError("Everything is already locked: this DH5 is read-only")
        for key in _names(keys) if keys is not None else sorted(self.keys()):
            node, name = self._node_for(split_key(key))
            node._set_locked(name)
            slot = node._slots[name]
            if isinstance(slot.value, np.ndarray) and slot.from_disk:
                slot.value = freeze(slot.value)
        return self

    def unlock_data(
        self: _Self,
        keys: str | Iterable[str] | None = None,
        *,
        remove_keys: str | Iterable[str] | None = None,
    ) -> _Self:
        """Unlock keys (default: all, nested locks included); ``remove_keys`` is dh5's name."""
        root: Any = self._root
        if root._read_only:
            raise ValueError("Cannot unlock a DH5 opened read-only; reopen it with mode='a'")
        if remove_keys is not None:
            if keys is not None:
                raise ValueError("Give the keys to unlock either as keys or as remove_keys")
            keys = remove_keys
        if keys is None:  # this node and everything below it
            nodes: list[Any] = [self]
            while nodes:
                node = nodes.pop()
                for name in list(node._slots):
                    node._set_locked(name, False)
                nodes.extend(node._children())
            return self
        for key in _names(keys):
            node, name = self._node_for(split_key(key))
            node._set_locked(name, False)
        return self

    def write_slice(self, key: str | tuple, index: Any, value: Any) -> None:
        """``d[key][index] = value``, and with ``save_on_edit`` write just that slice.

        For loops appending points to a preallocated array: the file gets the slice only.
        """
        node, name = self._node_for(split_key(key))
        path = join_key(node.key_prefix, name)
        if node._is_locked(name):
            raise ReadOnlyKeyError(path, action="set")
        array = node._stored(name)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{path!r} is not an array")
        array[index] = value
        root: Any = self._root
        direct = (
            root._save_on_edit
            and root._h5 is not None
            and not root._replace_pending
            and not node._is_dirty(name)
            and not node._chain_dirty()
            and os.path.exists(root._h5)
        )
        if direct:
            written = False
            with storage.open_write(root._h5) as file:
                dataset = file.get(path)
                if (
                    dataset is not None
                    and getattr(dataset, "shape", None) == array.shape
                    and dataset.dtype == array.dtype
                ):
                    dataset[index] = array[index]
                    written = True
            if written:  # the signature after the commit (the write generation has moved)
                root._signature = file_signature(root._h5)
                return
        node._set_dirty(name)
        node._autosave()

    def _has_pending(self) -> bool:
        for slot in self._slots.values():
            if slot.dirty or (isinstance(slot.value, FileOps) and slot.value._has_pending()):
                return True
        return False
