"""Real acquisition files, written the way the manager writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labmate_core.dh5 import storage


def write_acquisition(
    data_dir: Path,
    name: str = "sine",
    stamp: str = "2026_11_24__16_56_38",
    *,
    suffix: str = "",
    status: str | None = "completed",
    useful: bool = True,
    duration: float | None = 1.25,
    error: str | None = None,
    cell: str = "x = 1\n",
    **data: object,
) -> Path:
    """Write ``<data_dir>/<name>/<stamp>__<name><suffix>.h5``; return the prefix."""
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"{stamp}__{name}{suffix}"
    with storage.open_write(f"{prefix}.h5") as file:
        file["experiment_name"] = name
        file["useful"] = np.bool_(useful)
        file["acquisition_cell/1"] = cell
        if status is not None:
            file["info/status"] = status
        if duration is not None:
            file["info/acquisition_duration"] = duration
        if error is not None:
            file["info/error"] = error
        for key, value in (data or {"x": np.arange(3)}).items():
            file[key] = value
    return prefix


def stamp(i: int) -> str:
    """A distinct, increasing time stamp for acquisition number ``i``."""
    return f"2026_11_{1 + i // 86400:02d}__{i // 3600 % 24:02d}_{i // 60 % 60:02d}_{i % 60:02d}"


def lost_acquisition(data_dir: Path, backends: list, name: str = "lost") -> tuple[object, str]:
    """An acquisition saved through a manager with ``backends``, delivered, then deleted here
    (the data directory lost it: only the backends have it); returns (manager, prefix)."""
    import shutil

    from labmate_core import index
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    aqm = AcquisitionAnalysisManager(data_dir, shell=None, backend=backends)
    aqm.acquisition_cell(name, cell="c")
    aqm.save_acquisition(x=np.arange(4))
    prefix = aqm.current_filepath
    assert aqm.wait_backends(timeout=60)
    assert index.flush(60)  # the index's first build may still read the folder (lock files)
    shutil.rmtree(data_dir / name)
    return aqm, prefix
