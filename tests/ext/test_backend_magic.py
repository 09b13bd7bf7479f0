"""%labmate_backend on a real InteractiveShell: add, list, remove, wait, retry, errors."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import fsspec
import pytest
from ext_helpers import only_h5, run
from IPython.core.error import UsageError

from labmate_core.backends import AcquisitionBackend, register_backend

_KINDS = itertools.count()


def _kind(prefix: str) -> str:
    """A fresh registry name: the registry is process-wide."""
    return f"{prefix}{next(_KINDS)}"


class Collecting(AcquisitionBackend):
    """Records the .h5 files it is handed; fails while ``broken`` is set."""

    def __init__(self, tag: str = "c", broken: bool = False):
        self.tag = tag
        self.broken = broken
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def default_name(self) -> str:
        return f"collect:{self.tag}"

    def save_snapshot(self, acquisition) -> None:
        if self.broken:
            raise ConnectionError(f"{self.tag} is unreachable")
        with self.lock:
            self.seen.append(Path(acquisition.original_filepath).name)


def _error(result) -> str:
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    return str(result.error_in_exec)


def test_list_when_empty(shell) -> None:
    result = run(shell, "%labmate_backend")
    assert result.success
    assert "no backend configured" in repr(result.result)


def test_add_mirror_then_list_with_status(shell, tmp_path: Path, capsys) -> None:
    assert run(shell, "%labmate_backend mirror ./mirror").success
    assert "added backend" in capsys.readouterr().out
    assert run(shell, "%%acquisition m --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").success
    assert only_h5(tmp_path / "mirror")["x"] == 1
    report = run(shell, "%labmate_backend").result
    text = repr(report)
    assert f"mirror:{tmp_path / 'mirror'}" in text
    assert "done" in text and "current acquisition: done" in text
    assert report.pending == 0 and report.failed == 0


def test_fsspec_with_options(shell, tmp_path: Path) -> None:
    url = f"memory://labmate-ext-{tmp_path.name}"
    line = f"%labmate_backend fsspec {url} --option skip_instance_cache=true --name cloud"
    assert run(shell, line).success
    assert "cloud" in shell.user_ns["aqm"].backends
    assert run(shell, "%%acquisition up --save v\nv = 3").success
    assert run(shell, "%labmate_backend wait 60").success
    fs = fsspec.filesystem("memory")
    names = [p.rsplit("/", 1)[-1] for p in fs.ls(f"/labmate-ext-{tmp_path.name}/up", detail=False)]
    assert any(n.endswith("__up.h5") for n in names)
    assert any(n.endswith("__up_CELL.py") for n in names)


def test_registered_kind_by_name(shell) -> None:
    kind = _kind("collect")
    register_backend(kind, Collecting)
    assert run(shell, f"%labmate_backend {kind} mine").success
    backend = shell.user_ns["aqm"].backends["collect:mine"]
    assert run(shell, "%%acquisition k --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").success
    assert len(backend.seen) >= 1 and backend.seen[-1].endswith("__k")


def test_remove(shell, tmp_path: Path) -> None:
    assert run(shell, "%labmate_backend mirror ./mirror --name m").success
    assert run(shell, "%labmate_backend remove m").success
    assert shell.user_ns["aqm"].backends == {}
    assert run(shell, "%%acquisition after --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").success
    assert not (tmp_path / "mirror" / "after").exists()


def test_failure_is_visible_then_retry_recovers(shell) -> None:
    kind = _kind("flaky")
    register_backend(kind, Collecting)
    shell.run_line_magic("config", "Labmate.max_attempts = 2")
    shell.run_line_magic("config", "Labmate.backoff = 0.0")
    assert run(shell, f"%labmate_backend {kind} --option tag=net --option broken=true").success
    backend = shell.user_ns["aqm"].backends["collect:net"]
    assert run(shell, "%%acquisition r --save x\nx = 1").success
    waited = run(shell, "%labmate_backend wait 60").result
    assert waited.failed == 1
    text = repr(waited)
    assert "failed" in text and "ConnectionError: net is unreachable" in text
    assert "%labmate_backend retry" in text
    assert "failed: 1" in repr(run(shell, "%labmate").result)
    backend.broken = False
    assert run(shell, "%labmate_backend retry collect:net").success
    waited = run(shell, "%labmate_backend wait 60").result
    assert waited.failed == 0 and "all copies done" in repr(waited)
    assert backend.seen and backend.seen[-1].endswith("__r")
    # retrying a healthy backend restarts nothing: its copies stay listed as done
    again = run(shell, "%labmate_backend retry").result
    assert "nothing to retry" in repr(again)
    assert again.rows[0].counts.get("done") == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%labmate_backend nosuchkind /x", "unknown backend kind 'nosuchkind'"),
        ("%labmate_backend mirror", "one directory"),
        ("%labmate_backend mirror ./a_file/sub", "cannot create"),
        ("%labmate_backend mirror ./a_file", "not a directory"),
        ("%labmate_backend mirror ./data", "cannot be the data directory"),
        ("%labmate_backend mirror ./data/backup", "inside the data directory"),
        ("%labmate_backend mirror data/../data/x/backup", "inside the data directory"),
        ("%labmate_backend fsspec", "cannot create the backend"),
        ("%labmate_backend fsspec nosuchproto://x", "cannot create the backend"),
        ("%labmate_backend mirror ./ok --option novalue", "KEY=VALUE"),
        ("%labmate_backend mirror ./ok --option bogus=1", "cannot create the backend"),
        ("%labmate_backend remove", "one backend name"),
        ("%labmate_backend remove ghost", "ghost"),
        ("%labmate_backend wait soon", "seconds"),
        ("%labmate_backend wait -1", ">= 0"),
        ("%labmate_backend wait 1 2", "at most one"),
        ("%labmate_backend retry ghost", "ghost"),
        ("%labmate_backend list extra", "takes no argument"),
    ],
)
def test_errors_are_one_line(shell, tmp_path: Path, capsys, line: str, expected: str) -> None:
    (tmp_path / "a_file").write_text("keep me")
    result = run(shell, line)
    assert expected in _error(result)
    assert "Traceback" not in capsys.readouterr().out
    assert shell.user_ns["aqm"].backends == {}
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_duplicate_name_is_refused(shell) -> None:
    assert run(shell, "%labmate_backend mirror ./one --name same").success
    assert "already configured" in _error(run(shell, "%labmate_backend mirror ./two --name same"))
    assert list(shell.user_ns["aqm"].backends) == ["same"]
    assert not (Path.cwd() / "two").exists()  # refused before the directory was created


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("://", "no valid protocol"),
        ("://x", "no valid protocol"),
        ("s3://", "no location after 's3://'"),
        ("s3:///", "no location"),
        ("memory://", "no location"),
        ("''", "must not be empty"),
        ("'  '", "must not be empty"),
    ],
)
def test_bad_fsspec_urls_are_refused(shell, capsys, url: str, expected: str) -> None:
    message = _error(run(shell, f"%labmate_backend fsspec {url}"))
    assert expected in message and "\n" not in message
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert shell.user_ns["aqm"].backends == {}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%labmate_backend mirror ./made --name ''", "--name must not be empty"),
        ("%labmate_backend mirror ./made --name '  '", "--name must not be empty"),
        ("%labmate_backend mirror ./made --option bogus=1", "cannot create the backend"),
        ("%labmate_backend mirror ./made/deeper --option create=1 --name ''", "--name"),
    ],
)
def test_bad_arguments_create_no_mirror_directory(
    shell, tmp_path: Path, line: str, expected: str
) -> None:
    assert expected in _error(run(shell, line))
    assert not (tmp_path / "made").exists()
    assert shell.user_ns["aqm"].backends == {}


@pytest.mark.skipif(
    not os.path.isdir("/proc") or not os.access("/proc", os.W_OK | os.X_OK),
    reason="needs a directory that os.access calls writable but where files cannot be made",
)
def test_mirror_writability_is_tried_not_guessed_from_os_access(shell) -> None:
    # /proc: as root os.access says writable, yet no file can be created there
    message = _error(run(shell, "%labmate_backend mirror /proc"))
    assert "not writable" in message
    assert shell.user_ns["aqm"].backends == {}


def test_labmate_reports_what_an_earlier_kernel_left_undelivered(shell, tmp_path: Path) -> None:
    kind = _kind("gone")
    register_backend(kind, Collecting)
    shell.run_line_magic("config", "Labmate.max_attempts = 1")
    assert run(shell, f"%labmate_backend {kind} --option tag=away --option broken=true").success
    assert run(shell, "%%acquisition left --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").result.failed == 1
    assert "earlier runs" not in repr(run(shell, "%labmate").result)  # this kernel's own copy
    # a new kernel: the extension (and its manager) again; the backend (a class of this
    # test module, no spec) is recorded in the data directory but cannot be re-created
    shell.run_line_magic("unload_ext", "labmate_ext")
    shell.run_line_magic("load_ext", "labmate_ext")
    report = run(shell, "%labmate").result
    text = repr(report)
    assert "pending copies: 0, failed: 1" in text
    assert "collect:away (added by magic)  NOT RESTORED [1 failed]" in text
    assert "last error: ConnectionError: away is unreachable" in text
    assert report.earlier_undelivered == 0
    # an earlier kernel's backend the data directory does not record (removed from it)
    from labmate_core.backends.configured import ConfiguredBackends

    ConfiguredBackends(tmp_path / "data").remove("collect:away")
    shell.run_line_magic("unload_ext", "labmate_ext")
    shell.run_line_magic("load_ext", "labmate_ext")
    report = run(shell, "%labmate").result
    text = repr(report)
    assert "pending copies: 0, failed: 0" in text
    assert report.earlier_undelivered == 1 and report.earlier_failed == 1
    assert f"undelivered from earlier runs: 1 (1 failed) (labmate sync {tmp_path / 'data'}" in text


def test_list_shows_retrying_delivered_and_stale(shell, tmp_path: Path) -> None:
    from labmate_core import DH5

    kind = _kind("slow")
    register_backend(kind, Collecting)
    shell.run_line_magic("config", "Labmate.backoff = 600")  # the retry waits: visible
    assert run(shell, f"%labmate_backend {kind} --option tag=nas --option broken=true").success
    assert run(shell, "%labmate_backend mirror ./mirror").success
    assert run(shell, "%%acquisition s --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 0.5").success  # the mirror is done meanwhile
    manager = shell.user_ns["aqm"]
    manager.configure_backends(drain_timeout=0)  # the exit does not wait for the retry
    for _ in range(600):
        if any(s.retrying for per in manager.backend_status().values() for s in per.values()):
            break
        manager.wait_backends(0.1)
    text = repr(run(shell, "%labmate_backend").result)
    stem = Path(os.fspath(manager.current_filepath)).name
    assert f"retrying {stem}: ConnectionError: nas is unreachable (attempt 1, next try " in text
    assert "last delivered: " in text  # the mirror
    (h5,) = (tmp_path / "data" / "s").glob("*.h5")
    DH5(h5, "a=")["by_hand"] = 1  # written outside the manager: the mirror's copy is stale
    text = repr(run(shell, "%labmate_backend").result)
    assert "in the data directory: 1 stale (changed since delivered), 0 never delivered" in text
