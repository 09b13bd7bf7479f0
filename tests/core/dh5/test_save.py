import os

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5


class Unstorable:
    pass


def test_only_changed_keys_are_written(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.update(a=1, b=2)
    d.save()
    # change 'b' behind the object's back; saving only 'a' must not touch it
    with h5py.File(path, "a") as f:
        f["b"][()] = 99
    d.a = 5
    d.save()
    r = DH5(path)
    assert r.a == 5 and r.b == 99
    d.save(force=True)
    assert DH5(path).b == 2
    d.a = 6
    d.b = 7
    d.save(only_update=["a"])
    assert DH5(path).a == 6 and DH5(path).b == 2
    d.save()
    assert DH5(path).b == 7


def test_nothing_to_write_does_not_open_for_write(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.a = 1
    d.save()
    stat = os.stat(path)
    d.save()
    DH5(path, "a").save()
    assert os.stat(path).st_mtime_ns == stat.st_mtime_ns


def test_save_copy_to_other_filepath(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update(a=1, g={"b": 2})
    d.save(filepath=tmp_path / "copy")
    assert DH5(tmp_path / "copy.h5").asdict() == {"a": 1, "g": {"b": 2}}
    assert not (tmp_path / "f.h5").exists()  # own changes still pending
    d.save()
    assert DH5(tmp_path / "f.h5").a == 1


def test_unstorable_value_is_refused_on_assignment_and_drops_nothing(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.update(old=np.arange(3), keep="saved")
    d.save()
    before = path.read_bytes()
    d.pending = 1
    with pytest.raises(TypeError, match="'bad'"):
        d.update(good=1, bad=Unstorable(), old=None)
    assert {"good", "bad"}.isdisjoint(d.keys()) and "old" in d  # all or nothing
    with pytest.raises(TypeError, match="'bad'"):
        d.bad = Unstorable()
    assert "bad" not in d
    assert path.read_bytes() == before
    d.bad = 2
    d.save()
    assert DH5(path).keys() == {"old", "keep", "pending", "bad"}


def test_value_made_unstorable_after_assignment_is_dropped_at_save(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.update(keep="saved", lst=["a"])
    d.save()
    before = path.read_bytes()
    d.lst = ["b"]
    d.lst.append(Unstorable())  # mutated after the check on assignment
    d.g = {"inner": {"l": ["x"]}}
    d.g.inner.l.append(Unstorable())
    d.good = 1
    with pytest.raises(TypeError, match="'g/inner/l'") as info:
        d.save()
    assert "'lst'" in str(info.value)
    assert path.read_bytes() == before  # nothing written
    assert d.lst == ["a"]  # back to the saved value
    assert "l" not in d.g.inner  # never saved: gone
    d.save()  # the bad values are no longer pending: later saves work
    assert DH5(path).asdict() == {"keep": "saved", "lst": ["a"], "good": 1, "g": {"inner": {}}}


def test_unstorable_nested_value_names_full_key(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    with pytest.raises(TypeError, match="g/inner/bad"):
        d["g"] = {"inner": {"bad": Unstorable()}}
    assert "g" not in d
    in_memory = DH5({"g": {"inner": {"bad": Unstorable()}}})
    in_memory.filepath = tmp_path / "m.h5"
    with pytest.raises(TypeError, match="g/inner/bad"):
        in_memory.save()
    assert not (tmp_path / "f.h5").exists() and not (tmp_path / "m.h5").exists()


def test_save_on_edit_refuses_unstorable_before_changing_memory(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w=")
    d.x = 1
    with pytest.raises(TypeError, match="'x'"):
        d.x = Unstorable()
    assert d.x == 1
    with pytest.raises(TypeError):
        d.update(y=2, z=Unstorable())
    assert "y" not in d
    d.y = 3  # later edits still work
    assert DH5(path).asdict() == {"x": 1, "y": 3}


def test_save_on_edit_writes_every_change(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w=")
    d.a = 1
    assert DH5(path).a == 1
    d["g/b"] = 2
    assert DH5(path).g.b == 2
    d.g.c = 3
    assert DH5(path).g.c == 3
    del d.a
    assert "a" not in DH5(path)
    d.update(u=1, v=2)
    assert DH5(path).keys() == {"g", "u", "v"}


def test_overwrite_keeps_old_file_until_replaced(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.old = "content"
    d.save()
    new = DH5(path, "w", overwrite=True)
    with pytest.raises(TypeError):
        new.bad = Unstorable()
    new.lst = ["ok"]
    new.lst.append(Unstorable())
    with pytest.raises(TypeError):
        new.save()
    assert DH5(path).old == "content"
    new.bad = 1
    new.save()
    assert DH5(path).asdict() == {"bad": 1}


def test_dict_value_replaces_group(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.g = {"a": 1, "b": 2}
    d.save()
    d.g = {"c": 3}
    d.save()
    assert DH5(path).g.keys() == {"c"}


def test_child_save_writes_its_subtree(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.g = {"a": 1}
    d.top = 1
    d.save()
    d.g.b = 2
    d.top = 2
    d.g.save()
    r = DH5(path)
    assert r.g.b == 2 and r.top == 1


def test_growing_array_file_stays_small(tmp_path):
    path = tmp_path / "grow.h5"
    d = DH5(path, "w")
    d.other = np.ones(1000)
    for step in range(1, 21):
        d.x = np.arange(step * 10_000, dtype=np.float64)
        d.save()
        d = DH5(path, "a")  # separate saves, separate opens
    live = 20 * 10_000 * 8 + 1000 * 8
    assert os.path.getsize(path) < 1.5 * live, (os.path.getsize(path), live)


def test_rewriting_same_shape_array_in_place(tmp_path):
    path = tmp_path / "same.h5"
    d = DH5(path, "w")
    d.x = np.zeros(100_000)
    d.save()
    size = os.path.getsize(path)
    for i in range(5):
        d.x = np.full(100_000, float(i))
        d.save()
    assert os.path.getsize(path) <= size
    assert DH5(path).x[0] == 4.0


def test_one_save_that_removes_replaces_and_nests_keys(tmp_path):
    """The parents looked up during a save are forgotten when a key is removed or replaced."""
    path = tmp_path / "mixed.h5"
    d = DH5(str(path), overwrite=True, save_on_edit=False)
    d.update({"g/a": 1, "g/b": 2, "h/x": 3})
    d.save()
    del d["g"]
    d.update({"g/c": 4, "h": {"y": 5}, "k/l/m": 6})
    d.save()
    back = DH5(str(path))
    assert dict(back["g"]) == {"c": 4}
    assert dict(back["h"]) == {"y": 5}
    assert back["k"]["l"]["m"] == 6


def test_a_save_refuses_a_file_open_for_writing_elsewhere_and_loses_nothing(tmp_path):
    """A plain h5py writer would overwrite what we write in place when it flushes."""
    from labmate_core.dh5 import storage

    path = tmp_path / "busy.h5"
    d = DH5(str(path), overwrite=True, save_on_edit=False)
    d["a"] = 1
    d.save()
    d["b"] = 2
    other = h5py.File(path, "a")  # a plain h5py writer, HDF5's own lock held
    try:
        with pytest.raises(storage.FileBusyError, match="open for writing elsewhere"):
            d.save()
    finally:
        other.close()
    d.save()  # still pending, written now
    back = DH5(str(path))
    assert back["a"] == 1 and back["b"] == 2
