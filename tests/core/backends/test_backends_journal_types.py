"""A pending record that is valid JSON of the right shape but holds a field of the wrong type
(``"submitted": "yesterday"``, a prefix that is a number), or a damaged record of the first
layout: reported as unreadable by ``labmate status``, never crashing it, ``labmate sync`` or the
restoring of the backend in the next process (attack/damaged_pending.py)."""

import json

import pytest

from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend
from labmate_core.backends.journal import Journal, safe_slug
from labmate_core.backends.survey import survey


@pytest.mark.parametrize(
    "damage",
    [
        lambda record: record["backends"]["m"].update(submitted="yesterday"),
        lambda record: record["backends"]["m"].update(attempts="3"),
        lambda record: record.update(prefix=5),
        lambda record: record["backends"].update(m=["not", "a", "record"]),
    ],
    ids=["submitted-str", "attempts-str", "prefix-int", "record-list"],
)
def test_a_record_with_a_field_of_the_wrong_type_is_reported(data_dir, tmp_path, lab, damage):
    first = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_38")
    second = lab.write_acquisition(data_dir, stamp="2026_11_24__16_56_39")
    journal = Journal(data_dir)
    for prefix in (first, second):
        journal.add_pending(prefix, ["m"], submitted=1.0, experiment_name=None, specs={"m": None})
    path = journal.path(first)
    record = json.loads(path.read_text())
    damage(record)
    path.write_text(json.dumps(record))

    assert [e.prefix for e in Journal(data_dir).entries()] == ["sine/" + second.name]
    found = survey(data_dir)
    assert [p for p in found.problems if path.name in p], found.problems
    assert not found.ok
    mirror = MirrorDirectoryBackend(tmp_path / "m")
    with BackendDispatcher(data_dir, []) as dispatcher:
        assert dispatcher.add(mirror, name="m") == "m"  # restoring it does not raise
        assert dispatcher.wait(30)
    assert (tmp_path / "m" / "sine" / f"{second.name}.h5").exists()


def test_a_damaged_record_of_the_first_layout_is_reported(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    legacy = Journal(data_dir).legacy_path("old", prefix)
    assert legacy.parent.name == safe_slug("old")
    legacy.parent.mkdir(parents=True)
    legacy.write_text('{"backend": "old", "prefix": ')
    assert Journal(data_dir).entries() == []
    assert [str(p) for p, _ in Journal(data_dir).unreadable()] == [str(legacy)]
    assert not survey(data_dir).ok
