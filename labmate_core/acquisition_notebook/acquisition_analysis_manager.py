"""labmate's module path ``labmate.acquisition_notebook.acquisition_analysis_manager``.

``logger`` is the logger every module of ``labmate_core`` logs under (labmate had one logger
for the whole package), so ``assertLogs(logger)`` or a handler on it sees them all.
"""

import logging

from .data_only import AcquisitionAnalysisManagerDataOnly
from .manager import AcquisitionAnalysisManager

logger = logging.getLogger("labmate_core")

__all__ = ["AcquisitionAnalysisManager", "AcquisitionAnalysisManagerDataOnly", "logger"]
