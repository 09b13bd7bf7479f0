"""The hooks the manager and the dispatcher call, and the listener registry."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from acquisition_files import stamp, write_acquisition

from labmate_core import index
from labmate_core.backends.status import SnapshotStatus, State
from labmate_core.dh5 import DH5, storage


def test_acquisition_lifecycle_through_the_hooks(data_dir):
    (data_dir / ".labmate").mkdir()
    events = []
    unsubscribe = index.subscribe(events.append)
    prefix = write_acquisition(data_dir, status="running", duration=None, useful=False)

    row = index.record_start(prefix)
    assert (row.status, row.name) == ("running", "sine")
    with storage.open_write(f"{prefix}.h5") as file:
        file["useful"][()] = True
        file["data"] = np.arange(10)
    assert "data" in index.record_save(f"{prefix}.h5").user_keys
    assert index.record_end(prefix, "failed").status == "failed"
    index.on_backend_status(SnapshotStatus(str(prefix), "mirror", State.FAILED, 2, "boom", 5.0))
    index.set_note(data_dir, prefix, "retry later")
    assert index.flush(10)  # backend statuses and notes are written in the background

    assert [(e.kind, e.prefix) for e in events] == [
        (kind, str(prefix)) for kind in ("start", "save", "end", "sync", "note")
    ]
    assert {e.data_directory for e in events} == {str(data_dir)}
    stored = index.open_index(data_dir).get(prefix)
    assert stored.sync["mirror"].state == "failed" and stored.sync["mirror"].last_error == "boom"
    assert stored.notes == "retry later"

    unsubscribe()
    index.record_save(prefix)
    assert len(events) == 5


def test_data_directory_is_found_from_the_prefix(data_dir, tmp_path):
    prefix = write_acquisition(data_dir)
    assert index.data_directory_of(prefix) == data_dir  # <data>/<name>/<file> layout
    (data_dir / "temp.json").write_text("{}")
    nested = write_acquisition(data_dir / "sub", "deep")
    assert index.data_directory_of(nested) == data_dir  # the nearest folder with temp.json


def test_manager_hook_takes_the_acquisition_object(data_dir):
    prefix = write_acquisition(data_dir)
    index.on_acquisition_saved(DH5(str(prefix)))
    assert index.open_index(data_dir).count() == 1


def test_hooks_never_raise(data_dir, caplog):
    assert index.record_start(data_dir / "sine" / "missing") is None
    assert index.record_save(None) is None
    assert index.record_end(write_acquisition(data_dir), "exploded").status == "completed"
    index.on_backend_status(object())
    index.on_acquisition_saved(object())
    assert "could not index" in caplog.text
    assert "unknown acquisition status" in caplog.text


def test_a_failing_listener_does_not_stop_the_others(data_dir, caplog):
    seen = []

    def broken(event):
        raise RuntimeError("listener bug")

    index.subscribe(broken)
    index.subscribe(seen.append)
    index.record_start(write_acquisition(data_dir, "a", stamp(1)))
    assert [e.kind for e in seen] == ["start"]
    assert "listener bug" in caplog.text
    index.unsubscribe(broken)
    index.unsubscribe(broken)  # twice: no error


def test_reindex_notifies(data_dir):
    seen = []
    index.open_index(data_dir)
    index.subscribe(seen.append)
    write_acquisition(data_dir)
    report = index.reindex(data_dir)
    assert report.added == 1
    assert [(e.kind, e.prefix) for e in seen] == [("reindex", None)]


def test_recording_an_unchanged_acquisition_again_still_tells_the_listeners(data_dir):
    (data_dir / ".labmate").mkdir()
    prefix = write_acquisition(data_dir, status="completed", duration=1.0, useful=True)
    data = DH5(f"{prefix}.h5")
    events = []
    unsubscribe = index.subscribe(events.append)
    try:
        index.record_save(prefix, data_directory=data_dir, data=data)
        index.record_end(prefix, "completed", data_directory=data_dir, data=data)
        index.record_end(prefix, "failed", data_directory=data_dir, data=data)
        assert index.flush(10)
    finally:
        unsubscribe()
    assert [e.kind for e in events] == ["save", "end", "end"]
    assert index.open_index(data_dir).get(prefix).status == "failed"


def test_a_locked_index_does_not_hold_up_the_acquisition(data_dir):
    """The kernel hands records to the background writer: another process holding the SQLite
    write lock (a long reindex, a busy server share) delays the index, never the caller."""
    index.open_index(data_dir)  # already open: the first-open rebuild is not what is tested
    other = sqlite3.connect(data_dir / ".labmate" / "index.sqlite", isolation_level=None)
    events = []
    unsubscribe = index.subscribe(events.append)
    try:
        other.execute("BEGIN EXCLUSIVE")
        prefix = write_acquisition(data_dir, status="completed", duration=1.0, useful=True)
        data = DH5(f"{prefix}.h5")
        index.record_start(prefix, data_directory=data_dir, data=data)
        index.record_end(prefix, "completed", data_directory=data_dir, data=data)
        index.on_backend_status(SnapshotStatus(str(prefix), "mirror", State.DONE, 1, None, 5.0))
        index.set_note(data_dir, prefix, "noisy run")
        # returned while the database is locked: the records wait in the writer's queue, and a
        # reader (the panel) is not made to wait for them
        assert not index.flush(0) and events == []
        assert index.open_index(data_dir).get(prefix) is None
        other.execute("COMMIT")
        assert index.flush(60)
    finally:
        unsubscribe()
        other.close()
    assert [e.kind for e in events] == ["start", "end", "sync", "note"]
    row = index.open_index(data_dir).get(prefix)
    assert row.status == "completed" and row.sync["mirror"].state == "done"
    assert row.notes == "noisy run"


def test_a_note_that_is_not_text_is_refused_at_once(data_dir):
    with pytest.raises(TypeError, match="text"):
        index.set_note(data_dir, data_dir / "sine" / "x", 3)


def test_a_listener_may_read_the_index_from_the_writer_thread(data_dir):
    """open_index() flushes the writer first; called by a listener on that thread it must not
    wait for itself."""
    index.open_index(data_dir)
    seen = []
    unsubscribe = index.subscribe(lambda e: seen.append(index.open_index(data_dir).count()))
    try:
        prefix = write_acquisition(data_dir)
        index.record_start(prefix, data_directory=data_dir, data=DH5(f"{prefix}.h5"))
        assert index.flush(60)
    finally:
        unsubscribe()
    assert seen == [1]


def test_rows_from_data_are_written_together_and_in_order(data_dir):
    """A burst of records made from in-memory data: one batch, every event, the last state."""
    from labmate_core.index import events as index_events

    (data_dir / ".labmate").mkdir()
    seen = []
    unsubscribe = index.subscribe(seen.append)
    batches = []
    write_rows = index_events._writer._write_rows
    index_events._writer._write_rows = lambda rows: (batches.append(len(rows)), write_rows(rows))
    try:
        prefixes = [write_acquisition(data_dir, "burst", stamp(i)) for i in range(5)]
        for prefix in prefixes:
            data = DH5(str(prefix))
            index.record_start(prefix, data_directory=data_dir, data=data)
            index.record_save(prefix, data_directory=data_dir, data=data)
            index.record_end(prefix, "failed", data_directory=data_dir, data=data)
        assert index.flush(10)
    finally:
        index_events._writer._write_rows = write_rows
        unsubscribe()
    assert sum(batches) == 15 and len(batches) < 15  # batched (normally 1 or 2 batches)
    assert [(e.kind, e.prefix) for e in seen] == [
        (kind, str(prefix)) for prefix in prefixes for kind in ("start", "save", "end")
    ]
    rows = index.open_index(data_dir)
    assert [rows.get(prefix).status for prefix in prefixes] == ["failed"] * 5


def test_a_row_for_a_file_not_written_yet(data_dir):
    """A %%acquisition's file is written at its first save: its start row has size 0 and the
    next refresh reads the real file."""
    data = DH5({"experiment_name": "later", "info": {"status": "running"}, "useful": False})
    summary = index.summary_of_data(data_dir / "later" / "2026_01_01__00_00_00__later.h5", data)
    assert (summary.name, summary.status, summary.size, summary.mtime_ns) == (
        "later",
        "running",
        0,
        0,
    )


def test_a_write_after_a_record_is_seen_by_the_next_reindex(data_dir):
    """The row's keys and the file's stat are taken together: a write the index did not hear
    of (made before the background writer ran) is found by the next reindex."""
    (data_dir / ".labmate").mkdir()
    prefix = write_acquisition(data_dir, "late", stamp(1))
    index.record_save(prefix, data_directory=data_dir, data=DH5(str(prefix)))
    with storage.open_write(f"{prefix}.h5") as file:  # before the row is written
        file["analysis_result"] = 42
    assert index.flush(10)
    index.reindex(data_dir)
    assert "analysis_result" in index.open_index(data_dir).get(prefix).user_keys
