"""Large files open lazily and without copies; importing configures no logging."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from labmate_core.acquisition_notebook import AcquisitionAnalysisManager


def test_analysis_cell_on_large_file_is_lazy_and_d_x_does_not_copy(data_dir: Path) -> None:
    aqm = AcquisitionAnalysisManager(data_dir, shell=None)
    aqm.acquisition_cell("big", cell="c")
    big = np.ones(8_000_000)  # 64 MB
    aqm.save_acquisition(x=big, small=1)
    del big
    reader = AcquisitionAnalysisManager(data_dir, shell=None)
    tracemalloc.start()
    try:
        reader.analysis_cell()
        assert reader.d.small == 1
        _, peak = tracemalloc.get_traced_memory()
        assert peak < 8_000_000, peak  # the 64 MB array was not read
        first = reader.d.x
        tracemalloc.reset_peak()
        held, _ = tracemalloc.get_traced_memory()
        second = reader.d.x
        again = reader.data["x"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - held < 1_000_000, peak - held  # later accesses copy nothing
    assert np.shares_memory(first, second) and np.shares_memory(first, again)
    assert not second.flags.writeable
    part = reader.d.get_lazy("x")[10:20]
    assert part.shape == (10,)


def test_import_does_not_configure_logging() -> None:
    code = (
        "import logging\n"
        "import labmate_core.acquisition, labmate_core.acquisition_notebook\n"
        "root = logging.getLogger()\n"
        "print(len(root.handlers), root.level)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", str(30)]
