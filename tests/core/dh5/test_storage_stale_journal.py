"""A journal left by a killed writer restores only its own file, as that writer left it.

A writer is SIGKILLed in the middle of a save (its pages overwritten and flushed, the journal in
the lock file); then the file is rewritten by another tool (plain h5py, dh5 0.8.1) or edited in
place, and only then opened again with DH5: the file must be left exactly as that tool wrote it,
the journal kept aside (not applied, not deleted) with one warning naming both.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dh5
import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5, storage
from labmate_core.dh5.journal import JOURNAL_OFFSET

KILLED_MID_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from labmate_core.dh5 import storage
    with storage.open_write(sys.argv[1]) as f:
        del f["x"]
        f["x"] = np.zeros(50_000)
        f["new"] = np.arange(10)
        f.flush()  # the file's pages are overwritten: only the journal can undo it
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def killed_mid_save(path: Path) -> bytes:
    """A file with ``x`` and ``s`` whose next save was killed half way; its bytes before."""
    d = DH5(path, "w")
    d["x"] = np.arange(1000.0)
    d["s"] = "old"
    d.save()
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path)], timeout=120)
    assert proc.returncode == -9
    assert path.read_bytes() != before
    assert storage.lock_path(path).stat().st_size > JOURNAL_OFFSET  # the journal is there
    return before


def content(path: Path) -> dict[str, bytes]:
    """Every dataset of ``path`` (plain h5py), as bytes, to compare exactly."""
    out: dict[str, bytes] = {}
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, obj: (
                out.__setitem__(name, np.asarray(obj[()]).tobytes())
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    return out


def rewrite_plain_h5py(path: Path) -> None:
    os.unlink(path)
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(7)


def rewrite_h5py_same_inode(path: Path) -> None:
    with h5py.File(path, "w") as f:  # truncated and rewritten in place: same inode
        f["data"] = np.arange(7)


def rewrite_dh5(path: Path) -> None:
    d = dh5.DH5(path, "w", overwrite=True)
    d["data"] = np.arange(7)
    d.save()


def edit_in_place(path: Path) -> None:
    with h5py.File(path, "a") as f:
        f["added"] = np.arange(3)
        f.attrs["edited"] = 1


@pytest.mark.parametrize(
    "rewrite", [rewrite_plain_h5py, rewrite_h5py_same_inode, rewrite_dh5, edit_in_place]
)
def test_a_file_changed_after_its_writer_died_is_never_rolled_back(
    tmp_path: Path, rewrite, caplog
) -> None:
    path = tmp_path / "run.h5"
    killed_mid_save(path)
    journal = storage.lock_path(path).read_bytes()[JOURNAL_OFFSET:]
    rewrite(path)
    written, expected = path.read_bytes(), content(path)
    with caplog.at_level(logging.WARNING):
        reopened = DH5(path)
        keys = set(reopened.keys())
    assert path.read_bytes() == written  # not touched
    assert content(path) == expected
    assert keys == {name.split("/")[0] for name in expected}
    aside = sorted(tmp_path.glob(".run.h5.lock.*.stale-journal"))
    assert len(aside) == 1 and aside[0].read_bytes() == journal  # kept, whole
    assert storage.lock_path(path).stat().st_size == JOURNAL_OFFSET  # no longer pending
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    naming_both = [w for w in warnings if str(path) in w and str(aside[0]) in w]
    assert len(naming_both) == 1 and "\n" not in naming_both[0]
    DH5(path, "a").update({"later": 1}).save()  # and the file is usable as it is
    assert DH5(path)["later"] == 1


def test_the_writers_own_file_is_still_rolled_back(tmp_path: Path, caplog) -> None:
    path = tmp_path / "run.h5"
    before = killed_mid_save(path)
    with caplog.at_level(logging.WARNING):
        assert set(DH5(path).keys()) == {"x", "s"}
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.stale-journal"))
    assert any("Recovering" in r.getMessage() for r in caplog.records)


def test_a_file_replaced_by_a_copy_of_itself_is_not_touched(tmp_path: Path) -> None:
    """Same content, other inode (a restore from backup): the journal is not applied to it."""
    path = tmp_path / "run.h5"
    killed_mid_save(path)
    copy = path.read_bytes()
    old = os.open(path, os.O_RDONLY)  # the old inode stays alive: its number is not reused
    try:
        os.unlink(path)
        path.write_bytes(copy)
        DH5(path).keys()
        assert path.read_bytes() == copy
    finally:
        os.close(old)
    assert len(list(tmp_path.glob(".run.h5.lock.*.stale-journal"))) == 1


def test_journal_knows_every_content_its_writer_left(tmp_path: Path) -> None:
    """Partial writes to one page, a truncation and a write past it: each state the writer left
    is recognised (the journal is applied); one byte changed by somebody else is not."""
    from labmate_core.dh5.journal import JournaledFile, rollback

    original = os.urandom(5 * 4096 + 300)
    for change_after in (False, True):
        path = tmp_path / f"raw{int(change_after)}.bin"
        path.write_bytes(original)
        fd = os.open(tmp_path / f"journal{int(change_after)}", os.O_RDWR | os.O_CREAT)
        try:
            with JournaledFile(path, fd, "test") as raw:
                for pos, chunk in ((10, b"a" * 5), (100, b"b" * 50), (4090, b"c" * 20)):
                    raw.seek(pos)
                    raw.write(chunk)
                raw.truncate(3 * 4096 + 100)
                raw.seek(3 * 4096 + 200)
                raw.write(b"d" * 10)  # past the truncation: a hole of zeros before it
                raw.seek(0)
                raw.write(b"e" * 8192)  # pages 0 and 1 whole
            if change_after:
                with open(path, "r+b") as other:
                    other.seek(4096 + 5)
                    other.write(b"!")
            assert rollback(path, fd)
            if change_after:
                assert path.read_bytes() != original
                assert len(list(tmp_path.glob("journal1.*.stale-journal"))) == 1
            else:
                assert path.read_bytes() == original
        finally:
            os.close(fd)


def test_an_unreadable_journal_is_kept_aside_not_applied(tmp_path: Path, caplog) -> None:
    """A journal of another format (an older version's) is neither applied nor deleted."""
    path = tmp_path / "run.h5"
    d = DH5(path, "w")
    d["x"] = 1
    d.save()
    before = path.read_bytes()
    lock = storage.lock_path(path)
    with open(lock, "r+b") as f:
        f.seek(JOURNAL_OFFSET)
        f.write(b"LMJRNL01" + os.urandom(200))
    with caplog.at_level(logging.WARNING):
        assert DH5(path)["x"] == 1
    assert path.read_bytes() == before
    aside = list(tmp_path.glob(".run.h5.lock.*.stale-journal"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"LMJRNL01")
    assert any(str(aside[0]) in r.getMessage() for r in caplog.records)
