"""Exceptions raised by DH5."""

from __future__ import annotations

# dh5 0.8.1's name for a lock not taken in time
from .storage import LockTimeout as FileLockedError  # noqa: F401


class ReadOnlyKeyError(KeyError):
    """A locked key (or a key of a read-only DH5) was about to be changed."""

    def __init__(self, key: str | None = None, action: str = "change") -> None:
        if key is None:
            message = f"Cannot {action} a read-only object."
        else:
            message = (
                f"Cannot {action} read-only key {key!r} "
                "(unlock it with unlock_data, or reopen the file with mode='a')."
            )
        self.key = key
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class DH5FileNotFoundError(FileNotFoundError, ValueError):
    """Read-only open of a file that does not exist (a ValueError too, as in dh5)."""


class UnstorableValueError(TypeError):
    """A value cannot be stored in an ``.h5`` file; ``key`` is its full path in the file."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"Cannot store key {key!r}: {reason}")
