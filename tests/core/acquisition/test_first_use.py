"""AnalysisData opened lazily: keys listed and locked at first use, first key read in that open."""

from __future__ import annotations

import numpy as np
import pytest

from labmate_core.acquisition.analysis_data import AnalysisData
from labmate_core.dh5 import DH5, ReadOnlyKeyError, storage


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "run.h5"
    DH5(path, "w").update(x=np.arange(5.0), g={"y": 1}, text="t").save()
    return path


@pytest.fixture
def opens(monkeypatch):
    """Counts the real opens of files (storage.open_read, called through)."""
    count = [0]
    real = storage.open_read

    def counting(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, "open_read", counting)
    return count


def test_one_open_for_the_first_key(path, opens):
    d = AnalysisData(path, open_on_init=False)
    assert opens[0] == 0
    assert d.x.tolist() == [0, 1, 2, 3, 4]
    assert opens[0] == 1
    assert d["text"] == "t" and opens[0] == 2  # the next key: its own open, as before
    assert d.g.y == 1


@pytest.mark.parametrize(
    "first",
    [
        lambda d: sorted(d.keys()) == ["g", "text", "x"],
        lambda d: "x" in d,
        lambda d: len(d) == 3,
        lambda d: "x (r)" in repr(d),
        lambda d: d.get("text") == "t",
        lambda d: d["g/y"] == 1,
        lambda d: d["g", "y"] == 1,
        lambda d: dict(d.items())["text"] == "t",
    ],
    ids=["keys", "in", "len", "repr", "get", "nested", "tuple", "items"],
)
def test_any_first_use_lists_and_locks(path, first):
    d = AnalysisData(path, open_on_init=False)
    assert first(d)
    with pytest.raises(ReadOnlyKeyError):
        d["x"] = 1


def test_writing_an_old_key_first_is_refused(path):
    """The lock check before a write lists the file: an old key cannot be overwritten."""
    d = AnalysisData(path, open_on_init=False)
    with pytest.raises(ReadOnlyKeyError):
        d["x"] = np.zeros(5)
    with pytest.raises(ReadOnlyKeyError):
        del d["text"]
    with pytest.raises(ReadOnlyKeyError):
        d.update(g={"z": 2})
    assert DH5(path)["x"].tolist() == [0, 1, 2, 3, 4]


def test_new_key_before_any_read(path):
    d = AnalysisData(path, open_on_init=False)
    d["fit"] = 2.5
    assert DH5(path)["fit"] == 2.5 and d.x[1] == 1.0
    assert sorted(d.keys()) == ["fit", "g", "text", "x"]


def test_key_added_before_first_use_is_listed_and_locked(path):
    d = AnalysisData(path, open_on_init=False)
    other = DH5(path, "a")
    other["late"] = 3
    other.save()
    assert d.late == 3
    with pytest.raises(ReadOnlyKeyError):
        d["late"] = 4


def test_missing_attribute_and_pull(path):
    d = AnalysisData(path, open_on_init=False)
    with pytest.raises(AttributeError):
        d.nothing  # noqa: B018
    assert d.pull().x[0] == 0.0
    d2 = AnalysisData(path, open_on_init=False)
    assert d2.pull(force_pull=True).text == "t"
    with pytest.raises(ReadOnlyKeyError):
        d2["text"] = "u"
