"""In a real kernel (nbclient): a chained manager is not displayed; a library error is one line
after the user's frames; ``%tb`` shows the full traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _text(output) -> str:
    if output.output_type == "error":
        return ANSI.sub("", "\n".join(output.traceback))
    if output.output_type == "stream":
        return output.text
    return str(output.get("data", {}))


@pytest.mark.timeout(300)
def test_notebook_outputs(tmp_path: Path) -> None:
    cells = [
        "%load_ext labmate_ext\n%config Labmate.data_directory = './data'\n"
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        "%%acquisition sine\naqm.save_acquisition(x=[1.0, 2.0])",
        "%%analysis\nplt.plot(aqm.d.x)\naqm.save_fig()",
        "aqm.save_fig()",
        "class Instrument:\n    pass\naqm.save_acquisition(inst=Instrument())",
        "%tb",
        "loop = AcquisitionLoop()\ntype(loop).__name__",
    ]
    nb = new_notebook()
    nb.cells = [new_code_cell(source) for source in cells]
    nb.cells[4].metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    for index in (1, 2, 3):
        shown = [_text(o) for o in nb.cells[index].outputs]
        assert not any("AcquisitionAnalysisManager" in text for text in shown), shown
        assert not [o for o in nb.cells[index].outputs if o.output_type == "execute_result"]
    (error,) = [o for o in nb.cells[4].outputs if o.output_type == "error"]
    assert error.ename == "UnstorableValueError" and "'inst'" in error.evalue
    traceback = _text(error)
    assert "----> 3 aqm.save_acquisition(inst=Instrument())" in traceback
    assert "labmate_core" not in traceback and "hidden: %tb" in traceback
    full = "\n".join(_text(o) for o in nb.cells[5].outputs)
    assert "labmate_core" in full and "codec.py" in full
    assert "'AcquisitionLoop'" in _text(nb.cells[6].outputs[0])
