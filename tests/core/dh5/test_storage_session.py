"""Write generations (optimistic readers) and write sessions (a file kept open for appends)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import storage


def make_file(path, **values):
    with storage.open_write(path) as f:
        for key, value in values.items():
            f[key] = value


def append(f, value):
    if "x" not in f:
        f.create_dataset("x", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
    ds = f["x"]
    ds.resize((ds.shape[0] + 1,))
    ds[-1] = value


def test_generation_is_odd_during_a_write_and_moves_by_two(tmp_path):
    path = tmp_path / "a.h5"
    assert storage.generation(path) == 0
    make_file(path, a=1)
    g0 = storage.generation(path)
    assert g0 % 2 == 0 and g0 > 0
    with storage.open_write(path) as f:
        assert storage.generation(path) == g0 + 1
        f["b"] = 2
    assert storage.generation(path) == g0 + 2
    with storage.open_read(path):
        pass
    assert storage.generation(path) == g0 + 2


def test_read_consistently_retries_when_a_write_happens_meanwhile(tmp_path):
    path = tmp_path / "a.h5"
    make_file(path, v=0)
    calls = []

    def read():
        data = path.read_bytes()
        calls.append(data)
        if len(calls) == 1:  # a writer slips in during the first read
            with storage.open_write(path) as f:
                del f["v"]
                f["v"] = np.arange(1000)
        return data

    result = storage.read_consistently(path, read)
    assert len(calls) == 2
    assert result == path.read_bytes()


def test_read_consistently_retries_a_read_that_failed_on_a_torn_file(tmp_path):
    """A read that parses the file (h5py) may raise on the half-written file it met: that is a
    torn read like any other, taken again once the write is over."""
    path = tmp_path / "a.h5"
    make_file(path, v=0)
    calls = []

    def read():
        calls.append(1)
        if len(calls) == 1:  # a writer slips in, and the read meets its half-written file
            with storage.open_write(path) as f:
                f["w"] = 1
            raise OSError("Unable to synchronously open file (invalid file space strategy)")
        with h5py.File(path, "r", locking=False) as f:
            return sorted(f)

    assert storage.read_consistently(path, read) == ["v", "w"]
    assert len(calls) == 2


def test_read_consistently_passes_on_an_error_of_an_unchanged_file(tmp_path):
    path = tmp_path / "a.h5"
    make_file(path, v=0)

    def read():
        raise KeyError("missing")

    with pytest.raises(KeyError):
        storage.read_consistently(path, read)


def test_read_consistently_falls_back_to_the_lock_and_recovers_a_dead_writer(tmp_path, caplog):
    path = tmp_path / "a.h5"
    make_file(path, v=1)
    before = path.read_bytes()
    lock = storage.FileLock(path, shared=False)
    lock.acquire()
    lock.begin_write()  # a writer that "dies" here: the generation stays odd
    lock.release()
    assert storage.generation(path) % 2 == 1
    assert storage.read_consistently(path, path.read_bytes, attempts=2) == before
    assert storage.generation(path) % 2 == 0
    assert "died" in caplog.text


def test_session_appends_are_visible_to_readers_after_each_commit(tmp_path):
    path = tmp_path / "loop.h5"
    make_file(path, meta="m")
    with storage.WriteSession(path) as session:
        for i in range(50):
            with session.transaction() as f:
                append(f, i)
            with storage.open_read(path) as f:
                np.testing.assert_array_equal(f["x"][()], np.arange(i + 1))
    with h5py.File(path, "r") as f:
        assert f["meta"][()] == b"m"
        np.testing.assert_array_equal(f["x"][()], np.arange(50))


def test_session_reopens_when_someone_else_wrote_between_commits(tmp_path):
    path = tmp_path / "loop.h5"
    make_file(path, meta="m")
    session = storage.WriteSession(path)
    for i in range(20):
        with session.transaction() as f:
            append(f, i)
        if i % 3 == 0:  # another writer (another DH5, another process) in between
            with storage.open_write(path) as g:
                g[f"other{i}"] = np.full(5000, i)
    session.close()
    with storage.open_read(path) as f:
        np.testing.assert_array_equal(f["x"][()], np.arange(20))
        for i in range(0, 20, 3):
            np.testing.assert_array_equal(f[f"other{i}"][()], np.full(5000, i))


def test_session_transaction_that_raises_is_rolled_back(tmp_path):
    path = tmp_path / "loop.h5"
    make_file(path, meta="m")
    session = storage.WriteSession(path)
    with session.transaction() as f:
        append(f, 1.0)
    with pytest.raises(RuntimeError):
        with session.transaction() as f:
            append(f, 2.0)
            f["junk"] = np.zeros(10_000)
            raise RuntimeError("boom")
    with session.transaction() as f:
        append(f, 3.0)
    session.close()
    with storage.open_read(path) as f:
        np.testing.assert_array_equal(f["x"][()], [1.0, 3.0])
        assert "junk" not in f


def test_session_on_a_file_that_does_not_exist_yet(tmp_path):
    path = tmp_path / "new.h5"
    session = storage.WriteSession(path)
    for i in range(3):
        with session.transaction() as f:
            append(f, i)
    session.close()
    with storage.open_read(path) as f:
        np.testing.assert_array_equal(f["x"][()], [0, 1, 2])


APPENDER = """
import sys
from labmate_core.dh5 import storage
path = sys.argv[1]
with storage.open_write(path) as f:
    f.create_dataset("x", shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
session = storage.WriteSession(path)
print("ready", flush=True)
i = 0
while True:
    with session.transaction() as f:
        ds = f["x"]
        ds.resize((i + 1,))
        ds[i] = i
        if i % 97 == 0:
            f[f"mark{i}"] = i
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("trial", range(12))
def test_sigkill_during_session_appends_keeps_every_returned_append(tmp_path, trial):
    path = tmp_path / "loop.h5"
    rng = np.random.default_rng(trial)
    proc = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(float(rng.uniform(0.05, 0.5)))
    proc.kill()
    out, _ = proc.communicate()
    done = [int(v) for v in out.split()]
    copy = tmp_path / "copy.h5"
    with storage.open_read(path) as f:
        x = f["x"][()]
    shutil.copy(path, copy)
    n = done[-1] + 1 if done else 0
    assert len(x) in (n, n + 1)
    np.testing.assert_array_equal(x, np.arange(len(x)))
    with h5py.File(copy, "r") as f:
        assert all(f[f"mark{i}"][()] == i for i in range(0, n, 97))


def test_session_never_writes_into_a_file_deleted_behind_its_back(tmp_path):
    path = tmp_path / "loop.h5"
    make_file(path, meta="m")
    session = storage.WriteSession(path)
    with session.transaction() as f:
        append(f, 1.0)
    path.unlink()  # removed by hand, not through storage (the generation does not move)
    with session.transaction() as f:
        append(f, 2.0)
    session.close()
    with storage.open_read(path) as f:
        np.testing.assert_array_equal(f["x"][()], [2.0])
