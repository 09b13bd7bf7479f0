import logging

import ipywidgets as widgets
import pytest

from labmate_core.display import (
    CfgRow,
    cfg_rows_text,
    create_button,
    create_link_row,
    display_cfg_links,
    parse_edited_value,
)
from labmate_core.parsing import parse_str, update_file_variables


def test_create_button_calls_function_and_logs_errors(caplog):
    calls = []

    def do_it_now(a, b=0):
        calls.append((a, b))
        if a == "fail":
            raise RuntimeError("boom")

    button = create_button(do_it_now, 1, b=2)
    assert button.description == "do it now"
    button.click()
    assert calls == [(1, 2)]
    failing = create_button(do_it_now, "fail", name="Go")
    assert failing.description == "Go"
    with caplog.at_level(logging.ERROR, logger="labmate_core.display"):
        failing.click()  # does not raise into the frontend
    assert "Button 'Go' failed" in caplog.text
    with pytest.raises(TypeError, match="callable"):
        create_button("not callable")


def test_create_link_row():
    row = create_link_row("freq = ", "cfg.py:3", "1.5e9 <GHz>")
    assert isinstance(row, widgets.HBox) and "labmate-params" in row._dom_classes
    html_values = [child.value for child in row.children]
    assert 'href="cfg.py:3"' in html_values[1] and "freq = " in html_values[1]
    assert "1.5e9 &lt;GHz&gt;" in html_values[2]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e9", 1e9), ("[1, 2]", [1, 2]), ("'x'", "x"), ("True", True), ("qubit", "qubit")],
)
def test_parse_edited_value(text, value):
    assert parse_edited_value(text) == value


def test_display_cfg_links_update_button_writes_to_disk(shown, tmp_path):
    cfg = tmp_path / "cfg.py"
    cfg.write_text("freq = 1e9  # Hz\npower = -20\n")
    rows = [CfgRow("freq", 2e9, cfg, 1), CfgRow("power", -10, cfg, 2)]
    assert display_cfg_links(rows, on_update=lambda p, v: update_file_variables(cfg, {p: v}))
    (box,) = shown
    assert isinstance(box, widgets.VBox) and len(box.children) == 2
    update_freq = box.children[0].children[-1]
    assert update_freq.description == "Update"
    update_freq.click()
    assert parse_str(cfg.read_text())["freq"] == 2e9
    assert parse_str(cfg.read_text())["power"] == -20
    assert cfg.read_text().startswith("freq = 2000000000.0  # Hz\n")


def test_display_cfg_links_without_update_has_no_button(shown):
    display_cfg_links([CfgRow("a", 1, "c.py", 1)])
    row = shown[0].children[0]
    assert not any(isinstance(child, widgets.Button) for child in row.children)


def test_display_cfg_links_editable(shown):
    updates = []
    display_cfg_links(
        [CfgRow("freq", 1e9, "c.py", 1), CfgRow("name", "q", "c.py", 2)],
        on_update=lambda p, v: updates.append((p, v)),
        editable=True,
    )
    freq_row, name_row = shown[0].children
    freq_text = next(c for c in freq_row.children if isinstance(c, widgets.Text))
    name_text = next(c for c in name_row.children if isinstance(c, widgets.Text))
    assert freq_text.value == "1000000000.0" and name_text.value == "'q'"
    freq_text.value = "3e9"
    freq_row.children[-1].click()
    name_row.children[-1].click()
    assert updates == [("freq", 3e9), ("name", "q")]


def test_display_cfg_links_without_frontend(no_frontend, caplog):
    rows = [CfgRow("freq", 2e9, "cfg.py", 1)]
    with caplog.at_level(logging.INFO, logger="labmate_core.display"):
        assert display_cfg_links(rows, on_update=print) is False
    assert caplog.messages == ["freq = 2000000000.0  (cfg.py:1)"]
    assert cfg_rows_text(rows) == caplog.messages[0]
