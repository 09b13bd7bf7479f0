"""Read-only arrays over a file's pages: a locked array of an analysis costs nothing until used.

:func:`map_dataset` gives a plain, read-only ``np.ndarray`` whose buffer is a read-only
``mmap`` of the dataset's bytes in the ``.h5`` file: ``aqm.d.big[:10]`` reads the pages of ten
values, not the whole key. Only contiguous, uncompressed, allocated datasets of plain numbers
(``b i u f c``) of at least :data:`MIN_MAPPED_BYTES` are mapped; anything else (chunked or
compressed datasets, strings, compound types, scalars, small arrays) is read as before.

When it is safe (see ``docs/architecture.md``, "Mapped arrays"):

* it is called under the file's shared lock (``storage.open_read``): no write is under way, a
  crashed writer's save has been rolled back;
* the caller maps only *locked* keys (``AnalysisData``'s acquired data): this process never
  rewrites them;
* our writers never move or shrink a live dataset: new keys take free or new space, a compaction
  replaces the file atomically (the mapping keeps the old inode and its bytes), a rollback
  restores the pages a crashed writer touched and truncates only what it appended.

What it does not protect: *another process* overwriting or deleting an old key of a file under
analysis (``unlock_data`` elsewhere) changes what an array already handed out shows, as it
changes the file itself. Unlocking a mapped key here first gives this object a copy in memory.
"""

from __future__ import annotations

import logging
import mmap
import os

import h5py
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["MIN_MAPPED_BYTES", "is_mapped", "map_dataset"]

#: Smaller datasets are read: reading 1 MiB costs about what mapping it does.
MIN_MAPPED_BYTES = 1 << 20
_KINDS = "biufc"


def map_dataset(dataset: h5py.Dataset, path: str | None = None) -> np.ndarray | None:
    """A read-only array over ``dataset``'s bytes in its file (``path``, default the dataset's
    file name), or None if it is not mappable.

    Call it while holding the file's lock (inside ``storage.open_read``).
    """
    shape = dataset.shape
    if not shape:
        return None
    dtype = dataset.dtype
    if dtype.kind not in _KINDS or dtype.fields or dtype.subdtype or dtype.metadata:
        return None  # strings, compounds, enums other than bool, references...
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
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
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < offset + nbytes:
                return None  # not all there: let h5py read it (and say what is wrong)
            pages = mmap.mmap(
                handle.fileno(), offset + nbytes - start, access=mmap.ACCESS_READ, offset=start
            )
    except (OSError, ValueError) as error:  # a filesystem without mmap, a special file...
        logger.debug("Reading %s of %s instead of mapping it: %s", dataset.name, path, error)
        return None
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
