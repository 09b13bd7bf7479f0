"""Compaction of a plain tree written by h5py keeps the root's attributes exactly (their HDF5
types: enum, fixed-size UTF-8, ASCII strings) and the root's link and attribute order."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from labmate_core.dh5 import DH5

BIG = np.zeros(200_000)  # 1.6 MB: deleting it makes the file worth compacting


def _root_attributes(path: Path) -> list[tuple]:
    with h5py.File(path, "r") as file:
        found = []
        for name in file.attrs:
            attr = file.attrs.get_id(name)
            kind = attr.get_type()
            charset = kind.get_cset() if isinstance(kind, h5py.h5t.TypeStringID) else None
            found.append(
                (name, kind.get_class(), charset, kind.get_size(), attr.shape, repr(file.attrs[name]))
            )
        return found


def test_compaction_keeps_the_types_of_root_attributes(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as file:
        file.attrs.create("mode", 1, dtype=h5py.enum_dtype({"OFF": 0, "ON": 1}, basetype="i1"))
        file.attrs.create("sample", b"Nb", dtype=h5py.string_dtype("utf-8", 8))
        file.attrs.create("operator", "ada", dtype=h5py.string_dtype("ascii"))
        file.attrs["nothing"] = h5py.Empty("f8")
        file.attrs["gain"] = np.arange(3, dtype=">i4")
        file["big"] = BIG
        file["data"] = np.arange(5.0)
    before = _root_attributes(path)
    size = path.stat().st_size
    d = DH5(path, "a")
    del d["big"]
    d.save()
    assert path.stat().st_size < size / 2, "the file was not compacted: nothing tested"
    assert _root_attributes(path) == before


def test_a_root_that_tracks_creation_order_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "ordered.h5"
    with h5py.File(path, "w", track_order=True) as file:
        file.attrs["z"] = 1
        file.attrs["a"] = 2
        file["zeta"] = np.arange(3)
        file["big"] = BIG
        file["alpha"] = np.arange(2)
    d = DH5(path, "a")
    del d["big"]
    d.save()
    with h5py.File(path, "r") as file:
        assert list(file.attrs) == ["z", "a"]
        assert list(file) == ["zeta", "alpha"]


def test_compaction_keeps_the_file_mode_and_owner(tmp_path: Path) -> None:
    """A group-writable file of a shared lab folder stays group-writable (and keeps its owner
    and group, where this process may set them) after the compacting rename."""
    import os

    path = tmp_path / "shared.h5"
    d = DH5(path, "w=")
    d["big"] = BIG
    d["data"] = np.arange(5.0)
    os.chmod(path, 0o660)
    if os.geteuid() == 0:
        os.chown(path, 1234, 4321)
    before = path.stat()
    del d["big"]
    after = path.stat()
    assert after.st_size < before.st_size / 2, "the file was not compacted: nothing tested"
    assert oct(after.st_mode) == oct(before.st_mode)
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
