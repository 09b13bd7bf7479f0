import math
import pickle

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labmate_core.parsing import ParsedValue, parse_value  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("101", 101),
        ("-20", -20),
        ("+3", 3),
        ("010", 10),
        ("1_000", 1000),
        ("1.5e9", 1.5e9),
        ("1E9", 1e9),
        ("1e-3", 1e-3),
        (".5", 0.5),
        ("1.", 1.0),
        ("-.5e-3", -0.0005),
        ("0x1F", 31),
        ("0b101", 5),
        ("1+2j", 1 + 2j),
        ("(1-2.5j)", 1 - 2.5j),
        ("2j", 2j),
        (" 7 ", 7),
    ],
)
def test_parse_value_numbers(text, expected):
    value = parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text", ["'qubit'", '"x"', "a*2", "1.2.3", "-", "", "inf", "True", "1e", "_1", "[1, 2]"]
)
def test_parse_value_keeps_non_numbers(text):
    assert parse_value(text) == text


def test_parse_value_non_str_is_returned_unchanged():
    obj = object()
    assert parse_value(obj) is obj
    assert parse_value(3.5) == 3.5


def test_parsed_value_keeps_original_and_text():
    v = ParsedValue("1.5e9")
    assert v.value == 1.5e9
    assert v.original == 1.5e9
    assert v.text == "1.5e9"
    w = ParsedValue("freq * 2", "3e9")
    assert w.unpack() == ("freq * 2", 3e9)
    assert w.text == "freq * 2"
    assert repr(w) == "ParsedValue: freq * 2=3000000000.0"
    assert str(w) == "3000000000.0"


def test_parsed_value_arithmetic_both_sides():
    v = ParsedValue("6/3", "2")
    assert v + 1 == 3 and 1 + v == 3
    assert v - 5 == -3 and 5 - v == 3
    assert v * 3 == 6 and 3 * v == 6
    assert v / 4 == 0.5 and 4 / v == 2
    assert 7 // v == 3 and v // 3 == 0
    assert 7 % v == 1 and v % 3 == 2
    assert v**3 == 8 and 3**v == 9
    assert divmod(7, v) == (3, 1)
    assert -v == -2 and +v == 2 and abs(ParsedValue("-4")) == 4
    assert v + ParsedValue("1") == 3


def test_parsed_value_string_concatenation_order():
    v = ParsedValue("'a'")
    assert "x" + v == "x'a'"
    assert v + "x" == "'a'x"


def test_parsed_value_comparisons_and_hash():
    v = ParsedValue("2")
    assert v == 2 and v != 3 and v == ParsedValue("2.0")
    assert v < 3 and v <= 2 and v > 1 and v >= 2
    assert ParsedValue("1") < v
    assert sorted([ParsedValue("3"), ParsedValue("1"), v]) == [1, 2, 3]
    assert {v: "x"}[2] == "x"
    with pytest.raises(TypeError):
        ParsedValue("1+2j") < 1  # noqa: B015


def test_parsed_value_conversions():
    v = ParsedValue("2.6")
    assert int(v) == 2 and float(v) == 2.6 and complex(v) == 2.6 + 0j
    assert round(v) == 3 and round(v, 1) == 2.6
    assert math.floor(v) == 2 and math.ceil(v) == 3 and math.trunc(v) == 2
    assert f"{v:.2f}" == "2.60" and format(v, "e") == "2.600000e+00"
    assert [0, 1, 2, 3][ParsedValue("3")] == 3
    with pytest.raises(TypeError):
        [0, 1][v]  # noqa: B018
    assert bool(ParsedValue("0")) is False and bool(v) is True


def test_parsed_value_complex_parts():
    c = ParsedValue("1+2j")
    assert c.is_complex and c.real == 1 and c.imag == 2
    r = ParsedValue("5")
    assert not r.is_complex and r.real == 5 and r.imag == 0


def test_parsed_value_with_numpy():
    v = ParsedValue("2")
    assert np.asarray(v).shape == ()
    assert np.asarray(v, dtype=float).dtype == float
    np.testing.assert_array_equal(np.array([1, 2]) * v, [2, 4])
    np.testing.assert_array_equal(v * np.array([1, 2]), [2, 4])
    assert np.float64(3) * v == 6
    np.testing.assert_allclose(np.linspace(0, ParsedValue("1"), 3), [0, 0.5, 1])
    assert np.sqrt(ParsedValue("4")) == 2


def test_parsed_value_with_matplotlib(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([ParsedValue("1"), ParsedValue("2")], [ParsedValue("3"), ParsedValue("4.5")])
    ax.axvline(ParsedValue("1.5"))
    ax.set_xlim(ParsedValue("0"), ParsedValue("3"))
    fig.savefig(tmp_path / "f.png")
    assert ax.get_xlim() == (0, 3)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3, 4.5])
    plt.close(fig)


def test_parsed_value_pickles():
    v = pickle.loads(pickle.dumps(ParsedValue("a*2", "4")))
    assert v.unpack() == ("a*2", 4) and v.text == "a*2"
