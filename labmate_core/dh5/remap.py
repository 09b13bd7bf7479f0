"""Turn a read-only file mapping into private memory with the same bytes, at the same address.

Every array viewing the mapping keeps working and keeps its values, but no longer depends on the
file: a later write, truncation or deletion of the file cannot change it or make reading it
fault (SIGBUS). Linux only (``mremap``); elsewhere :func:`make_private` returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import mmap
import sys

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["AVAILABLE", "make_private"]

_PROT_READ, _PROT_WRITE = 0x1, 0x2
_MAP_PRIVATE, _MAP_ANONYMOUS = 0x02, 0x20
_MREMAP_MAYMOVE, _MREMAP_FIXED = 0x1, 0x2
_MAP_FAILED = ctypes.c_void_p(-1).value


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
            ctypes.c_long,
        ]  # fmt: skip
        libc.mremap.restype = ctypes.c_void_p
        libc.mremap.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p,
        ]  # fmt: skip
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
#: Whether mappings can be made private here (the condition for handing mappings out at all).
AVAILABLE = _LIBC is not None


def make_private(pages: mmap.mmap) -> bool:
    """Replace ``pages`` (a read-only mapping) by an anonymous private copy, atomically: a reader
    sees the old bytes, then the same bytes in memory. False if it could not be done."""
    libc = _LIBC
    if libc is None or pages.closed:
        return False
    length = len(pages)
    address = np.frombuffer(pages, dtype=np.uint8).ctypes.data
    copy = libc.mmap(None, length, _PROT_READ | _PROT_WRITE, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)
    if copy in (None, _MAP_FAILED):
        logger.warning("Could not allocate %d bytes to detach a mapping from its file", length)
        return False
    ctypes.memmove(copy, address, length)
    libc.mprotect(copy, length, _PROT_READ)
    moved = libc.mremap(copy, length, length, _MREMAP_MAYMOVE | _MREMAP_FIXED, address)
    if moved != address:
        libc.munmap(copy, length)
        logger.warning("Could not detach a mapping from its file (errno %d)", ctypes.get_errno())
        return False
    return True
