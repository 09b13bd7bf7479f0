"""Exceptions raised by DH5 and its storage: all are :class:`LabmateError`\\ s.

Each also derives from the built-in exception it used to be (``KeyError``, ``TypeError``,
``TimeoutError``, ...), so existing ``except`` clauses keep working.
"""

from __future__ import annotations


class LabmateError(Exception):
    """Base of the errors labmate raises on purpose: ``except LabmateError`` catches them all."""


class ReadOnlyKeyError(LabmateError, KeyError):
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


class DH5FileNotFoundError(LabmateError, FileNotFoundError, ValueError):
    """Read-only open of a file that does not exist (a ValueError too, as in dh5)."""


class UnstorableValueError(LabmateError, TypeError):
    """A value cannot be stored in an ``.h5`` file; ``key`` is its full path in the file."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"Cannot store key {key!r}: {reason}")


class LockTimeoutError(LabmateError, TimeoutError):
    """The file's lock could not be taken in time."""


#: The name of :class:`LockTimeoutError` before errors were gathered here.
LockTimeout = LockTimeoutError
FileLockedError = LockTimeoutError  # dh5 0.8.1's name for a lock not taken in time


class FileBusyError(LabmateError, BlockingIOError):
    """The file is open for writing elsewhere (plain ``h5py.File(path, 'a')``, another program):
    writing in place now would be undone by that writer. Nothing was written."""


class FileAppearedError(LabmateError, FileExistsError):
    """A new file was written aside, but meanwhile somebody created the file without our lock
    (plain h5py, another program): it was left alone and nothing was written."""


class SaveFailedError(LabmateError, OSError):
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
