"""DH5: a dict synchronised with an ``.h5`` file."""

from .codec import StoredFunction
from .errors import (
    DH5FileNotFoundError,
    FileAppearedError,
    FileBusyError,
    LabmateError,
    LockTimeoutError,
    ReadOnlyKeyError,
    UnstorableValueError,
)
from .file import DH5
from .lazy import LazyArray

__all__ = [
    "DH5",
    "DH5FileNotFoundError",
    "FileAppearedError",
    "FileBusyError",
    "LabmateError",
    "LazyArray",
    "LockTimeoutError",
    "ReadOnlyKeyError",
    "StoredFunction",
    "UnstorableValueError",
]
