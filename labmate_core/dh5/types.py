"""``ClassWithAsdict`` / ``ClassWithAsarray``: the protocols of objects a DH5 converts on
assignment (dh5 0.8.1's ``dh5.types``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ClassWithAsarray", "ClassWithAsdict"]


@runtime_checkable
class ClassWithAsdict(Protocol):
    """An object stored as a group: ``asdict()`` returns a dict of storable values."""

    def asdict(self) -> dict[str, Any]: ...


@runtime_checkable
class ClassWithAsarray(Protocol):
    """An object stored as an array: ``asarray()`` returns an array or a list."""

    def asarray(self) -> np.ndarray | list: ...
