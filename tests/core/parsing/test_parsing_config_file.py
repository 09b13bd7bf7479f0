import copy
import pickle

import pytest

from labmate_core.parsing import ConfigFile, ParsedValue, parse_str

TEXT = "freq = 1.5e9\nlabel = 'qubit'\nf2 = freq * 2\nsub = {'a': 1}\n"


def test_attribute_access_and_content():
    cfg = ConfigFile(parse_str(TEXT), TEXT)
    assert cfg.freq == 1.5e9 and cfg["label"].value == "'qubit'"
    assert cfg.content == TEXT
    assert "content" not in cfg and len(cfg) == 4
    assert cfg.find("fr") == ("freq", cfg.freq)
    assert ConfigFile.from_text(TEXT) == cfg


def test_merge_right_side_wins_and_contents_join():
    a = ConfigFile.from_text("x = 1\ny = 2")
    b = ConfigFile.from_text("y = 3\nz = y + 1")
    merged = a + b
    assert isinstance(merged, ConfigFile)
    assert (merged.x, merged.y) == (1, 3)
    assert merged.content == "x = 1\ny = 2\ny = 3\nz = y + 1"
    assert merged.eval_key("z") == 4
    assert a.y == 2 and "z" not in a  # operands unchanged
    assert sum([a, b], ConfigFile()).content == merged.content
    assert (a + {"w": 5}).w == 5 and (a + {"w": 5}).content == a.content


def test_eval_as_module():
    module = ConfigFile.from_text(TEXT).eval_as_module()
    assert module.f2 == 3e9 and module.label == "qubit" and module.sub == {"a": 1}
    with pytest.raises(ValueError, match="Content is not defined"):
        ConfigFile({"a": ParsedValue("1")}).eval_as_module()
    with pytest.raises(ZeroDivisionError):
        ConfigFile.from_text("a = 1/0").eval_as_module()


def test_eval_key():
    cfg = ConfigFile.from_text(TEXT)
    assert cfg.eval_key("freq") == 1.5e9
    assert cfg.eval_key("label") == "qubit"
    assert cfg.eval_key("f2") == 3e9
    assert cfg.eval_key("missing") is None


def test_eval_key_without_runnable_content_uses_parsed_numbers():
    text = "import not_a_real_module_xyz\nfreq = 2\nf2 = freq * 3\nbad = nothing + 1"
    cfg = ConfigFile.from_text(text)
    assert cfg.eval_key("f2") == 6
    with pytest.raises(ValueError, match="Cannot evaluate bad"):
        cfg.eval_key("bad")
    no_content = ConfigFile({"a": ParsedValue("2"), "b": ParsedValue("a + 1")})
    assert no_content.eval_key("b") == 3


def test_bad_code_argument():
    with pytest.raises(TypeError, match="text"):
        ConfigFile({}, code=b"a = 1")


def test_copy_and_pickle_keep_content():
    cfg = ConfigFile.from_text(TEXT)
    for other in (cfg.copy(), copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert other == cfg and other.content == TEXT and isinstance(other, ConfigFile)
