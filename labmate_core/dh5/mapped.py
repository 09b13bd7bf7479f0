"""Read-only arrays over a file's pages: a locked array of an analysis costs nothing until used.

:func:`map_dataset` gives a plain, read-only ``np.ndarray`` whose buffer is a read-only
``mmap`` of the dataset's bytes in the ``.h5`` file: ``aqm.d.big[:10]`` reads the pages of ten
values, not the whole key. Only contiguous, uncompressed, allocated datasets of plain numbers
(``b i u f c``) of at least :data:`MIN_MAPPED_BYTES` are mapped; anything else (chunked or
compressed datasets, strings, compound types, scalars, small arrays) is read as before.

Why it is safe (see ``docs/architecture.md``, "Mapped arrays"):

* it is called under the file's shared lock (``storage.open_read``): no write is under way, a
  crashed writer's save has been rolled back;
* the caller maps only *locked* keys (``AnalysisData``'s acquired data);
* a writer that does not touch the key leaves its bytes alone: new keys take free or new space,
  a compaction replaces the file atomically (the mapping keeps the old inode and its bytes), a
  rollback restores the pages a crashed writer touched and truncates only what it appended;
* before this process rewrites or deletes a mapped key (``unlock_data`` then a new value, or
  any DH5 writing that key), :func:`release` turns its mappings into private memory with the
  same bytes (:mod:`.remap`): arrays already handed out keep their values, and reading them can
  never fault on a file shrunk under them. Mappings are made only where that is possible (Linux).

What it does not protect: *another process* rewriting or deleting a key whose array this process
holds. Rewritten in place (same shape and dtype), the array shows the new values; deleted and
the file shrunk below it, reading it faults (SIGBUS). Old keys of an acquisition are locked in
every ``AnalysisData``: it takes an explicit ``unlock_data`` or a plain ``DH5(path, "a")``
elsewhere.
"""

from __future__ import annotations

import logging
import math
import mmap
import os
import threading
import weakref
from collections.abc import Iterable

import h5py
import numpy as np

from .. import runtime
from . import remap

logger = logging.getLogger(__name__)

__all__ = ["MIN_MAPPED_BYTES", "is_mapped", "map_dataset", "release"]

#: Smaller datasets are read: reading 1 MiB costs about what mapping it does.
MIN_MAPPED_BYTES = 1 << 20
_KINDS = "biufc"

#: Live mappings: (device, inode) of the file -> dataset name -> mappings (weakly held).
_LIVE: dict[tuple[int, int], dict[str, weakref.WeakSet[mmap.mmap]]] = {}
_LIVE_LOCK = threading.Lock()


def _reset_after_fork() -> None:
    global _LIVE_LOCK
    _LIVE_LOCK = threading.Lock()  # a thread of the parent may have held it


runtime.on_fork("mapped arrays", _reset_after_fork)


def map_dataset(dataset: h5py.Dataset, path: str | None = None) -> np.ndarray | None:
    """A read-only array over ``dataset``'s bytes in its file (``path``, default the dataset's
    file name), or None if it is not mappable.

    Call it while holding the file's lock (inside ``storage.open_read``).
    """
    shape = dataset.shape
    if not shape or not remap.AVAILABLE:
        return None
    dtype = dataset.dtype
    if dtype.kind not in _KINDS or dtype.fields or dtype.subdtype or dtype.metadata:
        return None  # strings, compounds, enums other than bool, references...
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_MAPPED_BYTES:
        return None
    # HDF5 gives an offset only for contiguous data stored in the file itself, once written:
    # none for chunked (hence compressed) or compact datasets, external files, unallocated data
    offset = dataset.id.get_offset()  # absolute: a userblock is included
    if offset is None:
        return None
    path = path or dataset.file.filename
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            if os.fstat(fd).st_size < offset + nbytes:
                return None  # not all there: let h5py read it (and say what is wrong)
            pages = mmap.mmap(fd, offset + nbytes - start, access=mmap.ACCESS_READ, offset=start)
            st = os.fstat(fd)
        finally:
            os.close(fd)  # the mapping keeps the file (its inode) alive
    except (OSError, ValueError) as error:  # a filesystem without mmap, a special file...
        logger.debug("Reading %s of %s instead of mapping it: %s", dataset.name, path, error)
        return None
    with _LIVE_LOCK:
        names = _LIVE.setdefault((st.st_dev, st.st_ino), {})
        names.setdefault(dataset.name, weakref.WeakSet()).add(pages)
    array = np.frombuffer(pages, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset - start)
    return array.reshape(shape)


def is_mapped(array: object) -> bool:
    """True if ``array`` (or what it views) is a mapping made by :func:`map_dataset`."""
    base = array
    for _ in range(64):  # views of views of read-only buffers...
        if isinstance(base, np.ndarray):
            base = base.base
        elif isinstance(base, memoryview):
            base = base.obj
        else:
            break
    return isinstance(base, mmap.mmap)


def release(path: str | os.PathLike, keys: Iterable[str]) -> int:
    """Before ``keys`` (datasets or groups, ``'a/b'``) of the file ``path`` are rewritten or
    deleted by this process: their live mappings become private memory. Returns how many."""
    if not _LIVE:
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    prefixes = ["/" + key.strip("/") for key in keys]
    with _LIVE_LOCK:
        names = _LIVE.get((st.st_dev, st.st_ino))
        if not names:
            return 0
        hit = [
            name
            for name in names
            if any(p == "/" or name == p or name.startswith(p + "/") for p in prefixes)
        ]
        pages = [m for name in hit for m in names.pop(name)]
        if not names:
            del _LIVE[(st.st_dev, st.st_ino)]
    done = 0
    for mapping in pages:
        if mapping.closed:
            continue
        if not remap.make_private(mapping):  # pragma: no cover - mapped only where possible
            logger.warning("An array of %s still reads the file being rewritten", path)
            continue
        done += 1
    if done:
        logger.debug("Detached %d mapping(s) of %s before rewriting them", done, path)
    return done
