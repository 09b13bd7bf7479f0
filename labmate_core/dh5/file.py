"""DH5: a dict synchronised with an ``.h5`` file (SPEC §1).

The file is never held open: every read goes through ``storage.open_read`` and every save
through ``storage.open_write`` (``replace_atomically`` for ``overwrite=True``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from . import storage
from .assigned import on_assigned
from .codec import CYCLE_REASON, encode, normalize
from .describe import summarize, tree_lines, unloaded_summaries
from .errors import DH5FileNotFoundError, ReadOnlyKeyError, UnstorableValueError
from .keys import h5_path as _h5_path
from .keys import join_key, split_key
from .lazy import LazyArray
from .node import ABSENT, NOT_LOADED, NodeIO, Slot, file_signature, protect
from .ops import FileOps

logger = logging.getLogger(__name__)

_MODES = {"r", "w", "a", "w=", "a="}
_Self = TypeVar("_Self", bound="DH5")
_MISSING = object()


def _resolve_mode(
    mode: str | None, read_only: bool | None, overwrite: bool | None, save_on_edit: bool
) -> tuple[bool | None, bool | None, bool]:
    if mode is None:
        return read_only, overwrite, save_on_edit
    if mode not in _MODES:
        raise ValueError(f"Unknown mode {mode!r}: use one of {sorted(_MODES)}")
    wanted_read_only = mode == "r"
    if read_only is not None and bool(read_only) != wanted_read_only:
        raise ValueError(f"mode={mode!r} contradicts read_only={read_only!r}")
    if mode.startswith("a"):
        if overwrite:
            raise ValueError("mode='a' appends: it contradicts overwrite=True")
        overwrite = False
    return wanted_read_only, overwrite, save_on_edit or mode.endswith("=")


class DH5(FileOps, NodeIO):
    """A dict synchronised with an ``.h5`` file.

    >>> d = DH5("run.h5", "w")           # doctest: +SKIP
    >>> d["x"] = np.arange(3); d.save()  # doctest: +SKIP
    >>> DH5("run.h5").x                  # doctest: +SKIP
    """

    __should_not_be_converted__ = True

    def __init__(
        self,
        filepath_or_data: str | os.PathLike | Mapping | None = None,
        /,
        mode: str | None = None,
        *,
        filepath: str | os.PathLike | None = None,
        save_on_edit: bool = False,
        read_only: bool | None = None,
        overwrite: bool | None = None,
        data: Mapping | None = None,
        open_on_init: bool | None = None,
        **kwds: Any,
    ) -> None:
        if kwds:  # dh5 accepts (and ignores) extra keywords: so do we, but not silently
            logger.warning("DH5 ignores the unknown keyword argument(s) %s", ", ".join(kwds))
        read_only, overwrite, save_on_edit = _resolve_mode(mode, read_only, overwrite, save_on_edit)
        if isinstance(filepath_or_data, (str, os.PathLike)):
            if filepath is not None:
                raise ValueError("Give the file either positionally or as filepath=, not both")
            filepath = filepath_or_data
        elif filepath_or_data is not None:
            if not isinstance(filepath_or_data, Mapping) and not hasattr(filepath_or_data, "keys"):
                raise TypeError(
                    f"Expected a file path or a mapping, not {type(filepath_or_data).__name__}"
                )
            if data is not None:
                raise ValueError("Give the data either positionally or as data=, not both")
            data = filepath_or_data
        h5 = None if filepath is None else _h5_path(filepath)
        if read_only is None:
            read_only = h5 is not None and not save_on_edit and not overwrite
        if read_only and (overwrite or save_on_edit):
            raise ValueError("A read-only DH5 cannot overwrite or save_on_edit")
        if open_on_init is False and overwrite:
            raise ValueError("overwrite=True replaces the file: there is nothing to open lazily")
        if h5 is not None and os.path.isdir(h5):
            raise IsADirectoryError(f"{h5} is a directory, not an .h5 file")

        self._init_node(None, "")
        self._h5: str | None = h5
        self._read_only = bool(read_only)
        self._save_on_edit = bool(save_on_edit) and not read_only
        self._lazy = open_on_init is False
        self._replace_pending = False
        self._signature: tuple[int, int, int, int] | None = None

        if data is not None:
            _check_nested_keys(data)
            if not self._read_only:
                self._validate((split_key(key), data[key]) for key in list(data.keys()))
            self._fill_from_mapping(data, dirty=not self._read_only)
        if h5 is None:
            return
        if storage.exists(h5):
            if not self._read_only and overwrite is None:
                raise FileExistsError(
                    f"{h5} already exists. Pass overwrite=True to replace it, or "
                    "overwrite=False (mode='a') to open it and add to it."
                )
            if overwrite:
                self._replace_pending = True
            else:
                self._open_file()
        elif self._read_only:
            raise DH5FileNotFoundError(2, "Cannot open a missing file read-only", h5)

    def _init_node(self, parent: DH5 | None, name: str) -> None:
        object.__setattr__(self, "_parent", parent)
        self._name = name
        self._slots: dict[str, Slot] = {}

    def _new_child(self, name: str) -> DH5:
        child = DH5.__new__(DH5)
        child._init_node(self, name)  # type: ignore[arg-type]
        return child

    def _open_file(self) -> None:
        h5 = self._h5
        assert h5 is not None, "_open_file is only called on a DH5 with a file"
        with storage.open_read(h5) as file:
            if self._lazy:
                self._list_from(file)
            else:
                self._fill(file)
            self._signature = file_signature(h5)

    def _fill_from_mapping(self, mapping: Mapping, dirty: bool) -> None:
        for key in list(mapping.keys()):
            self._set_path(split_key(key), mapping[key], dirty=dirty)

    @classmethod
    def open_overwrite(
        cls: type[_Self], filepath_or_data: Any = None, /, mode: str | None = None, **kwargs: Any
    ) -> _Self:
        """Open for writing, replacing an existing file at the first save (``mode='='`` autosaves)."""
        if mode not in (None, "="):
            raise ValueError("open_overwrite accepts only mode=None or mode='='")
        kwargs.setdefault("overwrite", True)
        return cls(filepath_or_data, mode="w=" if mode == "=" else "w", **kwargs)

    # --- paths and setting ----------------------------------------------------------------
    def _node_for(self, parts: tuple[str, ...], create: bool = False) -> tuple[DH5, str]:
        """The node holding the last part of ``parts`` (creating groups when asked)."""
        node: DH5 = self
        for part in parts[:-1]:
            if node._has(part):
                child = node._stored(part)
            elif create:
                if node._is_locked(part):
                    raise ReadOnlyKeyError(join_key(node.key_prefix, part))
                child = node._new_child(part)
                node._put(part, child, dirty=True)
            else:
                raise KeyError(join_key(node.key_prefix, part))
            if not isinstance(child, DH5):
                raise KeyError(f"{join_key(node.key_prefix, part)!r} is not a group")
            node = child
        return node, parts[-1]

    def _as_stored(self, name: str, value: Any) -> Any:
        """Value as kept in memory: dicts become child nodes, in-memory DH5s are adopted."""
        value = normalize(value)
        if isinstance(value, DH5):
            if value._parent is None and value._h5 is None and not _is_ancestor(value, self):
                object.__setattr__(value, "_parent", self)
                value._name = name
                value._mark_subtree_clean()
                value._on_attach()
                return value
            value = value.asdict()
        if isinstance(value, Mapping):
            child = self._new_child(name)
            child._fill_from_mapping(value, dirty=False)
            return child
        return value

    def _set_path(self, parts: tuple[str, ...], value: Any, dirty: bool = True) -> None:
        node, name = self._node_for(parts, create=True)
        if dirty and node._is_locked(name):
            raise ReadOnlyKeyError(join_key(node.key_prefix, name), action="set")
        value = normalize(value)
        if value is None:
            if node._has(name):
                node._put(name, ABSENT, dirty=True)
            return
        node._put(name, node._as_stored(name, value), dirty=dirty)
        if dirty:
            on_assigned(node, name, node._slots[name].value)

    @property
    def _data(self) -> dict[str, Any]:
        """dh5 0.8.1's view of this node's loaded values (a copy; the state lives in slots)."""
        return dict(self._loaded_items())

    @_data.setter
    def _data(self, value: dict[str, Any]) -> None:
        """``d._data = {}`` (dh5 0.8.1 code): forget the loaded values not changed since; they
        are read again when used. Anything else is refused: set keys with ``d[key] = value``."""
        if value:
            raise TypeError("Set keys with d[key] = value, not through d._data")
        for name, _ in list(self._loaded_items()):
            if not self._is_dirty(name):
                self._put(name, NOT_LOADED)

    def __similar__(self, other: DH5) -> bool:
        """Same file opened the same way (read-only, save_on_edit, replacing); data not compared."""
        return (
            self._h5 == other._h5
            and self._read_only == other._read_only
            and self._save_on_edit == other._save_on_edit
            and self._replace_pending == other._replace_pending
        )

    def _check_writable(self, parts: tuple[str, ...]) -> None:
        node: DH5 = self
        for depth, part in enumerate(parts):
            if node._is_locked(part):
                raise ReadOnlyKeyError(join_key(node.key_prefix, *parts[: depth + 1]), "set")
            nxt = node._value(part)
            if not isinstance(nxt, DH5):
                return
            node = nxt

    def _check_update(self, pairs: list[tuple[tuple[str, ...], Any]]) -> None:
        """Whatever could make setting ``pairs`` fail half-way, checked before memory changes:
        locks, unstorable values, paths through a value that is not a group, bad nested keys."""
        for parts, _ in pairs:
            self._check_writable(parts)
        self._validate(pairs)
        groups: dict[tuple[str, ...], bool] = {}  # set by these pairs: usable as a group after?
        for parts, value in pairs:
            for depth in range(1, len(parts)):
                if groups.get(parts[:depth], True) is False:
                    raise KeyError(f"{join_key(self.key_prefix, *parts[:depth])!r} is not a group")
            node: Any = self
            for depth, part in enumerate(parts[:-1]):
                if parts[: depth + 1] in groups or not node._has(part):
                    break
                node = node._stored(part)
                if not isinstance(node, DH5):
                    raise KeyError(
                        f"{join_key(self.key_prefix, *parts[: depth + 1])!r} is not a group"
                    )
            value = normalize(value)
            if isinstance(value, Mapping) and not isinstance(value, DH5):
                _check_nested_keys(value, join_key(self.key_prefix, *parts))
            groups[parts] = value is None or isinstance(value, (Mapping, DH5))

    def _autosave(self) -> None:
        root = self._root
        if root._save_on_edit and root._h5 is not None:
            self.save()

    def _validate(self, items: Iterable[tuple[tuple[str, ...], Any]]) -> None:
        """Refuse unstorable values before memory changes (so that none can become pending).

        Only for objects with a file: an in-memory DH5 may hold anything until it gets one.
        """
        if self._root._h5 is None:
            return
        for parts, value in items:
            value = normalize(value)
            if value is not None:
                encode(value, join_key(self.key_prefix, *parts))

    def _on_attach(self) -> None:
        """Hook for subclasses: called when this in-memory DH5 becomes a value of another DH5.

        From then on ``self.h5_path`` / ``self.key_prefix`` say where it lives, and edits (or
        ``write_slice``) are written under that prefix of the parent's file.
        """

    # --- dict interface ---------------------------------------------------------------------
    def __getitem__(self, key: str | tuple) -> Any:
        if type(key) is str:  # fast path: a key loaded here
            slot = self._slots.get(key)
            if slot is not None and slot.value is not ABSENT and slot.value is not NOT_LOADED:
                value = self._stored(key)
                return protect(value) if self._is_locked(key) else value
        node, name = self._node_for(split_key(key))
        value = node._stored(name)
        return protect(value) if node._is_locked(name) else value

    def __setitem__(self, key: str | tuple, value: Any) -> None:
        parts = split_key(key)
        self._check_update([(parts, value)])
        self._set_path(parts, value)
        self._autosave()

    def __delitem__(self, key: str | tuple) -> None:
        node, name = self._node_for(split_key(key))
        if node._is_locked(name):
            raise ReadOnlyKeyError(join_key(node.key_prefix, name), action="delete")
        if not node._has(name):
            raise KeyError(join_key(node.key_prefix, name))
        node._put(name, ABSENT, dirty=True)
        node._autosave()

    def __contains__(self, key: object) -> bool:
        try:
            node, name = self._node_for(split_key(key))
        except (KeyError, TypeError, ValueError):
            return False
        return node._has(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return sum(1 for slot in self._slots.values() if slot.value is not ABSENT)

    def keys(self) -> set[str]:
        """Names at this level, loaded or not."""
        return self._names()

    def items(self) -> list[tuple[str, Any]]:
        """(key, value) pairs at this level; loads what is not loaded yet (one read)."""
        self._load_names(sorted(self._unloaded_names()))
        return [(name, self[name]) for name, _ in self._loaded_items()]

    def values(self) -> list[Any]:
        """Values at this level (loads what is not loaded yet)."""
        return [value for _, value in self.items()]

    def get(self, key: str | tuple, default: Any = None) -> Any:
        """``d[key]`` or ``default``; groups come back as DH5 objects."""
        try:
            return self[key]
        except KeyError:
            return default

    def get_raw(self, key: str | tuple, default: Any = None) -> Any:
        """Like ``get`` but groups come back as plain dicts."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        return value.asdict() if isinstance(value, DH5) else value

    def get_lazy(self, key: str | tuple) -> LazyArray | Any:
        """A :class:`LazyArray` on the stored dataset (sliced reads, nothing loaded now).

        A key with unsaved changes, or of a DH5 without file, gives its in-memory value.
        """
        node, name = self._node_for(split_key(key))
        if not node._has(name):
            raise KeyError(join_key(node.key_prefix, name))
        if node._is_dirty(name) or node._chain_dirty() or self.h5_path is None:
            value = node._stored(name)
            return protect(value) if node._is_locked(name) else value
        if isinstance(node._value(name), DH5):
            raise KeyError(f"{join_key(node.key_prefix, name)!r} is a group, not a dataset")
        return LazyArray(self.h5_path, join_key(node.key_prefix, name))

    def update(self: _Self, mapping: Mapping | Iterable | None = None, /, **kwargs: Any) -> _Self:
        """Set several keys at once (one save with ``save_on_edit``); all or nothing."""
        items = dict(mapping or {})
        items.update(kwargs)
        pairs = [(split_key(key), value) for key, value in items.items()]
        self._check_update(pairs)
        for parts, value in pairs:
            self._set_path(parts, value)
        if pairs:
            self._autosave()
        return self

    def pop(self, key: str | tuple, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (``default`` if absent and given)."""
        try:
            node, name = self._node_for(split_key(key))
            value = node._stored(name)
        except KeyError:
            if default is _MISSING:
                raise
            return default
        self.__delitem__(key)
        return value.asdict() if isinstance(value, DH5) else value

    def remove(self: _Self, key: str | tuple) -> _Self:
        """Delete ``key`` (without loading it); return self."""
        self.__delitem__(key)
        return self

    def _update(self, mapping: Mapping | None = None, /, **kwargs: Any) -> set[str]:
        """For subclasses: put values in memory without marking them to be saved."""
        items = dict(mapping or {})
        items.update(kwargs)
        for key, value in items.items():
            self._set_path(split_key(key), value, dirty=False)
        return set(items)

    # --- attribute access -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        slots = self.__dict__.get("_slots")
        if slots is None or not name or "/" in name:
            raise AttributeError(name)
        slot = slots.get(name)
        if slot is not None and slot.value is not ABSENT and slot.value is not NOT_LOADED:
            return self[name]  # fast path: a loaded key at this level
        key = name
        if name[0] == "i" and name[1:].isdigit() and name not in self:
            key = name[1:]
        if key in self:
            try:
                return self[key]
            except KeyError:
                pass
        raise AttributeError(f"{type(self).__name__} has no key or attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        if not name.startswith("_") and name in self:
            del self[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self.keys() if k.isidentifier()})

    # --- whole content ----------------------------------------------------------------------
    def asdict(self) -> dict[str, Any]:
        """A plain nested dict of everything (loads what is not loaded)."""
        self._load_all()
        return {
            name: value.asdict() if isinstance(value, DH5) else self[name]
            for name, value in self._loaded_items()
        }

    def keys_tree(self) -> dict[str, Any]:
        """Nested dict of key names, ``None`` for datasets; reads only names for unloaded keys."""
        tree: dict[str, Any] = {}
        unloaded = self._unloaded_names()
        if unloaded and self.h5_path is not None:
            with storage.open_read(self.h5_path) as file:
                group = self._group_of(file)
                for name in unloaded:
                    if name in group:
                        tree[name] = _names_tree(group[name])
        for name, value in self._loaded_items():
            tree[name] = value.keys_tree() if isinstance(value, DH5) else None
        return tree

    # --- properties -------------------------------------------------------------------------
    @property
    def filepath(self) -> str | None:
        """The file path without ``.h5`` (None when in memory)."""
        h5 = self.h5_path
        return None if h5 is None else h5[: -len(".h5")]

    @filepath.setter
    def filepath(self, value: str | os.PathLike) -> None:
        root = self._root
        if root._h5 is not None and os.path.exists(root._h5):
            root._load_all()
        root._h5 = _h5_path(value)
        root._replace_pending = False
        for name, _ in root._loaded_items():
            root._set_dirty(name)
        root._signature = None

    @property
    def filename(self) -> str | None:
        """Base name of the file without ``.h5``."""
        path = self.filepath
        return None if path is None else os.path.basename(path)

    @property
    def save_on_edit(self) -> bool:
        """Whether every change is written at once."""
        return self._root._save_on_edit

    @save_on_edit.setter
    def save_on_edit(self, value: bool) -> None:
        if value and self._root._read_only:
            raise ValueError("A read-only DH5 cannot save_on_edit")
        self._root._save_on_edit = bool(value)

    @property
    def read_only(self) -> bool:
        """True when nothing can be changed (opened with mode 'r')."""
        return self._root._read_only

    def _entries(self, depth: int) -> list[tuple[str, Any, bool]]:
        entries: list[tuple[str, Any, bool]] = []
        stored = unloaded_summaries(self, depth)  # shape and dtype, read from the file
        for name in sorted(self.keys()):
            slot = self._slots[name]
            if slot.value is NOT_LOADED:
                entries.append((name, stored.get(name, "<not loaded>"), slot.locked))
            elif isinstance(slot.value, DH5):
                child = slot.value
                entries.append((name, child._entries(depth - 1) if depth else "…", slot.locked))
            else:
                entries.append((name, summarize(slot.value), slot.locked))
        return entries

    def __repr__(self) -> str:
        root = self._root
        if root._read_only:
            mode = "r"
        elif root._h5 is None:
            mode = "in memory"
        else:
            mode = "rw" if any(slot.locked for slot in self._slots.values()) else "w"
        pending = self._has_pending() or root._replace_pending
        head = f"{type(self).__name__}({self.filepath!r}" if self.filepath else type(self).__name__
        head += ")" if self.filepath else ""
        prefix = f" /{self.key_prefix}" if self.key_prefix else ""
        status = " (not saved)" if pending and root._h5 is not None else ""
        lines = [f"{head}{prefix} [{mode}]{status}"]
        lines.extend(tree_lines(self._entries(3)))
        return "\n".join(lines)

    __str__ = __repr__


def _check_nested_keys(
    mapping: Mapping, path: str = "", active: frozenset[int] = frozenset()
) -> None:
    """Valid keys all the way down, and no dict that contains itself (refused naming the key)."""
    active = active | {id(mapping)}
    for key in list(mapping.keys()):
        split_key(key)
        value = normalize(mapping[key])
        if isinstance(value, Mapping) and not isinstance(value, DH5):
            where = join_key(path, key)
            if id(value) in active:
                raise UnstorableValueError(where, CYCLE_REASON)
            _check_nested_keys(value, where, active)


def _is_ancestor(candidate: DH5, node: DH5) -> bool:
    current: DH5 | None = node
    while current is not None:
        if current is candidate:
            return True
        current = current._parent
    return False


def _names_tree(obj: Any) -> Any:
    if hasattr(obj, "keys") and not hasattr(obj, "shape"):
        return {name: _names_tree(obj[name]) for name in obj.keys()}
    return None


MutableMapping.register(DH5)
