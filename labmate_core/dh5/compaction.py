"""Compaction: a file whose free space passes a third of its size after a save is rewritten
without it (written aside, renamed over the old one).

Copying objects one by one loses what ties them together: object and region references (dimension
scales are references too), soft, hard and external links, committed datatypes. Rule: a file is
compacted only when it is a plain tree of groups and datasets (each object has exactly one name,
no link other than hard links, no reference anywhere, no committed datatype, no external or
virtual storage, no user block, no creation order tracked by the root group). Any other file keeps its free space (HDF5 reuses it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

logger = logging.getLogger(__name__)

#: A file is compacted after a save when more than this fraction of it is free space ...
COMPACT_FRACTION = 1 / 3
#: ... and the free space is larger than this many bytes.
COMPACT_MIN_BYTES = 16 * 1024

WriteNew = Callable[..., contextlib.AbstractContextManager[h5py.File]]


def worthwhile(path: Path, free: int) -> bool:
    """True when ``free`` bytes of free space are worth a rewrite of ``path``."""
    return free > COMPACT_MIN_BYTES and free > COMPACT_FRACTION * path.stat().st_size


def compact(path: Path, free: int, write_new: WriteNew, sync: bool) -> bool:
    """Rewrite ``path`` without its ``free`` bytes of free space, if worthwhile and safe.

    ``write_new(path, sync)`` is storage's write-aside-then-rename. The caller holds the
    exclusive lock. Returns True if the file was rewritten.
    """
    if not worthwhile(path, free):
        return False
    before = path.stat().st_size
    with h5py.File(path, "r", locking=False) as src:
        reason = _why_not_plain(src)
        if reason is not None:
            logger.debug("Not compacting %s: %s", path, reason)
            return False
        with write_new(path, sync) as dst:
            _keep_mode_and_owner(path, getattr(dst, "aside_path", dst.filename))
            for key in src.attrs:  # with its HDF5 type (enum, fixed UTF-8, ASCII stay so)
                dst.attrs.create(key, src.attrs[key], dtype=src.attrs.get_id(key).dtype)
            for name in src:
                src.copy(src[name], dst, name=name)
    logger.debug("Compacted %s: %d -> %d bytes", path, before, path.stat().st_size)
    return True


def _keep_mode_and_owner(path: Path, new: str) -> None:
    """Give the file written aside the mode, owner and group of ``path`` (owner and group as
    far as this process may: a shared group-writable file stays so)."""
    st = path.stat()
    os.chmod(new, stat.S_IMODE(st.st_mode))
    for owner in ((st.st_uid, st.st_gid), (-1, st.st_gid)):
        with contextlib.suppress(PermissionError):
            os.chown(new, *owner)
            return


def _has_reference(dtype: np.dtype) -> bool:
    if h5py.check_ref_dtype(dtype) is not None:
        return True
    if dtype.fields:
        return any(_has_reference(field[0]) for field in dtype.fields.values())
    if dtype.subdtype is not None:
        return _has_reference(dtype.subdtype[0])
    base = h5py.check_vlen_dtype(dtype)  # str/bytes for strings, a dtype for vlen arrays
    return isinstance(base, np.dtype) and _has_reference(base)


def _attrs_reason(obj: Any) -> str | None:
    for name in obj.attrs:
        if _has_reference(obj.attrs.get_id(name).dtype):
            return f"attribute {name!r} of {obj.name} holds references (e.g. dimension scales)"
    return None


def _why_not_plain(file: h5py.File) -> str | None:
    """Why a copy of ``file`` object by object would not be the same file (None: it would)."""
    if file.userblock_size:
        return "it has a user block"
    root = h5py.h5g.open(file.id, b"/").get_create_plist()
    if root.get_link_creation_order() or root.get_attr_creation_order():
        return "its root group tracks creation order (a new file would list it by name)"
    reason = _attrs_reason(file)
    if reason is not None:
        return reason
    groups = [file]
    while groups:
        group = groups.pop()
        for name in group:
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                return f"{group.name}/{name} is a {type(link).__name__}".replace("//", "/")
            obj = group[name]
            if isinstance(obj, h5py.Datatype):
                return f"{obj.name} is a committed datatype"
            if h5py.h5o.get_info(obj.id).rc != 1:
                return f"{obj.name} has more than one name (hard links)"
            reason = _attrs_reason(obj)
            if reason is not None:
                return reason
            if isinstance(obj, h5py.Group):
                groups.append(obj)
                continue
            if _has_reference(obj.dtype):
                return f"{obj.name} holds references"
            if obj.id.get_type().committed():
                return f"{obj.name} uses a committed datatype"
            plist = obj.id.get_create_plist()
            if plist.get_external_count() or obj.is_virtual:
                return f"{obj.name} keeps its data outside the file"
    return None
