"""Consistent copies without blocking the writer: the write generation (seqlock) of storage."""

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labmate_core.backends import (
    AcquisitionBackend,
    AcquisitionSnapshot,
    MirrorDirectoryBackend,
    State,
)
from labmate_core.backends.staging import copy_consistently, needs_staging
from labmate_core.dh5 import storage


def test_a_save_during_a_copy_is_not_blocked_and_the_copy_is_taken_again(data_dir, lab):
    prefix = lab.write_acquisition(data_dir, version=1)
    h5 = prefix.with_name(prefix.name + ".h5")
    copies = []

    def copy():
        copies.append(shutil.copyfile(h5, data_dir / f"copy{len(copies)}.h5"))
        if len(copies) == 1:
            # the kernel saves while the copy runs: the copy holds no lock, so this never waits
            with storage.open_write(h5, timeout=5) as f:
                f["data"][...] = 2
                f.attrs["version"] = 2
        return True

    copy_consistently(h5, copy)
    assert len(copies) == 2  # the generation moved during the first copy: taken again
    assert lab.read_version(copies[-1]) == 2


def test_a_companion_changing_during_the_copy_is_taken_again(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    h5 = prefix.with_name(prefix.name + ".h5")
    results = iter([False, False, True])
    calls = []

    def copy():
        calls.append(1)
        return next(results)

    copy_consistently(h5, copy)
    assert len(calls) == 3
    with pytest.raises(OSError, match="kept changing"):
        copy_consistently(h5, lambda: False)


HALF_SAVE_SCRIPT = """
import sys, time
import numpy as np
from labmate_core.dh5 import storage

with storage.open_write(sys.argv[1]) as f:
    f["data"][...] = np.full(f["data"].shape, 2)  # the attribute still says version 1
    f.flush()
    sys.stdout.write("half saved\\n")
    sys.stdout.flush()
    time.sleep(600)
"""


@pytest.fixture
def half_saved(data_dir, lab):
    """An acquisition whose writer was SIGKILLed mid-save: torn bytes on disk, odd generation."""
    prefix = lab.write_acquisition(data_dir, version=1)
    h5 = prefix.with_name(prefix.name + ".h5")
    process = subprocess.Popen(
        [sys.executable, "-c", HALF_SAVE_SCRIPT, str(h5)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "half saved\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert storage.generation(h5) % 2 == 1
    with pytest.raises(AssertionError, match="torn"):  # a plain copy now would be torn
        lab.read_version(Path(shutil.copyfile(h5, data_dir / "plain-copy.h5")))
    return prefix


def test_mirror_never_copies_a_half_written_file(half_saved, tmp_path, lab):
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    mirror.save_snapshot(AcquisitionSnapshot.from_prefix(half_saved))
    assert lab.read_version(tmp_path / "m" / "sine" / f"{half_saved.name}.h5") == 1


def test_staging_never_copies_a_half_written_file(half_saved, dispatchers, data_dir, tmp_path, lab):
    recorder = lab.RecordingBackend("rec")
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    dispatcher = dispatchers(data_dir, [recorder, mirror], max_attempts=1)
    dispatcher.submit(half_saved)
    assert dispatcher.wait(30)
    assert {s.state for s in dispatcher.status(half_saved).values()} == {State.DONE}
    assert [v for _, v, _ in recorder.seen] == [1]  # the dead writer's half save rolled back
    assert lab.read_version(tmp_path / "m" / "sine" / f"{half_saved.name}.h5") == 1


class MirrorSubclass(MirrorDirectoryBackend):
    def save_snapshot(self, acquisition):
        super().save_snapshot(acquisition)


class MirrorRenamed(MirrorDirectoryBackend):
    pass


class UserBackend(AcquisitionBackend):
    reads_source_consistently = "yes"  # only the literal True of the defining class counts

    def save_snapshot(self, acquisition):
        pass


def test_only_builtins_reading_consistently_skip_staging(tmp_path):
    assert needs_staging(MirrorDirectoryBackend(tmp_path / "m")) is False
    assert needs_staging(MirrorRenamed(tmp_path / "m")) is False
    assert needs_staging(MirrorSubclass(tmp_path / "m")) is True  # its own save_snapshot
    assert needs_staging(UserBackend()) is True


def test_mirror_through_the_dispatcher_is_not_staged(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    dispatcher = dispatchers(data_dir, [MirrorDirectoryBackend(tmp_path / "m")])
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    assert not (data_dir / ".labmate" / "staging").exists()  # copied once, from the source
    mirrored = sorted(p.name for p in (tmp_path / "m" / "sine").iterdir())
    assert mirrored == sorted(p.name for p in AcquisitionSnapshot.from_prefix(prefix).files())
    assert dispatcher.status(prefix)[f"mirror:{tmp_path / 'm'}"].state == State.DONE
