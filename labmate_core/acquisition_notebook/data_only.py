"""AcquisitionAnalysisManagerDataOnly: only the analysis side of the manager."""

from __future__ import annotations

from typing import Any

from ..acquisition.analysis_data import AnalysisData
from .manager import AcquisitionAnalysisManager

__all__ = ["AcquisitionAnalysisManagerDataOnly"]


class AcquisitionAnalysisManagerDataOnly:
    """Opens acquisitions for analysis; has no current acquisition."""

    def __init__(self, *args: Any, **kwds: Any) -> None:
        self.aqm = AcquisitionAnalysisManager(*args, **kwds)

    def analysis_cell(self, *args: Any, **kwds: Any) -> AcquisitionAnalysisManager:
        return self.aqm.analysis_cell(*args, **kwds)

    @property
    def current_acquisition(self) -> None:
        return None

    @property
    def current_analysis(self) -> AnalysisData | None:
        return self.aqm.current_analysis

    @property
    def data(self) -> AnalysisData:
        return self.aqm.data

    @property
    def d(self) -> AnalysisData:  # noqa: D401
        """Short for :attr:`data`."""
        return self.data
