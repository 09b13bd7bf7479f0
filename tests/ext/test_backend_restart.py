"""A backend added in a kernel is part of the data directory: after a kernel restart the
analysis (aqm.d[...] and aqm.save_fig()) reaches the mirror without re-adding it."""

from __future__ import annotations

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
