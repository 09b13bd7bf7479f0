"""Every notebook in examples/ runs on a real kernel (nbclient) and writes what it promises.

Each notebook is copied to ``tmp/examples/`` and run the way the README runs it from the
repository root (``jupyter execute examples/X.ipynb``): the kernel starts in ``examples/`` and
``$PWD`` is the root, where ``./data`` and ``./mirror`` must appear.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from labmate_core import DH5

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))

pytestmark = pytest.mark.slow


def _prefix_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _check_quickstart(root: Path) -> None:
    (h5,) = sorted((root / "data" / "sine").glob("*.h5"))
    d = DH5(h5)
    np.testing.assert_allclose(d["y"], np.sin(2 * np.pi * 2.0 * d["x"]))
    assert d["info"]["status"] == "completed"
    assert "measured 201 points" in d["info"]["prints"]
    assert d["acquisition_cell"]["1"].startswith("# %%acquisition sine --save x y frequency")
    assert d["amplitude"] == pytest.approx(1.0, abs=1e-3)
    assert "aqm.save_fig()" in d["analysis_cells"]["default"]
    stem = h5.name[: -len(".h5")]
    expected = [f"{stem}{s}" for s in (".h5", "_ANALYSIS_CELL_default.py", "_CELL.py", "_FIG1.pdf")]
    assert _prefix_files(root / "data" / "sine") == sorted(expected)
    assert _prefix_files(root / "mirror" / "sine") == sorted(expected)
    assert (root / "mirror" / "sine" / f"{stem}.h5").read_bytes() == h5.read_bytes()


def _check_backends(root: Path) -> None:
    (h5,) = sorted((root / "data" / "resonance").glob("*.h5"))
    assert DH5(h5)["info"]["status"] == "completed"
    assert _prefix_files(root / "archive") == [h5.name]
    assert (root / "archive" / h5.name).read_bytes() == h5.read_bytes()
    assert h5.name in _prefix_files(root / "mirror" / "resonance")
    pending = root / "data" / ".labmate" / "pending"
    assert not pending.exists() or not any(pending.rglob("*.json"))  # nothing left undelivered


CHECKS: dict[str, Callable[[Path], None]] = {
    "quickstart.ipynb": _check_quickstart,
    "backends.ipynb": _check_backends,
}


def _outputs(nb, kind: str) -> list:
    return [o for cell in nb.cells for o in cell.get("outputs", []) if o.output_type == kind]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_example_runs_and_writes_its_files(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert name in CHECKS, f"add the checks of the files {name} writes"
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(EXAMPLES / name, examples / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))  # what a shell sets for `jupyter execute`
    monkeypatch.delenv("ACQUISITION_DIR", raising=False)
    nb = nbformat.read(examples / name, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(examples)}}
    ).execute()
    assert _outputs(nb, "error") == []
    assert not (examples / "data").exists()  # nothing written beside the notebook
    CHECKS[name](tmp_path)


def test_every_example_is_checked() -> None:
    assert NOTEBOOKS, "no notebook in examples/"
    assert sorted(CHECKS) == NOTEBOOKS
