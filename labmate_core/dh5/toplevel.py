"""``load`` and ``save``: dh5 0.8.1's top-level functions, on :class:`DH5`."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from .file import DH5

__all__ = ["load", "save"]


def load(
    filepath_or_data: str | os.PathLike | Mapping | None = None,
    /,
    mode: str | None = None,
    *,
    filepath: str | os.PathLike | None = None,
    save_on_edit: bool = False,
    overwrite: bool | None = None,
    data: Mapping | None = None,
    open_on_init: bool | None = None,
    **kwds: Any,
) -> DH5:
    """Open a file (or wrap ``data``) as a :class:`DH5`; the arguments are ``DH5``'s.

    >>> d = load("run.h5", "r")          # doctest: +SKIP
    """
    return DH5(
        filepath_or_data,
        mode=mode,
        filepath=filepath,
        save_on_edit=save_on_edit,
        overwrite=overwrite,
        data=data,
        open_on_init=open_on_init,
        **kwds,
    )


def save(
    data: Mapping,
    filepath: str | os.PathLike,
    mode: str = "w",
    overwrite: bool | None = None,
    **kwds: Any,
) -> DH5:
    """Write ``data`` (a copy of it) to ``filepath`` and return the saved :class:`DH5`.

    ``mode='w'`` refuses an existing file unless ``overwrite=True`` (``overwrite=False`` adds
    to it); ``mode='a'`` adds to an existing file.
    """
    if mode not in ("w", "a"):
        raise ValueError(f"save() writes with mode 'w' or 'a', not {mode!r}")
    result = DH5(
        data=copy.deepcopy(dict(data)), filepath=filepath, mode=mode, overwrite=overwrite, **kwds
    )
    return result.save()
