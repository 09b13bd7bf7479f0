"""Values of every row of the type table (module-level functions so their source is found)."""

from collections import namedtuple

import numpy as np


def add(a, b):
    return a + b


class WithAsdict:
    def asdict(self):
        return {"p": 1, "q": "two"}


class WithAsarray:
    def asarray(self):
        return np.arange(3)


Point = namedtuple("Point", "x y")


def table():
    """(name, value, expected read-back) for every row."""
    return [
        ("str", "héllo", "héllo"),
        ("bool", True, np.True_),
        ("int", 7, np.int64(7)),
        ("float", 2.5, np.float64(2.5)),
        ("complex", 1 + 2j, np.complex128(1 + 2j)),
        ("np_int8", np.int8(3), np.int8(3)),
        ("arr_f", np.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        ("arr_c", np.array([1 + 1j, 2]), np.array([1 + 1j, 2])),
        ("arr_b", np.array([[True, False]]), np.array([[True, False]])),
        ("arr_i8", np.arange(5, dtype=np.int8), np.arange(5, dtype=np.int8)),
        ("arr_u16", np.arange(5, dtype=np.uint16), np.arange(5, dtype=np.uint16)),
        ("arr_3d", np.ones((2, 3, 4), dtype=np.float32), np.ones((2, 3, 4), dtype=np.float32)),
        ("list_num", [1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])),
        ("tuple_num", (1, 2), np.array([1, 2])),
        ("list_arrays", [np.arange(2), np.arange(2)], np.array([[0, 1], [0, 1]])),
        ("list_str", ["a", "bb"], ["a", "bb"]),
        ("tuple_str", ("a", "b"), ["a", "b"]),
        ("set_str", {"b", "a"}, ["a", "b"]),
        ("mixed", [1, "two", 3.0], [1, "two", 3.0]),
        ("nested_list", [[1, 2], [3]], [[1, 2], [3]]),
        ("list_with_array", ["a", np.arange(2)], ["a", [0, 1]]),
        ("dict", {"a": 1, "b": {"c": "x"}}, {"a": np.int64(1), "b": {"c": "x"}}),
        ("asdict", WithAsdict(), {"p": np.int64(1), "q": "two"}),
        ("namedtuple", Point(1, 2), {"x": np.int64(1), "y": np.int64(2)}),
        ("asarray", WithAsarray(), np.arange(3)),
    ]


def assert_same(actual, expected):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), actual
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), type(actual)
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)
    elif isinstance(expected, np.generic):
        assert type(actual) is type(expected), (type(actual), type(expected))
        assert actual == expected
    else:
        assert type(actual) is type(expected) and actual == expected
