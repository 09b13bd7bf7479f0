import collections.abc

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5, ReadOnlyKeyError


@pytest.fixture
def path(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update({"x": np.arange(4.0), "0": "zero"}, s="text", nested={"a": 1, "inner": {"b": 2}})
    d.save()
    return tmp_path / "f.h5"


def test_all_accessors(path):
    d = DH5(path)
    assert d["s"] == d.s == d.get("s") == "text"
    assert d["nested", "a"] == d.nested.a == d["nested"]["a"] == d["nested/a"] == 1
    assert d["nested", "inner", "b"] == d.nested.inner.b == d["nested/inner/b"] == 2
    assert d.i0 == "zero"
    assert d.keys() == {"x", "0", "s", "nested"}
    assert isinstance(d.keys(), set)
    assert d.keys_tree() == {
        "x": None,
        "0": None,
        "s": None,
        "nested": {"a": None, "inner": {"b": None}},
    }
    assert set(d) == d.keys() and len(d) == 4
    assert "s" in d and "nested/inner" in d and ("nested", "a") in d and "zz" not in d
    assert dict(d.items())["s"] == "text"
    assert len(d.values()) == 4
    assert d.get("missing", 5) == 5 and d.get("missing") is None
    assert d.get_raw("nested") == {"a": 1, "inner": {"b": 2}}
    assert isinstance(d.get("nested"), DH5)
    assert isinstance(d, collections.abc.Mapping)
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(AttributeError):
        _ = d.missing
    assert not hasattr(d, "_private")


def test_asdict(path):
    out = DH5(path).asdict()
    assert out["nested"] == {"a": 1, "inner": {"b": 2}}
    np.testing.assert_array_equal(out["x"], np.arange(4.0))
    assert type(out["nested"]) is dict


def test_repr_readable(path):
    text = repr(DH5(path))
    assert "x: array float64 (4,)" in text and "nested/" in text and "[r]" in text
    lazy = repr(DH5(path, open_on_init=False))  # described from the file, nothing loaded
    assert lazy.splitlines()[1:] == text.splitlines()[1:] and "<not loaded>" not in lazy
    d = DH5(path, "a")
    d.new = 1
    assert "(not saved)" in repr(d)
    assert "in memory" in repr(DH5({"a": 1}))


def test_slash_and_tuple_are_the_same(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d["a/b"] = 1
    d["a", "c"] = 2
    d["a"]["d"] = 3
    d.a.e = 4
    assert d["a", "b"] == 1 and d["a/c"] == 2
    d.save()
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert sorted(f["a"].keys()) == ["b", "c", "d", "e"]
    r = DH5(tmp_path / "f.h5")
    assert r["a/d"] == r["a", "d"] == 3
    d["a/b"] = None
    del d["a", "c"]
    d.save()
    assert DH5(tmp_path / "f.h5").a.keys() == {"d", "e"}


def test_update_pop_remove_del(path):
    d = DH5(path, "a")
    d.update({"k1": 1}, k2=2)
    assert d.pop("k1") == 1
    np.testing.assert_array_equal(d.pop("x"), np.arange(4.0))
    assert d.pop("missing", "dflt") == "dflt"
    with pytest.raises(KeyError):
        d.pop("missing")
    d.remove("s")
    del d["0"]
    del d.k2
    d.save()
    assert DH5(path).keys() == {"nested"}


class _Unstorable:
    pass


@pytest.mark.parametrize(
    "bad",
    [
        {"bad": _Unstorable()},  # unstorable value
        {"bad": {"inner": ["ok", _Unstorable()]}},  # unstorable nested value
        {"s/t": 1},  # under a value that is not a group
        {"x2": 1, "x2/y": 2},  # under a value set by the same update
        {"g": {1: 2}},  # bad nested key
    ],
)
@pytest.mark.parametrize("mode", ["a", "a="])
def test_update_is_all_or_nothing(path, bad, mode):
    d = DH5(path, mode)
    before = path.read_bytes()
    with pytest.raises((TypeError, KeyError, ValueError)):
        d.update({"new": 1, "s": "changed", "nested/a": 5, **bad})
    assert "new" not in d and d.s == "text" and d.nested.a == 1 and "x2" not in d
    assert not d._has_pending() and path.read_bytes() == before
    d.update(new=1)  # the object still works
    d.save()
    assert DH5(path).new == 1


def test_update_in_memory_is_all_or_nothing():
    d = DH5({"a": 1})
    with pytest.raises((TypeError, ValueError)):
        d.update(b=2, g={1: 2})
    with pytest.raises(KeyError, match="not a group"):
        d.update({"c": 3, "a/b": 4})
    assert d.keys() == {"a"}
    d.update({"x": None, "x/y": 1, "h": {"i": 1}, "h/j": 2})  # later pairs may go inside
    assert d.asdict() == {"a": 1, "x": {"y": 1}, "h": {"i": 1, "j": 2}}


def test_none_deletes(path):
    d = DH5(path, "a")
    d.s = None
    assert "s" not in d
    d.save()
    assert "s" not in DH5(path)
    d.never = None
    assert "never" not in d


def test_locks(path):
    d = DH5(path, "a")
    d.lock_data(["s", "nested"])
    with pytest.raises(ReadOnlyKeyError):
        d.s = "new"
    with pytest.raises(ReadOnlyKeyError):
        d["nested", "a"] = 5
    with pytest.raises(ReadOnlyKeyError):
        d.nested.a = 5
    with pytest.raises(ReadOnlyKeyError):
        del d.s
    with pytest.raises(ReadOnlyKeyError):
        d.update(x=1, s=2)
    assert "x" in d and np.array_equal(d.x, np.arange(4.0))  # update is all or nothing
    with pytest.raises(KeyError):
        d.pop("s")
    d.x = 1  # not locked
    d.unlock_data("s")
    d.s = "new"
    d.lock_data()
    with pytest.raises(ReadOnlyKeyError):
        d.x = 2
    d.unlock_data()
    d.x = 3
    d.new_key = 1  # new keys are always allowed
    assert issubclass(ReadOnlyKeyError, KeyError)


def test_locks_on_read_only_object(path):
    d = DH5(path)
    with pytest.raises(ValueError):
        d.lock_data()
    with pytest.raises(ValueError):
        d.unlock_data()


def test_locked_array_is_a_read_only_view(path):
    d = DH5(path, "a")
    stored = d.x
    d.lock_data("x")
    view = d.x
    assert np.shares_memory(view, stored)  # no copy
    with pytest.raises(ValueError):
        view[0] = 100
    with pytest.raises(ValueError):
        view.flags.writeable = True  # loaded from the file: the buffer itself is frozen
    assert d.x[0] == 0
    d.unlock_data("x")
    d.x[0] = 100  # unlocked again: mutable
    assert d.x[0] == 100


def _assert_sealed(view, original):
    assert np.shares_memory(view, original)  # O(1): no copy
    with pytest.raises(ValueError):
        view[0] = 100
    with pytest.raises(ValueError):
        view.flags.writeable = True


def test_in_memory_array_locked_is_a_sealed_view(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    mine = np.zeros(5)
    d.x = mine
    d.g = {"y": np.ones(3), "inner": {"z": np.arange(4)}}
    d.lock_data(["x", "g"])
    _assert_sealed(d.x, mine)
    for read in (lambda: d.g.y, lambda: d["g/y"], lambda: d.g["inner"].z, lambda: d.get("g/y")):
        _assert_sealed(read(), read())
    _assert_sealed(d.g.asdict()["inner"]["z"], d["g/inner/z"])
    assert mine.flags.writeable  # the caller's own array is left alone
    assert d.x[0] == 0 and d.g.y[0] == 1
    d.unlock_data()
    d.x[0] = 7
    d.g.y[0] = 8
    assert mine[0] == 7 and d.g.y[0] == 8


def test_locked_group_from_file_arrays_are_sealed(path):
    d = DH5(path, "a")
    d.nested.arr = np.arange(3.0)
    d.save()
    d = DH5(path, "a")
    d.lock_data("nested")
    _assert_sealed(d.nested.arr, d.nested.arr)
    d.unlock_data("nested")
    d.nested.arr[0] = 5
    assert d.nested.arr[0] == 5


def test_unlock_all_clears_nested_locks(path):
    d = DH5(path, "a")
    d.lock_data(["nested/a", "nested/inner/b"])
    with pytest.raises(ReadOnlyKeyError):
        d.nested.a = 2
    d.unlock_data()
    d.nested.a = 2
    d["nested/inner/b"] = 3
    assert d.nested.inner.b == 3
    d.lock_data("nested/inner/b")
    d.nested.unlock_data()  # a sub-object unlocks its subtree
    d.nested.inner.b = 4


def test_read_only_file_arrays_cannot_be_mutated(path):
    d = DH5(path)
    with pytest.raises(ValueError):
        d.x[0] = 5
    with pytest.raises(ValueError):
        d.x.flags.writeable = True
    assert d.x is not None and d.x[0] == 0


def test_locked_list_is_copied(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.words = ["a", "b"]
    d.lock_data()
    d.words.append("c")
    assert d.words == ["a", "b"]


@pytest.mark.parametrize("key", ["", "a//b", "/a", "a/", ".", 5, None, 1.5, ()])
def test_bad_keys(tmp_path, key):
    d = DH5(tmp_path / "f.h5", "w=")
    with pytest.raises((TypeError, ValueError)):
        d[key] = 1
    with pytest.raises((TypeError, ValueError)):
        d.update({key: 1})
    assert not (tmp_path / "f.h5").exists()


def test_bad_nested_key_in_dict_value(tmp_path):
    d = DH5(tmp_path / "f.h5", "w=")
    with pytest.raises((TypeError, ValueError)):
        d["a"] = {1: 2}
    assert "a" not in d


def test_setting_under_a_dataset_is_refused(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.x = 1
    with pytest.raises(KeyError, match="not a group"):
        d["x/y"] = 2


def test_close_data_and_reload(path):
    d = DH5(path, "a")
    d.close_data("x")
    assert "x" in d and not d._is_loaded("x")
    np.testing.assert_array_equal(d.x, np.arange(4.0))
    d.s = "unsaved"
    d.close_data()  # keeps unsaved keys
    assert d.s == "unsaved"
    with pytest.raises(ValueError):
        d.close_data("s")
    with pytest.raises(ValueError):
        DH5({"a": 1}).close_data()


def test_load_key_and_other_file(path, tmp_path):
    other = DH5(tmp_path / "other.h5", "w")
    other.update(o=1, s="from other")
    other.save()
    d = DH5(path, "a", open_on_init=False)
    d.load(key="s")
    assert d._is_loaded("s") and not d._is_loaded("x")
    d.load(filepath=tmp_path / "other")
    assert d.o == 1 and d.s == "from other"
    d.save()
    assert DH5(path).o == 1


def test_load_slash_key_nests(path, tmp_path):
    """load(key='a/b') loads 'b' inside the group 'a', never a literal key 'a/b'."""
    d = DH5(path, "a", open_on_init=False)
    d.load(key="nested/inner/b")
    assert not d._is_loaded("nested/inner/b") and d.keys() == {"x", "0", "s", "nested"}
    assert dict(d.nested.inner._loaded_items()) == {"b": 2} and d.nested._is_unloaded("a")
    other = DH5(tmp_path / "other.h5", "w")
    other.update({"nested/inner/b": 20, "nested/new": 3, "g/h": 4})
    other.save()
    d.load(filepath=tmp_path / "other", key=["nested/inner/b", "g/h"])
    assert d["nested/inner/b"] == 20 and d.g.h == 4
    d.save()
    saved = DH5(path)
    assert saved.keys() == {"x", "0", "s", "nested", "g"} and saved.g.asdict() == {"h": 4}
    assert saved.nested.asdict() == {"a": 1, "inner": {"b": 20}}  # 'nested/new' not loaded
    with pytest.raises(KeyError):
        d.load(filepath=tmp_path / "other", key="nested/missing")


def test_pull(path):
    reader = DH5(path)
    assert not reader.pull_available()
    writer = DH5(path, "a")
    writer.s = "changed"
    writer.save()
    assert reader.pull_available()
    assert reader.s == "text"
    reader.pull()
    assert reader.s == "changed" and not reader.pull_available()
    reader.pull(force_pull=True)
    assert reader.s == "changed"


def test_pull_keeps_unsaved(path):
    d = DH5(path, "a")
    d.s = "mine"
    other = DH5(path, "a")
    other.x = 5
    other.save()
    d.pull()
    assert d.s == "mine" and d.x == 5


def test_in_memory_pull_raises():
    with pytest.raises(ValueError):
        DH5({"a": 1}).pull_available()


def test_dir_lists_keys(path):
    assert "nested" in dir(DH5(path))


def test_filepath_setter_saves_everything_there(path, tmp_path):
    d = DH5(path, "a", open_on_init=False)
    d.filepath = tmp_path / "moved"
    d.save()
    assert DH5(tmp_path / "moved.h5").keys() == {"x", "0", "s", "nested"}
