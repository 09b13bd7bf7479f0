import dh5
import h5py
import numpy as np
import pytest
from dh5_type_table import add, assert_same, table

from labmate_core.dh5 import DH5, StoredFunction


def _write(path):
    d = DH5(path, "w")
    for name, value, _ in table():
        d[name] = value
    d["func"] = add
    d.save()


def _plain(value):
    return value.asdict() if hasattr(value, "asdict") else value


@pytest.mark.parametrize("lazy", [False, True])
def test_round_trip(tmp_path, lazy):
    path = tmp_path / "t.h5"
    _write(path)
    d = DH5(path, open_on_init=not lazy)
    for name, _, expected in table():
        assert_same(_plain(d[name]), expected)
    assert isinstance(d.func, StoredFunction)
    assert d.func.eval(2, 3) == 5 and d.func(1, 1) == 2


def test_our_files_open_in_dh5(tmp_path):
    path = tmp_path / "t.h5"
    _write(path)
    theirs = dh5.DH5(str(path))
    for name, _, expected in table():
        assert_same(theirs[name], expected)
    assert theirs.func.eval(2, 3) == 5


def test_dh5_files_open_in_ours(tmp_path):
    path = tmp_path / "theirs.h5"
    theirs = dh5.DH5(str(path), "w")
    values = {
        "s": "txt",
        "n": 3,
        "f": 1.5,
        "c": 1j,
        "b": False,
        "a": np.arange(6).reshape(2, 3),
        "words": ["x", "y"],
        "g": {"k": np.arange(2)},
    }
    theirs.update(**values)
    theirs["func"] = add
    theirs.save()
    ours = DH5(path)
    assert ours.s == "txt" and ours.n == 3 and ours.f == 1.5 and ours.c == 1j
    assert ours.b == np.False_ and ours.words == ["x", "y"]
    np.testing.assert_array_equal(ours.a, values["a"])
    np.testing.assert_array_equal(ours.g.k, np.arange(2))
    assert ours.func.eval(1, 2) == 3


def test_same_bytes_layout_as_dh5(tmp_path):
    """Strings, json and scalars have exactly dh5's HDF5 types."""
    ours, theirs = DH5(tmp_path / "o.h5", "w"), dh5.DH5(str(tmp_path / "t.h5"), "w")
    for d in (ours, theirs):
        d.update(s="héllo", j=["a", 1], n=7, f=2.5, c=1 + 2j, b=True, a=np.arange(3.0))
        d.save()
    with h5py.File(tmp_path / "o.h5", "r") as fo, h5py.File(tmp_path / "t.h5", "r") as ft:
        for key in ft:
            assert fo[key].dtype == ft[key].dtype
            assert fo[key].id.get_type().get_class() == ft[key].id.get_type().get_class()
            assert fo[key].shape == ft[key].shape
            assert h5py.check_string_dtype(fo[key].dtype) == h5py.check_string_dtype(ft[key].dtype)
            if not fo[key].shape:
                assert fo[key][()] == ft[key][()]


def test_lambda_and_indented_function(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.lam = lambda x: x * 2  # noqa: E731

    class Holder:
        @staticmethod
        def method(x):
            return x + 1

    d.meth = Holder.method
    d.save()
    r = DH5(tmp_path / "f.h5")
    assert r.lam.eval(3) == 6 and r.meth.eval(1) == 2


def test_empty_list_is_an_empty_array(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.e = []
    d.save()
    assert DH5(tmp_path / "f.h5").e.shape == (0,)


class Unstorable:
    pass


@pytest.mark.parametrize(
    "value",
    [Unstorable(), [Unstorable()], {"inner": Unstorable()}, 2**80, print, np.array([1], "M8[s]")],
)
def test_unstorable_value_raises_type_error(tmp_path, value):
    d = DH5(tmp_path / "f.h5", "w")
    with pytest.raises(TypeError, match="bad"):
        d.bad = value
    in_memory = DH5({"bad": value})  # no file yet: checked when it gets one
    with pytest.raises(TypeError, match="bad"):
        in_memory.save(filepath=tmp_path / "g.h5")
    assert not (tmp_path / "f.h5").exists() and not (tmp_path / "g.h5").exists()


@pytest.mark.parametrize("value", ["a\x00b", b"a\x00b", {"inner": "\x00"}, np.str_("\x00")])
@pytest.mark.parametrize("mode", ["w", "w="])
def test_string_with_nul_is_refused_before_anything_is_written(tmp_path, value, mode):
    """HDF5 strings end at a NUL: refused with a TypeError naming the key, nothing pending."""
    path = tmp_path / "f.h5"
    d = DH5(path, mode)
    d.keep = 1
    d.save()
    d.pending = 2
    before = path.read_bytes()
    with pytest.raises(TypeError, match="'bad") as info:
        d.bad = value
    assert "NUL" in str(info.value)
    assert "bad" not in d and path.read_bytes() == before
    d.save()  # later saves work, nothing pending is lost
    assert DH5(path).asdict() == {"keep": 1, "pending": 2}
    with pytest.raises(TypeError, match="'bad"):
        d.update(other=3, bad=value)
    assert "other" not in d


def test_json_list_keeps_nul_characters(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.words = ["a\x00b", "c"]  # stored as JSON, where NUL is escaped
    d.save()
    assert DH5(tmp_path / "f.h5").words == ["a\x00b", "c"]


@pytest.mark.parametrize("key", ["a\x00b", "g/\x00", ("g", "x\x00")])
def test_key_with_nul_is_refused(tmp_path, key):
    d = DH5(tmp_path / "f.h5", "w")
    with pytest.raises(ValueError, match="NUL"):
        d[key] = 1
    with pytest.raises(TypeError, match="NUL"):
        d["g"] = {"x\x00": 1}
    assert not d.keys()
    d.save()
    assert not (tmp_path / "f.h5").exists()
