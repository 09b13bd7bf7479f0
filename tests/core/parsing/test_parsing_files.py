import os

import pytest

from labmate_core.parsing import parse_str, read_file, read_files, update_file_variables


def test_read_file_and_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "cfg.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "b" / "cfg.py").write_text("x = 2\n", encoding="utf-8")
    (tmp_path / "other.py").write_text("y = 'é'\n", encoding="utf-8")
    assert read_file(tmp_path / "other.py") == "y = 'é'\n"
    assert read_files([tmp_path / "a" / "cfg.py", str(tmp_path / "other.py")]) == {
        "cfg.py": "x = 1\n",
        "other.py": "y = 'é'\n",
    }
    with pytest.raises(ValueError, match="named 'cfg.py'"):
        read_files([tmp_path / "a" / "cfg.py", tmp_path / "b" / "cfg.py"])
    with pytest.raises(ValueError, match="doesn't exist"):
        read_file(tmp_path / "missing.py")
    with pytest.raises(ValueError, match="not a file"):
        read_file(tmp_path / "a")


def test_update_file_variables(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_bytes(b"freq = 1e9  # Hz\r\nflag = False\r\nother = 3\r\n")
    os.chmod(path, 0o640)
    assert update_file_variables(path, {"freq": 2.5e9, "flag": True, "zz": 1}) == {"freq", "flag"}
    assert path.read_bytes() == b"freq = 2500000000.0  # Hz\r\nflag = True\r\nother = 3\r\n"
    assert parse_str(path.read_text())["freq"] == 2.5e9
    assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.py"]  # no temporary file left


def test_update_file_variables_untouched_when_nothing_matches(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("a = 1\n")
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert update_file_variables(path, {"b": 2}) == set()
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_update_file_variables_errors(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("a = 1\n")
    with pytest.raises(TypeError, match="Cannot write"):
        update_file_variables(path, {"a": object()})
    assert path.read_text() == "a = 1\n"
    with pytest.raises(ValueError, match="doesn't exist"):
        update_file_variables(tmp_path / "nope.py", {"a": 1})
