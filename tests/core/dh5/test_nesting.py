import numpy as np

from labmate_core.dh5 import DH5


class Loop(DH5):
    """A minimal stand-in for the acquisition loop: an in-memory DH5 nested as a value."""

    def __init__(self):
        super().__init__()
        self._attached = 0

    def _on_attach(self):
        self._attached += 1

    def start(self, n):
        self["x"] = np.zeros(n)

    def append(self, i, value):
        self.write_slice("x", i, value)


def test_nested_dh5_saves_itself_under_its_key(tmp_path):
    path = tmp_path / "f.h5"
    parent = DH5(path, "w=")
    parent.other = 1
    parent["loop"] = loop = Loop()
    assert loop._attached == 1
    assert loop.key_prefix == "loop" and loop.h5_path == str(path)
    loop.start(5)
    for i in range(5):
        loop.append(i, i * 10.0)
        np.testing.assert_array_equal(DH5(path).loop.x[: i + 1], np.arange(i + 1) * 10.0)
    loop["meta"] = "done"
    r = DH5(path)
    assert r.loop.meta == "done" and r.other == 1


def test_nested_dh5_with_content_and_manual_save(tmp_path):
    path = tmp_path / "f.h5"
    parent = DH5(path, "w")
    loop = Loop()
    loop["a"] = 1
    parent.loop = loop
    loop.start(3)
    loop.append(0, 5.0)
    parent.save()
    r = DH5(path)
    assert r.loop.a == 1 and list(r.loop.x) == [5.0, 0.0, 0.0]
    loop.append(1, 6.0)
    loop.save()
    assert list(DH5(path).loop.x) == [5.0, 6.0, 0.0]


def test_nested_in_a_group(tmp_path):
    path = tmp_path / "f.h5"
    parent = DH5(path, "w=")
    parent["g/loop"] = loop = Loop()
    loop.start(2)
    loop.append(1, 3.0)
    assert loop.key_prefix == "g/loop"
    assert list(DH5(path)["g", "loop", "x"]) == [0.0, 3.0]


def test_dh5_with_its_own_file_is_copied(tmp_path):
    src = DH5(tmp_path / "src.h5", "w")
    src.a = 1
    src.save()
    parent = DH5(tmp_path / "f.h5", "w")
    parent.copy = DH5(tmp_path / "src.h5")
    parent.save()
    assert DH5(tmp_path / "f.h5").copy.a == 1


def test_sub_object_from_get_shares_file(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.g = {"a": 1}
    d.save()
    d2 = DH5(path, "a")
    sub = d2.get("g")
    sub.b = 2
    sub.save()
    assert DH5(path).g.asdict() == {"a": 1, "b": 2}
