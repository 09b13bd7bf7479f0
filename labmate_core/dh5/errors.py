"""Exceptions raised by DH5."""

from __future__ import annotations


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


class SaveFailedError(OSError):
    """A save failed on an I/O error (disk full, ...): nothing of it was written, the file keeps
    its previous content (and the changes stay pending). ``errno`` is the original one."""

    def __init__(self, error: OSError, path: object, keys: list[str] | None = None) -> None:
        reason = error.strerror or str(error)
        if keys:
            shown = ", ".join(repr(key) for key in keys[:3])
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            what = f" {shown}{more}"
        else:
            what = ""
        super().__init__(error.errno, f"{reason} while saving{what} to {path}; nothing was written")

    def __str__(self) -> str:
        return str(self.strerror)
