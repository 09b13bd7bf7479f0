import os

import pytest

from labmate_core.backends import AcquisitionSnapshot, MirrorDirectoryBackend


def test_copies_own_files_every_time(data_dir, tmp_path, lab):
    prefix = lab.write_acquisition(data_dir)
    lab.write_acquisition(data_dir, suffix="__1")
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    snapshot = AcquisitionSnapshot.from_prefix(prefix)
    mirror.save_snapshot(snapshot)
    folder = tmp_path / "m" / "sine"
    names = sorted(os.listdir(folder))
    assert names == sorted(f.name for f in snapshot.files())
    cell = folder / f"{prefix.name}_CELL.py"
    source_cell = prefix.parent / cell.name
    cell.write_text("y = 1\n")  # same size and mtime as the source: still copied
    os.utime(cell, ns=(source_cell.stat().st_atime_ns, source_cell.stat().st_mtime_ns))
    lab.rewrite_h5(prefix, 2)
    mirror.save_snapshot(snapshot)
    assert cell.read_text() == source_cell.read_text()  # never judged by size and mtime
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


class RewritingMirror(MirrorDirectoryBackend):
    """Each copy from the live folder is overtaken by a save: the mirror must stage locally."""

    def __init__(self, root, live_folder, rewrite):
        super().__init__(root)
        self.live_folder = live_folder
        self.rewrite = rewrite
        self.shipped_from: list = []

    def copy_file(self, source, target):
        if source.parent == self.live_folder:
            self.rewrite()
        else:
            self.shipped_from.append(source)
        super().copy_file(source, target)


def test_called_directly_it_stages_in_a_private_folder_removed_after(
    data_dir, tmp_path, lab, monkeypatch
):
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # the documented override
    prefix = lab.write_acquisition(data_dir, version=1)
    versions = iter(range(2, 1000))
    mirror = RewritingMirror(
        tmp_path / "m", prefix.parent, lambda: lab.rewrite_h5(prefix, next(versions))
    )
    mirror.save_snapshot(AcquisitionSnapshot.from_prefix(prefix))
    assert mirror.shipped_from  # shipped from a local staging copy
    (folder,) = {p.parent.parent for p in mirror.shipped_from}
    assert folder.parent == temp and folder.name.startswith("labmate-staging-")
    assert list(temp.iterdir()) == []  # removed after use, nothing shared left behind
    copied = lab.read_version(tmp_path / "m" / "sine" / f"{prefix.name}.h5")
    assert copied == lab.read_version(prefix.with_name(prefix.name + ".h5"))
