import types

import IPython
import pytest

from labmate_core.display import frontend


@pytest.fixture
def shown(monkeypatch):
    """Pretend to run in a Jupyter kernel; collect what is displayed."""
    displayed = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    monkeypatch.setattr(frontend, "_ipython_display", displayed.append)
    return displayed


@pytest.fixture
def no_frontend(monkeypatch):
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
