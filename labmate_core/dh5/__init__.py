"""DH5: a dict synchronised with an ``.h5`` file."""

from .codec import StoredFunction
from .errors import DH5FileNotFoundError, ReadOnlyKeyError, UnstorableValueError
from .file import DH5
from .lazy import LazyArray

__all__ = [
    "DH5",
    "DH5FileNotFoundError",
    "LazyArray",
    "ReadOnlyKeyError",
    "StoredFunction",
    "UnstorableValueError",
]
