"""Listing, filters, paging, rows, notes and sync states of the SQLite index."""

from __future__ import annotations

import datetime
import os

import pytest
from acquisition_files import stamp, write_acquisition

from labmate_core.index import AcquisitionIndex, open_index


def test_index_lives_in_the_data_directory(data_dir):
    open_index(data_dir)
    assert (data_dir / ".labmate" / "index.sqlite").is_file()


def test_rows_describe_the_files(data_dir):
    prefix = write_acquisition(data_dir, "sine", duration=2.5, x=[1.0, 2.0], fit="a*x")
    [row] = open_index(data_dir).list()
    assert row.prefix == str(prefix)
    assert row.path == f"{prefix}.h5"
    assert (row.name, row.status, row.duration) == ("sine", "completed", 2.5)
    assert row.started == datetime.datetime(2026, 11, 24, 16, 56, 38)
    assert row.size == (data_dir / "sine" / f"{row.stem}.h5").stat().st_size
    assert set(row.user_keys) == {"x", "fit"}
    assert {"experiment_name", "useful", "info", "acquisition_cell"} <= set(row.keys)


def test_newest_first_with_same_second_duplicates(data_dir):
    write_acquisition(data_dir, "a", stamp(1))
    write_acquisition(data_dir, "a", stamp(2))
    write_acquisition(data_dir, "a", stamp(2), suffix="__1")
    write_acquisition(data_dir, "b", stamp(0))
    stems = [row.stem for row in open_index(data_dir).list()]
    assert stems == [
        f"{stamp(2)}__a__1",
        f"{stamp(2)}__a",
        f"{stamp(1)}__a",
        f"{stamp(0)}__b",
    ]


def test_same_second_in_the_order_the_files_appeared(data_dir):
    index = open_index(data_dir)
    zeta = write_acquisition(data_dir, "zeta", stamp(1))
    alpha = write_acquisition(data_dir, "alpha", stamp(1))
    index.update(zeta)
    index.update(alpha)  # recorded last: newest
    assert [r.name for r in index.list()] == ["alpha", "zeta"]
    index.update(zeta)  # a later save does not make it newer
    assert [r.name for r in index.list()] == ["alpha", "zeta"]

    other = data_dir / "other"  # found by reindex: ordered by modification time
    other.mkdir()
    found = open_index(other)
    late, early = write_acquisition(other, "b", stamp(2)), write_acquisition(other, "c", stamp(2))
    os.utime(f"{late}.h5", ns=(2 * 10**18, 2 * 10**18))
    os.utime(f"{early}.h5", ns=(10**18, 10**18))
    found.reindex()
    assert [r.name for r in found.list()] == ["b", "c"]


def test_filters_and_paging(data_dir):
    for i in range(12):
        write_acquisition(
            data_dir,
            "sine" if i % 2 else "rabi",
            stamp(i * 3600),
            status="failed" if i == 5 else "completed",
        )
    index = open_index(data_dir)
    assert index.count() == 12
    assert [r.stem for r in index.list(limit=5)] + [
        r.stem for r in index.list(limit=5, offset=5)
    ] == [r.stem for r in index.list(limit=10)]
    assert len(index.list(offset=10)) == 2
    assert {r.name for r in index.list(name="SIN")} == {"sine"}  # part of the name, any case
    assert index.count(name="sine") == 6
    [failed] = index.list(status="failed")
    assert failed.stem == f"{stamp(5 * 3600)}__sine"
    assert index.count(status=["failed", "running"]) == 1
    since = datetime.datetime(2026, 11, 1, 8)
    assert [r.time_stamp for r in index.list(since=since)] == [
        stamp(i * 3600)[:11] + f"_{i:02d}_00_00" for i in range(11, 7, -1)
    ]
    assert index.count(since="2026-11-01 08:00") == 4
    assert index.count(since=since, until="2026-11-01 10:00") == 2
    assert index.count(since=datetime.date(2026, 11, 2)) == 0


def test_text_filter_matches_name_file_and_note(data_dir):
    a = write_acquisition(data_dir, "sine", stamp(1))
    write_acquisition(data_dir, "rabi", stamp(2))
    index = open_index(data_dir)
    index.set_note(a, "cryostat warm_up 100%")
    assert [r.name for r in index.list(text="warm_up")] == ["sine"]
    assert [r.name for r in index.list(text="100%")] == ["sine"]
    assert index.count(text="%") == 1  # LIKE wildcards are literal
    assert [r.name for r in index.list(text="rab")] == ["rabi"]
    assert index.count(text=stamp(2)) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"since": "yesterday"}, ValueError),
        ({"since": ["2026"]}, TypeError),
        ({"limit": -1}, ValueError),
        ({"offset": 1.5}, ValueError),
        ({"limit": True}, ValueError),
    ],
)
def test_bad_queries_are_refused_clearly(data_dir, kwargs, error):
    write_acquisition(data_dir)
    index = open_index(data_dir)
    with pytest.raises(error, match="since|limit|offset"):
        index.list(**kwargs)
    assert index.count() == 1


def test_notes_follow_the_file_and_survive_updates(data_dir):
    prefix = write_acquisition(data_dir)
    index = open_index(data_dir)
    index.set_note(prefix, "first")
    index.set_note(f"{prefix}.h5", "second")
    index.update(prefix)
    assert index.get(prefix).notes == "second"
    with pytest.raises(TypeError, match="string"):
        index.set_note(prefix, 3)
    assert index.get(prefix).notes == "second"


def test_sync_states_per_backend_and_stale_events_ignored(data_dir):
    prefix = write_acquisition(data_dir)
    index = open_index(data_dir)
    index.set_sync(prefix, "mirror", "copying", when=10.0)
    index.set_sync(prefix, "mirror", "done", attempts=1, when=11.0)
    index.set_sync(prefix, "mirror", "pending", when=10.5)  # arrives late: ignored
    index.set_sync(
        prefix, "s3", "failed", attempts=3, last_error="Traceback...\nOSError: nope", when=12.0
    )
    row = index.get(prefix)
    assert {name: s.state for name, s in row.sync.items()} == {"mirror": "done", "s3": "failed"}
    assert row.sync["s3"].attempts == 3 and "nope" in row.sync["s3"].last_error
    assert index.backends() == ["mirror", "s3"]
    with pytest.raises(ValueError, match="backend"):
        index.set_sync(prefix, "", "done")


def test_update_of_a_missing_file_removes_its_row(data_dir):
    prefix = write_acquisition(data_dir)
    index = open_index(data_dir)
    (data_dir / "sine" / f"{prefix.name}.h5").unlink()
    assert index.update(prefix) is None
    assert index.count() == 0


def test_files_outside_the_data_directory_keep_their_absolute_path(data_dir, tmp_path):
    elsewhere = write_acquisition(tmp_path / "other", "far")
    index = open_index(data_dir)
    row = index.update(elsewhere)
    assert row.prefix == str(elsewhere)
    assert index.key_of(elsewhere) == str(elsewhere)


def test_not_a_directory_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        AcquisitionIndex(tmp_path / "file")
    with pytest.raises(NotADirectoryError):
        AcquisitionIndex(tmp_path / "missing")
