"""A %%acquisition cell's file is on disk, readable with plain h5py, before the first line of
its body runs (status running, cell, configs, owner); a kernel that dies at once leaves a run
that the next kernel ends failed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
from ext_helpers import h5_files, run

from labmate_core.acquisition.endings import ORPHANED
from labmate_core.acquisition.owner import this_process

_PEEK = textwrap.dedent(
    """\
    import h5py
    with h5py.File(aqm.current_filepath + ".h5", "r") as f:  # plain h5py, at once
        seen = {k: f[k][()] for k in ("info/status", "info/owner", "acquisition_cell/1")}
        seen["configs"] = sorted(f["configs"]) if "configs" in f else []
    """
)


def test_the_running_file_is_there_before_the_first_line_of_the_body(
    shell, tmp_path: Path
) -> None:
    config = tmp_path / "cfg.py"
    config.write_text("freq = 5\n")
    shell.run_line_magic("config", f"Labmate.config_files = [{str(config)!r}]")
    assert run(shell, "%%acquisition peek\n" + _PEEK).success
    seen = shell.user_ns["seen"]
    assert seen["info/status"].decode() == "running"
    assert seen["info/owner"].decode() == this_process()
    assert seen["acquisition_cell/1"].decode().endswith(_PEEK)
    assert seen["configs"] == ["cfg.py"]
    (h5,) = h5_files(tmp_path / "data")
    with h5py.File(h5, "r") as file:
        assert file["info/status"][()].decode() == "completed"


def test_with_acquisition_and_acquisition_cell_write_the_file_at_once(
    shell, tmp_path: Path
) -> None:
    code = "with aqm.acquisition('ctx', cell='c'):\n" + textwrap.indent(_PEEK, "    ")
    assert run(shell, code).success
    assert shell.user_ns["seen"]["info/status"].decode() == "running"
    assert run(shell, "aqm.acquisition_cell('cell')\n" + _PEEK).success
    assert shell.user_ns["seen"]["info/status"].decode() == "running"


def test_a_cell_that_saves_nothing_leaves_its_file(shell, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition empty\ny = 2").success
    (h5,) = h5_files(tmp_path / "data")
    with h5py.File(h5, "r") as file:
        assert file["acquisition_cell/1"][()].decode() == "# %%acquisition empty\ny = 2\n"
        assert "info/status" in file


_DIES = """
import os, sys
from IPython.core.interactiveshell import InteractiveShell
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


def test_a_kernel_dead_in_the_first_line_leaves_its_file_which_the_next_kernel_fails(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    died = subprocess.run(
        [sys.executable, "-c", _DIES, str(data)], cwd=tmp_path, timeout=120, check=False
    )
    assert died.returncode == 7
    (doomed,) = h5_files(data / "doomed")
    with h5py.File(doomed, "r") as file:
        assert file["info/status"][()].decode() == "running"
    subprocess.run([sys.executable, "-c", _NEXT, str(data)], cwd=tmp_path, timeout=120, check=True)
    with h5py.File(doomed, "r") as file:
        assert file["info/status"][()].decode() == "failed"
        assert ORPHANED in file["info/error"][()].decode()
    (h5,) = h5_files(data / "next")
    with h5py.File(h5, "r") as file:
        assert file["x"][()] == 3 and file["info/status"][()].decode() == "completed"
    assert not list((data / ".labmate" / "running").iterdir())  # every marker dropped


def test_save_after_the_body_writes_the_data_and_completed_at_once(shell, tmp_path: Path) -> None:
    from labmate_core.dh5 import storage

    assert run(shell, "%%acquisition quick --save x\nx = 1").success
    (h5,) = h5_files(tmp_path / "data")
    assert storage.generation(h5) == 4  # created running, then data + completed in one write
    with h5py.File(h5, "r") as file:
        assert file["x"][()] == 1 and file["info/status"][()].decode() == "completed"
