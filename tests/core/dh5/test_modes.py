import os

import numpy as np
import pytest

from labmate_core.dh5 import DH5, DH5FileNotFoundError


@pytest.fixture
def existing(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update(x=np.arange(3), s="old")
    d.save()
    return tmp_path / "f.h5"


def test_path_without_extension_gets_h5(tmp_path):
    d = DH5(str(tmp_path / "f"), "w")
    d["a"] = 1
    d.save()
    assert (tmp_path / "f.h5").exists()
    assert d.filepath == str(tmp_path / "f")
    assert d.filename == "f"


def test_default_is_read_only(existing):
    d = DH5(existing)
    assert d.read_only
    with pytest.raises(KeyError):
        d["y"] = 1
    with pytest.raises(ValueError):
        d.save()


def test_mode_r(existing):
    assert DH5(existing, "r").s == "old"


def test_mode_w_refuses_existing(existing):
    with pytest.raises(FileExistsError, match="overwrite=True.*overwrite=False"):
        DH5(existing, "w")


def test_mode_a_appends(existing):
    d = DH5(existing, "a")
    assert d.s == "old"
    d.y = 2
    d.save()
    assert DH5(existing).keys() == {"x", "s", "y"}


def test_trailing_equal_saves_on_edit(tmp_path):
    d = DH5(tmp_path / "f.h5", "w=")
    assert d.save_on_edit
    d.x = 1
    assert DH5(tmp_path / "f.h5").x == 1
    d2 = DH5(tmp_path / "f.h5", "a=")
    d2.y = 2
    assert DH5(tmp_path / "f.h5").y == 2


def test_open_overwrite_replaces_at_first_save(existing):
    d = DH5.open_overwrite(existing)
    assert "s" not in d
    assert DH5(existing).s == "old"  # old content intact until the new content is written
    d.z = 3
    d.save()
    assert DH5(existing).keys() == {"z"}


def test_overwrite_with_save_on_edit_mode(existing):
    d = DH5.open_overwrite(existing, "=")
    d.z = 3
    assert DH5(existing).keys() == {"z"}


def test_save_on_edit_flag_makes_writable(tmp_path):
    d = DH5(tmp_path / "f.h5", save_on_edit=True)
    d.a = 1
    assert DH5(tmp_path / "f.h5").a == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "r", "overwrite": True},
        {"mode": "r", "save_on_edit": True},
        {"read_only": True, "overwrite": True},
        {"read_only": True, "save_on_edit": True},
        {"mode": "r", "read_only": False},
        {"mode": "w", "read_only": True},
        {"mode": "a", "overwrite": True},
        {"mode": "w", "overwrite": True, "open_on_init": False},
    ],
)
def test_contradictory_flags(existing, kwargs):
    before = existing.read_bytes()
    with pytest.raises(ValueError):
        DH5(existing, **kwargs)
    assert existing.read_bytes() == before


@pytest.mark.parametrize("mode", ["x", "rw", "r=", "W", ""])
def test_unknown_mode(tmp_path, mode):
    with pytest.raises(ValueError, match="mode"):
        DH5(tmp_path / "f.h5", mode)
    assert not (tmp_path / "f.h5").exists()


def test_missing_file_read_only(tmp_path):
    with pytest.raises(FileNotFoundError):
        DH5(tmp_path / "missing.h5")
    with pytest.raises(ValueError):  # dh5 raised ValueError: still caught by such code
        DH5(tmp_path / "missing.h5", "r")
    assert issubclass(DH5FileNotFoundError, FileNotFoundError)
    assert not (tmp_path / "missing.h5").exists()


def test_path_is_directory(tmp_path):
    (tmp_path / "dir.h5").mkdir()
    with pytest.raises(IsADirectoryError):
        DH5(tmp_path / "dir.h5", "w")
    with pytest.raises(IsADirectoryError):
        DH5(tmp_path / "dir")


@pytest.mark.parametrize("name", ["somedir/", "somedir" + os.sep, "somedir/.h5", "somedir/.."])
def test_path_without_file_name_is_refused(tmp_path, name):
    """'somedir/' must not become the hidden file 'somedir/.h5'."""
    (tmp_path / "somedir").mkdir()
    target = str(tmp_path) + "/" + name
    with pytest.raises(ValueError, match="file name"):
        DH5(target, "w")
    d = DH5({"a": 1})
    with pytest.raises(ValueError, match="file name"):
        d.save(filepath=target)
    with pytest.raises(ValueError, match="file name"):
        d.filepath = target
    assert d.filepath is None
    assert not any(p.name == ".h5" for p in tmp_path.rglob("*"))


def test_empty_attribute_name_is_an_attribute_error():
    d = DH5({"a": 1})
    assert getattr(d, "", None) is None
    assert not hasattr(d, "")
    with pytest.raises(AttributeError):
        getattr(d, "")


def test_writable_new_file_not_created_until_something_written(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.save()
    assert not (tmp_path / "f.h5").exists()
    assert os.listdir(tmp_path) == [] or all(n.startswith(".") for n in os.listdir(tmp_path))


def test_in_memory(tmp_path):
    d = DH5({"a": 1, "b": {"c": 2}})
    assert d.a == 1 and d.b.c == 2
    assert d.filepath is None and d.filename is None
    with pytest.raises(ValueError, match="no file"):
        d.save()
    d.save(filepath=tmp_path / "copy")
    assert DH5(tmp_path / "copy.h5").asdict() == {"a": 1, "b": {"c": 2}}


def test_data_and_file(tmp_path):
    d = DH5(tmp_path / "f.h5", "w", data={"a": 1})
    d.save()
    assert DH5(tmp_path / "f.h5").a == 1


def test_bad_first_argument():
    with pytest.raises(TypeError):
        DH5(12)
    with pytest.raises(ValueError):
        DH5("a.h5", filepath="b.h5")
