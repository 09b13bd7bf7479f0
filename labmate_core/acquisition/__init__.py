"""Acquisitions: one ``.h5`` file per run, with its cell, configs, figures and analysis code.

Exports labmate's names: ``AcquisitionManager``, ``NotebookAcquisitionData``, ``AnalysisData``,
``AcquisitionLoop``, ``AnalysisLoop``, ``FigureProtocol``, ``LifecycleHooks``, plus
``AcquisitionBackend`` (SPEC §3) and ``ConfigFile``.
"""

from ..backends.base import AcquisitionBackend
from ..parsing import ConfigFile
from .acquisition_data import NotebookAcquisitionData
from .acquisition_loop import AcquisitionLoop
from .analysis_data import AnalysisData, FigureProtocol
from .analysis_loop import AnalysisLoop
from .hooks import LifecycleHooks
from .manager import AcquisitionManager

__all__ = [
    "AcquisitionBackend",
    "AcquisitionLoop",
    "AcquisitionManager",
    "AnalysisData",
    "AnalysisLoop",
    "ConfigFile",
    "FigureProtocol",
    "LifecycleHooks",
    "NotebookAcquisitionData",
]
