"""When a %%acquisition cell's file is written: once at the first save, while a long body runs,
at the latest when the cell ends; a kernel that dies before leaves its cell file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
from ext_helpers import h5_files, run

from labmate_core.acquisition import acquisition_data
from labmate_core.dh5 import storage


def test_a_cell_that_saves_at_once_writes_its_file_once(shell, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(acquisition_data, "RUNNING_FILE_DELAY", 3600)  # however slow the machine
    assert run(shell, "%%acquisition quick --save x\nx = 1").success
    (h5,) = h5_files(tmp_path / "data")
    assert storage.generation(h5) == 2  # one write: created complete, not created then saved
    with h5py.File(h5, "r") as file:
        assert file["x"][()] == 1 and file["info/status"][()].decode() == "completed"
    assert Path(str(h5)[:-3] + "_CELL.py").read_text() == "# %%acquisition quick --save x\nx = 1\n"


def test_the_running_file_appears_while_a_long_body_runs(shell, tmp_path: Path) -> None:
    body = textwrap.dedent(
        """\
        import os, time, h5py
        path = aqm.current_filepath + ".h5"
        deadline = time.monotonic() + 30
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        with h5py.File(path, "r") as f:  # plain h5py, not labmate: it is there on its own
            seen = (f["info/status"][()].decode(), f["acquisition_cell/1"][()].decode())
        """
    )
    assert run(shell, "%%acquisition slow\n" + body).success
    status, cell = shell.user_ns["seen"]
    assert status == "running" and cell.endswith(body)
    (h5,) = h5_files(tmp_path / "data")
    with h5py.File(h5, "r") as file:
        assert file["info/status"][()].decode() == "completed"


def test_a_cell_that_saves_nothing_leaves_its_file(shell, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition empty\ny = 2").success
    (h5,) = h5_files(tmp_path / "data")
    with h5py.File(h5, "r") as file:
        assert file["acquisition_cell/1"][()].decode() == "# %%acquisition empty\ny = 2\n"
        assert "info/status" in file


_DIES = """
import os, sys
from IPython.core.interactiveshell import InteractiveShell
from labmate_core.acquisition import acquisition_data
acquisition_data.RUNNING_FILE_DELAY = 3600  # dies before the file is due, however slow the machine
shell = InteractiveShell.instance()
shell.config.Labmate.data_directory = sys.argv[1]
shell.run_line_magic("load_ext", "labmate_ext")
shell.run_cell("%%acquisition doomed\\nimport os\\nos._exit(7)", store_history=True)
"""

_NEXT = """
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.config.Labmate.data_directory = sys.argv[1]
shell.run_line_magic("load_ext", "labmate_ext")
result = shell.run_cell("%%acquisition next --save x\\nx = 3", store_history=True)
sys.exit(0 if result.success else 1)
"""


def test_a_kernel_dead_before_its_file_was_written_leaves_the_cell_and_harms_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    died = subprocess.run(
        [sys.executable, "-c", _DIES, str(data)], cwd=tmp_path, timeout=120, check=False
    )
    assert died.returncode == 7
    cells = list((data / "doomed").glob("*_CELL.py"))
    assert len(cells) == 1 and "os._exit(7)" in cells[0].read_text()
    assert not list((data / "doomed").glob("*.h5"))  # died before its file was due
    subprocess.run([sys.executable, "-c", _NEXT, str(data)], cwd=tmp_path, timeout=120, check=True)
    (h5,) = h5_files(data / "next")
    with h5py.File(h5, "r") as file:
        assert file["x"][()] == 3 and file["info/status"][()].decode() == "completed"
