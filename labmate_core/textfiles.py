"""Text files written whole: replaced atomically (cells, configs), or small JSON files
rewritten in place (temp.json)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any


def write_text_atomically(
    path: str | os.PathLike, text: str, *, newline: str | None = None, keep_mode: bool = False
) -> None:
    """Replace ``path`` by ``text``: readers see the old or the new file, never a partial one.

    The temporary is hidden (``.<name>.*.tmp``) so that ``glob(prefix*)`` never picks it up.
    The file gets the usual permissions (0o666 less the umask, as ``open`` gives: colleagues on a
    shared server can read a run's code); ``keep_mode`` keeps those of the file being replaced.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
        if keep_mode:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def rewrite_json_in_place(path: str | os.PathLike, text: str) -> None:
    """Rewrite the small JSON file ``path`` (temp.json) in place: one ``pwrite`` of ``text``
    padded with spaces to the file's length (JSON ignores trailing spaces), under ``flock``.

    No file is created or removed: on ext4 (``discard``) removing a file's blocks, which a
    rename over it does, makes the next file creations of the process cost 0.2-0.5 ms each
    instead of 0.01 ms, several per acquisition. A process killed mid-write cannot tear it
    (a write completes before the signal); a reader that reads it exactly while it is written
    may see a torn text: :func:`read_json_retrying` reads again. A file we may not write (a
    colleague's, in a shared folder we may write) is replaced atomically instead.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        write_text_atomically(path, text)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = text.encode("utf-8")
        size = os.fstat(fd).st_size
        if len(data) < size:
            data += b" " * (size - len(data))
        os.pwrite(fd, data, 0)
        if os.fstat(fd).st_size > len(data) and os.pread(fd, len(data), 0) == data:
            os.ftruncate(fd, len(data))  # grown meanwhile by a writer without our lock
            # (labmate 0.10.9 truncates and writes) after our text: no tail of theirs
    finally:
        os.close(fd)


def read_json_retrying(path: str | os.PathLike, attempts: int = 3) -> Any:
    """``json.loads`` of ``path``'s text, read again (up to ``attempts`` times) when it does
    not parse, in case it was caught mid-write; ``ValueError`` if it never parses."""
    path = Path(path)
    for attempt in range(attempts):
        text = path.read_text(encoding="utf-8")
        try:
            return json.loads(text)
        except ValueError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.001 * (attempt + 1))
    raise AssertionError("unreachable")
