"""Content identity of an acquisition: what its files hold, never judged by size and mtime.

A delivery records the identity of the content it copied; "unchanged" means the same identity.
Size and modification time are not enough: a filesystem with 1-second timestamps (and the
kernel's coarse clock, a few ms, everywhere) gives two versions written close together the same
``mtime``. Each file has a ``key``: size, ``mtime_ns``, ``ctime_ns``, inode and, for the
``.h5``, its write generation (``storage``: +2 per committed write, whoever wrote through
labmate: a manager, ``DH5(path, "a=")``, a process killed after its save).

* The ``.h5`` is identified by its key when it has a generation: every write through labmate
  moves it, so equal keys mean equal content, and any move counts as a change (never hashing
  a large file twice per delivery). Without a generation (no lock file: a file written by
  plain ``h5py`` or copied in) it is hashed.
* The companions (cell, configs, figures, notes) are hashed (sha256); a file whose key did not
  move keeps its known digest, unless it was hashed within its timestamps' resolution of its
  last change ("racy", as git says): then a rewrite can keep its key, so it is hashed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..dh5 import storage
from .files import acquisition_files

#: tries of a consistent hash while a companion file keeps changing
MAX_HASH_ATTEMPTS = 5
#: how soon after its change a file's hash may be followed by a rewrite with the same key: 2 s
#: where mtimes are whole seconds (FAT's are 2 s), the kernel's coarse clock tick elsewhere
COARSE_RACY_NS = 2_000_000_000
FINE_RACY_NS = 50_000_000


def _racy(key: list[int], hashed_ns: int) -> bool:
    """Whether a rewrite after a hash taken at ``hashed_ns`` could leave ``key`` as it is."""
    mtime = max(key[1], key[2])
    window = COARSE_RACY_NS if mtime % 1_000_000_000 == 0 else FINE_RACY_NS
    return mtime >= hashed_ns - window


@dataclasses.dataclass(frozen=True)
class ContentIdentity:
    """``files``: name -> {"key": [size, mtime_ns, ctime_ns, ino, generation], "sha256": hex or
    None (a ``.h5`` identified by its key)}; ``digest`` is the hash of every file's name and
    sha256 (or key): equal digests mean equal content."""

    files: Mapping[str, Mapping[str, Any]]
    digest: str

    def keys(self) -> dict[str, list[int]]:
        """name -> key (what the file's stat and generation were when it was hashed)."""
        return {name: list(item["key"]) for name, item in self.files.items()}

    @property
    def racy(self) -> bool:
        """Whether a file was hashed so soon after its change that equal keys prove nothing."""
        return any(item.get("racy") for item in self.files.values())

    def to_json(self) -> str:
        return json.dumps({"files": self.files, "digest": self.digest}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContentIdentity:
        data = json.loads(text)
        files = data["files"]
        if not isinstance(files, dict) or not isinstance(data["digest"], str):
            raise ValueError("not a content identity")
        for name, item in files.items():
            key = item.get("key") if isinstance(item, dict) else None
            if not (
                isinstance(key, list)
                and all(isinstance(v, int) and not isinstance(v, bool) for v in key)
                and isinstance(item.get("sha256"), (str, type(None)))
            ):
                raise ValueError(f"not a content identity (file {name!r}: {item!r:.60})")
        return cls(files, data["digest"])


def _digest(hashes: Mapping[str, str]) -> str:
    whole = hashlib.sha256()
    for name in sorted(hashes):
        whole.update(f"{name}\0{hashes[name]}\n".encode())
    return whole.hexdigest()


def _part(item: Mapping[str, Any]) -> str:
    """One file's share of the digest: its sha256, or its key (a ``.h5`` with a generation)."""
    if item["sha256"] is not None:
        return str(item["sha256"])
    return "key:" + ":".join(str(value) for value in item["key"])


def hash_file(path: Path) -> str:
    """The sha256 of the bytes of ``path`` (read in 1 MiB blocks: ``hashlib.file_digest`` is
    Python 3.11+)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_keys(prefix: Path, names: Iterable[str] | None = None) -> dict[str, list[int]]:
    """name -> [size, mtime_ns, ctime_ns, ino, generation] of the acquisition's own files now (the
    generation is the ``.h5``'s write generation, 0 for companions); ``names``: these files
    (already listed) rather than a listing of the folder."""
    keys: dict[str, list[int]] = {}
    h5_name = prefix.name + ".h5"
    folder = os.fspath(prefix.parent)
    if names is None:
        names = [path.name for path in acquisition_files(prefix)]
    for name in names:
        path = os.path.join(folder, name)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        gen = storage.generation(path) if name == h5_name else 0
        keys[name] = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, gen]
    return keys


def content_identity(
    prefix: Path, known: ContentIdentity | None = None, names: Iterable[str] | None = None
) -> ContentIdentity:
    """The identity of the acquisition's files at one moment, read without blocking writers.

    A file whose key equals its key in ``known`` is not hashed again. The set is taken again
    if the ``.h5`` was written meanwhile (its generation) or a companion moved. ``names``: the
    acquisition's files, already listed (see :func:`file_keys`).
    """
    h5 = prefix.with_name(prefix.name + ".h5")
    old = dict(known.files) if known is not None else {}

    h5_name = h5.name

    def take() -> ContentIdentity | None:
        hashed_ns = time.time_ns()
        keys = file_keys(prefix, names)
        files: dict[str, dict[str, Any]] = {}
        for name, key in keys.items():
            if name == h5_name and key[4] > 0 and key[4] % 2 == 0:
                files[name] = {"key": key, "sha256": None}  # identified by its generation
                continue
            previous = old.get(name)
            if (
                previous is not None
                and list(previous.get("key", ())) == key
                and not previous.get("racy")
            ):
                files[name] = {"key": key, "sha256": previous["sha256"]}
                continue
            try:
                digest = hash_file(prefix.parent / name)
            except FileNotFoundError:
                return None
            files[name] = {"key": key, "sha256": digest}
            if _racy(key, hashed_ns):
                files[name]["racy"] = True
        if file_keys(prefix, list(keys)) != keys:
            return None
        return ContentIdentity(files, _digest({n: _part(f) for n, f in files.items()}))

    for _ in range(MAX_HASH_ATTEMPTS):
        identity = storage.read_consistently(h5, take)
        if identity is not None:
            return identity
    raise OSError(f"{h5}: files kept changing while being hashed ({MAX_HASH_ATTEMPTS} tries)")


def same_keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two ``keys()`` mappings are equal (lists and tuples alike)."""
    return {n: list(k) for n, k in a.items()} == {n: list(k) for n, k in b.items()}


def current_or_none(prefix: Path) -> ContentIdentity | None:
    """:func:`content_identity`, or None when the acquisition has no ``.h5`` any more."""
    if not os.path.exists(prefix.with_name(prefix.name + ".h5")):
        return None
    return content_identity(prefix)
