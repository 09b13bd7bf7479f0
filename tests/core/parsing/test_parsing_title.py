import logging

import pytest

from labmate_core.parsing import (
    KeyFormat,
    ParsedValue,
    ValueForPrint,
    format_title,
    format_values,
    parse_get_format,
    parse_key_format,
    values_for_print,
)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("speed", ("speed", None, None)),
        ("speed,km/s,2f", ("speed", "km/s", "2f")),
        ("speed;km/s;2f", ("speed", "km/s", "2f")),
        ("speed,km/s;2f", ("speed", "km/s", "2f")),
        ("speed,2f", ("speed", None, "2f")),
        ("speed,.3e", ("speed", None, ".3e")),
        ("speed,_", ("speed", None, "_")),
        ("speed,km/s", ("speed", "km/s", None)),
        ("double__underscore", ("double__underscore", None, None)),
        (r"speed;unit\,comment", ("speed", "unit,comment", None)),
        (r"speed,a\;b,.1f", ("speed", "a;b", ".1f")),
        ("speed,,2f", ("speed", None, "2f")),
        (r"a\\b", ("a\\b", None, None)),
    ],
)
def test_parse_key_format(key, expected):
    assert parse_key_format(key) == KeyFormat(*expected)
    assert parse_get_format(key) == expected


@pytest.mark.parametrize("key", ["a,b,c,d", ",unit", ""])
def test_parse_key_format_rejects_bad_keys(key):
    with pytest.raises(ValueError, match="key"):
        parse_key_format(key)


def test_parse_key_format_rejects_non_str():
    with pytest.raises(TypeError):
        parse_key_format(3)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1.5e9, ".2p", "1.5e9"),
        (1.234e-5, ".2p", "1.23e-5"),
        (1.0, ".3p", "1"),
        (-2.5e10, ".1p", "-2.5e10"),
        (1e100, ".0p", "1e100"),
        (float("inf"), ".2p", "inf"),
        (ParsedValue("1.5e9"), ".2p", "1.5e9"),
        (3.14159, ".2f", "3.14"),
        (3.14159, None, "3.14159"),
        ("text", None, "text"),
    ],
)
def test_format_value(value, fmt, expected):
    assert ValueForPrint("k", value, None, fmt).format_value() == expected


def test_format_value_bad_format_is_a_clear_error():
    with pytest.raises(ValueError, match="Cannot format k"):
        ValueForPrint("k", "text", None, ".2f").format_value()


def test_format_values_wraps_lines():
    items = [ValueForPrint(f"param{i}", i * 1.5, "V", ".1f") for i in range(4)]
    assert format_values(items) == (
        "param0 = 0.0 (V); param1 = 1.5 (V); param2 = 3.0 (V); param3 = 4.5 (V)"
    )
    assert format_values(items, max_length=40) == (
        "param0 = 0.0 (V); param1 = 1.5 (V)\nparam2 = 3.0 (V); param3 = 4.5 (V)"
    )
    assert format_values([ValueForPrint("a_very_long_key", 1)], max_length=5) == (
        "a_very_long_key = 1"
    )
    assert format_values([]) == ""


def test_format_title_from_mapping():
    values = {"freq": ParsedValue("1.5e9"), "n": 101, "label": "'q'"}
    assert format_title(values, ["freq,Hz,.2p", "n", "label"]) == (
        "freq = 1.5e9 (Hz); n = 101; label = 'q'"
    )
    with pytest.raises(KeyError, match="nope"):
        format_title(values, ["nope"])


def test_format_title_missing_warn(caplog):
    with caplog.at_level(logging.WARNING):
        assert format_title({"a": 1}, ["a", "nope"], missing="warn") == "a = 1"
    assert "nope" in caplog.text


def test_values_for_print_rejects_bad_arguments():
    with pytest.raises(ValueError, match="list of strings"):
        values_for_print({"a": 1}, "a")
    with pytest.raises(ValueError, match="missing"):
        values_for_print({"a": 1}, ["a"], missing="ignore")


def test_format_title_takes_labmate_s_list_of_values_too():
    items = [ValueForPrint("speed", 123.12345, "m/s", ".2f"), ValueForPrint("time", 5432, None, ".1e")]
    assert format_title(items, 20) == format_values(items, max_length=20) == (
        "speed = 123.12 (m/s)\ntime = 5.4e+03"
    )
    assert format_title(items) == "speed = 123.12 (m/s); time = 5.4e+03"
    with pytest.raises(TypeError, match="keys go with a mapping"):
        format_title(items, ["speed"])
    with pytest.raises(TypeError, match="give the keys"):
        format_title({"a": 1})
