"""IPython extension: ``%load_ext labmate_ext``.

Registers ``%%acquisition NAME``, ``%%analysis [FILE]``, ``%labmate_backend``, ``%labmate`` and
``%labmate_panel``, puts an ``AcquisitionAnalysisManager`` in the user namespace (``aqm``) and
adds the ``Labmate`` settings to ``%config``. Loading twice does nothing the second time;
``%unload_ext`` removes everything it added and ``%reload_ext`` works.
"""

from __future__ import annotations

import logging
from typing import Any

from .config import Labmate

logger = logging.getLogger(__name__)

__all__ = ["Labmate", "load_ipython_extension", "unload_ipython_extension"]

_MAGIC_NAMES = {
    "line": ("labmate_backend", "labmate", "labmate_panel", "acquisition", "analysis"),
    "cell": ("acquisition", "analysis"),
}


def load_ipython_extension(ip: Any) -> None:
    """Register the magics, the ``Labmate`` settings and the manager on shell ``ip``."""
    from .magics import LabmateMagics
    from .session import SESSIONS, LabmateSession

    if ip in SESSIONS:
        logger.info("labmate_ext is already loaded")
        return
    session = LabmateSession(ip)
    try:
        session.start()
        ip.register_magics(LabmateMagics(ip, session))
    except BaseException:
        session.close()
        raise
    SESSIONS[ip] = session
    logger.info("labmate_ext loaded; data in %s", session.manager.data_directory)


def unload_ipython_extension(ip: Any) -> None:
    """Remove what :func:`load_ipython_extension` added (no-op when not loaded)."""
    from .session import SESSIONS

    session = SESSIONS.pop(ip, None)
    if session is None:
        return
    magics = ip.magics_manager.magics
    for kind, names in _MAGIC_NAMES.items():
        for name in names:
            function = magics[kind].get(name)
            if _session_of(getattr(function, "__self__", None)) is session:
                del magics[kind][name]
    registry = ip.magics_manager.registry
    if _session_of(registry.get("LabmateMagics")) is session:
        del registry["LabmateMagics"]
    session.close()


def _session_of(magics: object) -> object:
    """The session a magics instance was made for (None for any other object)."""
    return getattr(magics, "session", None)
