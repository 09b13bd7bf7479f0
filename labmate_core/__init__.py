"""labmate_core: notebook acquisitions stored as one HDF5 file per run."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["DH5", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import labmate_core.dh5.storage` (used in subprocesses and by backends) stays cheap.
    if name == "DH5":
        from .dh5 import DH5

        return DH5
    raise AttributeError(f"module 'labmate_core' has no attribute {name!r}")
