from pathlib import Path

import pytest

from labmate_core.backends import AcquisitionSnapshot, acquisition_files, is_acquisition_file
from labmate_core.backends.files import normalize_prefix


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text(name)


def test_own_files_only(tmp_path):
    p = "2026_11_24__16_56_38__sine"
    _touch(
        tmp_path,
        f"{p}.h5",
        f"{p}_CELL.py",
        f"{p}_cfg1.py",
        f"{p}_FIG1.pdf",
        f"{p}_ANALYSIS_CELL_default.py",
        f"{p}__1.h5",
        f"{p}__1_CELL.py",
        f"{p}__12_FIG1.pdf",
        f".{p}.h5.lock",
        f".{p}.h5.journal",
        f"{p}.h5.tmp",
        f"{p}x.h5",
        "2026_11_24__16_56_39__sine.h5",
        "init_analyse.py",
    )
    (tmp_path / f"{p}_folder").mkdir()
    names = [f.name for f in acquisition_files(tmp_path / p)]
    assert names == [
        f"{p}_ANALYSIS_CELL_default.py",
        f"{p}_CELL.py",
        f"{p}_FIG1.pdf",
        f"{p}_cfg1.py",
        f"{p}.h5",  # last: a copy that stops midway never has the .h5 without its companions
    ]
    dup = [f.name for f in acquisition_files(tmp_path / f"{p}__1")]
    assert dup == [f"{p}__1_CELL.py", f"{p}__1.h5"]
    assert acquisition_files(tmp_path / f"{p}.h5") == acquisition_files(tmp_path / p)


def test_rule_details():
    assert is_acquisition_file("P", "P__private.py")  # a config named _private.py
    assert not is_acquisition_file("P", "P__3.h5")
    assert not is_acquisition_file("P", "P__3_CELL.py")
    assert is_acquisition_file("P", "P__3.py")  # not a file of acquisition P__3 (no .h5 / _)
    assert not is_acquisition_file("", "x.h5")


def test_missing_folder_is_empty(tmp_path):
    assert acquisition_files(tmp_path / "nope" / "P") == []


@pytest.mark.parametrize("bad", ["", ".", None, 3])
def test_bad_prefix(bad):
    with pytest.raises((ValueError, TypeError)):
        normalize_prefix(bad)


def test_snapshot_fields(tmp_path):
    snap = AcquisitionSnapshot.from_prefix(tmp_path / "sine" / "2026_11_24__16_56_38__sine__2")
    assert snap.experiment_name == "sine"
    assert snap.directory == str(tmp_path / "sine")
    assert snap.original_filepath == snap.filepath
    other = AcquisitionSnapshot.from_prefix(tmp_path / "exp" / "custom")
    assert other.experiment_name == "exp"
