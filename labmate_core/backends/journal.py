"""The on-disk journal of pending snapshots: ``<data_dir>/.labmate/pending/<acquisition>.json``.

One small JSON file per submitted acquisition lists the backends that still have to deliver it
(``{"backends": {name: record}}``): the kernel thread writes it once per submit, whatever the
number of backends; each worker drops its backend when it delivered (the file goes with the last
one), and a snapshot that failed for good stays with its error. Every change is a
read-merge-write under a lock of the folder (threads and processes), written atomically
(tmp + rename). Records of the first layout (``pending/<backend>/<acquisition>.json``) are still
read, and removed once delivered. A record may carry the backend's ``spec`` (how ``labmate
sync`` re-creates it). While a worker copies a snapshot it holds a lease
(``.labmate/leases/``, an ``flock``), so that no other worker of that backend name, in this
process or another, delivers the same acquisition at the same time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, overload

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 2
_FSYNC = os.environ.get("LABMATE_FSYNC", "") not in ("", "0")
_LOCK_NAME = ".lock"
_LEASES = "leases"  # .labmate/leases/: one flock file per delivery under way


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
    #: how to re-create the backend (``AcquisitionBackend.spec()``), if it can say
    spec: dict[str, Any] | None = None
    #: epoch of the next attempt, while a failed snapshot waits to be retried
    next_try: float | None = None


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(JournalEntry) if f.name != "backend")

_NUMBER = (int, float)
#: the JSON types a stored record's fields may have (a record of other types is unreadable:
#: reported by ``labmate status``, set aside by ``labmate sync``, never compared or resumed)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "backend": (str,),
    "prefix": (str,),
    "state": (str,),
    "attempts": (int,),
    "last_error": (str, type(None)),
    "submitted": _NUMBER,
    "updated": _NUMBER,
    "experiment_name": (str, type(None)),
    "spec": (dict, type(None)),
    "next_try": (*_NUMBER, type(None)),
}


def _entry(fields: Mapping[str, Any]) -> JournalEntry:
    """A :class:`JournalEntry` of stored ``fields`` (unknown ones ignored); ``TypeError`` when
    one has the wrong type or a required one is missing."""
    known = {k: v for k, v in fields.items() if k in _FIELD_TYPES}
    for name, value in known.items():
        if not isinstance(value, _FIELD_TYPES[name]) or (
            isinstance(value, bool) and bool not in _FIELD_TYPES[name]
        ):
            raise TypeError(f"{name} is {type(value).__name__}: {value!r:.40}")
    return JournalEntry(**known)


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


@overload
def _submitted(record: object, default: float) -> float: ...
@overload
def _submitted(record: object, default: None = None) -> float | None: ...
def _submitted(record: object, default: float | None = None) -> float | None:
    """The ``submitted`` time of a stored record, or ``default`` when it has none."""
    value = record.get("submitted") if isinstance(record, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


class Lease:
    """The ``flock`` of one (acquisition, backend) delivery, held while a worker copies it."""

    def __init__(self, path: Path | None, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        """Remove the lease file (while still holding it) and unlock; idempotent."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        _close_fd(fd)


class Journal:
    """Reads and writes the pending-snapshot records of one data directory (thread-safe)."""

    def __init__(self, data_directory: str | os.PathLike) -> None:
        self.data_directory = Path(data_directory).absolute()
        self.root = labmate_dir(self.data_directory) / "pending"
        self._mutex = threading.Lock()
        self._lock_fd: int | None = None
        self._finalizer: weakref.finalize | None = None
        self._lease_warned = False  # the fallback to delivering without a lease: logged once
        self._paths: dict[Path, Path] = {}  # prefix -> its record file (see path())

    def _relative(self, prefix: Path) -> str:
        try:
            return prefix.relative_to(self.data_directory).as_posix()
        except ValueError:
            return str(prefix)

    def absolute(self, stored_prefix: str) -> Path:
        """The absolute prefix of a stored (relative or absolute) prefix."""
        path = Path(stored_prefix)
        return path if path.is_absolute() else self.data_directory / path

    def path(self, prefix: Path) -> Path:
        """Where the record of ``prefix`` (all its backends) lives (remembered: a submit of an
        acquisition already journaled costs a ``stat``)."""
        found = self._paths.get(prefix)
        if found is None:
            if len(self._paths) > 256:
                self._paths.clear()
            found = self._paths[prefix] = self.root / (
                safe_slug(self._relative(prefix), length=80) + ".json"
            )
        return found

    def legacy_path(self, backend: str, prefix: Path) -> Path:
        """Where the first journal layout kept the record of ``backend`` for ``prefix``."""
        name = safe_slug(self._relative(prefix), length=80) + ".json"
        return self.root / safe_slug(backend) / name

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh mutex (the parent's may be held), and the child's own
        lock file descriptor (the inherited one shares the parent's ``flock``)."""
        self._mutex = threading.Lock()
        finalizer, self._finalizer, self._lock_fd = self._finalizer, None, None
        if finalizer is not None:
            finalizer()  # closes this process's copy only: the parent's lock is unaffected

    # --- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This journal's threads, and other processes, change records one at a time."""
        with self._mutex:
            if self._lock_fd is None:
                self.root.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(self.root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
                self._finalizer = weakref.finalize(self, _close_fd, self._lock_fd)
                # not at interpreter exit: the dispatchers' exit drain still journals then
                self._finalizer.atexit = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def add_pending(
        self,
        prefix: Path,
        backends: Iterable[str],
        *,
        submitted: float | None = None,
        experiment_name: str | None = None,
        specs: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> None:
        """Record ``prefix`` as pending for every backend of ``backends`` (one file write),
        with the backend's spec (how to re-create it; none when ``specs`` has none for it).

        Written by a worker's first submit of ``prefix`` (later submits find it pending). A
        record submitted later than ``submitted`` keeps its (newer) time.
        """
        now = time.time()
        record = {
            "state": "pending",
            "attempts": 0,
            "last_error": None,
            "submitted": now if submitted is None else submitted,
            "updated": now,
            "experiment_name": experiment_name,
        }
        specs = specs or {}
        self._update(
            prefix,
            {name: {**record, "spec": specs.get(name)} for name in backends},
            submit=True,
        )

    def write(self, entry: JournalEntry, prefix: Path) -> None:
        """Write (or replace) the record of ``entry.backend`` for ``prefix``."""
        entry.prefix = self._relative(prefix)
        entry.updated = time.time()
        record = {name: getattr(entry, name) for name in _RECORD_FIELDS if name != "prefix"}
        self._update(prefix, {entry.backend: record})

    def is_pending(self, backend: str, prefix: Path, seen: tuple | None = None) -> tuple | None:
        """The identity of the record file of ``prefix`` when it holds a record for
        ``backend``, else None. ``seen``, an identity returned before, spares the read when
        the file was not replaced since (records are replaced whole, never edited)."""
        target = self.path(prefix)
        try:
            stat = os.stat(target)
        except OSError:
            return None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen is not None and identity == seen:
            return identity
        data = self._load(target)
        return identity if data is not None and backend in data.get("backends", {}) else None

    def remove(self, backend: str, prefix: Path, submitted: float | None = None) -> None:
        """Forget a delivered snapshot (a failure to delete is logged: it would only repeat it).

        With ``submitted`` (when the delivered snapshot was submitted), a record submitted
        later (a newer snapshot, journaled by another worker of that name) is kept.
        """
        try:
            self._update(prefix, {backend: None}, delivered=submitted)
            with contextlib.suppress(FileNotFoundError):
                self.legacy_path(backend, prefix).unlink()
        except OSError:
            logger.exception("could not remove the pending record of %s for %r", prefix, backend)

    def _update(
        self,
        prefix: Path,
        changes: dict[str, dict[str, Any] | None],
        delivered: float | None = None,
        submit: bool = False,
    ) -> None:
        """Apply ``changes`` (a record, or None to drop it) to the file of ``prefix``.

        A record submitted after ``delivered`` (if given) is not dropped, nor replaced by the
        status of an older snapshot. A status update (not ``submit``) without a spec keeps
        the recorded one; a submit writes its own spec (None included) and keeps a later
        ``submitted`` time.
        """
        target = self.path(prefix)
        with self._locked():
            data = self._load(target)
            records = data.get("backends", {}) if data else {}
            if not records and all(change is None for change in changes.values()):
                return  # nothing recorded, nothing to add: no file write
            for name, record in changes.items():
                kept = records.get(name)
                kept_time = _submitted(kept)
                if record is None:
                    if delivered is None or kept_time is None or kept_time <= delivered:
                        records.pop(name, None)
                    continue
                later = kept_time is not None and kept_time > _submitted(record, 0.0)
                if submit:
                    if later:  # e.g. a resumed older record, while a newer submit landed
                        record = {**record, "submitted": kept_time}
                elif later:
                    continue  # the status of an older snapshot: the newer one stays pending
                elif record.get("spec") is None and isinstance(kept, dict) and kept.get("spec"):
                    record = {**record, "spec": kept["spec"]}  # a status update keeps it
                records[name] = record
            if not records:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                return
            content = {
                "version": JOURNAL_VERSION,
                "prefix": self._relative(prefix),
                "backends": records,
            }
            self._write_file(target, json.dumps(content, separators=(",", ":")))

    def _write_file(self, target: Path, text: str) -> None:
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # the folder was removed meanwhile
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                os.write(fd, text.encode("utf-8"))
                if _FSYNC:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def lease(self, backend: str, prefix: Path) -> Lease | None:
        """Take the lease of delivering ``prefix`` to ``backend``; None when another worker
        (a thread here or another process) holds it. Released by :meth:`Lease.release`."""
        folder = labmate_dir(self.data_directory) / _LEASES
        path = folder / (
            safe_slug(self._relative(prefix), length=60) + "." + safe_slug(backend) + ".lock"
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    try:
                        same = os.path.samestat(os.fstat(fd), os.stat(path))
                    except FileNotFoundError:
                        same = False
                except BlockingIOError:
                    os.close(fd)
                    return None
                except BaseException:  # ENOLCK (NFS), fstat errors...: never leak the fd
                    os.close(fd)
                    raise
                if same:
                    return Lease(path, fd)
                os.close(fd)  # removed by its last holder meanwhile: take the new file
        except OSError as error:
            if not self._lease_warned:
                self._lease_warned = True
                logger.warning(
                    "cannot take delivery leases in %s (%s): delivering without them, so two "
                    "workers of one backend name may copy one acquisition at the same time",
                    folder,
                    error,
                )
            return Lease(None, None)

    # --- reading -----------------------------------------------------------------------------

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or not isinstance(data.get("backends", {}), dict):
                raise ValueError("not a journal record")
            return data
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.warning("unreadable pending-snapshot record %s: %s", path, error)
            return None

    def entries(self, backend: str | None = None) -> list[JournalEntry]:
        """Records, oldest submit first (of one backend name, or all); unreadable ones logged."""
        found: list[JournalEntry] = []
        try:
            children = list(os.scandir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for child in sorted(children, key=lambda c: c.name):
            if child.name.startswith("."):
                continue
            if child.is_dir():  # the first layout: one folder per backend
                if backend is None or child.name == safe_slug(backend):
                    found.extend(self._legacy_entries(Path(child.path), backend))
            elif child.name.endswith(".json"):
                found.extend(self._file_entries(Path(child.path), backend))
        unique: dict[tuple[str, str], JournalEntry] = {}
        for entry in found:  # a record in both layouts (resumed, not yet delivered): the newer
            key = (entry.backend, entry.prefix)
            if key not in unique or entry.updated >= unique[key].updated:
                unique[key] = entry
        return sorted(unique.values(), key=lambda e: (e.submitted, e.prefix, e.backend))

    def unreadable(self) -> list[tuple[Path, str]]:
        """The record files that cannot be read (damaged JSON, wrong shape), with why: their
        acquisitions' states are judged from the files and the delivery records instead."""
        found: list[tuple[Path, str]] = []
        try:
            children = sorted(os.scandir(self.root), key=lambda c: c.name)
        except (FileNotFoundError, NotADirectoryError):
            return found
        files: list[str] = []
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():  # the first layout: one record per file in a folder per backend
                with contextlib.suppress(OSError):
                    files.extend(
                        os.path.join(child.path, name)
                        for name in sorted(os.listdir(child.path))
                        if name.endswith(".json") and not name.startswith(".")
                    )
            elif child.name.endswith(".json"):
                files.append(child.path)
        for path in files:
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
                if os.path.dirname(path) != os.fspath(self.root):
                    _entry(data)
                    continue
                records = data["backends"]
                if not isinstance(records, dict) or not isinstance(data["prefix"], str):
                    raise ValueError("not a journal record")
                for name, record in records.items():
                    _entry({**record, "backend": name, "prefix": data["prefix"]})
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                found.append((Path(path), f"{type(error).__name__}: {error}"))
        return found

    def set_aside(self, path: Path) -> Path:
        """Rename an unreadable record out of the way (kept for inspection, never read)."""
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        with self._locked():
            os.replace(path, aside)
        return aside

    def _file_entries(self, path: Path, backend: str | None) -> list[JournalEntry]:
        data = self._load(path)
        if data is None:
            return []
        entries = []
        for name, record in data.get("backends", {}).items():
            if backend is not None and name != backend:
                continue
            try:
                entries.append(_entry({**record, "backend": name, "prefix": data["prefix"]}))
            except (AttributeError, KeyError, TypeError) as error:
                logger.warning("unreadable pending-snapshot record %s: %s", path, error)
        return entries

    def _legacy_entries(self, folder: Path, backend: str | None) -> list[JournalEntry]:
        entries = []
        for path in sorted(folder.glob("*.json")):
            try:
                entry = _entry(json.loads(path.read_text(encoding="utf-8")))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError, AttributeError) as error:
                logger.warning("unreadable pending-snapshot record %s: %s", path, error)
                continue
            if backend is None or entry.backend == backend:
                entries.append(entry)
        return entries
