"""labmate's module path ``acquisition_notebook.acquisition_analysis_manager``: its ``logger``
sees what every part of the manager logs (labmate had one logger), e.g. the linting."""

from __future__ import annotations

import logging
from pathlib import Path

from labmate_core.acquisition_notebook import acquisition_analysis_manager as labmate_path


def test_the_module_path_and_its_logger_see_the_linting(tmp_path: Path, caplog) -> None:
    aqm = labmate_path.AcquisitionAnalysisManager(tmp_path / "data", shell=None)
    aqm.linting(allowed_variables=["aqm", "plt"])
    aqm.acquisition_cell("lint", cell="x = 1")
    aqm.save_acquisition(x=1)
    caplog.set_level(logging.WARNING, logger=labmate_path.logger.name)
    aqm.analysis_cell(cell="aqm.analysis_cell()\nplt.plot(x_from_the_kernel)\n")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("x_from_the_kernel" in r.getMessage() for r in warnings)
    assert all(r.name.startswith(labmate_path.logger.name) for r in warnings)


def test_its_names_are_the_package_s() -> None:
    import labmate_core.acquisition_notebook as package

    assert labmate_path.AcquisitionAnalysisManager is package.AcquisitionAnalysisManager
    assert labmate_path.AcquisitionAnalysisManagerDataOnly is (
        package.AcquisitionAnalysisManagerDataOnly
    )
    assert labmate_path.logger is logging.getLogger("labmate_core")
