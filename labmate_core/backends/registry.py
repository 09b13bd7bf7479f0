"""Backend kinds by name: the ``labmate.backends`` entry points plus in-process registrations."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "labmate.backends"
_BUILTIN = {
    "mirror": "labmate_core.backends.mirror:MirrorDirectoryBackend",
    "fsspec": "labmate_core.backends.fsspec_backend:FsspecBackend",
    "tiled": "labmate_core.backends.tiled_backend:TiledBackend",
}
_registered: dict[str, type] = {}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def register_backend(kind: str, cls: type) -> None:
    """Make ``cls`` available as ``kind`` in this process (overrides an entry point)."""
    if not isinstance(kind, str) or not kind.strip() or any(c.isspace() for c in kind):
        raise ValueError(f"a backend kind is a non-empty word, got {kind!r}")
    if not isinstance(cls, type) or not callable(getattr(cls, "save_snapshot", None)):
        raise TypeError(f"a backend kind needs a class with a save_snapshot method, got {cls!r}")
    _registered[kind] = cls


def available_backends() -> list[str]:
    """The known backend kinds, sorted."""
    return sorted(set(_BUILTIN) | set(_entry_points()) | set(_registered))


def get_backend_class(kind: str) -> type:
    """The class registered as ``kind``; ``ValueError`` listing the known kinds otherwise."""
    if kind in _registered:
        return _registered[kind]
    eps = _entry_points()
    if kind in eps:
        target = eps[kind].value
        try:
            return eps[kind].load()
        except Exception as error:
            raise ImportError(
                f"backend kind {kind!r} ({target}) failed to load: {error}"
            ) from error
    if kind in _BUILTIN:
        module, _, attr = _BUILTIN[kind].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise ValueError(
        f"unknown backend kind {kind!r}; known kinds: {', '.join(available_backends())}"
    )


def create_backend(kind: str, *args: Any, **kwargs: Any) -> Any:
    """Instantiate the backend registered as ``kind`` with ``args``/``kwargs``."""
    return get_backend_class(kind)(*args, **kwargs)
