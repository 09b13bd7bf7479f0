"""Where every acquisition of a data directory stands with each backend (``labmate status``).

For each backend of the data directory (recorded in ``backends.json``, or named by a pending
record) and each acquisition on disk, one state:

* ``delivered`` — the delivered content (``delivered.sqlite``) is the local content;
* ``pending`` / ``retrying`` / ``failed`` — a pending record (``.labmate/pending``) says so, with
  its last error and next try;
* ``stale`` — delivered once, but the local content differs since (whoever wrote it: a save
  killed before its submit, ``DH5(path, "a=")`` outside a manager);
* ``never`` — never delivered.

Plus the records that cannot be read (damaged pending records, delivery records, the list of
backends). Fast on large folders: one listing per folder, one ``stat`` per file, one read of
the ``.h5``'s write generation; a file is hashed only when its key (size, mtime, ctime, inode,
generation) moved since its delivery, or was hashed too soon after its change to tell (racy).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..dh5 import storage
from .configured import ConfiguredBackends, ConfiguredBackendsError
from .delivered import DeliveryRecords, DeliveryRecordsError
from .files import acquisition_files, is_acquisition_file
from .identity import ContentIdentity, content_identity, same_keys
from .journal import Journal, JournalEntry

logger = logging.getLogger(__name__)

DELIVERED = "delivered"
NOT_DELIVERED = ("pending", "retrying", "failed", "stale", "never")


@dataclasses.dataclass
class BackendState:
    """One acquisition with one backend."""

    state: str
    error: str | None = None  # the last error (full traceback), if any
    delivered: float | None = None  # when its content was last delivered
    attempts: int = 0
    next_try: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class AcquisitionStates:
    """One acquisition (``prefix`` relative to the data directory) and its backends."""

    prefix: str
    backends: dict[str, BackendState]

    @property
    def delivered(self) -> bool:
        return all(item.state == DELIVERED for item in self.backends.values())


@dataclasses.dataclass
class Survey:
    """Every acquisition's state per backend, and the records that could not be read."""

    directory: Path
    backends: dict[str, str]  # name -> where it came from ("magic", ..., "pending record")
    acquisitions: list[AcquisitionStates]
    problems: list[str]  # unreadable records, one line each
    #: backend name -> why it cannot be re-created here (no spec)
    unrestorable: dict[str, str] = dataclasses.field(default_factory=dict)
    #: pending records whose acquisition has no .h5 any more: (backend, prefix, state)
    orphans: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems and not self.orphans and all(a.delivered for a in self.acquisitions)
        )

    def undelivered(self) -> list[AcquisitionStates]:
        return [a for a in self.acquisitions if not a.delivered]

    def counts(self) -> dict[str, dict[str, int]]:
        """backend -> state -> number of acquisitions."""
        counts: dict[str, dict[str, int]] = {name: {} for name in self.backends}
        for acquisition in self.acquisitions:
            for name, item in acquisition.backends.items():
                per = counts.setdefault(name, {})
                per[item.state] = per.get(item.state, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "backends": self.backends,
            "counts": self.counts(),
            "problems": self.problems,
            "acquisitions": [
                {
                    "prefix": a.prefix,
                    "delivered": a.delivered,
                    "backends": {n: s.to_json() for n, s in a.backends.items()},
                }
                for a in self.acquisitions
            ],
        }


def acquisitions_on_disk(directory: Path) -> dict[Path, dict[str, os.stat_result]]:
    """prefix -> {file name: stat} of every acquisition (a visible ``.h5`` and its own
    companions) under ``directory``; one listing per folder, hidden files and folders skipped."""
    found: dict[Path, dict[str, os.stat_result]] = {}
    stack = [directory]
    linked: list[Path] = []  # folders reached through a symlink: after the real ones
    seen: set[tuple[int, int]] = set()  # each folder once, by whatever name (symlink loops)
    while stack or linked:
        folder = stack.pop() if stack else linked.pop(0)
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as error:
            logger.warning("cannot list %s: %s", folder, error)
            continue
        stems: dict[str, dict[str, os.stat_result]] = {}
        others: list[os.DirEntry[str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_dir():  # an experiment folder linked to another disk
                    linked.append(Path(entry.path))
                elif entry.is_file():
                    if entry.name.endswith(".h5"):
                        stems[entry.name[:-3]] = {entry.name: entry.stat()}
                    else:
                        others.append(entry)
            except OSError:
                continue
        for entry in others:  # a companion P_*: the stem P is a prefix of its name
            name = entry.name
            cut = name.rfind("_")
            while cut > 0:
                stem = name[:cut]
                if stem in stems and is_acquisition_file(stem, name):
                    try:
                        stems[stem][name] = entry.stat()
                    except OSError:
                        pass
                    break
                cut = name.rfind("_", 0, cut)
        for stem, files in stems.items():
            found[folder / stem] = files
    return found


def _keys(prefix: Path, files: dict[str, os.stat_result]) -> dict[str, list[int]]:
    """The files' keys from the listing's stats (see ``identity.file_keys``). The ``.h5``'s
    generation is read from the lock its writers use (``storage.generation``): a hard-linked
    file's lock is keyed on its inode, not the hidden file beside it."""
    h5_name = prefix.name + ".h5"
    folder = os.fspath(prefix.parent)
    return {
        name: [
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
            storage.generation(os.path.join(folder, name)) if name == h5_name else 0,
        ]
        for name, st in files.items()
    }


def _h5_exists(prefix: Path) -> bool:
    return os.path.isfile(prefix.with_name(prefix.name + ".h5"))


def _journal_state(entry: JournalEntry) -> BackendState:
    if entry.state == "failed":
        state = "failed"
    elif entry.attempts and entry.last_error:
        state = "retrying"
    else:
        state = "pending"
    return BackendState(
        state, entry.last_error, None, entry.attempts, getattr(entry, "next_try", None)
    )


def _listed(prefixes: Iterable[str | os.PathLike]) -> dict[Path, dict[str, os.stat_result]]:
    """:func:`acquisitions_on_disk` for these acquisitions only."""
    found: dict[Path, dict[str, os.stat_result]] = {}
    for item in prefixes:
        prefix = Path(item).absolute()
        files = {}
        for path in acquisition_files(prefix):
            try:
                files[path.name] = path.stat()
            except OSError:
                continue
        if prefix.name + ".h5" in files:
            found[prefix] = files
    return found


def survey(
    directory: str | os.PathLike,
    backends: Iterable[str] | None = None,
    prefixes: Iterable[str | os.PathLike] | None = None,
) -> Survey:
    """The state of every acquisition of ``directory`` (or of ``prefixes`` only: the panel's
    page) with each backend (``backends``: only these names)."""
    directory = Path(directory).absolute()
    problems: list[str] = []
    names: dict[str, str] = {}
    unrestorable: dict[str, str] = {}
    try:
        for name, recorded in ConfiguredBackends(directory).load().items():
            names[name] = recorded.origin
            if not recorded.restorable:
                unrestorable[name] = recorded.cls
    except ConfiguredBackendsError as error:
        problems.append(f"unreadable list of backends: {error}")
    journal = Journal(directory)
    for path, why in journal.unreadable():
        problems.append(f"unreadable pending record {path}: {why}")
    pending: dict[tuple[str, Path], JournalEntry] = {}
    for entry in journal.entries():
        names.setdefault(entry.backend, "pending record")
        pending[(entry.backend, journal.absolute(entry.prefix))] = entry
    if backends is not None:
        wanted = set(backends)
        names = {n: o for n, o in names.items() if n in wanted}
    records = DeliveryRecords(directory)
    try:
        delivered = records.all()
    except DeliveryRecordsError as error:
        problems.append(f"unreadable delivery records: {error}")
        delivered = {}
    on_disk = acquisitions_on_disk(directory) if prefixes is None else _listed(prefixes)
    if prefixes is None:  # pending acquisitions the walk does not reach (outside the directory)
        unlisted = {prefix for _, prefix in pending if prefix not in on_disk}
        on_disk.update(_listed(prefix for prefix in unlisted if _h5_exists(prefix)))
    states: list[AcquisitionStates] = []
    settled: list[tuple[str, str, str, str]] = []
    root = len(os.fspath(directory)) + 1
    for prefix in sorted(on_disk, key=os.fspath):
        inside = os.fspath(prefix).startswith(os.path.join(os.fspath(directory), ""))
        relative = os.fspath(prefix)[root:] if inside else records.relative(prefix)
        keys: dict[str, list[int]] | None = None
        current: ContentIdentity | None = None
        per: dict[str, BackendState] = {}
        for name in names:
            waiting = pending.get((name, prefix))
            if waiting is not None:
                per[name] = _journal_state(waiting)
                continue
            record = delivered.get((name, relative))
            if record is None:
                per[name] = BackendState("never")
                continue
            try:
                identity = ContentIdentity.from_json(record[0])
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"unreadable delivery record of {relative} for {name}: {error}")
                per[name] = BackendState("never")
                continue
            if keys is None:
                keys = _keys(prefix, on_disk[prefix])
            if identity.racy or not same_keys(keys, identity.keys()):  # hash what moved
                try:
                    current = current or content_identity(prefix, identity, on_disk[prefix])
                except OSError as error:
                    problems.append(f"cannot read {relative}: {error}")
                    per[name] = BackendState("stale", None, record[1])
                    continue
                if current.digest != identity.digest:
                    per[name] = BackendState("stale", None, record[1])
                    continue
                if identity.racy and not current.racy:  # keys to trust from now on
                    settled.append((name, relative, record[0], current.to_json()))
            per[name] = BackendState(DELIVERED, None, record[1])
        states.append(AcquisitionStates(relative, per))
    if settled:
        records.settle(settled)
    orphans = [
        (name, records.relative(prefix), entry.state)
        for (name, prefix), entry in pending.items()
        if prefix not in on_disk and name in names and prefixes is None
    ]
    return Survey(directory, names, states, problems, unrestorable, orphans)


def dumps(result: Survey) -> str:
    """The survey as JSON (``labmate status --json``)."""
    return json.dumps(result.to_json(), indent=1)


def resubmit_undelivered(dispatcher: Any, names: Iterable[str]) -> int:
    """Submit to each backend of ``names`` the acquisitions that are stale or were never
    delivered to it (pending and failed ones resume from the journal when a backend is added);
    returns how many acquisitions were submitted."""
    names = list(names)
    if not names:
        return 0
    submitted = 0
    for acquisition in survey(dispatcher.data_directory, names).acquisitions:
        targets = [n for n, s in acquisition.backends.items() if s.state in ("stale", "never")]
        if not targets:
            continue
        try:
            dispatcher.submit(dispatcher.journal.absolute(acquisition.prefix), None, targets)
            submitted += 1
        except FileNotFoundError:  # removed meanwhile
            logger.info("%s is gone: not delivered", acquisition.prefix)
    if submitted:
        logger.info("delivering %d stale or undelivered acquisition(s) to %s", submitted, names)
    return submitted
