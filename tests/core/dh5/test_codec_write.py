"""codec.write: the same bytes as h5py's create_dataset; small same-type values in place."""

import filecmp

import dh5
import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5, codec, storage

VALUES = {
    "useful": False,
    "flag": True,
    "n": 3,
    "f": 1.5,
    "c": 1 + 2j,
    "status": "running",
    "unicode": "héllo ü",
    "empty": "",
    "json": ["a", 1],
    "a": np.arange(6.0).reshape(2, 3),
    "i8": np.arange(4, dtype=np.int8),
    "bools": np.array([True, False]),
    "none": np.zeros((0,)),
    "half": np.float16(2.5),
    "big_endian": np.arange(3, dtype=">i4"),
    "ünï": 5,
}


def _new_file(path):
    return h5py.File(path, "w", locking=False, libver=storage.LIBVER, **storage.CREATE_OPTIONS)


@pytest.mark.parametrize("track_order", [False, True])
def test_new_datasets_have_the_bytes_h5py_writes(tmp_path, track_order):
    before = h5py.get_config().track_order
    h5py.get_config().track_order = track_order
    try:
        for name, how in (("h5py.h5", "h5py"), ("codec.h5", "codec")):
            with _new_file(tmp_path / name) as file:
                group = file.create_group("info")
                for key, value in VALUES.items():
                    encoded = codec.encode(value, key)
                    if how == "h5py":
                        group.create_dataset(key, data=encoded)
                    else:
                        codec.write(group, key, encoded)
    finally:
        h5py.get_config().track_order = before
    assert filecmp.cmp(tmp_path / "h5py.h5", tmp_path / "codec.h5", shallow=False)


def test_small_same_type_values_are_overwritten_in_place(tmp_path):
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d.update(useful=False, status="running", a=np.zeros(4), n=1)
    d.save()
    with h5py.File(path, "r") as file:
        before = {key: file[key].id.get_offset() for key in ("useful", "a", "n")}
    for i in range(200):
        d.update(useful=bool(i % 2), status=("completed", "running")[i % 2], a=np.full(4, i), n=i)
        d.save()
    size = path.stat().st_size
    assert size < 16 * 1024
    with h5py.File(path, "r") as file:
        assert {key: file[key].id.get_offset() for key in before} == before
    theirs = dh5.DH5(str(path))
    assert theirs["useful"] == np.True_ and theirs["status"] == "running"
    assert theirs["n"] == 199
    np.testing.assert_array_equal(theirs["a"], np.full(4, 199.0))


def test_type_or_shape_changes_replace_the_dataset(tmp_path):
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d.update(x=1, s="text", a=np.zeros(3), j=["x"])
    d.save()
    d.update(x=1.5, s=7, a=np.zeros(5), j="plain")
    d.save()
    ours, theirs = DH5(path), dh5.DH5(str(path))
    for data in (ours, theirs):
        assert data["x"] == 1.5 and data["s"] == 7 and data["j"] == "plain"
        np.testing.assert_array_equal(data["a"], np.zeros(5))


def test_long_strings_and_compressed_values_are_rewritten(tmp_path):
    path = tmp_path / "d.h5"
    size = codec.IN_PLACE_MAX_BYTES // 8 + 1
    with _new_file(path) as file:
        file.create_dataset("big", data=np.zeros(size))
        file.create_dataset("packed", data=np.zeros(16), compression="gzip")
        file.create_dataset("text", data="a")
        offset = file["big"].id.get_offset()
        codec.write(file, "big", np.ones(size))  # numeric, same layout: in place at any size
        codec.write(file, "packed", np.ones(16))
        codec.write(file, "text", "b" * (codec.IN_PLACE_MAX_BYTES + 1))
        assert file["big"].id.get_offset() == offset and file["big"][0] == 1.0
        assert file["packed"].compression is None
        np.testing.assert_array_equal(file["packed"][()], np.ones(16))
        assert len(file["text"].asstr()[()]) == codec.IN_PLACE_MAX_BYTES + 1


def test_fixed_length_and_ascii_strings_are_replaced_by_utf8(tmp_path):
    path = tmp_path / "d.h5"
    with _new_file(path) as file:
        file.create_dataset("fixed", data=np.bytes_("abc"))
        file.create_dataset("ascii", data="abc", dtype=h5py.string_dtype("ascii"))
        codec.write(file, "fixed", "xyz")
        codec.write(file, "ascii", "é")
        for key, text in (("fixed", "xyz"), ("ascii", "é")):
            info = h5py.check_string_dtype(file[key].dtype)
            assert info.encoding == "utf-8" and info.length is None
            assert file[key].asstr()[()] == text
