"""Compaction keeps a file's structure: only plain trees are compacted; links, references,
dimension scales and attributes survive saves; a dangling link is not an error."""

import logging

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5

BIG = np.arange(200_000, dtype=np.float64)  # 1.6 MB: deleting it frees far more than a third


def _structured_file(path, other):
    """A file as plain h5py users write them: every kind of link, references, a dimension
    scale, attributes, and a big dataset whose deletion makes the file worth compacting."""
    with h5py.File(other, "w") as file:
        file["remote"] = np.arange(3)
    with h5py.File(path, "w") as file:
        file.attrs["title"] = "run 1"
        file["big"] = BIG
        data = file.create_dataset("data", data=np.arange(10.0))
        data.attrs["unit"] = "V"
        time = file.create_dataset("time", data=np.linspace(0, 1, 10))
        time.make_scale("time")
        data.dims[0].attach_scale(time)
        group = file.create_group("g")
        group["inner"] = np.ones(4)
        refs = file.create_dataset("refs", (2,), dtype=h5py.ref_dtype)
        refs[0] = data.ref
        refs[1] = group.ref
        file["soft"] = h5py.SoftLink("/data")
        file["hard"] = data
        file["external"] = h5py.ExternalLink(str(other), "/remote")
        file["dangling"] = h5py.SoftLink("/nowhere")
        file["dangling_ext"] = h5py.ExternalLink(str(other) + ".missing", "/x")


def _check_structure(path, other):
    with h5py.File(path, "r") as file:
        assert file.attrs["title"] == "run 1"
        assert isinstance(file.get("soft", getlink=True), h5py.SoftLink)
        assert file.get("soft", getlink=True).path == "/data"
        assert isinstance(file.get("external", getlink=True), h5py.ExternalLink)
        assert isinstance(file.get("dangling", getlink=True), h5py.SoftLink)
        assert isinstance(file.get("dangling_ext", getlink=True), h5py.ExternalLink)
        assert file["hard"].id == file["data"].id  # one object, two names
        assert file[file["refs"][0]].id == file["data"].id
        assert file[file["refs"][1]].id == file["g"].id
        assert file["data"].dims[0][0].name == "/time"
        assert file["data"].attrs["unit"] == "V"
        np.testing.assert_array_equal(file["external"][()], np.arange(3))


def test_a_file_with_links_references_and_scales_keeps_them(tmp_path, caplog):
    path, other = tmp_path / "plain.h5", tmp_path / "other.h5"
    _structured_file(path, other)
    d = DH5(path, "a")
    del d["big"]
    d["new"] = 1
    with caplog.at_level(logging.DEBUG, logger="labmate_core.dh5.compaction"):
        d.save()
    assert "Not compacting" in caplog.text
    _check_structure(path, other)
    back = DH5(path)
    assert back.new == 1 and "big" not in back
    np.testing.assert_array_equal(back.soft, np.arange(10.0))


def test_a_dangling_link_is_not_an_error(tmp_path):
    path, other = tmp_path / "plain.h5", tmp_path / "other.h5"
    _structured_file(path, other)
    d = DH5(path, "a")
    assert d.get("dangling") is None
    del d["big"]  # worth compacting: the old copy resolved every link (KeyError here)
    d["x"] = 2
    d.save()
    d = DH5(path, "a", open_on_init=False)
    del d["dangling_ext"]
    d.save()
    with h5py.File(path, "r") as file:
        assert "dangling_ext" not in file and file["x"][()] == 2
        assert isinstance(file.get("dangling", getlink=True), h5py.SoftLink)


def test_writing_a_key_that_is_a_link_replaces_the_link_not_its_target(tmp_path):
    path, other = tmp_path / "plain.h5", tmp_path / "other.h5"
    _structured_file(path, other)
    d = DH5(path, "a")
    d["soft"] = np.zeros(10)  # same shape and dtype as the target: no in-place write through
    d["hard"] = np.full(10, 7.0)
    d["dangling"] = 3
    d.save()
    with h5py.File(path, "r") as file:
        np.testing.assert_array_equal(file["data"][()], np.arange(10.0))
        assert isinstance(file.get("soft", getlink=True), h5py.HardLink)
        np.testing.assert_array_equal(file["soft"][()], np.zeros(10))
        np.testing.assert_array_equal(file["hard"][()], np.full(10, 7.0))
        assert file["dangling"][()] == 3
        np.testing.assert_array_equal(file["external"][()], np.arange(3))
    with h5py.File(other, "r") as file:
        np.testing.assert_array_equal(file["remote"][()], np.arange(3))


@pytest.mark.parametrize("kind", ["soft", "hard", "external", "refs", "scale", "attr_ref"])
def test_each_kind_of_structure_alone_prevents_compaction(tmp_path, kind):
    path, other = tmp_path / "plain.h5", tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file["remote"] = np.arange(3)
    with h5py.File(path, "w") as file:
        file["big"] = BIG
        data = file.create_dataset("data", data=np.arange(5.0))
        if kind == "soft":
            file["link"] = h5py.SoftLink("/data")
        elif kind == "hard":
            file["link"] = data
        elif kind == "external":
            file["link"] = h5py.ExternalLink(str(other), "/remote")
        elif kind == "refs":
            file.create_dataset("link", data=[data.ref], dtype=h5py.ref_dtype)
        elif kind == "scale":
            scale = file.create_dataset("link", data=np.arange(5))
            scale.make_scale()
            data.dims[0].attach_scale(scale)
        else:
            file.attrs.create("link", data.ref, dtype=h5py.ref_dtype)
    d = DH5(path, "a")
    del d["big"]
    d.save()
    with h5py.File(path, "r") as file:
        assert path.stat().st_size > BIG.nbytes  # not compacted
        if kind in ("soft", "external"):
            assert not isinstance(file.get("link", getlink=True), h5py.HardLink)
        elif kind == "hard":
            assert file["link"].id == file["data"].id
        elif kind == "refs":
            assert file[file["link"][0]].id == file["data"].id
        elif kind == "scale":
            assert file["data"].dims[0][0].name == "/link"
        else:
            assert file[file.attrs["link"]].id == file["data"].id


def test_a_plain_tree_is_still_compacted(tmp_path):
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d.update(big=BIG, small=np.arange(3), g={"a": "text"})
    d.save()
    with h5py.File(path, "a") as file:
        file.attrs["note"] = "kept"
        file["g/a"].attrs["unit"] = "s"
    d = DH5(path, "a")
    del d["big"]
    d.save()
    assert path.stat().st_size < BIG.nbytes / 2
    with h5py.File(path, "r") as file:
        assert file.attrs["note"] == "kept" and file["g/a"].attrs["unit"] == "s"
    back = DH5(path)
    np.testing.assert_array_equal(back.small, np.arange(3))
    assert back.g.a == "text" and "big" not in back
