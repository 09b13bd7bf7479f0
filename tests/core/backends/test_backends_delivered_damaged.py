"""A row of ``delivered.sqlite`` whose identity is JSON of another shape (a file's entry that is
not an object, a key that is not a list of integers): reported as an unreadable delivery record,
the acquisition counted as never delivered; ``labmate status`` and ``labmate sync`` never crash
on it, and sync delivers it again (attack/damaged_delivered.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend
from labmate_core.backends.configured import ConfiguredBackends
from labmate_core.backends.delivered import DeliveryRecords
from labmate_core.backends.survey import survey


def _damage(item: dict, how: str) -> object:
    if how == "entry-int":
        return 5
    return {**item, "key": "zz"}


@pytest.mark.parametrize("how", ["entry-int", "key-str"])
def test_a_damaged_delivery_record_is_reported_and_delivered_again(data_dir, tmp_path, lab, how):
    prefix = lab.write_acquisition(data_dir)
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    with BackendDispatcher(data_dir, [mirror]) as dispatcher:
        ConfiguredBackends(data_dir).add(next(iter(dispatcher.backends)), mirror)
        dispatcher.submit(prefix)
        assert dispatcher.wait(30)
    assert survey(data_dir).ok
    records = DeliveryRecords(data_dir)
    with sqlite3.connect(records.path) as db:
        ((backend, stored, text),) = db.execute("SELECT backend, prefix, identity FROM delivered")
        identity = json.loads(text)
        name = prefix.name + ".h5"
        identity["files"][name] = _damage(identity["files"][name], how)
        db.execute("UPDATE delivered SET identity = ?", (json.dumps(identity),))
    assert records.get(backend, prefix) is None
    found = survey(data_dir)
    assert [a.backends[backend].state for a in found.acquisitions] == ["never"]
    assert [p for p in found.problems if "unreadable delivery record" in p], found.problems
    cli = [sys.executable, "-m", "labmate_core.cli"]
    status = subprocess.run([*cli, "status", str(data_dir)], capture_output=True, text=True)
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
    synced = subprocess.run([*cli, "sync", str(data_dir)], capture_output=True, text=True)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert survey(data_dir).ok
