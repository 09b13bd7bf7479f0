"""``repr`` of a lazily opened DH5 shows what is on disk (shape, dtype) without loading it."""

from __future__ import annotations

import numpy as np

from labmate_core.dh5 import DH5, storage


def _write(path):
    d = DH5(path, "w=")
    d["fit"] = {"f0": np.arange(4.0), "g": 2, "inner": {"s": "text"}}
    d["big"] = np.zeros((30, 2), dtype=np.complex64)
    d["words"] = ["a", "bb"]
    return path


def test_lazy_repr_shows_shape_and_dtype_without_loading(tmp_path):
    path = _write(tmp_path / "f.h5")
    lazy = DH5(path, open_on_init=False)
    text = repr(lazy.fit)
    assert "f0: array float64 (4,)" in text and "g: 2 (int64)" in text
    assert "inner/" in text and "s: 'text'" in text and "<not loaded>" not in text
    top = repr(lazy)
    assert "big: array complex64 (30, 2)" in top and "words: list of 2" in top
    assert {"big", "words"} <= set(lazy._unloaded_names())  # described, not loaded
    assert repr(DH5(path)).splitlines()[1:] == top.splitlines()[1:]


def test_lazy_repr_of_a_busy_file_does_not_wait(tmp_path):
    path = _write(tmp_path / "f.h5")
    lazy = DH5(path, open_on_init=False)
    with storage.file_lock(path, shared=False):  # a writer holds the file
        text = repr(lazy)
    assert "big: <not loaded>" in text
