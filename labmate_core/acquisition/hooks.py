"""Lifecycle hooks: callbacks run at fixed points of an acquisition or an analysis.

Events (labmate's names): ``acquisition_cell_ready`` and ``analysis_cell_ready`` (no argument,
the "pre-run hooks"), ``acquisition_saved`` and ``figure_saved`` (the acquisition),
``acquisition_data_loaded`` (the acquisition), ``analysis_data_loading`` (the ``.h5`` path).
A callback that accepts ``**kwargs`` also receives the dispatch's keyword context.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["LifecycleHooks", "run_functions"]

EVENTS = (
    "acquisition_saved",
    "figure_saved",
    "acquisition_data_loaded",
    "analysis_data_loading",
    "analysis_cell_ready",
    "acquisition_cell_ready",
)


def _as_list(hooks: Callable | Iterable[Callable] | None) -> list[Callable]:
    if hooks is None:
        return []
    if callable(hooks):
        return [hooks]
    hooks = list(hooks)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"A hook must be callable, got {hook!r}")
    return hooks


def run_functions(functions: Callable | Iterable[Callable] | None = None, /) -> None:
    """Call each function (one, a list or a tuple) with no argument."""
    for function in _as_list(functions):
        function()


def _accepts_kwargs(function: Callable) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class LifecycleHooks:
    """Registry of callbacks per event; ``add_<event>``, ``set_<event>``, ``dispatch_<event>``."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable]] = {event: [] for event in EVENTS}

    def add(self, event: str, callback: Callable) -> None:
        """Register ``callback`` for ``event``."""
        self._check(event)
        self._callbacks[event].extend(_as_list(callback))

    def set(self, event: str, callbacks: Callable | Iterable[Callable]) -> None:
        """Replace the callbacks of ``event``."""
        self._check(event)
        self._callbacks[event] = _as_list(callbacks)

    def remove(self, event: str, callback: Callable) -> None:
        """Unregister ``callback`` (no error if it was not registered)."""
        self._check(event)
        if callback in self._callbacks[event]:
            self._callbacks[event].remove(callback)

    def callbacks(self, event: str) -> list[Callable]:
        self._check(event)
        return list(self._callbacks[event])

    def dispatch(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Call every callback of ``event`` in registration order."""
        self._check(event)
        for callback in list(self._callbacks[event]):
            if kwargs and _accepts_kwargs(callback):
                callback(*args, **kwargs)
            else:
                callback(*args)

    @staticmethod
    def _check(event: str) -> None:
        if event not in EVENTS:
            raise ValueError(f"Unknown hook event {event!r}; known: {', '.join(EVENTS)}")

    # labmate's method names -----------------------------------------------------------------
    def add_acquisition_saved(self, callback: Callable) -> None:
        self.add("acquisition_saved", callback)

    def add_figure_saved(self, callback: Callable) -> None:
        self.add("figure_saved", callback)

    def add_acquisition_data_loaded(self, callback: Callable) -> None:
        self.add("acquisition_data_loaded", callback)

    def add_analysis_data_loading(self, callback: Callable) -> None:
        self.add("analysis_data_loading", callback)

    # the cell-ready ones take ``hook`` as labmate names it (``set_…(hook=f)`` works)
    def add_analysis_cell_ready(self, hook: Callable) -> None:
        self.add("analysis_cell_ready", hook)

    def add_acquisition_cell_ready(self, hook: Callable) -> None:
        self.add("acquisition_cell_ready", hook)

    def set_analysis_cell_ready(self, hook: Callable | Iterable[Callable]) -> None:
        self.set("analysis_cell_ready", hook)

    def set_acquisition_cell_ready(self, hook: Callable | Iterable[Callable]) -> None:
        self.set("acquisition_cell_ready", hook)

    def dispatch_acquisition_saved(self, acquisition: Any, **kwargs: Any) -> None:
        self.dispatch("acquisition_saved", acquisition, **kwargs)

    def dispatch_figure_saved(self, acquisition: Any, **kwargs: Any) -> None:
        self.dispatch("figure_saved", acquisition, **kwargs)

    def dispatch_acquisition_data_loaded(self, acquisition: Any, **kwargs: Any) -> None:
        self.dispatch("acquisition_data_loaded", acquisition, **kwargs)

    def dispatch_analysis_data_loading(self, h5_path: str, **kwargs: Any) -> None:
        self.dispatch("analysis_data_loading", h5_path, **kwargs)

    def dispatch_analysis_cell_ready(self, **kwargs: Any) -> None:
        self.dispatch("analysis_cell_ready", **kwargs)

    def dispatch_acquisition_cell_ready(self, **kwargs: Any) -> None:
        self.dispatch("acquisition_cell_ready", **kwargs)
