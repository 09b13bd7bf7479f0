import json

import numpy as np
import pytest

from labmate_core.dh5 import DH5


@pytest.fixture
def sine(fixture_copy):
    root = fixture_copy / "labmate-0.10.9"
    expected = json.loads((root / "expected.json").read_text())
    return root, expected


@pytest.mark.parametrize("lazy", [False, True])
def test_sine_values(sine, lazy):
    root, expected = sine
    d = DH5(root / expected["sine"], open_on_init=not lazy)
    arrays = np.load(root / "expected_arrays.npz")
    for name in arrays.files:
        value = d[name]
        assert np.asarray(value).dtype == arrays[name].dtype, name
        np.testing.assert_array_equal(value, arrays[name])
    assert d.acquisition_cell["1"] == expected["cell"]
    assert d.experiment_name == "sine" and d.useful == np.True_
    assert d.s == "hello"
    assert d.words == ["a", "bb", "ccc"] and d.mixed == [1, "two", 3.0]
    assert d.floats == [1.0, 2.0, 3.0]
    assert d.nested.a == 1.0 and list(d.nested.inner.b) == [0, 1, 2]
    assert d.loop.__loop_shape__ == [5, 3]
    assert d.loop.c.shape == (5, 3) and d.loop.c[1, 2] == 1 + 2j
    assert d.configs["cfg1.py"].startswith("freq = 1.5e9")
    assert "default" in d.analysis_cells and "named" in d.analysis_cells
    assert d.info.acquisition_duration > 0 and isinstance(d.info.logs, str)


def test_steps(sine):
    root, expected = sine
    d = DH5(root / expected["steps"])
    assert d.a == 1 and d.b == 2
    assert set(d.acquisition_cell) == {"1", "2"}


@pytest.mark.parametrize("name", ["old_data_example", "old_data_example2"])
def test_old_layout(fixture_copy, name):
    d = DH5(fixture_copy / "labmate-old" / name)
    assert d.useful == np.True_
    assert isinstance(d.analysis_cell, str)
    if name == "old_data_example":
        assert d.x.shape == (101,) and isinstance(d.figures["FIG1.pdf"], str)
    else:
        assert isinstance(d.acquisition_cell, str)
        assert list(d.x_loop.__loop_shape__) == [18]
        np.testing.assert_array_equal(d.x_loop.y, d.x_loop.x**2)


def test_fixture_append_keeps_everything(sine):
    root, expected = sine
    path = root / expected["sine"]
    d = DH5(path, "a", open_on_init=False)
    d.fit_result = 1.5
    d.save()
    r = DH5(path)
    assert r.fit_result == 1.5 and r.words == ["a", "bb", "ccc"] and r.loop.v.shape == (5, 3)
