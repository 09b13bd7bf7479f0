"""Which files belong to an acquisition: the one rule every part of labmate uses."""

from __future__ import annotations

import os
import re
from pathlib import Path


def _strip_h5(prefix: str | os.PathLike) -> Path:
    path = Path(prefix)
    return path.with_name(path.name[:-3]) if path.name.endswith(".h5") else path


def is_acquisition_file(prefix_name: str, filename: str) -> bool:
    """Whether ``filename`` belongs to the acquisition whose prefix basename is ``prefix_name``.

    ``P.h5`` and ``P_*`` do; hidden files (locks, journals, temporaries) do not, and neither do
    the files of a same-second duplicate acquisition ``P__<n>`` (``P__1.h5``, ``P__1_CELL.py``).
    """
    if not prefix_name or filename.startswith("."):
        return False
    if filename == prefix_name + ".h5":
        return True
    if not filename.startswith(prefix_name + "_"):
        return False
    rest = filename[len(prefix_name) :]
    return re.fullmatch(r"__\d+(?:\.h5|_.*)", rest, flags=re.DOTALL) is None


def acquisition_files(prefix: str | os.PathLike) -> list[Path]:
    """The acquisition's own regular files for the path prefix ``prefix`` (``.h5`` optional).

    Returns ``P.h5`` and the companions ``P_*`` (cell, configs, figures, analysis cells), sorted
    with the ``.h5`` last, or ``[]`` when the folder does not exist.
    """
    prefix = _strip_h5(prefix)
    folder = prefix.parent
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    files = [
        Path(entry.path)
        for entry in entries
        if is_acquisition_file(prefix.name, entry.name) and entry.is_file(follow_symlinks=True)
    ]
    return sorted(files, key=lambda p: (p.name == prefix.name + ".h5", p.name))


def normalize_prefix(filepath_prefix: str | os.PathLike) -> Path:
    """Absolute prefix without ``.h5``; a clear error for an empty or non-path argument."""
    if not isinstance(filepath_prefix, (str, os.PathLike)):
        raise TypeError(
            f"an acquisition is given by its path prefix (str or Path), got {filepath_prefix!r}"
        )
    text = os.fspath(filepath_prefix)
    if not text or not Path(text).name or Path(text).name in {".", ".."}:
        raise ValueError(f"not an acquisition path prefix: {filepath_prefix!r}")
    return _strip_h5(Path(text).expanduser().absolute())


def files_signature(prefix: str | os.PathLike) -> tuple:
    """What the acquisition's own files are now (names, sizes, modification times): equal
    signatures taken before and after a copy mean the copy is of the current content."""
    signature = []
    for path in acquisition_files(prefix):
        try:
            stat = path.stat()
        except OSError:
            continue
        signature.append((path.name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(signature)
