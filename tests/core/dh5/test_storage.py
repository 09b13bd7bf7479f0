"""The storage layer: locks, rollback journal, atomic creation and replacement."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import storage
from labmate_core.dh5.journal import JOURNAL_OFFSET, JournaledFile, rollback, write_header


def write_keys(path, **values):
    with storage.open_write(path) as f:
        for key, value in values.items():
            if key in f:
                del f[key]
            f[key] = value


def read_all(path):
    with storage.open_read(path) as f:
        return {k: f[k][()] for k in f}


def test_new_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "new.h5"
    with storage.open_write(path) as f:
        f["x"] = np.arange(5)
        assert not path.exists()
    assert path.exists()
    np.testing.assert_array_equal(read_all(path)["x"], np.arange(5))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".new.h5.lock", "new.h5"]


def test_failed_first_save_leaves_no_file(tmp_path):
    path = tmp_path / "new.h5"
    with pytest.raises(RuntimeError):
        with storage.open_write(path) as f:
            f["x"] = 1
            raise RuntimeError("boom")
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_failed_save_rolls_back_in_place_changes(tmp_path):
    path = tmp_path / "a.h5"
    write_keys(path, x=np.arange(1000), s="kept")
    before = path.read_bytes()
    with pytest.raises(ValueError):
        with storage.open_write(path) as f:
            del f["x"]
            f["x"] = np.zeros(50_000)
            f["new"] = 3
            raise ValueError("unstorable")
    assert path.read_bytes() == before
    assert storage.lock_path(path).stat().st_size == JOURNAL_OFFSET


def test_rollback_restores_exact_bytes_and_is_idempotent(tmp_path):
    path = tmp_path / "raw.bin"
    original = os.urandom(3 * 4096 + 100)
    path.write_bytes(original)
    fd = os.open(tmp_path / "journal", os.O_RDWR | os.O_CREAT)
    try:
        write_header(fd, len(original), "test")
        with JournaledFile(path, fd) as raw:
            raw.seek(4000)
            raw.write(b"x" * 5000)  # spans pages 0-2
            raw.seek(len(original) + 10)
            raw.write(b"appended")
        assert path.read_bytes() != original
        journal = os.pread(fd, 1 << 20, 0)
        assert rollback(path, fd)
        assert path.read_bytes() == original
        # Interrupted rollback replayed: same result.
        os.pwrite(fd, journal, 0)
        assert rollback(path, fd)
        assert path.read_bytes() == original
        assert not rollback(path, fd)  # empty journal: nothing to do
    finally:
        os.close(fd)


def test_torn_last_journal_record_is_ignored(tmp_path):
    path = tmp_path / "raw.bin"
    original = os.urandom(2 * 4096)
    path.write_bytes(original)
    fd = os.open(tmp_path / "journal", os.O_RDWR | os.O_CREAT)
    try:
        write_header(fd, len(original), "test")
        with JournaledFile(path, fd) as raw:
            raw.seek(0)
            raw.write(b"a" * 10)  # page 0 journaled, then written
        size = os.fstat(fd).st_size
        # A record for page 1 whose write was cut short by a crash (its data never written).
        os.pwrite(fd, b"\x00" * 7, size)
        assert rollback(path, fd)
        assert path.read_bytes() == original
    finally:
        os.close(fd)


def test_directory_and_missing_paths(tmp_path):
    with pytest.raises(IsADirectoryError):
        with storage.open_write(tmp_path):
            pass
    with pytest.raises(FileNotFoundError):
        with storage.open_read(tmp_path / "missing.h5"):
            pass
    (tmp_path / "sub.h5").mkdir()
    with pytest.raises(IsADirectoryError):
        with storage.open_read(tmp_path / "sub.h5"):
            pass


def test_writer_excludes_readers_and_readers_share(tmp_path):
    path = tmp_path / "a.h5"
    write_keys(path, x=1)
    inside = threading.Event()
    release = threading.Event()

    def writer():
        with storage.open_write(path) as f:
            f["y"] = 2
            inside.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    assert inside.wait(10)
    with pytest.raises(storage.LockTimeout):
        with storage.open_read(path, timeout=0.2):
            pass
    release.set()
    t.join()
    with storage.open_read(path) as f1, storage.open_read(path, timeout=1) as f2:
        assert f1["y"][()] == 2 and f2["x"][()] == 1


def test_replace_atomically_keeps_old_until_new_is_complete(tmp_path):
    path = tmp_path / "a.h5"
    write_keys(path, old=1)
    with storage.replace_atomically(path) as f:
        f["new"] = 2
        with h5py.File(path, "r") as g:  # the old content is still in place
            assert list(g) == ["old"]
    assert list(read_all(path)) == ["new"]
    with pytest.raises(RuntimeError):
        with storage.replace_atomically(path) as f:
            f["newer"] = 3
            raise RuntimeError
    assert list(read_all(path)) == ["new"]


def test_rewriting_a_growing_array_does_not_grow_the_file(tmp_path):
    path = tmp_path / "a.h5"
    write_keys(path, small=np.arange(10))
    for i in range(20):
        data = np.random.default_rng(i).random(100_000 + 5_000 * i)
        write_keys(path, big=data)
        live = data.nbytes + 80
        assert path.stat().st_size < 1.5 * live, (i, path.stat().st_size / live)
    np.testing.assert_array_equal(read_all(path)["big"], data)


def test_rewriting_small_keys_does_not_grow_the_file(tmp_path):
    path = tmp_path / "a.h5"
    write_keys(path, **{f"k{i}": np.arange(100) for i in range(10)})
    sizes = []
    for i in range(200):
        write_keys(path, k3=np.arange(100) + i, flag=bool(i % 2))
        sizes.append(path.stat().st_size)
    assert max(sizes[100:]) <= max(sizes[:100])


HOLDER = """
import sys, time
from labmate_core.dh5 import storage
with storage.open_write(sys.argv[1]) as f:
    del f["x"]
    f["x"] = list(range(100000))
    f.flush()
    print("inside", flush=True)
    time.sleep(60)
"""


def test_lock_of_a_killed_writer_is_recovered_and_logged(tmp_path, caplog):
    path = tmp_path / "a.h5"
    write_keys(path, x=np.arange(3))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "inside"
        assert storage.lock_path(path).stat().st_size > JOURNAL_OFFSET
    finally:
        proc.kill()
        proc.wait()
    with caplog.at_level(logging.WARNING, logger="labmate_core"):
        with storage.open_write(path, timeout=5) as f:
            np.testing.assert_array_equal(f["x"][()], np.arange(3))
            f["y"] = 1
    assert "died" in caplog.text and str(proc.pid) in caplog.text
    assert read_all(path)["y"] == 1


SAVER = """
import sys
import numpy as np
from labmate_core.dh5 import storage
path = sys.argv[1]
rng = np.random.default_rng(int(sys.argv[2]))
print("ready", flush=True)
i = 0
while True:
    with storage.open_write(path) as f:
        for key in ("a", "b"):
            if key in f:
                del f[key]
            f[key] = np.full(int(rng.integers(1, 40_000)), i)
        f[f"n{i}"] = np.full(int(rng.integers(1, 3_000)), i)
        if "count" in f:
            del f["count"]
        f["count"] = i
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("trial", range(24))
def test_sigkill_during_repeated_saves_keeps_every_returned_save(tmp_path, trial):
    path = tmp_path / "crash.h5"
    rng = np.random.default_rng(1000 + trial)
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path), str(trial)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(float(rng.uniform(0.05, 0.6)))
    proc.kill()
    out, _ = proc.communicate()
    done = [int(line) for line in out.split()]
    if not done:
        assert not path.exists() or read_all(path)
        return
    last = done[-1]
    with storage.open_read(path) as f:
        assert int(f["count"][()]) in (last, last + 1)
        for i in range(last + 1):
            np.testing.assert_array_equal(f[f"n{i}"][()], np.full(f[f"n{i}"].shape, i))
        committed = int(f["count"][()])
        assert np.all(f["a"][()] == committed) and np.all(f["b"][()] == committed)
    # The rolled-back file is a valid HDF5 file for plain h5py too.
    with h5py.File(path, "r") as f:
        assert "count" in f


def test_plain_h5py_opens_a_file_our_reader_holds_open(tmp_path):
    """HDF5 refuses to open a file already open in the process with other locking flags: a
    background reader of ours (index, panel) must not make the user's h5py / labmate fail."""
    path = tmp_path / "f.h5"
    with storage.open_write(path) as file:
        file["a"] = np.arange(3)
    with storage.open_read(path) as ours:
        with h5py.File(path, "r") as theirs:  # HDF5's default flags, as labmate and dh5 use
            assert list(theirs["a"][()]) == list(ours["a"][()]) == [0, 1, 2]
    with h5py.File(path, "r", locking=False) as theirs, storage.open_read(path) as ours:
        assert list(ours["a"][()]) == [0, 1, 2]  # and the other way round
