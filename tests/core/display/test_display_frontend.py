import logging
import types

import IPython
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import HTML

from labmate_core import display
from labmate_core.display import frontend


def test_has_frontend_only_inside_a_kernel(monkeypatch):
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert display.has_frontend() is False
    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
        assert display.has_frontend() is False  # terminal IPython: no rich display
        monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=1))
        assert display.has_frontend() is True
    finally:
        InteractiveShell.clear_instance()


def test_html_to_text():
    markup = "<style>a {color: red}</style>Title<br/><a href='x'>p &amp; q</a> after<br>"
    assert display.html_to_text(markup) == "Title\np & q after"


def test_display_html_with_frontend(shown):
    assert display.display_html("<b>hi</b>") is True
    assert len(shown) == 1 and isinstance(shown[0], HTML) and shown[0].data == "<b>hi</b>"


def test_display_html_without_frontend_logs_text(no_frontend, caplog):
    with caplog.at_level(logging.INFO, logger="labmate_core.display"):
        assert display.display_html("<b>hi</b> there") is False
        assert display.display_html("<b>x</b>", text="custom") is False
    assert caplog.messages == ["hi there", "custom"]
    with pytest.raises(TypeError, match="HTML"):
        display.display_html(3)


def test_display_warning(shown):
    assert display.display_warning("Old data <analysis>") is True
    assert "background-color:#ec7413" in shown[0].data
    assert "Old data &lt;analysis&gt;" in shown[0].data


def test_display_warning_without_frontend_is_a_logged_warning(no_frontend, caplog):
    with caplog.at_level(logging.WARNING, logger="labmate_core.display"):
        assert display.display_warning("Old data analysis") is False
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "Old data analysis")
    ]


def test_a_broken_display_never_raises(monkeypatch, caplog):
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=1))

    def broken(obj):
        raise RuntimeError("no comm")

    monkeypatch.setattr(frontend, "_ipython_display", broken)
    with caplog.at_level(logging.INFO, logger="labmate_core.display"):
        assert display.display_html("<i>x</i>") is False
    assert caplog.messages[-1] == "x"


def test_display_widgets_boxes(shown):
    import ipywidgets as widgets

    a, b = widgets.Label("a"), widgets.Label("b")
    assert display.display_widgets([a, b]) is True
    assert display.display_widgets_vertically([a], class_="labmate-params") is True
    assert isinstance(shown[0], widgets.HBox) and shown[0].children == (a, b)
    assert isinstance(shown[1], widgets.VBox) and "labmate-params" in shown[1]._dom_classes


def test_display_widgets_without_frontend(no_frontend, caplog):
    with caplog.at_level(logging.INFO, logger="labmate_core.display"):
        assert display.display_widgets([object()], text="fallback") is False
        assert display.display_widgets_vertically([object()]) is False
    assert caplog.messages == ["fallback"]
