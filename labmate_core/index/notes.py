"""Notes are part of their acquisition: ``<prefix>_NOTES.txt`` beside the ``.h5``.

A companion file like the cell or the figures, so backends copy it, ``labmate status`` sees a
changed note as content not yet delivered, and the index (``labmate ls``) shows it (kept in its
``notes`` table too). The notes the first versions kept only in ``.labmate/notes.jsonl`` are
moved into their acquisitions by :func:`migrate_notes` (once; new lines only afterwards).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from ..textfiles import write_text_atomically

logger = logging.getLogger(__name__)

NOTES_SUFFIX = "_NOTES.txt"


def note_path(prefix: str | os.PathLike) -> Path:
    """Where the note of the acquisition ``prefix`` (no ``.h5``) is kept."""
    prefix = os.fspath(prefix)
    return Path((prefix[:-3] if prefix.endswith(".h5") else prefix) + NOTES_SUFFIX)


def write_note(prefix: str | os.PathLike, text: str) -> bool:
    """Save ``text`` as the note of ``prefix`` (an empty note removes the file); False when it
    was already that (nothing written)."""
    if not isinstance(text, str):
        raise TypeError(f"a note is text, got {type(text).__name__}")
    path = note_path(prefix)
    if read_note(prefix) == text:
        return False
    if not text:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    write_text_atomically(path, text)
    return True


def read_note(prefix: str | os.PathLike) -> str:
    """The note of ``prefix`` ("" when there is none)."""
    try:
        return note_path(prefix).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def migrate_notes(data_directory: str | os.PathLike) -> list[Path]:
    """Write the notes of ``.labmate/notes.jsonl`` not yet moved into their acquisitions
    (the latest note of each acquisition still on disk, unless its note file is newer);
    returns the prefixes whose note file was written."""
    folder = Path(data_directory).absolute() / ".labmate"
    log, marker = folder / "notes.jsonl", folder / "notes.migrated"
    try:
        size = log.stat().st_size
    except FileNotFoundError:
        return []
    try:
        done = int(marker.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        done = 0
    if done >= size:
        return []
    latest: dict[str, tuple[str, float]] = {}
    with open(log, "rb") as handle:
        handle.seek(done if done <= size else 0)
        for line in handle.read(size - done).decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
                latest[str(entry["stem"])] = (str(entry["text"]), float(entry["time"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line
    from ..backends.survey import acquisitions_on_disk

    prefixes = {prefix.name: prefix for prefix in acquisitions_on_disk(folder.parent)}
    written = []
    for stem, (text, when) in latest.items():
        prefix = prefixes.get(stem)
        if prefix is None:
            continue
        path = note_path(prefix)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime >= when:
                continue  # written since: newer than the log's
        if write_note(prefix, text):
            written.append(prefix)
    write_text_atomically(marker, f"{size}\n")
    if written:
        logger.info("moved %d note(s) from %s into their acquisitions", len(written), log)
    return written
