"""Companion text files (cells, configs, temp.json): atomic, with the usual permissions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from labmate_core.textfiles import write_text_atomically


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_text_files_get_the_permissions_open_gives(tmp_path, umask_022):
    """A run's code must be readable by colleagues on a shared server (labmate writes 0644)."""
    path = tmp_path / "run_CELL.py"
    write_text_atomically(path, "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_text_atomically(path, "x = 2\n", keep_mode=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "x = 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run_CELL.py"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "temp.json"
    write_text_atomically(path, "{}")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(path, "\udcff")  # not encodable: fails while writing
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["temp.json"]


def test_temp_json_is_replaced_atomically_with_the_usual_permissions(tmp_path, umask_022):
    from labmate_core.acquisition.temp_data import AcquisitionTmpData, write_temp_data

    path = tmp_path / "temp.json"
    write_temp_data(path, AcquisitionTmpData("a much longer experiment name", "2026_01_01__00"))
    inode = path.stat().st_ino
    write_temp_data(path, AcquisitionTmpData("short", "2026_01_01__01"))
    assert json.loads(path.read_text())["experiment_name"] == "short"  # no padding
    assert path.read_text() == path.read_text().rstrip()
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["temp.json"]


def test_a_reader_never_sees_a_broken_temp_json_while_it_is_rewritten(tmp_path):
    from labmate_core.acquisition.temp_data import (
        AcquisitionTmpData,
        read_temp_data,
        write_temp_data,
    )

    path = tmp_path / "temp.json"
    long = AcquisitionTmpData("a" * 80, "2026_01_01__00_00_00", {"c.py": "x = 1\n" * 20}, None)
    short = AcquisitionTmpData("b", "2026_01_01__00_00_01", {}, None, "2026_01_01__00_00_01__b__1")
    write_temp_data(path, long)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                write_temp_data(path, short)
                write_temp_data(path, long)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = {read_temp_data(path).experiment_name for _ in range(2000)}
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert seen <= {long.experiment_name, "b"}


def test_a_temp_json_that_does_not_parse_is_reported_with_its_path(tmp_path):
    from labmate_core.acquisition.temp_data import read_temp_data

    path = tmp_path / "temp.json"
    path.write_text('{"a": ')
    with pytest.raises(ValueError, match="temp.json is not a valid acquisition temp file"):
        read_temp_data(path)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become another user"
)
def test_a_temp_json_we_may_not_write_is_replaced_in_a_shared_folder():
    """A colleague's temp.json (0644) in a data folder everybody may write."""
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    probe = subprocess.run([*nobody, "-c", "import labmate_core"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("another user cannot run this Python and labmate_core here")
    folder = Path(tempfile.mkdtemp())  # not under pytest's private (0700) folders
    os.chmod(folder, 0o777)
    path = folder / "temp.json"
    path.write_text(json.dumps({"experiment_name": "theirs"}))
    os.chmod(path, 0o644)
    code = (
        "import sys; from labmate_core.textfiles import write_text_atomically as w; "
        "w(sys.argv[1], sys.argv[2])"
    )
    subprocess.run(
        [*nobody, "-c", code, str(path), json.dumps({"experiment_name": "mine"})],
        check=True,
        timeout=60,
        env={**os.environ, "HOME": str(folder)},
    )
    try:
        assert json.loads(path.read_text()) == {"experiment_name": "mine"}
    finally:
        shutil.rmtree(folder)
