"""Same inputs through labmate 0.10.9 and labmate_core: same results (where labmate is right)."""

import pytest

labmate_parsing = pytest.importorskip("labmate.parsing")
from labmate.attrdict import AttrDict as LabmateAttrDict  # noqa: E402
from labmate.utils import lint as labmate_lint  # noqa: E402
from labmate.utils import title_parsing as labmate_title  # noqa: E402

from labmate_core.attrdict import AttrDict  # noqa: E402
from labmate_core.lint import find_external_variables  # noqa: E402
from labmate_core.parsing import (  # noqa: E402
    ParsedValue,
    ValueForPrint,
    format_values,
    parse_get_format,
    parse_str,
)

SINGLE_LINE_INPUTS = [
    "a = 1\nb = a  # value: 1\n",
    "freq = 6.5e9  # Hz\npower = -20\nscale = 1_000\nx = .5\nname = 'qubit'\n",
    "f2 = freq*2  # value: 13000000000.0\nlbl = label + '_x'  # value: qubit_x\n",
    "# comment\n\n    indented = 1\nimport numpy as np\nlast = -3.5e-3\n",
    "t = (1, 2)  # tuple\nl = [1, 2, 3]\nd = {'a': 1}\n",
    "x = 1\ny = 2\nx = 5\n",
]


def _labmate_unpacked(text):
    return {k: (v.original, v.value) for k, v in labmate_parsing.parse_str(text).items()}


def _ours_unpacked(text):
    return {k: v.unpack() for k, v in parse_str(text).items()}


@pytest.mark.parametrize("text", SINGLE_LINE_INPUTS)
def test_parse_str_matches_labmate(text):
    assert _ours_unpacked(text) == _labmate_unpacked(text)


def test_parse_str_fixture_matches_labmate(fixture_copy):
    text = (fixture_copy / "labmate-0.10.9" / "cfg1.py").read_text()
    ours, theirs = _ours_unpacked(text), _labmate_unpacked(text)
    assert ours.keys() == theirs.keys() == {"freq", "n_points", "power", "label", "arr"}
    for key in ours:
        if key == "arr":  # labmate glues the lines of a multi-line value; we keep them
            assert ours[key][0].replace("\n", "").replace(" ", "") == "[1,2,3]"
            assert theirs[key][0].replace("\n", "").replace(" ", "") == "[1,2,3]"
        else:
            assert ours[key] == theirs[key]


@pytest.mark.parametrize("text", ["6/3", "2", "-1.5", "1e3"])
def test_parsed_value_operations_match_labmate(text):
    ours = ParsedValue(text, "2")
    theirs = labmate_parsing.ParsedValue(text, "2")
    for other in (3, 0.5, -2):
        assert ours + other == theirs + other
        assert ours - other == theirs - other
        assert other - ours == other - theirs
        assert ours * other == theirs * other
        assert other / ours == other / theirs
        assert ours**other == theirs**other
        assert (ours < other) == (theirs < other)
        assert f"{ours:.3e}" == f"{theirs:.3e}"
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert ours.unpack() == theirs.unpack()


TITLE_KEYS = [
    "speed",
    "speed,km/s,2f",
    "speed;km/s;.3e",
    "speed,km/s;2f",
    "speed,.2f",
    "speed,km/s",
    r"speed;unit\,comment",
    "speed,,.2p",
    "speed,Hz,.3p",
]


@pytest.mark.parametrize("key", TITLE_KEYS)
def test_title_key_parsing_matches_labmate(key):
    expected = labmate_title.parse_get_format(key)
    if expected[1] == "":  # labmate keeps an empty unit and prints " ()"; we drop it
        expected = (expected[0], None, expected[2])
    assert parse_get_format(key) == expected


@pytest.mark.parametrize("max_length", [None, 20, 40, 60])
@pytest.mark.parametrize("value", [123.43, 1.5e9, -2.25e-7, 70])
def test_title_formatting_matches_labmate(value, max_length):
    # (exponent 0 with a 'p' format differs on purpose: labmate prints "7e", we print "7")
    keys = ["speed,km/s,.2f", "freq,Hz,.3p", "n", "speed2;m;.1e", "other,unit"]
    values = {"speed": value, "freq": value, "n": value, "speed2": value, "other": value}
    theirs = LabmateAttrDict(values).output(keys, max_length=max_length)
    assert AttrDict(values).output(keys, max_length=max_length) == theirs
    fields = [labmate_title.parse_get_format(k) for k in keys]
    ours_items = [ValueForPrint(k, values[k], u, f) for k, u, f in fields]
    theirs_items = [labmate_title.ValueForPrint(k, values[k], u, f) for k, u, f in fields]
    assert format_values(ours_items, max_length) == labmate_title.format_title(
        theirs_items, max_length
    )
    assert format_values(ours_items, max_length) == theirs


def test_attrdict_find_matches_labmate():
    data = {"param_1": 1, "param_2": 2, "other": 3}
    ours, theirs = AttrDict(data), LabmateAttrDict(data)
    for key in ("param", "other", "nope", ["param", "oth"]):
        assert ours.find(key) == theirs.find(key)
        assert ours.find_all(key) == theirs.find_all(key)


LINT_CODES = [
    "import numpy as np\ny = np.sin(x)\nplt.plot(y)\n",
    "a = 1\nb = a + c\ndef f(u, v=2):\n    w = u + v\n    return w + d\n",
    "for i in range(3):\n    total = i * k\nprint(total)\n",
    "data = aqm.data\nfit = lambda t: t * gain\naqm.save_acquisition(q=unknown)\n",
    "x = 1  # noqa\nz = x + y  # noqa\n",
]


@pytest.mark.parametrize("code", LINT_CODES)
def test_lint_external_variables_match_labmate(code):
    theirs = labmate_lint.find_variables_from_code(code, {"aqm"}).external_vars
    assert set(find_external_variables(code, {"aqm"})) == theirs
