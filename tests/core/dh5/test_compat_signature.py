"""Every call that dh5 0.8.1's DH5 accepts is accepted by ours (same names, same kinds)."""

import inspect
import logging

import dh5
import numpy as np
import pytest

from labmate_core.dh5 import DH5

METHODS = [
    "__init__",
    "open_overwrite",
    "save",
    "load",
    "pull",
    "pull_available",
    "close_data",
    "lock_data",
    "unlock_data",
    "update",
    "get",
    "get_raw",
    "pop",
    "remove",
    "keys",
    "items",
    "values",
    "asdict",
    "keys_tree",
]


@pytest.mark.parametrize("name", METHODS)
def test_every_dh5_parameter_is_accepted(name):
    theirs = inspect.signature(getattr(dh5.DH5, name)).parameters
    ours = inspect.signature(getattr(DH5, name)).parameters
    our_kinds = {p.kind for p in ours.values()}
    positional = [
        p.name for p in ours.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    their_positional = [
        p for p in theirs.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(positional) >= len(their_positional), (name, list(ours))
    for param in theirs.values():
        if param.kind is param.VAR_KEYWORD:
            assert inspect.Parameter.VAR_KEYWORD in our_kinds, (name, "**kwds")
        elif param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
            if param.name.startswith("_") or param.name == "self":
                continue
            ok = param.name in ours and ours[param.name].kind is not param.POSITIONAL_ONLY
            assert ok or inspect.Parameter.VAR_KEYWORD in our_kinds, (name, param.name)


def test_close_data_every(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update(a=np.arange(3), b=1)
    d.save()
    d = DH5(tmp_path / "f.h5", "a")
    d.close_data(every=True)
    assert not dict(d._loaded_items()) and d.keys() == {"a", "b"}
    assert d.b == 1
    d.close_data("b", every=True)
    assert not dict(d._loaded_items())


def test_unlock_data_remove_keys(tmp_path):
    d = DH5(tmp_path / "f.h5", "w")
    d.update(a=1, b=2)
    d.lock_data()
    d.unlock_data(remove_keys=["a"])
    d.a = 3
    with pytest.raises(KeyError):
        d.b = 4
    with pytest.raises(ValueError):
        d.unlock_data("a", remove_keys="b")


def test_extra_keywords_are_accepted_and_reported(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="labmate_core.dh5.file"):
        d = DH5(tmp_path / "f.h5", "w", key_prefix=None, something=1)
        DH5.open_overwrite(tmp_path / "g.h5", something_else=2)
    assert "something" in caplog.text and "something_else" in caplog.text
    d.a = 1
    d.save()
    assert DH5(tmp_path / "f.h5").a == 1
