"""dh5 0.8.1's public names in labmate_core.dh5: load/save, jsn, Path, SyncNp, helper names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labmate_core.dh5 import (
    DH5,
    Function,
    ReadOnlyKeyError,
    SyncNp,
    function_to_str,
    jsn,
    load,
    save,
)
from labmate_core.dh5.compat import (
    del_dict,
    get_path_from_filename,
    keys_h5,
    lstrip_int,
    open_h5,
    save_dict,
    sleep,
)
from labmate_core.dh5.errors import FileLockedError
from labmate_core.dh5.path import Path, get_file_path


def test_save_then_load(tmp_path):
    target = tmp_path / "data"
    data = {"a": 1, "b": {"c": np.arange(3)}}
    saved = save(data, target)
    assert saved.h5_path == str(target) + ".h5"
    back = load(target, "r")
    assert back["a"] == 1 and np.array_equal(back["b"]["c"], np.arange(3))
    with pytest.raises(ReadOnlyKeyError):
        back["a"] = 2
    with pytest.raises(FileExistsError):
        save(data, target)
    save({"z": 3}, target, mode="a")
    assert load(target).asdict().keys() == {"a", "b", "z"}
    save({"y": 4}, target, overwrite=True)
    assert load(target).asdict() == {"y": 4}
    with pytest.raises(ValueError, match="mode"):
        save({"y": 4}, target, mode="r")


def test_save_copies_the_data(tmp_path):
    data = {"a": [1, 2]}
    save(data, tmp_path / "f").save()
    data["a"].append(3)
    assert list(load(tmp_path / "f")["a"]) == [1, 2]


def test_jsn_round_trip_and_numbers(tmp_path):
    class Text:
        def __str__(self) -> str:
            return "txt"

    written = jsn.write("settings", {"b": [1, 2.5], "a": Text(), "n": "-12"}, path=tmp_path)
    assert written == tmp_path / "settings.json"
    text = written.read_text()
    assert text.index('"a"') < text.index('"b"')  # sorted keys
    assert jsn.read(tmp_path / "settings") == {"a": "txt", "b": [1, 2.5], "n": -12}
    assert jsn.read("settings.json", path=tmp_path, decoder=json.JSONDecoder)["n"] == "-12"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically


def test_path_helpers(tmp_path):
    path = Path("dir/file")
    assert path + ".h5" == Path("dir/file.h5")
    assert path.make_extension("json") == Path("dir/file.json")
    assert Path("a.csv").make_extension(["txt", ".csv"]) == Path("a.csv")
    with pytest.raises(ValueError):
        path.make_extension(1)  # type: ignore[arg-type]
    assert path.dirname == Path("dir") and path.basename == Path("file")
    (Path(tmp_path) / "x" / "y.txt").makedirs()
    assert (tmp_path / "x").is_dir() and not (tmp_path / "x" / "y.txt").exists()
    assert get_file_path("f", path="p", extension=".json") == Path("p/f.json")


def test_name_helpers():
    assert lstrip_int("2023_01_10__12_14_15__scan__3") == ("2023_01_10__12_14_15", "scan", "3")
    assert lstrip_int("12_ab__x") == ("12", "ab__x", "")
    assert lstrip_int("abc") is None and lstrip_int("1a_b") is None
    assert get_path_from_filename("2023_01_10__12_14_15__scan.h5") == (
        "scan",
        "2023_01_10__12_14_15__scan",
    )
    assert get_path_from_filename("dir/f.h5") == "dir/f.h5"
    assert get_path_from_filename("plain.h5") == "plain"


def test_open_h5_and_keys(tmp_path):
    save({"a": 1, "g": {"b": 2}}, tmp_path / "f")
    assert open_h5(tmp_path / "f.h5") == {"a": 1, "g": {"b": 2}}
    assert open_h5(tmp_path / "f.h5", key="a") == {"a": 1}
    assert open_h5(tmp_path / "f.h5", key_prefix="g") == {"b": 2}
    assert keys_h5(tmp_path / "f.h5") == {"a", "g"}


def test_function():
    func = Function("def add(a, b): return a + b")
    assert func.code == "def current_func(a, b): return a + b\n"
    with pytest.raises(ImportError):
        func(1, 2)
    assert func.eval(1, 2) == 3 and func(2, 2) == 4
    with pytest.raises(ValueError):
        Function("").eval()
    with pytest.raises(SyntaxError):
        Function("def f(a): return a +").eval(1)

    def hello() -> str:
        return "hi"

    assert 'return "hi"' in function_to_str(hello)
    with pytest.raises(ValueError):
        function_to_str(2)


@pytest.mark.parametrize("save_on_edit", [True, False])
def test_syncnp_changes_reach_the_file(tmp_path, save_on_edit):
    d = DH5(tmp_path / "f.h5", save_on_edit=save_on_edit, overwrite=True)
    d["x"] = SyncNp((4, 3))
    d.save()
    d["x"][1, :] = [1, 2, 3]
    if save_on_edit:
        assert np.array_equal(DH5(tmp_path / "f.h5")["x"][1], [1, 2, 3])  # written at once
    else:
        assert not DH5(tmp_path / "f.h5")["x"].any()
        d["x"].save()
    expected = np.zeros((4, 3))
    expected[1] = [1, 2, 3]
    assert np.array_equal(DH5(tmp_path / "f.h5")["x"], expected)
    assert np.array_equal(d["x"], expected)


def test_syncnp_forms_and_unbound_save(tmp_path):
    assert np.array_equal(SyncNp([1, 2]), [1, 2]) and SyncNp((2, 2)).shape == (2, 2)
    s = SyncNp(np.arange(3))
    assert SyncNp(s) is s and type(s.asarray()) is np.ndarray
    s.save()  # unchanged: nothing to save, fine
    s[0] = 5
    with pytest.raises(ValueError, match="not a value of a DH5"):
        s.save()


def test_syncnp_replaced_is_no_longer_followed(tmp_path):
    d = DH5(tmp_path / "f.h5", "w=")
    old = d["x"] = SyncNp(np.zeros(3))
    d["x"] = np.ones(3)
    old[0] = 7  # old array: the file keeps the new value
    assert np.array_equal(DH5(tmp_path / "f.h5")["x"], np.ones(3))


def test_syncnp_of_a_locked_key_refuses_changes(tmp_path):
    d = DH5(tmp_path / "f.h5", "w=")
    d["x"] = SyncNp(np.zeros(3))
    d.lock_data("x")
    with pytest.raises(ValueError, match="read-only"):  # a locked key gives a read-only view
        d["x"][0] = 1
    assert not DH5(tmp_path / "f.h5")["x"].any()


def test_dh5_object_protocols(tmp_path):
    class Kept:
        __should_not_be_converted__ = True
        inited: dict | None = None
        posted = False

        def __init__filepath__(self, *, filepath: str, filekey: str, save_on_edit: bool, **_):
            self.inited = {"filepath": filepath, "filekey": filekey, "save_on_edit": save_on_edit}

        def __post__init__(self) -> None:
            self.posted = True

        def asdict(self) -> dict:
            return {"a": 5}

    d = DH5(tmp_path / "f.h5", "w=")
    d["g/t"] = kept = Kept()
    assert d["g/t"] is kept and kept.posted
    assert kept.inited == {
        "filepath": str(tmp_path / "f.h5"),
        "filekey": "g/t",
        "save_on_edit": True,
    }
    assert "Kept" in repr(d)
    assert DH5(tmp_path / "f.h5")["g/t"].asdict() == {"a": 5}  # stored through asdict()


def test_similar(tmp_path):
    DH5(tmp_path / "f.h5", "w").update(a=1).save()
    assert DH5(tmp_path / "f.h5").__similar__(DH5(tmp_path / "f.h5", "r"))
    assert DH5(tmp_path / "f.h5", "a").__similar__(DH5(tmp_path / "f.h5", "a"))
    assert not DH5(tmp_path / "f.h5", "a").__similar__(DH5(tmp_path / "f.h5", "a="))
    assert not DH5(tmp_path / "f.h5", "w", overwrite=True).__similar__(DH5(tmp_path / "f.h5", "a"))


def test_pull_without_file_is_a_clear_error():
    with pytest.raises(ValueError, match="no file"):
        DH5().pull(force_pull=True)


def test_save_dict_and_del_dict(tmp_path):
    path = tmp_path / "sub" / "f.h5"
    path.parent.mkdir()
    assert save_dict(path, {"a": 1, "b": {"c": 2}}) > 0
    save_dict(path, {"d": 3, "c": None}, key_prefix="b")
    assert open_h5(path) == {"a": 1, "b": {"d": 3}}
    del_dict(path, "d", key_prefix="b")
    del_dict(path, "a")
    assert open_h5(path) == {"b": {}}
    with pytest.raises(ValueError, match="uncompressed"):
        save_dict(path, {"x": 1}, use_compression=True)


def test_errors_and_sleep():
    from labmate_core.dh5 import storage

    assert FileLockedError is storage.LockTimeout
    sleep(0.001)
