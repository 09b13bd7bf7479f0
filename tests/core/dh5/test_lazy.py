import numpy as np
import pytest

from labmate_core.dh5 import DH5, LazyArray


@pytest.fixture
def path(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update(big=np.arange(1000.0).reshape(100, 10), s="text", g={"a": 1, "h": {"b": 2}})
    d.save()
    return tmp_path / "f.h5"


def _change_behind(path, **values):
    w = DH5(path, "a")
    w.update(values)
    w.save()


def test_lazy_open_reads_values_on_first_access(path):
    d = DH5(path, open_on_init=False)
    assert d.keys() == {"big", "s", "g"}
    _change_behind(path, s="changed later")  # not read at open: the access sees the new value
    assert d.s == "changed later"
    _change_behind(path, s="again")
    assert d.s == "changed later"  # now it is in memory


def test_lazy_groups_are_lazy_too(path):
    d = DH5(path, open_on_init=False)
    g = d.g
    assert g.keys() == {"a", "h"}
    _change_behind(path, g={"a": 5, "h": {"b": 6}})
    assert g.a == 5 and d["g/h/b"] == 6


def test_eager_open_reads_everything(path):
    d = DH5(path)
    _change_behind(path, s="changed later")
    assert d.s == "text"


def test_items_of_lazy_object(path):
    d = DH5(path, open_on_init=False)
    items = dict(d.items())
    assert items["s"] == "text" and items["big"].shape == (100, 10)


def test_get_lazy_slices_without_loading(path):
    d = DH5(path, open_on_init=False)
    lazy = d.get_lazy("big")
    assert isinstance(lazy, LazyArray)
    assert lazy.shape == (100, 10) and lazy.dtype == np.float64 and len(lazy) == 100
    assert lazy.ndim == 2 and lazy.size == 1000
    np.testing.assert_array_equal(lazy[3], np.arange(30.0, 40.0))
    np.testing.assert_array_equal(lazy[5:7, 2], [52.0, 62.0])
    np.testing.assert_array_equal(np.asarray(lazy), np.arange(1000.0).reshape(100, 10))
    _change_behind(path, big=np.zeros((100, 10)))
    assert lazy[0, 1] == 0.0  # every slice is a fresh read through the storage layer
    assert not d._is_loaded("big")
    np.testing.assert_array_equal(d.get_lazy("g/h/b")[()], 2)


def test_get_lazy_of_unsaved_value_gives_memory(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.x = np.arange(3)
    np.testing.assert_array_equal(d.get_lazy("x"), np.arange(3))
    with pytest.raises(KeyError):
        d.get_lazy("missing")


def test_get_lazy_of_group_raises(path):
    d = DH5(path)
    with pytest.raises(KeyError):
        d.get_lazy("g")


def test_keys_tree_of_lazy_object(path):
    d = DH5(path, open_on_init=False)
    assert d.keys_tree() == {"big": None, "s": None, "g": {"a": None, "h": {"b": None}}}


def test_lazy_key_deleted_on_disk(path):
    d = DH5(path, open_on_init=False)
    w = DH5(path, "a")
    del w.s
    w.save()
    with pytest.raises(KeyError):
        d["s"]


@pytest.mark.parametrize("lazy", [False, True])
def test_get_lazy_slice_opens_the_file_once(path, monkeypatch, lazy):
    from labmate_core.dh5 import storage

    d = DH5(path, open_on_init=not lazy)
    opened = []
    real = storage.open_read

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, "open_read", counting)
    part = d.get_lazy("big")[:10]
    assert len(opened) == 1
    assert part.shape[0] == min(10, d.get_lazy("big").shape[0])


def test_get_lazy_of_an_unloaded_group_raises_at_first_access(path):
    d = DH5(path, open_on_init=False)
    lazy = d.get_lazy("g")
    with pytest.raises(KeyError, match="not a dataset"):
        lazy[()]
