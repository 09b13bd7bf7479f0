"""Values: refused when the file cannot hold them exactly, naming the key; exact round trips;
compatible both ways with dh5 0.8.1 and labmate 0.10.9 (the real packages)."""

import shutil
import threading

import dh5
import h5py
import numpy as np
import pytest
from labmate.acquisition import AnalysisData as LabmateAnalysisData

from labmate_core.dh5 import DH5, UnstorableValueError

SURROGATE = b"run\xff.csv".decode("utf-8", "surrogateescape")


def _self_list():
    value = [1, "a"]
    value.append(value)
    return value


def _self_dict():
    value = {"a": 1}
    value["me"] = value
    return value


def _in_thread(func, *args):
    """Run ``func``; the exception it raised. A hang fails the test instead of hanging it."""
    out = {}

    def run():
        try:
            func(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), f"{func} hangs"
    return out.get("error")


@pytest.mark.parametrize(
    "make, key",
    [
        (_self_list, "x"),
        (lambda: [[0, _self_list()]], "x"),
        (lambda: {"inner": _self_dict()}, "x/inner/me"),
        (lambda: [_self_dict()], "x"),
    ],
)
@pytest.mark.parametrize("with_file", [True, False])
def test_a_value_that_contains_itself_is_refused_naming_the_key(tmp_path, make, key, with_file):
    d = DH5(tmp_path / "d.h5", "w") if with_file else DH5()
    d["ok"] = 1
    value = make()
    error = _in_thread(d.__setitem__, "x", value)
    if with_file or isinstance(value, dict):  # a file-less DH5 checks only its groups at once
        assert isinstance(error, UnstorableValueError)
        assert error.key == key and "contains itself" in str(error) and "\n" not in str(error)
        assert "x" not in d
        return
    assert error is None
    d.filepath = tmp_path / "later"
    error = _in_thread(d.save)
    assert isinstance(error, UnstorableValueError) and error.key == key
    d.save()  # the refused value no longer blocks anything
    assert DH5(tmp_path / "later").asdict() == {"ok": 1}


def test_a_cycle_added_after_assignment_is_refused_at_save(tmp_path):
    d = DH5(tmp_path / "d.h5", "w")
    value = [1, "a"]
    d.update(x=value, y=2)
    value.append(value)
    error = _in_thread(d.save)
    assert isinstance(error, UnstorableValueError) and error.key == "x"
    d.save()
    assert DH5(tmp_path / "d.h5").asdict() == {"y": 2}


def test_a_shared_list_is_not_a_cycle(tmp_path):
    row = [1.0, 2.0]
    d = DH5(tmp_path / "d.h5", "w")
    d.update(a=[row, row], b=[row, "t", row])
    d.save()
    back = DH5(tmp_path / "d.h5")
    np.testing.assert_array_equal(back.a, [row, row])
    assert back.b == [row, "t", row]


def test_a_lone_surrogate_is_refused_at_assignment_naming_the_key(tmp_path):
    d = DH5(tmp_path / "d.h5", "w")
    for key, value in (("name", SURROGATE), ("g", {"inner": SURROGATE}), ("f", [SURROGATE])):
        if key == "f":  # inside JSON it is escaped: stored and read back exactly
            d[key] = value
            continue
        with pytest.raises(UnstorableValueError, match="not valid UTF-8") as info:
            d[key] = value
        assert info.value.key in ("name", "g/inner") and "\n" not in str(info.value)
        assert key not in d
    with pytest.raises(ValueError, match="UTF-8"):
        d[SURROGATE] = 1
    d["other"] = "fine"
    d.save()
    assert DH5(tmp_path / "d.h5").asdict() == {"other": "fine", "f": [SURROGATE]}


def test_a_surrogate_never_blocks_later_saves(tmp_path):
    """A file-less DH5 accepts anything; once it has a file, the bad value is refused once,
    then every other key is saved and later saves work."""
    d = DH5()
    d.update(bad=SURROGATE, good=np.arange(3))
    d.filepath = tmp_path / "d"
    with pytest.raises(UnstorableValueError, match="'bad'"):
        d.save()
    d.save()
    d["more"] = 2
    d.save()
    back = DH5(tmp_path / "d.h5")
    assert back.keys() == {"good", "more"}


def test_a_value_hdf5_refuses_at_write_is_rolled_back_and_discarded(tmp_path):
    """The safety net: a value the encoder lets through but HDF5 refuses (an array of more than
    32 dimensions) rolls the save back, names the key and is dropped; the rest stays pending."""
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d["kept"] = 1
    d.save()
    before = path.read_bytes()
    d.update(deep=np.zeros((1,) * 33), new=5)
    with pytest.raises(UnstorableValueError, match="'deep'"):
        d.save()
    assert path.read_bytes() == before
    assert "deep" not in d and d._has_pending()
    d.save()
    assert DH5(path).asdict() == {"kept": 1, "new": 5}


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(2, dtype="V0"),
        np.zeros(2, dtype=[("a", "U3")]),
        np.zeros(2, dtype=[("t", "M8[s]")]),
        np.zeros(2, dtype=[("a", "f8"), ("o", "O")]),
    ],
)
def test_arrays_hdf5_cannot_hold_are_refused_at_assignment(tmp_path, array):
    d = DH5(tmp_path / "d.h5", "w")
    with pytest.raises(UnstorableValueError, match="unsupported") as info:
        d["a"] = array
    assert info.value.key == "a" and "a" not in d


def test_records_of_numbers_and_bytes_round_trip(tmp_path):
    array = np.array([(1.5, b"ab", [1, 2])], dtype=[("f", "f8"), ("s", "S2"), ("v", "i4", (2,))])
    d = DH5(tmp_path / "d.h5", "w")
    d["r"] = array
    d.save()
    back = DH5(tmp_path / "d.h5").r
    assert back.dtype == array.dtype and back.tobytes() == array.tobytes()


@pytest.mark.parametrize(
    "value",
    [
        [{1: "a", "1": "b"}],
        [{"x": {True: 1, "true": 2}}],
        [{None: 1, "null": 2}],
        [{1.5: 1, "1.5": 2}],
    ],
)
def test_dict_keys_that_would_collide_are_refused(tmp_path, value):
    d = DH5(tmp_path / "d.h5", "w")
    with pytest.raises(UnstorableValueError, match="would collide") as info:
        d["x"] = value
    assert info.value.key == "x" and "x" not in d


def test_non_string_keys_of_a_group_are_refused(tmp_path):
    d = DH5(tmp_path / "d.h5", "w")
    with pytest.raises(TypeError, match="Keys must be str"):
        d["x"] = {1: "a", "1": "b"}


TRICKY = {
    "raw": b"abc",
    "raw_binary": b"\xff\x00\x01"[:1] + b"\xfe",
    "raw_array": np.array([b"a", b"bc"]),
    "json_text": "__json__[1, 2]",
    "json_bad": "__json__not json",
    "function_text": "__function__def f():\n    return 1\n",
    "plain": "héllo",
}


def _check_ours(d):
    for key, value in TRICKY.items():
        got = d[key]
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)
        else:
            assert type(got) is type(value) and got == value, key


@pytest.mark.parametrize("lazy", [False, True])
def test_round_trips_are_exact(tmp_path, lazy):
    d = DH5(tmp_path / "d.h5", "w")
    d.update(TRICKY)
    d.save()
    _check_ours(DH5(tmp_path / "d.h5", open_on_init=not lazy))
    assert DH5(tmp_path / "d.h5").get_lazy("raw_array")[1:] == np.array([b"bc"])


def test_dh5_and_labmate_read_our_tricky_values_as_they_read_their_own(tmp_path):
    path = tmp_path / "ours.h5"
    d = DH5(path, "w")
    d.update(TRICKY)
    d.save()
    theirs = dh5.DH5(str(path))
    own = dh5.DH5(str(tmp_path / "theirs.h5"), "w")
    own.update(**{k: v for k, v in TRICKY.items() if k.startswith("raw") and k != "raw_binary"})
    own.save()
    own = dh5.DH5(str(tmp_path / "theirs.h5"))
    assert theirs["raw"] == own["raw"] == "abc"  # dh5 decodes bytes: the same for both files
    np.testing.assert_array_equal(theirs["raw_array"], own["raw_array"])
    assert theirs["raw_binary"].tobytes() == TRICKY["raw_binary"]  # opaque: the file still opens
    for key in ("json_text", "json_bad", "function_text", "plain"):
        assert theirs[key] == TRICKY[key], key  # exactly the user's text, never decoded
    copy = tmp_path / "for_labmate.h5"
    shutil.copy(path, copy)
    analysis = LabmateAnalysisData(copy, save_on_edit=False)
    for key in ("json_text", "json_bad", "function_text", "plain"):
        assert analysis[key] == TRICKY[key], key


def test_dh5_written_values_read_as_before(tmp_path):
    """What dh5 0.8.1 wrote reads as it always did: its bytes as str, its JSON as lists."""
    path = tmp_path / "theirs.h5"
    theirs = dh5.DH5(str(path), "w")
    theirs.update(raw=b"abc", words=["a", 1], text="__json__ is mine")
    theirs.save()
    ours = DH5(path)
    assert ours.raw == "abc" and type(ours.raw) is str
    assert ours.words == ["a", 1]
    with h5py.File(path, "r") as file:
        assert "__labmate_type__" not in file["raw"].attrs
        stored = file["text"][()]
    assert stored == b"__json__ is mine"
    assert ours.text == "__json__ is mine"  # not JSON: kept as the text it is


def test_labmate_written_loop_shape_still_reads(tmp_path):
    path = tmp_path / "loop.h5"
    with h5py.File(path, "w") as file:
        group = file.create_group("loop")
        group["__loop_shape__"] = "__json__[2, 3]"
        group["x"] = np.arange(6.0)
    assert DH5(path).loop["__loop_shape__"] == [2, 3]


def test_a_loop_shape_keeps_labmates_stored_form(tmp_path):
    """The library's own JSON text (a loop's ``__loop_shape__``) is written as is, not as a
    user's string: labmate 0.10.9 reads the loop back."""
    from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData

    aq = NotebookAcquisitionData(
        str(tmp_path / "acq"), cell="c", save_on_edit=False, experiment_name="acq"
    )
    aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        loop.append(x=float(i))
    aq.save()
    with h5py.File(tmp_path / "acq.h5", "r") as file:
        assert file["loop/__loop_shape__"][()] == b"__json__[3]"
    assert DH5(tmp_path / "acq").loop["__loop_shape__"] == [3]
    analysis = LabmateAnalysisData(tmp_path / "acq.h5", save_on_edit=False)
    np.testing.assert_array_equal(analysis["loop"]["x"], [0.0, 1.0, 2.0])
