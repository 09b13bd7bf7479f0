import copy
import pickle

import pytest

from labmate_core.attrdict import AttrDict


def test_attribute_and_item_access_nested():
    d = AttrDict({"param_1": "value1", "sub": {"x": {"y": 2}}}, extra=3)
    assert d.param_1 == d["param_1"] == "value1"
    assert d.sub.x.y == 2 and isinstance(d.sub, AttrDict) and isinstance(d.sub.x, AttrDict)
    assert d.extra == 3
    d.new = {"a": 1}
    d["other"] = {"b": 2}
    d.setdefault("third", {"c": 3})
    d.update(fourth={"d": 4})
    assert d.new.a == 1 and d.other.b == 2 and d.third.c == 3 and d.fourth.d == 4
    del d.new
    assert "new" not in d
    with pytest.raises(AttributeError, match="no key or attribute 'missing'"):
        d.missing  # noqa: B018
    with pytest.raises(AttributeError):
        del d.missing
    assert "param_1" in dir(d)


def test_methods_win_over_keys():
    d = AttrDict({"keys": 1, "find": 2})
    assert callable(d.keys) and callable(d.find)
    assert d["keys"] == 1 and set(d.keys()) == {"keys", "find"}


def test_add_copy_repr():
    a = AttrDict({"x": 1, "y": 2})
    b = a + {"y": 3, "z": 4}
    assert isinstance(b, AttrDict) and b == {"x": 1, "y": 3, "z": 4} and a.y == 2
    assert isinstance(a.copy(), AttrDict) and a.copy() == a
    assert repr(a) == "AttrDict: {'x': 1, 'y': 2}"
    with pytest.raises(TypeError):
        a + 1  # noqa: B018
    for other in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert other == a and isinstance(other, AttrDict) and other.x == 1


def test_find_and_find_all():
    d = AttrDict({"param_1": "v1", "param_2": "v2", "other": 3, 5: "int key"})
    assert d.find("param") == ("param_1", "v1")
    assert d.find("nope") is None
    assert d.find(["param_2", "oth", "nope"]) == [("param_2", "v2"), ("other", 3), None]
    assert d.find_all("param") == [("param_1", "v1"), ("param_2", "v2")]
    assert d.find_all(["other", "zzz"]) == [[("other", 3)], []]
    with pytest.raises(TypeError, match="str"):
        d.find(5)


def test_output():
    d = AttrDict({"param_1": 123.43, "p2": 1.5e9})
    assert d.output(["param_1"]) == "param_1 = 123.43"
    assert d.output(["param_1,m/s,.1f"]) == "param_1 = 123.4 (m/s)"
    assert d.output(["param_1,m/s"]) == "param_1 = 123.43 (m/s)"
    assert d.output(["param_1,2e"]) == "param_1 = 1.234300e+02"
    assert d.output(["param_1;;.2e", "p2,Hz,.2p"]) == "param_1 = 1.23e+02; p2 = 1.5e9 (Hz)"
    assert d.output(["param_1", "p2"], max_length=20) == "param_1 = 123.43\np2 = 1500000000.0"
    with pytest.raises(ValueError, match="nope.*AttrDict"):
        d.output(["nope"])
