"""Backends belong to the data directory: recorded, restored by later managers, removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labmate_core import DH5
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import AcquisitionBackend, MirrorDirectoryBackend
from labmate_core.backends.configured import ConfiguredBackends
from labmate_core.backends.journal import Journal
from labmate_core.cli import main


class NotebookBackend(AcquisitionBackend):
    """Like a class defined in a notebook: no spec, cannot be re-created."""

    def save_snapshot(self, acquisition) -> None:
        pass


def _acquire(aqm: AcquisitionAnalysisManager, name: str = "run") -> Path:
    aqm.acquisition_cell(name, cell="c")
    aqm.save_acquisition(x=[1, 2])
    return Path(os.fspath(aqm.current_filepath))


def test_a_later_process_restores_the_mirror(data_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data_dir, shell=None, backend=MirrorDirectoryBackend(mirror))
    prefix = _acquire(aqm)
    assert aqm.wait_backends(60)
    (name,) = aqm.backends
    recorded = ConfiguredBackends(data_dir).load()[name]
    assert recorded.origin == "api" and recorded.spec == {
        "kind": "mirror",
        "args": [str(mirror)],
        "kwargs": {"create": False},
    }
    # a fresh process on the data directory, no backend given: the analysis reaches the mirror
    script = f"""
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
aqm = AcquisitionAnalysisManager({str(data_dir)!r}, shell=None)
assert list(aqm.backends) == [{name!r}], aqm.backends
aqm.load_file({str(prefix)!r})
aqm.analysis_cell(cell="aqm.analysis_cell()")
aqm.d["fit"] = 7.5
plt.plot([1, 2]); aqm.save_fig()
assert aqm.wait_backends(60)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    copy = mirror / "run" / (prefix.name + ".h5")
    assert DH5(copy)["fit"] == 7.5
    assert (mirror / "run" / f"{prefix.name}_FIG1.pdf").exists()
    assert copy.read_bytes() == prefix.with_name(prefix.name + ".h5").read_bytes()


def test_remove_forgets_it_for_later_managers(data_dir: Path, tmp_path: Path) -> None:
    aqm = AcquisitionAnalysisManager(
        data_dir, shell=None, backend=MirrorDirectoryBackend(tmp_path / "m")
    )
    (name,) = aqm.backends
    assert list(AcquisitionAnalysisManager(data_dir, shell=None).backends) == [name]
    aqm.remove_backend(name)
    assert ConfiguredBackends(data_dir).load() == {}
    assert AcquisitionAnalysisManager(data_dir, shell=None).backends == {}


def test_same_backend_added_again_keeps_the_restored_one(data_dir: Path, tmp_path: Path):
    AcquisitionAnalysisManager(data_dir, shell=None, backend=MirrorDirectoryBackend(tmp_path / "m"))
    later = AcquisitionAnalysisManager(data_dir, shell=None)
    (name,) = later.backends
    restored = later.backends[name]
    assert later.add_backend(MirrorDirectoryBackend(tmp_path / "m"), origin="magic") == name
    assert later.backends[name] is restored
    assert ConfiguredBackends(data_dir).load()[name].origin == "magic"


def test_a_notebook_class_is_not_restored_and_its_copies_stay_pending(data_dir: Path) -> None:
    first = AcquisitionAnalysisManager(data_dir, shell=None, backend=NotebookBackend())
    assert first.wait_backends(30)
    later = AcquisitionAnalysisManager(data_dir, shell=None)
    assert later.backends == {}
    assert list(later.unrestored_backends) == ["NotebookBackend"]
    prefix = _acquire(later)
    entries = Journal(data_dir).entries("NotebookBackend")
    assert [Journal(data_dir).absolute(e.prefix) for e in entries] == [prefix]
    # added again (the notebook cell re-run): it resumes what it missed
    again = NotebookBackend()
    seen = []
    again.save_snapshot = lambda snapshot: seen.append(Path(snapshot.original_filepath))
    later.add_backend(again)
    assert later.wait_backends(30)
    assert seen == [prefix] and Journal(data_dir).entries() == []
    later.remove_backend("NotebookBackend")
    assert ConfiguredBackends(data_dir).load() == {}


def test_labmate_backend_list_and_remove(data_dir: Path, tmp_path: Path, capsys) -> None:
    aqm = AcquisitionAnalysisManager(
        data_dir, shell=None, backend=MirrorDirectoryBackend(tmp_path / "m")
    )
    (name,) = aqm.backends
    assert main(["backend", "list", str(data_dir)]) == 0
    assert name in capsys.readouterr().out
    assert main(["backend", "remove", str(data_dir), "ghost"]) == 1
    assert main(["backend", "remove", str(data_dir), name]) == 0
    assert AcquisitionAnalysisManager(data_dir, shell=None).backends == {}


def test_an_unreadable_record_is_named_and_not_overwritten(data_dir: Path, tmp_path: Path, caplog):
    path = data_dir / ".labmate" / "backends.json"
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    assert aqm.backends == {}
    assert "backends.json is unreadable" in caplog.text
    with pytest.raises(OSError, match="backends.json"):
        ConfiguredBackends(data_dir).add("x", MirrorDirectoryBackend(tmp_path / "m"))
    assert path.read_text() == "{broken"
    assert main(["backend", "list", str(data_dir)]) == 2


def test_sync_fails_while_the_list_of_backends_is_unreadable(data_dir: Path, tmp_path: Path):
    """``labmate status`` exits 1 on a damaged ``backends.json``; ``labmate sync`` cannot know
    the backends, so it must not exit 0 ("nothing to deliver") and leaves the file as it is."""
    aqm = AcquisitionAnalysisManager(
        data_dir, shell=None, backend=MirrorDirectoryBackend(tmp_path / "m")
    )
    _acquire(aqm)
    assert aqm.wait_backends(60)
    aqm.dispatcher.close()
    path = data_dir / ".labmate" / "backends.json"
    path.write_text('{"backends": {"mirr')
    assert main(["status", str(data_dir)]) == 1
    assert main(["sync", str(data_dir)]) == 2
    assert path.read_text() == '{"backends": {"mirr'


def test_the_next_process_delivers_a_write_nobody_submitted(data_dir: Path, tmp_path: Path):
    """A write outside a manager (``DH5(path, "a=")``) is delivered by the next process on the
    directory: ``wait_backends`` waits for the background search, and so does its exit."""
    mirror = tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data_dir, shell=None, backend=MirrorDirectoryBackend(mirror))
    prefix = _acquire(aqm)
    assert aqm.wait_backends(60)
    aqm.dispatcher.close()
    h5 = Path(f"{prefix}.h5")
    copy = mirror / "run" / h5.name
    start = (
        "from labmate_core.acquisition_notebook import AcquisitionAnalysisManager\n"
        f"aqm = AcquisitionAnalysisManager({str(data_dir)!r}, shell=None)\n"
    )
    for value, then in [(1.0, "assert aqm.wait_backends(60)\n"), (2.0, "")]:
        DH5(h5, "a=")["outside"] = value
        check = f"assert open({str(h5)!r}, 'rb').read() == open({str(copy)!r}, 'rb').read()\n"
        script = start + then + (check if then else "")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr  # wait_backends returned before the search
        assert copy.read_bytes() == h5.read_bytes()  # the process exited before delivering


def test_a_backend_added_here_follows_a_new_data_directory(tmp_path: Path) -> None:
    """``aqm.data_directory = other``: a backend given to this manager comes along (recorded in
    the new directory); one restored from the former directory stays with it."""
    first, second, mirror = tmp_path / "first", tmp_path / "second", tmp_path / "mirror"
    AcquisitionAnalysisManager(
        first, shell=None, backend=MirrorDirectoryBackend(tmp_path / "old")
    ).dispatcher.close()
    aqm = AcquisitionAnalysisManager(first, shell=None, backend=MirrorDirectoryBackend(mirror))
    assert len(aqm.backends) == 2  # one restored, one added here
    aqm.data_directory = second
    assert list(aqm.backends) == [f"mirror:{mirror}"]
    assert list(ConfiguredBackends(second).load()) == [f"mirror:{mirror}"]
    prefix = _acquire(aqm)
    assert aqm.wait_backends(60)
    h5 = Path(f"{prefix}.h5")
    assert (mirror / "run" / h5.name).read_bytes() == h5.read_bytes()
    assert main(["status", str(second)]) == 0
    aqm.dispatcher.close()
