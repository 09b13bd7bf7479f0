"""map_dataset: which datasets become read-only views of the file's pages, and their values."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from labmate_core.dh5.mapped import MIN_MAPPED_BYTES, is_mapped, map_dataset

N = MIN_MAPPED_BYTES // 8 + 3  # just above the threshold for 8-byte items


def _map(path, name):
    with h5py.File(path, "r") as file:
        dataset = file[name]
        return map_dataset(dataset, str(path)), dataset[()]


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(0).random(N),
        np.arange(N, dtype=">i8"),  # big-endian: mapped with the file's byte order
        np.arange(N * 2, dtype=np.uint32).reshape(2, N),
        (np.arange(N) % 3 == 0).repeat(8),  # bool (an HDF5 enum)
        np.arange(N // 2) * (1 + 2j),
        np.arange(N, dtype=np.float16).repeat(4),
    ],
    ids=["f8", ">i8", "u4-2d", "bool", "c16", "f2"],
)
def test_contiguous_numbers_are_mapped_exactly(tmp_path, array):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as file:
        file["pad"] = "something before"
        file["x"] = array
    mapped, read = _map(path, "x")
    assert mapped is not None and is_mapped(mapped) and is_mapped(mapped[1:5])
    assert type(mapped) is np.ndarray and mapped.dtype == read.dtype
    assert mapped.shape == array.shape and np.array_equal(mapped, array)
    assert not mapped.flags.writeable
    with pytest.raises(ValueError):
        mapped[0] = 1


def test_userblock_offset(tmp_path):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w", userblock_size=4096) as file:
        file["x"] = np.arange(N, dtype=float)
    mapped, _ = _map(path, "x")
    assert mapped is not None and np.array_equal(mapped, np.arange(N, dtype=float))


@pytest.mark.parametrize(
    "make",
    [
        lambda f: f.create_dataset("x", data=np.arange(N, dtype=float), chunks=(1000,)),
        lambda f: f.create_dataset("x", data=np.arange(N, dtype=float), compression="gzip"),
        lambda f: f.create_dataset("x", shape=(N,), dtype=float),  # never written: fill value
        lambda f: f.create_dataset("x", data=np.arange(10.0)),  # small: read
        lambda f: f.create_dataset("x", data=np.array([b"abcdefgh"] * N)),  # fixed-length str
        lambda f: f.create_dataset("x", data=3.5),  # scalar
        lambda f: f.create_dataset(
            "x", data=np.zeros(N, dtype=[("a", "f8"), ("b", "i4")])
        ),  # compound
    ],
    ids=["chunked", "gzip", "unallocated", "small", "fixed-str", "scalar", "compound"],
)
def test_other_datasets_are_not_mapped(tmp_path, make):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as file:
        make(file)
    mapped, _ = _map(path, "x")
    assert mapped is None


def test_short_file_is_read_not_mapped(tmp_path):
    """Bytes not all in the file (HDF5 refuses to open a truncated file, so: the path given is a
    shorter file than the one h5py opened): left to h5py."""
    path, short = tmp_path / "f.h5", tmp_path / "short.h5"
    with h5py.File(path, "w") as file:
        file["x"] = np.arange(N, dtype=float)
        offset = file["x"].id.get_offset()
    short.write_bytes(path.read_bytes()[: offset + 100])
    with h5py.File(path, "r") as file:
        assert map_dataset(file["x"], str(short)) is None
        assert map_dataset(file["x"], str(path)) is not None


def test_mapping_outlives_the_file_being_replaced(tmp_path):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as file:
        file["x"] = np.arange(N, dtype=float)
    mapped, _ = _map(path, "x")
    path.unlink()  # an atomic replace unlinks the old inode: the mapping keeps it
    with h5py.File(path, "w") as file:
        file["x"] = np.zeros(N)
    assert np.array_equal(mapped, np.arange(N, dtype=float))
