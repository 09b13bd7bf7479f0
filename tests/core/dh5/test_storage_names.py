"""One lock and one journal per file, whatever name it is reached by (symlink, hard link, ``..``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5, storage
from labmate_core.dh5.journal import JOURNAL_OFFSET


def symlink(real: Path) -> Path:
    alias = real.with_name("alias.h5")
    alias.symlink_to(real.name)
    return alias


def hard_link(real: Path) -> Path:
    other = real.parent / "elsewhere"
    other.mkdir()
    alias = other / "linked.h5"
    os.link(real, alias)  # in another directory: no sibling lock file can be shared
    return alias


def dotdot(real: Path) -> Path:
    (real.parent / "sub").mkdir()
    return real.parent / "sub" / ".." / real.name


NAMES = {"symlink": symlink, "hard_link": hard_link, "dotdot": dotdot}


def a_file(tmp_path: Path) -> Path:
    real = tmp_path / "real.h5"
    d = DH5(real, "w")
    d["start"] = 0
    d.save()
    return real


@pytest.mark.parametrize("kind", list(NAMES))
def test_two_names_share_one_lock(tmp_path: Path, kind: str) -> None:
    real = a_file(tmp_path)
    alias = NAMES[kind](real)
    mine, theirs = storage.lock_path(alias), storage.lock_path(real)
    assert mine == theirs or os.path.samefile(mine, theirs)  # `..`: the same file


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from labmate_core.dh5 import DH5
    path, tag = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(len(tag))
    d = DH5(path, "a")
    for i in range(40):
        d[f"{tag}{i}"] = np.full(int(rng.integers(1, 5_000)), i)
        d[f"shared_{tag}"] = np.full(int(rng.integers(1, 20_000)), i)  # replaced each time
        d.save()
    """
)


@pytest.mark.parametrize("kind", list(NAMES))
def test_two_processes_writing_through_two_names_keep_both(tmp_path: Path, kind: str) -> None:
    real = a_file(tmp_path)
    alias = NAMES[kind](real)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(name), tag])
        for name, tag in ((real, "r"), (alias, "alias"))
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    assert os.path.samefile(real, alias)  # still one file (a hard link was not split)
    with h5py.File(real, "r") as f:
        keys = set(f)
        for tag in ("r", "alias"):
            for i in range(40):
                assert np.all(f[f"{tag}{i}"][()] == i)
            assert np.all(f[f"shared_{tag}"][()] == 39)
    assert keys == {"start", "shared_r", "shared_alias"} | {
        f"{tag}{i}" for tag in ("r", "alias") for i in range(40)
    }


KILLED_MID_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from labmate_core.dh5 import storage
    with storage.open_write(sys.argv[1]) as f:
        f["start"][()] = 99
        f["big"] = np.zeros(100_000)
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("kind", list(NAMES))
def test_a_save_killed_through_one_name_is_rolled_back_through_the_other(
    tmp_path: Path, kind: str
) -> None:
    real = a_file(tmp_path)
    alias = NAMES[kind](real)
    before = real.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(alias)], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert real.read_bytes() != before
    assert storage.lock_path(real).stat().st_size > JOURNAL_OFFSET  # one journal, found here
    assert DH5(real)["start"] == 0
    assert real.read_bytes() == before


def test_a_journal_left_before_a_hard_link_was_made_is_still_applied(tmp_path: Path) -> None:
    """The writer died with the file's lock beside it; a hard link made since moves the lock to
    the (device, inode) one: the journal left beside the file is found and applied all the same
    (through the name it was written by: another name's directory has no trace of it)."""
    real = a_file(tmp_path)
    before = real.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(real)], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    hard_link(real)
    assert storage.lock_path(real) != real.with_name(".real.h5.lock")
    assert DH5(real)["start"] == 0
    assert real.read_bytes() == before


def test_a_write_session_follows_its_file_to_the_hard_link_lock(tmp_path: Path) -> None:
    """A hard link made while a session (loop appends) keeps the file open moves the file's
    lock: the session takes the new one, so writers through the new name wait for it."""
    real = a_file(tmp_path)
    session = storage.WriteSession(real)
    try:
        with session.transaction() as f:
            f["a"] = 1
        alias = hard_link(real)
        with session.transaction() as f:
            f["b"] = 2
            with pytest.raises(storage.LockTimeout):  # the other name's writer must wait
                with storage.open_write(alias, timeout=0.2):
                    pass
    finally:
        session.close()
    assert set(DH5(alias).keys()) == {"start", "a", "b"}
