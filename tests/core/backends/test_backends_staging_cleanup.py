"""Staging folders left by a killed process are removed when a dispatcher starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from labmate_core.backends import BackendDispatcher

# a real backend worker killed while its staged copy is handed to the backend
KILLED_WHILE_STAGED = """
import os, signal, sys
from labmate_core.backends import AcquisitionBackend, BackendDispatcher

class KillMe(AcquisitionBackend):
    def save_snapshot(self, acquisition):
        sys.stdout.write(os.path.dirname(os.path.dirname(acquisition.filepath)) + "\\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

backend = KillMe()
backend.name = "nas"
dispatcher = BackendDispatcher(sys.argv[1], [backend])
dispatcher.submit(sys.argv[2])
dispatcher.wait(120)
"""


def test_stale_staging_of_a_killed_process_is_removed_at_start(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_STAGED, str(data_dir), str(prefix)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    stale = result.stdout.strip()
    assert os.path.isdir(stale) and stale.startswith(str(data_dir / ".labmate" / "staging"))
    assert os.listdir(os.path.join(stale, "sine"))  # the staged copy was left behind
    backend_folder = os.path.dirname(stale)
    mine = os.path.join(backend_folder, f"{os.getpid()}-0123456789ab")  # a live process's
    os.makedirs(os.path.join(mine, "sine"))
    loading = os.path.join(backend_folder, "load", os.path.basename(stale))  # a dead load
    os.makedirs(os.path.join(loading, "sine"))
    unnamed = os.path.join(backend_folder, "keep-me")  # not a staging token: left alone
    os.makedirs(unnamed)
    with BackendDispatcher(data_dir):
        pass
    assert not os.path.exists(stale)
    assert not os.path.exists(loading)
    assert os.path.isdir(mine) and os.path.isdir(unnamed)
