import types

import numpy as np
import pytest

from labmate_core.parsing import (
    annotate_values,
    append_values_from_module_to_file,
    append_values_from_modules_to_files,
    find_param_line,
    format_python_value,
    parse_str,
    update_values_in_text,
)
from labmate_core.parsing.values import ParsedValue


def unpacked(parsed):
    return {k: v.unpack() for k, v in parsed.items()}


def test_simple_lines_and_comments():
    text = "freq = 1.5e9  # Hz\nn_points = 101\nlabel = 'qubit'\n# x = 3\n\nexpr = freq*2\n"
    assert unpacked(parse_str(text)) == {
        "freq": (1.5e9, 1.5e9),
        "n_points": (101, 101),
        "label": ("'qubit'", "'qubit'"),
        "expr": ("freq*2", "freq*2"),
    }


def test_value_annotation_overrides_value():
    parsed = parse_str("a = 1\nb = a * 3  # value: 3\nc = 'x' + 'y'  # note # value: xy")
    assert parsed["b"].unpack() == ("a * 3", 3)
    assert parsed["c"].unpack() == ("'x' + 'y'", "xy")


def test_multiline_brackets():
    text = "arr = [1, 2,  # first\n  3]  # value: [1, 2, 3]\nd = dict(\n    a=1,\n    b=(2, 3),\n)\nq = 1"
    parsed = parse_str(text)
    assert parsed["arr"].original == "[1, 2,\n  3]"
    assert parsed["arr"].value == "[1, 2, 3]"
    assert parsed["d"].original == "dict(\n    a=1,\n    b=(2, 3),\n)"
    assert parsed["q"] == 1


def test_brackets_and_hash_inside_strings_and_comments():
    text = "x = 1  # (note\ny = ')'\nz = 'a#b'  # c\nt = '''ab\n# c = 5\n]'''\nw = 2"
    parsed = parse_str(text)
    assert set(parsed) == {"x", "y", "z", "t", "w"}
    assert parsed["y"].original == "')'"
    assert parsed["z"].original == "'a#b'"
    assert parsed["w"] == 2


def test_equal_signs_inside_values():
    parsed = parse_str("d = dict(a=1)\ns = 'a=b'\nf = lambda a=1: a\ncmp = a == b")
    assert parsed["d"].original == "dict(a=1)"
    assert parsed["s"].original == "'a=b'"
    assert parsed["f"].original == "lambda a=1: a"
    assert parsed["cmp"].original == "a == b"


def test_chained_annotated_and_continued_assignments():
    parsed = parse_str("a = b = 4\nx: int = 3\nu = 1 + \\\n  2\n_private = 5")
    assert parsed["a"] == 4 and parsed["b"] == 4
    assert parsed["x"] == 3
    assert parsed["u"].original == "1 + \\\n  2"
    assert parsed["_private"] == 5


def test_non_assignments_and_indented_lines_are_skipped():
    text = (
        "import numpy as np\nif x == 1: y = 2\ndef f(a=1):\n    inner = 3\n    return a\n"
        "foo(a=1)\na[0] = 1\nobj.attr = 2\nx += 1\nk, m = 1, 2\nlast = 7\n"
    )
    assert list(parse_str(text)) == ["last"]


def test_last_definition_wins_and_crlf():
    parsed = parse_str("a = 1\r\nb = 2  # value: 5\r\na = 3\r\n")
    assert parsed["a"] == 3 and parsed["b"].unpack() == (2, 5)


def test_unbalanced_brackets_do_not_crash():
    assert unpacked(parse_str("a = (1,\nb = 2")) == {"a": ("(1,\nb = 2", "(1,\nb = 2")}
    assert parse_str("a = )\nb = 2")["b"] == 2


def test_parse_str_rejects_non_text():
    with pytest.raises(TypeError, match="str"):
        parse_str(b"a = 1")


def test_annotate_values_numbers_and_strings():
    text = "freq = 1.5e9\nf = freq*2\nlabel = 'q'\nname = label + 'x'\nflag = f > 0\nmissing = f\n"
    values = {"freq": 1.5e9, "f": 3e9, "label": "q", "name": "qx", "flag": True}
    annotated = annotate_values(text, values)
    assert annotated.splitlines() == [
        "freq = 1.5e9",
        "f = freq*2  # value: 3000000000.0",
        "label = 'q'",
        "name = label + 'x'  # value: qx",
        "flag = f > 0",
        "missing = f",
    ]
    parsed = parse_str(annotated)
    assert parsed["f"].unpack() == ("freq*2", 3e9)
    assert parsed["name"].value == "qx"
    assert parsed["missing"].value == "f"


def test_annotate_values_numpy_complex_and_multiline():
    text = "a = np.float64(2)\nb = (1 +\n     2j)\nc = [x,\n  y]\n"
    annotated = annotate_values(text, {"a": np.float64(2), "b": 1 + 2j, "c": [1, 2]})
    parsed = parse_str(annotated)
    assert parsed["a"].value == 2.0
    assert parsed["b"].value == 1 + 2j
    assert parsed["c"].value == "[x,\n  y]"
    assert annotated.splitlines()[2] == "     2j)  # value: (1+2j)"


def test_append_values_from_module_and_modules():
    module = types.SimpleNamespace(a=1, b=2)
    assert append_values_from_module_to_file("a = 1\nb = a + 1", module).endswith("# value: 2")
    configs = {"cfg.py": "a = 1\nb = a + 1", "other.py": "z = 1"}
    append_values_from_modules_to_files(configs, {"cfg.py": module})
    assert configs["cfg.py"].endswith("# value: 2") and configs["other.py"] == "z = 1"
    with pytest.raises(KeyError, match="nope"):
        append_values_from_modules_to_files(configs, {"nope.py": module})
    with pytest.raises(TypeError, match="mapping"):
        annotate_values("a = 1", [("a", 1)])


def test_find_param_line():
    text = "freq = 1\npower = 2\npower_2 = 3"
    assert find_param_line(text, "power") == 2
    assert find_param_line(text, "power_2 = ") == 3
    assert find_param_line(text, "nope") is None
    with pytest.raises(ValueError, match="non-empty"):
        find_param_line(text, "")


def test_format_python_value():
    assert format_python_value(True) == "True"
    assert format_python_value(None) == "None"
    assert format_python_value("x") == "'x'"
    assert format_python_value(np.float64(1.5)) == "1.5"
    assert format_python_value(np.array([1, 2])) == "[1, 2]"
    assert format_python_value({"a": [1.0, "b"]}) == "{'a': [1.0, 'b']}"
    assert format_python_value(ParsedValue("1.5e9")) == "1.5e9"
    with pytest.raises(TypeError, match="Cannot write"):
        format_python_value(object())


def test_update_values_in_text_keeps_comments_and_other_lines():
    text = "a = 1  # keep me\nb = [1,\n     2]  # list\nc = 3\nab = 4\n    a = 9\n"
    new, updated = update_values_in_text(text, {"a": 2.5, "b": [3], "zz": 1})
    assert new == "a = 2.5  # keep me\nb = [3]  # list\nc = 3\nab = 4\n    a = 9\n"
    assert updated == {"a", "b"}
    assert parse_str(new)["a"] == 2.5


def test_update_values_in_text_duplicates_and_crlf():
    new, updated = update_values_in_text("a = 1\r\nb = 1\r\na = 1\r\n", {"a": "s"})
    assert new == "a = 's'\r\nb = 1\r\na = 's'\r\n" and updated == {"a"}


def test_update_values_rejects_unwritable_values():
    with pytest.raises(TypeError, match="Cannot write"):
        update_values_in_text("a = 1", {"a": object()})


@pytest.mark.parametrize(("typed", "written"), [("789", "789"), (" 1.123e6", "1.123e6")])
def test_a_number_given_as_text_is_written_as_the_number(typed, written):
    new, _ = update_values_in_text("a = 1  # Hz\nb = 'x'\n", {"a": typed, "b": "7 dB"})
    assert new == f"a = {written}  # Hz\nb = '7 dB'\n"  # as labmate: a text box gives text
    assert parse_str(new)["a"] == float(written)
