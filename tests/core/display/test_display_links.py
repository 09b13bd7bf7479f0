import logging
from pathlib import Path

import pytest

from labmate_core.display import (
    ParamLink,
    create_link,
    display_param_links,
    param_links_html,
    param_links_text,
)


def test_create_link():
    html = create_link("freq", Path("/cfg/cfg1.py"), 3, "<i>1.5 GHz</i>")
    assert html.startswith("<a href='/cfg/cfg1.py:3' target='_blank'")
    assert ">freq</a> <i>1.5 GHz</i>" in html
    assert create_link("a<b", "x'y.py", 1).count("&lt;") == 1
    assert "x&#x27;y.py:1" in create_link("a", "x'y.py", 1)


@pytest.mark.parametrize("line_no", [0, -1, "3", 1.5])
def test_create_link_rejects_bad_line_numbers(line_no):
    with pytest.raises(ValueError, match="line_no"):
        create_link("a", "f.py", line_no)


def test_param_links_html_and_text():
    links = [ParamLink("freq", "cfg.py", 1), ("power", "cfg.py", 4, "dBm")]
    assert param_links_html(links, title="Params") == (
        "Params<br/>" + create_link("freq", "cfg.py", 1) + "<br/>"
        + create_link("power", "cfg.py", 4, "dBm") + "<br/>"
    )  # fmt: skip
    assert param_links_text(links, title="Params") == "Params\nfreq: cfg.py:1\npower: cfg.py:4 dBm"


def test_display_param_links_with_frontend(shown):
    assert display_param_links([("freq", "cfg.py", 2)], title="T") is True
    assert shown[0].data == "T<br/>" + create_link("freq", "cfg.py", 2) + "<br/>"


def test_display_param_links_without_frontend(no_frontend, caplog):
    with caplog.at_level(logging.INFO, logger="labmate_core.display"):
        assert display_param_links([("freq", "cfg.py", 2)]) is False
    assert caplog.messages == ["freq: cfg.py:2"]
