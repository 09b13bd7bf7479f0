"""How one acquisition is laid out in a Tiled catalog, and back.

A run is the container ``<name>/<run>``. Its metadata holds what a search needs (name, status,
start/end, duration, error, host, user, notes, useful, config values, keys, the cells' code) and,
under ``labmate``, what rebuilds the ``.h5``: the small values (scalars, strings), the HDF5
attributes and the content digest. Numeric arrays are array nodes (nested groups are
containers); the companion files (cell, configs, figures) are ``uint8`` arrays in ``_files``.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import hashlib
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import runtime
from ..index.summary import parse_file_name, read_summary

logger = logging.getLogger(__name__)

#: Version of this layout (``metadata["labmate"]["layout"]``).
LAYOUT = 1
#: The container of the companion files inside a run.
FILES = "_files"
#: The container of the long texts (logs, prints, ...) kept out of the searchable metadata.
LARGE = "_large"
#: Texts longer than this (characters) go to ``LARGE`` as ``uint8`` arrays.
LARGE_TEXT = 16_000
_ARRAY_KINDS = "biufc"


@dataclass
class RunContent:
    """What is uploaded for one run: its metadata, its arrays by path (h5py data sets of the
    still open file, read as they are uploaded), its companion files. Close it after use."""

    metadata: dict[str, Any]
    arrays: dict[tuple[str, ...], h5py.Dataset] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    large: dict[str, bytes] = field(default_factory=dict)
    h5: h5py.File | None = None
    #: the use of HDF5 (:func:`runtime.hdf5_use`) that lasts while ``h5`` is open
    hdf5: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        with self.hdf5:
            if self.h5 is not None:
                self.h5.close()
                self.h5 = None

    def __enter__(self) -> RunContent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _jsonable(value: Any) -> Any:
    """A JSON value for a small HDF5 value (bytes decoded, numpy scalars as Python)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, complex):
        return {"complex": [_jsonable(value.real), _jsonable(value.imag)]}
    if isinstance(value, float) and not np.isfinite(value):
        return {"float": str(value)}  # JSON has no inf / nan
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def content_digest(files: list[Path]) -> str:
    """SHA-256 over the names and bytes of ``files`` (what a re-save is judged by)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _notes(original_prefix: Path) -> str:
    """The user's note for the run (``<prefix>_NOTES.txt``, a companion file: a changed note
    changes the content, so the run is uploaded again)."""
    from ..index.notes import read_note

    try:
        return read_note(original_prefix)
    except OSError:
        return ""


def _config_values(texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``{file stem: {parameter: value}}`` of the saved config files."""
    from ..parsing.config_text import parse_str

    out: dict[str, dict[str, Any]] = {}
    for basename, text in texts.items():
        try:
            parsed = parse_str(text)
        except Exception:  # a config that does not parse still uploads
            logger.debug("config %s does not parse", basename, exc_info=True)
            continue
        out[Path(basename).stem] = {k: _jsonable(v.value) for k, v in parsed.items()}
    return out


def read_run(h5_path: Path, original_prefix: Path, files: list[Path], digest: str) -> RunContent:
    """Read a (private, consistent) ``.h5`` and its companions into a :class:`RunContent`
    (the arrays are not read: the file stays open until the content is closed)."""
    summary = read_summary(h5_path)
    stem = original_prefix.name
    companions = [p for p in files if p.name != h5_path.name]
    values: dict[str, Any] = {}
    attrs: dict[str, dict[str, Any]] = {}
    content = RunContent(metadata={})

    try:
        content.hdf5.enter_context(runtime.hdf5_use())
        content.h5 = h5 = h5py.File(h5_path, "r")

        def visit(path: str, item: Any) -> None:
            if item.attrs:
                attrs[path] = {k: _jsonable(v) for k, v in item.attrs.items()}
            if isinstance(item, h5py.Dataset):
                if item.shape and item.dtype.kind in _ARRAY_KINDS and _node_path(path):
                    content.arrays[tuple(path.split("/"))] = item
                else:
                    values[path] = _jsonable(item[()])

        if h5.attrs:
            attrs[""] = {k: _jsonable(v) for k, v in h5.attrs.items()}
        h5.visititems(visit)
    except BaseException:
        content.close()
        raise
    groups = {p for p in _group_paths(values) | {"/".join(k[:-1]) for k in content.arrays} if p}

    def texts(group: str) -> dict[str, str]:
        return {
            path[len(group) + 1 :]: value
            for path, value in values.items()
            if path.startswith(group + "/") and isinstance(value, str)
        }

    parsed = parse_file_name(stem)
    start = (
        datetime.datetime.strptime(parsed[0], "%Y_%m_%d__%H_%M_%S").astimezone() if parsed else None
    )
    end = (
        start + datetime.timedelta(seconds=summary.duration) if start and summary.duration else None
    )
    owner = values.get("info/owner")
    host = str(owner).split("@")[0].split(":")[0] if owner else socket.gethostname()
    content.metadata = {
        "name": summary.name,
        "run": stem,
        "status": summary.status,
        "start": start.isoformat() if start else None,
        "start_time": start.timestamp() if start else None,
        "end": end.isoformat() if end else None,
        "end_time": end.timestamp() if end else None,
        "duration": summary.duration,
        "error": summary.error,
        "host": host,
        "user": getpass.getuser(),
        "notes": _notes(original_prefix),
        "useful": bool(values.get("useful", False)),
        "config": _config_values(texts("configs")),
        "keys": summary.keys,
        "acquisition_cell": texts("acquisition_cell") or values.get("acquisition_cell"),
        "analysis_cells": texts("analysis_cells") or values.get("analysis_cell"),
        "labmate": {
            "layout": LAYOUT,
            "digest": digest,
            "values": values,
            "attrs": attrs,
            "groups": sorted(groups),
            "files": {p.name[len(stem) :]: p.stat().st_size for p in companions},
        },
    }
    content.files = {p.name[len(stem) :]: p for p in companions}
    large = [p for p, v in values.items() if isinstance(v, str) and len(v) > LARGE_TEXT]
    content.metadata["labmate"]["large"] = {path: f"t{i}" for i, path in enumerate(large)}
    content.large = {f"t{i}": values.pop(path).encode() for i, path in enumerate(large)}
    return content


def _node_path(path: str) -> bool:
    """Whether every part of ``path`` can be a Tiled key in a URL (else: kept as a value)."""
    return all(part not in (".", "..") and not set(part) & set("?#%") for part in path.split("/"))


def _group_paths(values: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for path in values:
        parts = path.split("/")[:-1]
        out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def _from_json(value: Any) -> Any:
    """The inverse of ``_jsonable`` for the values it encodes as dicts."""
    if isinstance(value, dict) and set(value) == {"float"}:
        return float(value["float"])
    if isinstance(value, dict) and set(value) == {"complex"}:
        real, imag = (_from_json(v) for v in value["complex"])
        return complex(real, imag)
    return value


def write_h5(path: Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Rebuild the ``.h5`` at ``path`` from a run's metadata and its arrays (``"a/b"`` paths)."""
    info = metadata["labmate"]
    with runtime.hdf5_use(), h5py.File(path, "w") as h5:
        for group in info.get("groups", []):
            h5.require_group(group)
        for key, value in info["values"].items():
            if isinstance(value, str):
                h5.create_dataset(key, data=value, dtype=h5py.string_dtype())
            elif isinstance(value, list):
                if all(isinstance(v, str) for v in value):
                    h5.create_dataset(key, data=value, dtype=h5py.string_dtype())
                else:
                    h5[key] = np.asarray(value)
            elif value is not None:
                h5[key] = _from_json(value)
        for key, array in arrays.items():
            h5[key] = array
        for key, attributes in info.get("attrs", {}).items():
            target = h5[key] if key else h5
            for name, value in attributes.items():
                target.attrs[name] = value
