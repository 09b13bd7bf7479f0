import os

import pytest

from labmate_core.backends import AcquisitionSnapshot, MirrorDirectoryBackend


def test_copies_own_files_and_skips_unchanged(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    lab.write_acquisition(data_dir, suffix="__1")
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    snapshot = AcquisitionSnapshot.from_prefix(prefix)
    mirror.save_snapshot(snapshot)
    folder = tmp_path / "m" / "sine"
    names = sorted(os.listdir(folder))
    assert names == sorted(f.name for f in snapshot.files())
    cell = folder / f"{prefix.name}_CELL.py"
    os.utime(cell, ns=(1, 1))  # marks the copy: a skipped file keeps it
    os.utime(prefix.parent / cell.name, ns=(1, 1))
    lab.rewrite_h5(prefix, 2)
    mirror.save_snapshot(snapshot)
    assert cell.stat().st_mtime_ns == 1  # unchanged: not copied again
    assert lab.read_version(folder / f"{prefix.name}.h5") == 2  # changed: copied
    (prefix.parent / cell.name).write_text("x = 'new'\n")
    mirror.save_snapshot(snapshot)
    assert cell.read_text() == "x = 'new'\n"


def test_load_snapshot_round_trip(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir, version=4)
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    mirror.save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
    elsewhere = tmp_path / "other" / "sine" / prefix.name
    assert mirror.load_snapshot(AcquisitionSnapshot.from_prefix(elsewhere)) is True
    assert lab.read_version(elsewhere.with_name(elsewhere.name + ".h5")) == 4
    missing = tmp_path / "other" / "sine" / "2020_01_01__00_00_00__sine"
    assert mirror.load_snapshot(AcquisitionSnapshot.from_prefix(missing)) is False


def test_bad_roots(tmp_path, data_dir, lab):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        MirrorDirectoryBackend(tmp_path / "file")
    with pytest.raises(TypeError):
        MirrorDirectoryBackend(None)
    mirror = MirrorDirectoryBackend(tmp_path / "nope", create=False)
    prefix = lab.write_acquisition(data_dir)
    with pytest.raises(FileNotFoundError, match="unmounted"):
        mirror.save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
    assert not (tmp_path / "nope").exists()
    with pytest.raises(FileNotFoundError, match="no files"):
        MirrorDirectoryBackend(tmp_path / "m").save_snapshot(
            AcquisitionSnapshot.from_prefix(data_dir / "sine" / "missing")
        )
