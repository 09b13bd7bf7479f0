"""Text files written whole and replaced atomically (cells, configs, temp.json, run markers)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


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
