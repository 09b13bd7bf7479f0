"""DH5: a dict synchronised with an ``.h5`` file.

Also what dh5 0.8.1 users import: ``load``/``save``, ``jsn``, ``SyncNp``, ``path.Path``,
``types``, ``errors`` and the helper names of :mod:`.compat`.
"""

from . import jsn, path, types
from .codec import StoredFunction
from .compat import FileLockedError, Function, function_to_str
from .errors import (
    DH5FileNotFoundError,
    FileAppearedError,
    FileBusyError,
    LabmateError,
    LockTimeoutError,
    ReadOnlyKeyError,
    SaveFailedError,
    UnstorableValueError,
)
from .file import DH5
from .lazy import LazyArray
from .syncnp import SyncNp
from .toplevel import load, save

__all__ = [
    "DH5",
    "DH5FileNotFoundError",
    "FileAppearedError",
    "FileBusyError",
    "FileLockedError",
    "Function",
    "LabmateError",
    "LazyArray",
    "LockTimeoutError",
    "ReadOnlyKeyError",
    "SaveFailedError",
    "StoredFunction",
    "SyncNp",
    "UnstorableValueError",
    "function_to_str",
    "jsn",
    "load",
    "path",
    "save",
    "types",
]
