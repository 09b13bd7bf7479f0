"""At interpreter exit no background index work is left: nothing logged for a data directory
removed meanwhile, and records made by a later exit hook are still written (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from labmate_core.index import open_index

REMOVED = textwrap.dedent(
    """
    import logging, shutil, sys
    logging.basicConfig()  # a user's logging: warnings are shown
    logging.getLogger().handlers[0].setLevel(logging.WARNING)
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    root = sys.argv[1]
    aqm = AcquisitionAnalysisManager(root + "/data", shell=None)
    for i in range(3):
        aqm.acquisition_cell("s", cell="c")
        aqm.save_acquisition(x=i)
    shutil.rmtree(root + "/data")  # a test's tmp dir, a user's clean-up
    """
)

LATE = textwrap.dedent(
    """
    import atexit, sys
    import h5py  # its own exit hook runs last
    prefix, data = sys.argv[1], sys.argv[2]

    def late():  # registered before labmate's exit hooks, so it runs after them
        index.record_end(prefix, "failed", data_directory=data, data=content)

    atexit.register(late)
    from labmate_core import index
    from labmate_core.dh5 import DH5
    content = DH5(prefix + ".h5")
    index.record_start(prefix, data_directory=data)  # the writer exists before the exit
    """
)


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_a_removed_data_directory_is_not_indexed_nor_logged_at_exit(tmp_path: Path) -> None:
    done = _run(REMOVED, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "could not index", no "--- Logging error ---"
    assert not (tmp_path / "data").exists()  # not re-created by the index


def test_records_made_by_a_later_exit_hook_are_written(data_dir: Path) -> None:
    from acquisition_files import write_acquisition

    prefix = write_acquisition(data_dir, status="running")
    (data_dir / ".labmate").mkdir(exist_ok=True)
    done = _run(LATE, os.fspath(prefix), os.fspath(data_dir))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert open_index(data_dir).get(prefix).status == "failed"
