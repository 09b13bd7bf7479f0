"""A corrupt, deleted or unwritable index is rebuilt from the files, never fatal."""

from __future__ import annotations

import os

import pytest
from acquisition_files import stamp, write_acquisition

from labmate_core.index import AcquisitionIndex, open_index


def _three(data_dir):
    return [write_acquisition(data_dir, "sine", stamp(i)) for i in range(3)]


def test_garbage_index_file_is_rebuilt_with_notes(data_dir):
    prefixes = _three(data_dir)
    index = AcquisitionIndex(data_dir)
    index.set_note(prefixes[0], "the good one")
    index.close()
    db = data_dir / ".labmate" / "index.sqlite"
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(b"garbage " * 1000)

    rebuilt = AcquisitionIndex(data_dir)
    assert rebuilt.count() == 3
    assert rebuilt.get(prefixes[0]).notes == "the good one"
    assert (data_dir / ".labmate" / "index.sqlite.corrupt").read_bytes().startswith(b"garbage")


def test_corruption_under_an_open_connection(data_dir):
    prefixes = _three(data_dir)
    index = AcquisitionIndex(data_dir)
    assert index.count() == 3
    db = data_dir / ".labmate" / "index.sqlite"
    with open(db, "r+b") as file:  # same inode: the connection does not notice a new file
        file.write(b"\0garbage\0" * 200)
    assert len(index.list()) == 3
    assert index.get(prefixes[1]).name == "sine"


def test_truncated_index_is_rebuilt(data_dir):
    _three(data_dir)
    AcquisitionIndex(data_dir).close()
    db = data_dir / ".labmate" / "index.sqlite"
    size = db.stat().st_size
    with open(db, "r+b") as file:
        file.truncate(size // 2 or 1)
    assert AcquisitionIndex(data_dir).count() == 3


def test_index_deleted_while_in_use(data_dir):
    _three(data_dir)
    index = open_index(data_dir)
    assert index.count() == 3
    for name in os.listdir(data_dir / ".labmate"):
        if name.startswith("index.sqlite"):
            os.unlink(data_dir / ".labmate" / name)
    assert index.count() == 3
    assert (data_dir / ".labmate" / "index.sqlite").is_file()


def test_schema_of_another_version_is_rebuilt(data_dir):
    import sqlite3

    _three(data_dir)
    AcquisitionIndex(data_dir).close()
    conn = sqlite3.connect(data_dir / ".labmate" / "index.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.execute("DELETE FROM acquisitions")
    conn.commit()
    conn.close()
    assert AcquisitionIndex(data_dir).count() == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_data_directory_uses_a_memory_index(data_dir):
    _three(data_dir)
    os.chmod(data_dir, 0o555)
    try:
        index = AcquisitionIndex(data_dir)
        assert index.count() == 3
    finally:
        os.chmod(data_dir, 0o755)


def test_labmate_folder_that_is_a_file_uses_a_memory_index(data_dir, caplog):
    _three(data_dir)
    (data_dir / ".labmate").write_text("not a folder")
    index = AcquisitionIndex(data_dir)
    assert index.count() == 3
    index.set_note(index.list()[0].prefix, "kept in memory")
    assert index.list()[0].notes == "kept in memory"
    assert "in-memory index" in caplog.text
    assert (data_dir / ".labmate").read_text() == "not a folder"
