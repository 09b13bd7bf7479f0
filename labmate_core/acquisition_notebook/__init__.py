"""labmate's notebook entry point: ``from labmate_core.acquisition_notebook import
AcquisitionAnalysisManager``."""

from ..acquisition.acquisition_loop import AcquisitionLoop
from ..acquisition.analysis_data import AnalysisData
from .data_only import AcquisitionAnalysisManagerDataOnly
from .manager import AcquisitionAnalysisManager, AcquisitionNotFoundError

__all__ = [
    "AcquisitionAnalysisManager",
    "AcquisitionAnalysisManagerDataOnly",
    "AcquisitionLoop",
    "AcquisitionNotFoundError",
    "AnalysisData",
]
