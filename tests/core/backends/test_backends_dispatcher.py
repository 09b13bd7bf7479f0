import shutil
import threading
from pathlib import Path

import pytest

from labmate_core.backends import (
    AcquisitionBackend,
    MirrorDirectoryBackend,
    State,
)


# The user code of SPEC §3, verbatim.
class MirrorDirectoryBackendUser(AcquisitionBackend):
    def __init__(self, mirror_root):
        self._mirror_root = Path(mirror_root)

    def save_snapshot(self, acquisition):
        source_prefix = Path(acquisition.filepath)
        destination_dir = self._mirror_root / source_prefix.parent.name
        destination_dir.mkdir(parents=True, exist_ok=True)
        for source_path in source_prefix.parent.glob(f"{source_prefix.name}*"):
            shutil.copy2(source_path, destination_dir / source_path.name)


def test_verbatim_user_backend(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir)
    dup = lab.write_acquisition(data_dir, suffix="__1", version=7)
    dispatcher = dispatchers(data_dir, [MirrorDirectoryBackendUser(tmp_path / "mirror")])
    assert list(dispatcher.backends) == ["MirrorDirectoryBackendUser"]
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    mirrored = sorted(p.name for p in (tmp_path / "mirror" / "sine").iterdir())
    expected = [f"{prefix.name}{end}" for end in (".h5", "_CELL.py", "_FIG1.pdf", "_cfg1.py")]
    assert mirrored == expected
    assert (prefix.parent / f"{dup.name}.h5").exists()  # present locally, but not mirrored
    for name in mirrored:
        assert (tmp_path / "mirror" / "sine" / name).read_bytes() == (
            prefix.parent / name
        ).read_bytes()
    assert lab.read_version(tmp_path / "mirror" / "sine" / f"{prefix.name}.h5") == 1
    status = dispatcher.status(prefix)["MirrorDirectoryBackendUser"]
    assert (status.state, status.attempts, status.last_error) == (State.DONE, 1, None)
    # staging and journal are cleaned up
    staging = data_dir / ".labmate" / "staging"
    assert not any(p.is_file() for p in staging.rglob("*"))
    assert dispatcher.journal.entries() == []


def test_two_backends(data_dir, tmp_path, dispatchers, lab):
    prefixes = [lab.write_acquisition(data_dir, stamp=f"2026_11_24__16_56_3{i}") for i in range(3)]
    recorder = lab.RecordingBackend("rec")
    dispatcher = dispatchers(data_dir, [MirrorDirectoryBackend(tmp_path / "m"), recorder])
    for prefix in prefixes:
        dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    for prefix in prefixes:
        assert (tmp_path / "m" / "sine" / f"{prefix.name}_CELL.py").exists()
        assert {s.state for s in dispatcher.status(prefix).values()} == {State.DONE}
    assert sorted(name for name, _, _ in recorder.seen) == sorted(p.name for p in prefixes)
    # each staged folder held only that acquisition's files
    for name, _, files in recorder.seen:
        assert all(f.startswith(name) for f in files)
        assert len(files) == 4


def test_order_and_coalescing(data_dir, dispatchers, lab):
    gate = threading.Event()
    recorder = lab.RecordingBackend("rec", gate=gate)
    dispatcher = dispatchers(data_dir, [recorder], gates_to_open=[gate])
    a = lab.write_acquisition(data_dir, version=1)
    dispatcher.submit(a)
    assert recorder.started.wait(10)  # v1 is being copied (blocked in the backend)
    assert dispatcher.status(a)["rec"].state == State.COPYING
    b = lab.write_acquisition(data_dir, stamp="2026_11_24__17_00_00", version=10)
    dispatcher.submit(b)
    for version in (2, 3, 4):
        lab.rewrite_h5(a, version)
        dispatcher.submit(a)  # 2 and 3 are superseded while still pending
    assert dispatcher.status(a)["rec"].state == State.PENDING
    gate.set()
    assert dispatcher.wait(30)
    seen_a = [v for name, v, _ in recorder.seen if name == a.name]
    assert seen_a == [1, 4]
    assert [v for name, v, _ in recorder.seen if name == b.name] == [10]
    assert dispatcher.status(a)["rec"].state == State.DONE


def test_slow_backend_does_not_hold_back_fast(data_dir, dispatchers, lab):
    gate = threading.Event()
    slow = lab.RecordingBackend("slow", gate=gate)
    fast = lab.RecordingBackend("fast")
    prefixes = [lab.write_acquisition(data_dir, stamp=f"2026_11_24__16_56_3{i}") for i in range(3)]
    done = threading.Event()
    fast_done = set()

    def listener(status):
        if status.backend == "fast" and status.state == State.DONE:
            fast_done.add(status.prefix)
            if len(fast_done) == len(prefixes):
                done.set()

    dispatcher = dispatchers(data_dir, [slow, fast], gates_to_open=[gate])
    dispatcher.add_listener(listener)
    for prefix in prefixes:
        dispatcher.submit(prefix)
    assert done.wait(30)  # while the slow one is still stuck on the first acquisition
    assert slow.seen == []
    assert dispatcher.status(prefixes[0])["slow"].state == State.COPYING
    assert not dispatcher.wait(0.05)
    gate.set()
    assert dispatcher.wait(30)
    assert len(slow.seen) == 3


def test_listener_sees_every_change_and_its_errors_are_logged(data_dir, dispatchers, lab, caplog):
    prefix = lab.write_acquisition(data_dir)
    events = []

    def broken(status):
        raise RuntimeError("listener bug")

    dispatcher = dispatchers(data_dir, [lab.RecordingBackend("rec", fail=1)])
    dispatcher.add_listener(events.append)
    dispatcher.add_listener(broken)
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    states = [e.state.value for e in events]
    assert states == ["pending", "copying", "pending", "copying", "done"]
    assert events[2].last_error and "simulated failure 1" in events[2].last_error
    assert "listener bug" in caplog.text


def test_submit_is_rejected_clearly(data_dir, dispatchers, lab):
    dispatcher = dispatchers(data_dir, [lab.RecordingBackend("rec")])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dispatcher.submit(data_dir / "sine" / "nothing")
    with pytest.raises(TypeError):
        dispatcher.submit(None)
    prefix = lab.write_acquisition(data_dir)
    dispatcher.submit(str(prefix) + ".h5")  # a path with .h5 is the same acquisition
    assert dispatcher.wait(30)
    assert list(dispatcher.status()) == [str(prefix)]
    dispatcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        dispatcher.submit(prefix)


def test_add_remove_errors(data_dir, dispatchers, lab):
    dispatcher = dispatchers(data_dir)
    with pytest.raises(TypeError, match="save_snapshot"):
        dispatcher.add(object())
    with pytest.raises(TypeError):
        dispatcher.add(MirrorDirectoryBackend)  # the class, not an instance
    assert dispatcher.add(lab.RecordingBackend(), name="one") == "one"
    with pytest.raises(ValueError, match="already configured"):
        dispatcher.add(lab.RecordingBackend(), name="one")
    with pytest.raises(KeyError, match="one"):
        dispatcher.remove("two")
    removed = dispatcher.remove("one")
    assert isinstance(removed, lab.RecordingBackend)
    assert dispatcher.backends == {}
    for bad in (dict(max_attempts=0), dict(backoff=-1), dict(drain_timeout="x")):
        with pytest.raises(ValueError):
            dispatchers(data_dir, **bad)
    (data_dir / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        dispatchers(data_dir / "file")


def test_backend_names(tmp_path, lab):
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    assert mirror.name == f"mirror:{tmp_path / 'm'}"
    mirror.name = "usb"
    assert mirror.name == "usb"
    with pytest.raises(ValueError):
        mirror.name = ""
    assert lab.RecordingBackend().name == "RecordingBackend"


def test_load_hydrates_from_first_backend_that_has_it(data_dir, tmp_path, dispatchers, lab):
    prefix = lab.write_acquisition(data_dir, version=5)
    names = sorted(p.name for p in prefix.parent.iterdir() if not p.name.startswith("."))
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    dispatcher = dispatchers(data_dir, [lab.RecordingBackend("cannot"), mirror])
    dispatcher.submit(prefix)
    assert dispatcher.wait(30)
    shutil.rmtree(prefix.parent)
    assert dispatcher.load(prefix) is True
    assert sorted(p.name for p in prefix.parent.iterdir() if not p.name.startswith(".")) == names
    assert lab.read_version(prefix.with_name(prefix.name + ".h5")) == 5
    assert dispatcher.load(prefix) is False  # already there
    with pytest.raises(FileNotFoundError) as info:
        dispatcher.load(data_dir / "sine" / "2020_01_01__00_00_00__sine")
    assert "cannot (cannot load)" in str(info.value)
    assert f"mirror:{tmp_path / 'm'} (does not have it)" in str(info.value)


def test_load_without_backends(data_dir, dispatchers):
    with pytest.raises(FileNotFoundError, match="no backend"):
        dispatchers(data_dir).load(data_dir / "x" / "y")


def test_base_class_contract(tmp_path):
    class NoSave(AcquisitionBackend):
        pass

    with pytest.raises(TypeError):
        NoSave()

    class SaveOnly(AcquisitionBackend):
        def save_snapshot(self, acquisition):
            pass

    with pytest.raises(NotImplementedError):
        SaveOnly().load_snapshot(None)
    assert repr(SaveOnly()) == "<SaveOnly 'SaveOnly'>"
