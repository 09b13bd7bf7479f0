"""Delivery judged by content: two versions written in the same second (same size, same mtime
on a filesystem with 1-second timestamps) are both mirrored, and the delivered content is
recorded per backend."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from labmate_core import DH5
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend
from labmate_core.backends.delivered import DeliveryRecords
from labmate_core.backends.identity import content_identity


def _same_second_pair(aqm, h5: Path, copy: Path) -> bool:
    """fit = 1.0 then 2.0 within one second; each mirrored. True when both writes got the same
    mtime (what the test is about), False when a second boundary fell between them."""
    aqm.d["fit"] = 1.0
    assert aqm.wait_backends(60)
    assert DH5(h5)["fit"] == 1.0, "local"
    assert DH5(copy)["fit"] == 1.0
    first = h5.stat()
    aqm.d["fit"] = 2.0
    assert aqm.wait_backends(60)
    second = h5.stat()
    assert DH5(copy)["fit"] == 2.0, "the second version in the same second was not mirrored"
    assert copy.read_bytes() == h5.read_bytes()
    return (first.st_size, first.st_mtime_ns) == (second.st_size, second.st_mtime_ns)


@pytest.mark.parametrize("kind", ["mirror", "fsspec"])
def test_two_versions_in_one_second_are_both_mirrored(
    coarse_fs: Path, tmp_path: Path, kind: str
) -> None:
    data, mirror = coarse_fs / "data", tmp_path / "mirror"
    if kind == "mirror":
        backend = MirrorDirectoryBackend(mirror)
    else:  # a staged backend (a private copy handed to it)
        from labmate_core.backends.fsspec_backend import FsspecBackend

        backend = FsspecBackend(f"file://{mirror}", auto_mkdir=True)
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=backend)
    aqm.acquisition_cell("fit", cell="c")
    aqm.save_acquisition(x=[1, 2, 3])
    aqm.analysis_cell(cell="aqm.analysis_cell()")
    assert aqm.wait_backends(60)
    prefix = Path(os.fspath(aqm.current_filepath))
    h5 = prefix.with_name(prefix.name + ".h5")
    copy = mirror / "fit" / h5.name
    assert h5.stat().st_mtime_ns % 10**9 == 0, "not a 1-second-timestamp filesystem"
    hits = 0
    for _ in range(6):
        while time.time() % 1 > 0.5:  # start early in a second: both writes fit in it
            time.sleep(0.05)
        hits += _same_second_pair(aqm, h5, copy)
        if hits >= 2:
            break
    assert hits >= 1, "never two writes within one second: the test proved nothing"
    name = next(iter(aqm.backends))
    delivered, when = DeliveryRecords(data).get(name, prefix)
    assert delivered.digest == content_identity(prefix).digest
    assert when <= time.time()


def test_identity_changes_with_content_not_with_stat(tmp_path: Path, lab) -> None:
    prefix = lab.write_acquisition(tmp_path / "data")
    first = content_identity(prefix)
    cell = prefix.parent / f"{prefix.name}_CELL.py"
    stat = cell.stat()
    cell.write_text("x = 9\n")  # same size
    os.utime(cell, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    second = content_identity(prefix, first)  # the known digest is not reused: ctime moved
    assert second.digest != first.digest
    assert second.digest == content_identity(prefix).digest
    os.utime(cell, ns=(2, 2))  # touched, same bytes: the same content
    assert content_identity(prefix, second).digest == second.digest


def test_the_h5_is_identified_by_its_generation_else_by_its_bytes(tmp_path: Path, lab) -> None:
    from labmate_core.dh5 import storage

    prefix = lab.write_acquisition(tmp_path / "data", companions=False)
    h5 = prefix.with_name(prefix.name + ".h5")
    first = content_identity(prefix)
    assert first.files[h5.name]["sha256"] is None  # written through storage: a generation
    lab.rewrite_h5(prefix, 1)  # the same values again: still a new write
    assert content_identity(prefix, first).digest != first.digest
    storage.lock_path(h5).unlink()  # as a file copied in, or written by plain h5py
    plain = content_identity(prefix)
    assert plain.files[h5.name]["sha256"] is not None
    stat = h5.stat()
    with open(h5, "r+b") as handle:  # same size, mtime put back: only the bytes tell
        handle.seek(stat.st_size - 1)
        last = handle.read(1)
        handle.seek(stat.st_size - 1)
        handle.write(bytes([last[0] ^ 0xFF]))
    os.utime(h5, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert content_identity(prefix, plain).digest != plain.digest


def test_a_companion_rewritten_in_its_delivery_second_is_found_stale(
    coarse_fs: Path, tmp_path: Path
) -> None:
    """A companion file (notes, cell) rewritten in place, same size, in the second it was
    delivered (1-second timestamps: its stat does not move) is still found stale by
    ``labmate status`` and delivered by ``labmate sync``: a key taken that close to the hash
    is not trusted (re-hashed), as git treats a "racily clean" file."""
    from labmate_core.cli import main

    data, mirror = coarse_fs / "data", tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=MirrorDirectoryBackend(mirror))
    seen_same_stat = 0
    for trial in range(3):
        with aqm.acquisition(f"run{trial}"):
            aqm.save_acquisition(x=trial)
        notes = Path(f"{aqm.current_filepath}_NOTES.txt")
        notes.write_text("first")
        aqm._submit(os.fspath(aqm.current_filepath))
        assert aqm.wait_backends(60)
        before = notes.stat()
        notes.write_text("other")  # in place: same inode, same size
        after = notes.stat()
        if (before.st_mtime_ns, before.st_ctime_ns) != (after.st_mtime_ns, after.st_ctime_ns):
            continue  # a second boundary fell between them: not the case tested
        seen_same_stat += 1
        assert main(["status", os.fspath(data)]) == 1, "the rewritten notes were not found"
        assert main(["sync", os.fspath(data)]) == 0
        assert (mirror / f"run{trial}" / notes.name).read_text() == "other"
        assert main(["status", os.fspath(data)]) == 0
    assert seen_same_stat, "every rewrite crossed a second boundary"
    aqm.dispatcher.close()


def test_a_racy_record_is_hashed_until_status_settles_it(tmp_path: Path) -> None:
    """A delivery record taken right after its file changed is re-hashed by ``labmate status``
    (its key proves nothing), and replaced once the file is older than its timestamps'
    resolution: later runs of ``status`` trust its key again (not re-hashing everything)."""
    from labmate_core.backends.survey import survey

    data = tmp_path / "data"
    aqm = AcquisitionAnalysisManager(
        data, shell=None, backend=MirrorDirectoryBackend(tmp_path / "mirror")
    )
    with aqm.acquisition("run"):
        aqm.save_acquisition(x=1)
    prefix = Path(os.fspath(aqm.current_filepath))
    notes = Path(f"{prefix}_NOTES.txt")
    notes.write_text("n")
    aqm._submit(os.fspath(prefix))
    assert aqm.wait_backends(60)
    (name,) = aqm.backends
    aqm.dispatcher.close()
    now = time.time_ns()
    os.utime(notes, ns=(now, now))  # changed "just now": a hash now is racy
    records = DeliveryRecords(data)
    records.record(name, prefix, content_identity(prefix))
    assert records.get(name, prefix)[0].racy
    time.sleep(0.2)  # older than the resolution of these timestamps (ns, coarse clock)
    assert survey(data).ok
    settled = records.get(name, prefix)[0]
    assert not settled.racy
    notes.write_text("m")  # a later change moves the key: found
    assert not survey(data).ok
