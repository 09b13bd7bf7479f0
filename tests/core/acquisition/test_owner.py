"""info/owner: which process runs an acquisition, and whether it is still alive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from labmate_core.acquisition.owner import owner_alive, this_process


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
