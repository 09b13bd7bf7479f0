"""An experiment folder that is a symlink to another disk (``DATA/sine -> /big/sine``): its
acquisitions are surveyed like the others (``labmate status`` finds them stale, pending, failed),
``labmate sync`` delivers their pending records instead of dropping them as if their ``.h5`` were
gone, and a symlink loop is walked once (attack/symlinked_experiment.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from labmate_core import DH5
from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend
from labmate_core.backends.configured import ConfiguredBackends
from labmate_core.backends.journal import Journal
from labmate_core.backends.survey import acquisitions_on_disk, survey


def test_a_symlinked_experiment_folder_is_surveyed_and_synced(data_dir, tmp_path, lab):
    big = tmp_path / "big"
    prefix = lab.write_acquisition(big)  # big/sine/<stamp>__sine
    os.symlink(big / "sine", data_dir / "sine")
    os.symlink(data_dir, data_dir / "sine" / "loop")  # walked once, never forever
    linked = data_dir / "sine" / prefix.name
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    with BackendDispatcher(data_dir, [mirror]) as dispatcher:
        name = next(iter(dispatcher.backends))
        ConfiguredBackends(data_dir).add(name, mirror)
        dispatcher.submit(linked)
        assert dispatcher.wait(30)
    assert list(acquisitions_on_disk(data_dir)) == [linked]
    assert survey(data_dir).ok

    DH5(str(linked) + ".h5", "a=")["fit"] = 1.0  # a write nobody submitted
    (found,) = survey(data_dir).acquisitions
    assert [s.state for s in found.backends.values()] == ["stale"]

    Journal(data_dir).add_pending(linked, [name], specs={name: mirror.spec()})  # a failed copy
    assert not survey(data_dir).orphans
    cli = [sys.executable, "-m", "labmate_core.cli"]
    synced = subprocess.run([*cli, "sync", str(data_dir)], capture_output=True, text=True)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "is gone" not in synced.stdout, synced.stdout
    assert DH5(str(tmp_path / "m" / "sine" / prefix.name) + ".h5")["fit"] == 1.0
    assert survey(data_dir).ok
