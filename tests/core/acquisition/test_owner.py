"""info/owner: which process runs an acquisition, and whether it is still alive."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py

from labmate_core.acquisition.owner import owner_alive, this_process
from labmate_core.backends.copying import process_alive


def test_this_process_is_alive_and_names_its_pid_namespace() -> None:
    owner = this_process()
    machine, pid, start = owner.rsplit(":", 2)
    assert int(pid) == os.getpid() and start
    assert machine == f"{socket.gethostname()}@{os.stat('/proc/self/ns/pid').st_ino}"
    assert owner_alive(owner) is True


def test_a_finished_process_is_dead_in_either_format() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from labmate_core.acquisition.owner import this_process as t;print(t())",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    owner = child.stdout.strip()
    assert owner_alive(owner) is False
    machine, pid, start = owner.rsplit(":", 2)
    assert owner_alive(f"{machine.split('@')[0]}:{pid}:{start}") is False  # written before pidns


def test_another_pid_namespace_or_host_cannot_be_told() -> None:
    """A container sharing the host name: its pid 1 is not ours, its kernel may be alive."""
    host = socket.gethostname()
    assert owner_alive(f"{host}@1:{os.getpid()}:1") is None
    assert owner_alive(f"another-{host}:{os.getpid()}:1") is None
    assert owner_alive("garbage") is None and owner_alive(None) is None


def test_a_killed_kernel_not_yet_reaped_is_dead(tmp_path: Path) -> None:
    """A kernel killed mid-acquisition whose parent has not waited for it yet (a zombie) is
    dead: the next `labmate status` ends its run failed."""
    data = tmp_path / "data"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from labmate_core.acquisition_notebook import AcquisitionAnalysisManager\n"
            f"aqm = AcquisitionAnalysisManager({str(data)!r}, shell=None)\n"
            "with aqm.acquisition('z'):\n"
            "    aqm.save_acquisition(x=1)\n"
            "    print('inside', flush=True)\n"
            "    time.sleep(1000)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "inside"
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not process_alive(child.pid)
        subprocess.run(
            [sys.executable, "-m", "labmate_core.cli", "status", str(data)],
            capture_output=True,
            check=False,
        )
        (h5,) = glob.glob(str(data / "z" / "*.h5"))
        with h5py.File(h5, "r") as file:
            assert file["info/status"][()].decode() == "failed"
    finally:
        child.kill()
        child.wait()
    assert process_alive(os.getpid())
