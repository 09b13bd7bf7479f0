"""The magics on a real ipykernel (nbclient): a failing %%acquisition fails the cell once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from labmate_core import DH5

pytestmark = pytest.mark.slow


def _notebook(*sources: str, tags: dict[int, list[str]] | None = None):
    nb = new_notebook()
    nb.cells = [new_code_cell(source) for source in sources]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = cell_tags
    return nb


def _execute(nb, path: Path, allow_errors: bool = False):
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path)}},
    )
    return client.execute()


SETUP = "%load_ext labmate_ext\n%config Labmate.data_directory = './data'"


@pytest.mark.timeout(300)
def test_failing_acquisition_in_a_kernel(tmp_path: Path) -> None:
    nb = _notebook(
        SETUP,
        "%%acquisition boom --save before\nbefore = 41 + 1\nprint('started')\n1 / 0",
        "%%analysis\nprint('never')",
        "%%acquisition fine --save v\nv = 1\nv",
        "%%analysis\nprint('analysed', aqm.d.v)",
        "%%acquisition waits\nimport asyncio\nawait asyncio.sleep(0)",
        tags={1: ["raises-exception"], 2: ["raises-exception"], 5: ["raises-exception"]},
    )
    _execute(nb, tmp_path)
    failed = nb.cells[1].outputs
    errors = [o for o in failed if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ZeroDivisionError"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0].traceback))
    assert "----> 4 1 / 0" in traceback  # line numbers of the visible cell
    assert "run_cell_magic" not in traceback
    assert any(o.output_type == "stream" and "started" in o.text for o in failed)
    (refused,) = nb.cells[2].outputs  # a UsageError is one line on stderr, no traceback
    assert refused.name == "stderr" and refused.text.startswith("UsageError: %%analysis:")
    assert "never" not in str(nb.cells[2].outputs)
    assert nb.cells[3].outputs[-1]["data"]["text/plain"] == "1"  # the value is displayed
    assert "analysed 1" in nb.cells[4].outputs[0].text
    (awaits,) = nb.cells[5].outputs  # refused before anything is written
    assert awaits.name == "stderr" and "top-level await" in awaits.text
    assert not (tmp_path / "data" / "waits").exists()
    (boom,) = (tmp_path / "data" / "boom").glob("*.h5")
    d = DH5(boom)
    assert d["before"] == 42 and d["info"]["status"] == "failed"
    assert "ZeroDivisionError" in d["info"]["error"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%acquisition stop\nraise ValueError('bad probe')", "ValueError"),
        ("%%acquisition ../escape\npass", "UsageError"),
    ],
)
def test_a_failing_cell_stops_the_notebook(tmp_path: Path, cell: str, expected: str) -> None:
    nb = _notebook(SETUP, cell, "after = 1")
    with pytest.raises(CellExecutionError) as info:
        _execute(nb, tmp_path)
    assert expected in str(info.value)
    assert nb.cells[2].get("execution_count") is None  # the next cell did not run
