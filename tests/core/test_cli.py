"""The `labmate` command: status and sync of the journal of pending backend snapshots."""

import functools
import signal
import subprocess
import sys

import numpy as np
import pytest

from labmate_core import index
from labmate_core.backends import AcquisitionBackend, BackendDispatcher
from labmate_core.backends.journal import Journal
from labmate_core.cli import _backend_arguments, main
from labmate_core.dh5 import storage


def _acquisition(data_dir, stamp="2026_11_24__16_56_38"):
    prefix = data_dir / "sine" / f"{stamp}__sine"
    with storage.open_write(prefix.with_name(prefix.name + ".h5")) as f:
        f["data"] = np.arange(10)
    (prefix.parent / f"{prefix.name}_CELL.py").write_text("x = 1\n")
    return prefix


class Broken(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        raise ConnectionError("the NAS is down")


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "DATA"
    path.mkdir()
    return path


KILLED_KERNEL = """
import os, signal, sys, threading
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

class Hanging(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        threading.Event().wait()

backend = Hanging()
backend.name = sys.argv[2]
dispatcher = BackendDispatcher(sys.argv[1], [backend])
for prefix in sys.argv[3:]:
    dispatcher.submit(prefix)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def leave_pending():
    """Journal snapshots for a backend name: a real kernel killed mid-copy."""

    def make(data_dir, name, prefixes):
        result = subprocess.run(
            [sys.executable, "-c", KILLED_KERNEL, str(data_dir), name, *map(str, prefixes)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == -signal.SIGKILL, result.stderr

    return make


def test_status_of_a_clean_directory(data_dir, capsys):
    assert main(["status", str(data_dir)]) == 0
    assert "no pending or failed snapshots" in capsys.readouterr().out


def test_status_shows_failures_and_errors(data_dir, capsys):
    prefix = _acquisition(data_dir)
    with BackendDispatcher(data_dir, [Broken()], max_attempts=1) as dispatcher:
        dispatcher.submit(prefix)
        assert dispatcher.wait(30)
    assert main(["status", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "1 snapshot(s) not delivered" in out
    assert "failed" in out and "Broken" in out and "sine/2026_11_24__16_56_38__sine" in out
    assert "last error: ConnectionError: the NAS is down" in out
    assert main(["status", "-v", str(data_dir)]) == 1
    assert "| Traceback (most recent call last):" in capsys.readouterr().out


def test_sync_drains_pending_snapshots(data_dir, tmp_path, leave_pending, capsys):
    root = tmp_path / "mirror"
    root.mkdir()
    prefixes = [_acquisition(data_dir, f"2026_11_24__16_56_3{i}") for i in range(2)]
    leave_pending(data_dir, f"mirror:{root}", prefixes)
    assert main(["status", str(data_dir)]) == 0
    assert capsys.readouterr().out.count("  pending  mirror:") == 2
    assert main(["sync", str(data_dir), "--backend", "mirror", str(root)]) == 0
    out = capsys.readouterr().out
    assert "delivering 2 acquisition(s)" in out and out.count("done") == 2
    for prefix in prefixes:
        assert (root / "sine" / f"{prefix.name}.h5").exists()
        assert (root / "sine" / f"{prefix.name}_CELL.py").read_text() == "x = 1\n"
    assert main(["status", str(data_dir)]) == 0
    assert "no pending" in capsys.readouterr().out


def test_sync_under_another_name_and_all(data_dir, tmp_path, leave_pending, capsys):
    prefix = _acquisition(data_dir)
    leave_pending(data_dir, "usb", [prefix])
    target = tmp_path / "remote"
    argv = ["sync", str(data_dir), "--backend", "fsspec", f"file://{target}", "auto_mkdir=true"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "nothing to deliver" in out and "journaled for: usb" in out
    assert main([*argv, "--all"]) == 0  # delivered there, still journaled for "usb"
    assert (target / "sine" / f"{prefix.name}.h5").exists()
    assert (
        main(["sync", str(data_dir), "--backend", "mirror", str(tmp_path / "m"), "--name", "usb"])
        == 0
    )
    assert (tmp_path / "m" / "sine" / f"{prefix.name}.h5").exists()
    assert main(["status", str(data_dir)]) == 0
    assert "no pending" in capsys.readouterr().out


def test_sync_reports_failures(data_dir, tmp_path, leave_pending, capsys):
    prefix = _acquisition(data_dir)
    root = tmp_path / "gone"
    leave_pending(data_dir, f"mirror:{root}", [prefix])
    argv = ["sync", str(data_dir), "--backend", "mirror", str(root), "create=false"]
    assert main([*argv, "--max-attempts", "2", "--backoff", "0.01"]) == 1
    assert "last error: FileNotFoundError" in capsys.readouterr().out
    assert main(["status", str(data_dir)]) == 1


def test_bad_command_lines(data_dir, tmp_path, capsys):
    assert main(["sync", str(data_dir), "--backend", "ftp", "x"]) == 2
    assert "unknown backend kind 'ftp'" in capsys.readouterr().out
    assert main(["sync", str(data_dir), "--backend", "mirror"]) == 2  # missing root
    with pytest.raises(SystemExit) as info:
        main(["status", str(tmp_path / "missing")])
    assert info.value.code == 2
    assert main(["sync", str(data_dir), "--name", "x"]) == 2  # a --name without --backend
    assert "more --name than --backend" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([])


def _sync_process(*argv):
    return subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", "sync", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sync_without_backend_recreates_the_journaled_backends(data_dir, tmp_path):
    from labmate_core.backends import MirrorDirectoryBackend

    root = tmp_path / "usb"
    mirror = MirrorDirectoryBackend(root)
    prefixes = [_acquisition(data_dir, f"2026_11_24__16_56_3{i}") for i in range(2)]
    root.rmdir()  # the disk is unplugged: every snapshot fails and stays journaled
    with BackendDispatcher(data_dir, [mirror], max_attempts=1) as dispatcher:
        dispatcher.add_listener(  # the kernel's index hears of the failures
            functools.partial(index.on_backend_status, data_directory=data_dir)
        )
        for prefix in prefixes:
            dispatcher.submit(prefix)
        assert dispatcher.wait(60)
    assert index.flush(60)
    states = {
        row.stem: [s.state for s in row.sync.values()]
        for row in index.open_index(data_dir).list()
    }
    assert states == {p.name: ["failed"] for p in prefixes}
    assert main(["status", str(data_dir)]) == 1
    result = _sync_process(data_dir)  # still unplugged: the spec never re-creates the root
    assert result.returncode == 1, result.stderr
    assert "last error: FileNotFoundError" in result.stdout and not root.exists()
    root.mkdir()  # plugged in again
    result = _sync_process(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "delivering 2 acquisition(s)" in result.stdout
    for prefix in prefixes:
        assert (root / "sine" / f"{prefix.name}.h5").exists()
    assert main(["status", str(data_dir)]) == 0
    assert Journal(data_dir).entries() == []
    # labmate ls / the panel see the deliveries of the sync process
    states = {
        row.stem: [s.state for s in row.sync.values()]
        for row in index.open_index(data_dir).list()
    }
    assert states == {p.name: ["done"] for p in prefixes}


def test_sync_without_backend_says_what_is_missing(data_dir, tmp_path, leave_pending):
    leave_pending(data_dir, "nas", [_acquisition(data_dir)])
    result = _sync_process(data_dir)
    assert result.returncode == 2
    assert "does not record how to create backend(s) 'nas'" in result.stdout
    assert "--backend KIND ARGS... --name NAME" in result.stdout
    assert [e.backend for e in Journal(data_dir).entries()] == ["nas"]  # still journaled
    clean = tmp_path / "CLEAN"
    clean.mkdir()
    result = _sync_process(clean)
    assert result.returncode == 0 and "nothing to deliver" in result.stdout


def test_backend_arguments():
    args, kwargs = _backend_arguments(
        ["s3://b/p", "key=K", 'client_kwargs={"endpoint_url": "http://h:1"}', "n=3", "a=b=c"]
    )
    assert args == ["s3://b/p"]
    assert kwargs == {
        "key": "K",
        "client_kwargs": {"endpoint_url": "http://h:1"},
        "n": 3,
        "a": "b=c",
    }


def test_real_process(data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", "status", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "no pending or failed snapshots" in result.stdout
