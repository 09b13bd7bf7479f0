"""Open at first use: a lazily opened analysis lists its keys and reads the first one asked for
in one open of the file (``AnalysisData(path, open_on_init=False)``, what ``aqm`` does).

Without it, ``AnalysisData(path).big[:10]`` opens the file twice (to list the keys, then to read
``big``): twice what plain h5py costs for the same ten values. Here the object starts without
having opened the file; the first thing that needs the keys (any read, ``in``, ``keys()``, a
lock check before a write, ``repr``...) lists them and locks them all, as opening did, and a
read of a top-level key (``d.big``, ``d["big"]``) reads it in the same open.

The keys are those present at that first use (a key another process added between the object's
creation and its first use is listed, and locked, like the others).
"""

from __future__ import annotations

from typing import Any

from ..dh5 import storage
from ..dh5.node import file_signature


class OpenAtFirstUse:
    """Mixin for a DH5 subclass: ``_defer_listing()`` in ``__init__`` (before the DH5 init)."""

    # The root's slots, behind a property: reading them lists the file first if needed.
    @property
    def _slots(self) -> dict[str, Any]:
        if self.__dict__.get("_listing_pending"):
            self._list_now()
        return self.__dict__["_slots"]

    @_slots.setter
    def _slots(self, slots: dict[str, Any]) -> None:
        self.__dict__["_slots"] = slots

    def _defer_listing(self) -> None:
        """The next ``_open_file`` (the DH5 init's) only notes that the file is to be listed."""
        self.__dict__["_listing_deferred"] = True

    def _open_file(self) -> None:
        if self.__dict__.pop("_listing_deferred", False) and self.__dict__.get("_lazy"):
            self.__dict__["_listing_pending"] = True
            return
        if self.__dict__.get("_listing_pending"):
            self._list_now()
            return
        super()._open_file()  # type: ignore[misc]

    def _list_now(self, first: str | None = None) -> None:
        """List (and lock) the keys; read ``first`` too if it is one of them: one open."""
        self.__dict__["_listing_pending"] = False
        node: Any = self
        with storage.open_read(node._h5) as file:
            node._list_from(file)
            for name in node._unloaded_names():
                node._set_locked(name)
            if first is not None and node._is_unloaded(first):
                node._fill(file, [first], lazy=True)
            node._signature = file_signature(node._h5)

    def _first_use(self, key: Any) -> None:
        """Before reading ``key``: list the file, reading ``key`` in the same open."""
        if self.__dict__.get("_listing_pending"):
            top = key if type(key) is str and "/" not in key else None
            self._list_now(first=top)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and self.__dict__.get("_listing_pending"):
            self._list_now(first=name)
        return super().__getattr__(name)  # type: ignore[misc]
