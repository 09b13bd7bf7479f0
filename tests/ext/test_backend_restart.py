"""A backend added in a kernel is part of the data directory: after a kernel restart the
analysis (aqm.d[...] and aqm.save_fig()) reaches the mirror without re-adding it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from labmate_core import DH5

pytestmark = pytest.mark.slow


def _run(path: Path, *sources: str):
    nb = new_notebook()
    nb.cells = [new_code_cell(source) for source in sources]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path)}}
    ).execute()
    return nb


SETUP = "%load_ext labmate_ext\n%config Labmate.data_directory = './data'"


@pytest.mark.timeout(300)
def test_the_mirror_survives_a_kernel_restart(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    _run(
        tmp_path,
        SETUP,
        f"%labmate_backend mirror {mirror}",
        "%%acquisition sweep --save x\nx = [1, 2, 3]",
    )
    (h5,) = (tmp_path / "data" / "sweep").glob("*.h5")
    nb = _run(  # the restarted kernel: the backend cell is not run again
        tmp_path,
        SETUP,
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        "%%analysis\naqm.d['fit'] = 2.5\nplt.plot([1, 2])\naqm.save_fig()",
        "%labmate",
        "assert aqm.wait_backends(60)",
    )
    report = nb.cells[3].outputs[-1]["data"]["text/plain"]
    assert f"mirror:{mirror} (added by magic, restored)" in report
    copy = mirror / "sweep" / h5.name
    assert DH5(copy)["fit"] == 2.5
    assert (mirror / "sweep" / f"{h5.name[:-3]}_FIG1.pdf").exists()
    assert copy.read_bytes() == h5.read_bytes()


@pytest.mark.timeout(300)
def test_a_backend_belongs_to_the_configured_data_directory(tmp_path: Path) -> None:
    """``%config Labmate.data_directory`` to another folder than the default (./data, where the
    manager of ``%load_ext`` starts): the mirror added after it is recorded in, restored from
    and reported for that folder, not the default one."""
    mirror = tmp_path / "mirror"
    setup = "%load_ext labmate_ext\n%config Labmate.data_directory = './lab'"
    _run(tmp_path, setup, f"%labmate_backend mirror {mirror}", "%%acquisition s --save x\nx = 1")
    assert (tmp_path / "lab" / ".labmate" / "backends.json").exists()
    assert not (tmp_path / "data" / ".labmate" / "backends.json").exists()
    (h5,) = (tmp_path / "lab" / "s").glob("*.h5")
    _run(tmp_path, setup, "%%analysis\naqm.d['fit'] = 2.5", "assert aqm.wait_backends(60)")
    assert (mirror / "s" / h5.name).read_bytes() == h5.read_bytes()
    # the delivery is recorded where the data is: `labmate status` finds nothing missing
    status = subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", "status", str(tmp_path / "lab")],
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"mirror:{mirror}" in status.stdout
