"""The store's shape: one slot per key; no import cycle between the DH5 modules."""

import ast
from pathlib import Path

import numpy as np
import pytest

import labmate_core.dh5
from labmate_core.dh5 import DH5
from labmate_core.dh5.node import ABSENT, NOT_LOADED, Slot


def _state(d, name):
    slot = d._slots.get(name)
    if slot is None:
        return None
    value = "not loaded" if slot.value is NOT_LOADED else "absent" if slot.value is ABSENT else "v"
    return value, slot.dirty, slot.locked, slot.from_disk


def test_one_slot_per_key_through_a_life(tmp_path):
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d.update(x=np.arange(3), s="t")
    assert _state(d, "x") == ("v", True, False, False)
    d.save()
    assert _state(d, "x") == ("v", False, False, False)
    lazy = DH5(path, "a", open_on_init=False)
    assert _state(lazy, "x") == ("not loaded", False, False, False)
    lazy.lock_data("x")
    assert _state(lazy, "x") == ("not loaded", False, True, False)
    assert not lazy.x.flags.writeable
    assert _state(lazy, "x") == ("v", False, True, True)
    lazy.unlock_data("x")
    del lazy["x"]
    assert _state(lazy, "x") == ("absent", True, False, False) and "x" not in lazy
    lazy.save()
    assert _state(lazy, "x") is None and lazy.keys() == {"s"}
    lazy.lock_data("later")  # a name locked before it has a value keeps its lock only
    assert _state(lazy, "later") == ("absent", False, True, False) and "later" not in lazy
    assert all(isinstance(slot, Slot) for slot in lazy._slots.values())
    for old in ("_data", "_unloaded", "_dirty", "_locked", "_from_disk"):
        assert old not in vars(lazy)


def test_no_import_cycle_between_dh5_modules():
    root = Path(labmate_core.dh5.__file__).parent
    graph = {}
    for module in root.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    names.add(node.module.split(".")[0])
                else:
                    names.update(alias.name for alias in node.names)
        graph[module.stem] = names

    def reaches(start, target, seen):
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if name != "__init__" and reaches(name, name, {name})]
    assert cycles == []


def test_loaded_values_keep_dh5s_private_view(tmp_path):
    """dh5 0.8.1 code peeks at ``_data`` (its loaded values): empty before a lazy load."""
    from labmate_core.dh5 import DH5

    DH5(tmp_path / "f.h5", "w=")["a"] = 1
    lazy = DH5(tmp_path / "f.h5", open_on_init=False)
    assert lazy._data == {}
    assert lazy["a"] == 1 and lazy._data == {"a": 1}


def test_clearing_dh5s_private_view_rereads_values(tmp_path):
    from labmate_core.dh5 import DH5

    writer = DH5(tmp_path / "f.h5", "w=")
    writer["a"] = 1
    reader = DH5(tmp_path / "f.h5")
    assert reader["a"] == 1
    reader._data = {}
    assert reader._data == {} and reader["a"] == 1
    with pytest.raises(TypeError):
        reader._data = {"b": 2}
