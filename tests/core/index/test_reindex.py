"""Rebuilding the index from the files alone: added, changed, moved, deleted, unreadable."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
from acquisition_files import stamp, write_acquisition

from labmate_core.dh5 import storage
from labmate_core.index import ReindexReport, open_index


def test_files_added_moved_and_deleted_by_hand(data_dir):
    a = write_acquisition(data_dir, "sine", stamp(1))
    b = write_acquisition(data_dir, "sine", stamp(2))
    index = open_index(data_dir)
    index.set_note(b, "keep me")
    assert index.count() == 2

    c = write_acquisition(data_dir, "rabi", stamp(3))  # added without any hook
    os.unlink(f"{a}.h5")  # deleted by hand
    (data_dir / "archive").mkdir()
    moved = data_dir / "archive" / b.name
    os.rename(f"{b}.h5", f"{moved}.h5")  # moved by hand
    report = index.reindex()

    assert report == ReindexReport(added=2, updated=0, removed=2, unchanged=0)
    rows = {row.prefix: row for row in index.list()}
    assert set(rows) == {str(c), str(moved)}
    assert rows[str(moved)].notes == "keep me"  # the note follows the file name
    assert index.reindex() == ReindexReport(unchanged=2)


def test_changed_file_is_read_again(data_dir):
    prefix = write_acquisition(data_dir, status="running", duration=None)
    index = open_index(data_dir)
    assert index.get(prefix).status == "running"
    with storage.open_write(f"{prefix}.h5") as file:
        file["info/status"][()] = "completed"
        file["info/acquisition_duration"] = 3.0
        file["y"] = np.ones(100)
    assert index.reindex().updated == 1
    row = index.get(prefix)
    assert (row.status, row.duration) == ("completed", 3.0)
    assert "y" in row.user_keys


def test_unchanged_files_are_not_opened(data_dir):
    prefix = write_acquisition(data_dir)
    index = open_index(data_dir)
    # a writer holds the file: an unchanged file is not waited for, a changed one is skipped
    with storage.file_lock(f"{prefix}.h5", shared=False):
        assert index.reindex() == ReindexReport(unchanged=1)
        os.utime(f"{prefix}.h5", ns=(1, 1))
        assert index.reindex() == ReindexReport(skipped=1)
    assert index.reindex() == ReindexReport(updated=1)
    assert index.get(prefix).status == "completed"


def test_unreadable_and_foreign_files(data_dir):
    write_acquisition(data_dir, "good", stamp(5))
    (data_dir / "bad").mkdir()
    (data_dir / "bad" / f"{stamp(6)}__bad.h5").write_bytes(b"not hdf5 at all")
    (data_dir / "bad" / ".hidden.h5").write_bytes(b"ignored")
    (data_dir / "bad" / "notes.txt").write_text("ignored")
    index = open_index(data_dir)
    rows = index.list()
    assert [(r.name, r.status) for r in rows] == [("bad", "unreadable"), ("good", "completed")]
    assert "OSError" in rows[0].error or "Error" in rows[0].error
    assert index.count(status="unreadable") == 1


def test_failed_acquisition_keeps_the_last_error_line(data_dir):
    prefix = write_acquisition(
        data_dir,
        status="failed",
        error="Traceback (most recent call last):\n  ...\nKeyboardInterrupt: stop\n",
    )
    row = open_index(data_dir).get(prefix)
    assert (row.status, row.error) == ("failed", "KeyboardInterrupt: stop")


def test_labmate_0_10_9_and_older_files(data_dir, fixture_copy):
    shutil.copytree(fixture_copy / "labmate-0.10.9" / "data", data_dir, dirs_exist_ok=True)
    shutil.copytree(fixture_copy / "labmate-old", data_dir / "old")
    index = open_index(data_dir)
    index.reindex()
    rows = {row.stem: row for row in index.list(limit=100)}
    expected = json.loads((fixture_copy / "labmate-0.10.9" / "expected.json").read_text())
    sine = rows[os.path.basename(expected["sine"])]
    assert sine.status == "completed"
    assert sine.duration is not None
    assert "fit" in sine.user_keys
    old = rows["old_data_example"]  # no time stamp in the name: the file's time
    assert old.name == "old_data_example"
    assert old.status in ("completed", "failed")
    assert len(old.time_stamp) == len("2026_11_24__20_05_10")
