"""Backends: copies of acquisitions made in the background (SPEC section 3)."""

from __future__ import annotations

from typing import Any

from .base import AcquisitionBackend, AcquisitionSnapshot
from .dispatcher import BackendDispatcher, SnapshotUnavailableError
from .files import acquisition_files, is_acquisition_file
from .mirror import MirrorDirectoryBackend
from .registry import available_backends, create_backend, get_backend_class, register_backend
from .status import SnapshotStatus, State

__all__ = [
    "AcquisitionBackend",
    "AcquisitionSnapshot",
    "BackendDispatcher",
    "FsspecBackend",
    "MirrorDirectoryBackend",
    "SnapshotStatus",
    "SnapshotUnavailableError",
    "State",
    "acquisition_files",
    "available_backends",
    "create_backend",
    "get_backend_class",
    "is_acquisition_file",
    "register_backend",
]


def __getattr__(name: str) -> Any:
    if name == "FsspecBackend":  # imports fsspec only when used
        from .fsspec_backend import FsspecBackend

        return FsspecBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
