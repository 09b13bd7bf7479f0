"""The on-disk journal of pending snapshots: ``<data_dir>/.labmate/pending/<backend>/<acq>.json``.

One small JSON file per backend name and acquisition, written atomically (tmp + rename) and
removed once the snapshot is delivered; a snapshot that failed for good stays with its error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 1
_FSYNC = os.environ.get("LABMATE_FSYNC", "") not in ("", "0")


def labmate_dir(data_directory: str | os.PathLike) -> Path:
    """The hidden folder of labmate's bookkeeping inside a data directory."""
    return Path(data_directory) / ".labmate"


def safe_slug(text: str, length: int = 40) -> str:
    """A file-name-safe, collision-free form of ``text`` (readable part + short hash)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:length] or "x"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


@dataclasses.dataclass
class JournalEntry:
    """One pending (or failed) snapshot of one acquisition for one backend."""

    backend: str
    prefix: str
    state: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    submitted: float = dataclasses.field(default_factory=time.time)
    updated: float = dataclasses.field(default_factory=time.time)
    experiment_name: str | None = None


class Journal:
    """Reads and writes the pending-snapshot records of one data directory."""

    def __init__(self, data_directory: str | os.PathLike):
        self.data_directory = Path(data_directory).absolute()
        self.root = labmate_dir(self.data_directory) / "pending"

    def _relative(self, prefix: Path) -> str:
        try:
            return prefix.relative_to(self.data_directory).as_posix()
        except ValueError:
            return str(prefix)

    def absolute(self, stored_prefix: str) -> Path:
        """The absolute prefix of a stored (relative or absolute) prefix."""
        path = Path(stored_prefix)
        return path if path.is_absolute() else self.data_directory / path

    def path(self, backend: str, prefix: Path) -> Path:
        """Where the record of ``backend`` for ``prefix`` lives."""
        name = safe_slug(self._relative(prefix), length=80) + ".json"
        return self.root / safe_slug(backend) / name

    def write(self, entry: JournalEntry, prefix: Path) -> None:
        """Write (or replace) a record atomically."""
        entry.prefix = self._relative(prefix)
        entry.updated = time.time()
        target = self.path(entry.backend, prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        data = {"version": JOURNAL_VERSION, **dataclasses.asdict(entry)}
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            if _FSYNC:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)

    def remove(self, backend: str, prefix: Path) -> None:
        """Forget a delivered snapshot (a failure to delete is logged: it would only repeat it)."""
        try:
            self.path(backend, prefix).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            logger.exception("could not remove the pending record of %s for %r", prefix, backend)

    def entries(self, backend: str | None = None) -> list[JournalEntry]:
        """Records, oldest submit first (of one backend name, or all); unreadable ones logged."""
        folders = [self.root / safe_slug(backend)] if backend is not None else None
        if folders is None:
            folders = (
                sorted(p for p in self.root.glob("*") if p.is_dir()) if self.root.exists() else []
            )
        found = []
        for folder in folders:
            for path in sorted(folder.glob("*.json")):
                entry = self._read(path)
                if entry is not None and (backend is None or entry.backend == backend):
                    found.append(entry)
        return sorted(found, key=lambda e: (e.submitted, e.prefix))

    def _read(self, path: Path) -> JournalEntry | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            fields = {f.name for f in dataclasses.fields(JournalEntry)}
            return JournalEntry(**{k: v for k, v in data.items() if k in fields})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as error:
            logger.warning("unreadable pending-snapshot record %s: %s", path, error)
            return None
