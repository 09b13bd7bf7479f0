"""End to end, measured in the DOM: the panel's layout at 1600x1000 and at 1280x800 with the file
browser open, the quick look of a 1D and a 2D run with their figure thumbnails, and the progress
bar of a running loop. Screenshots go to ``test-artifacts/panel-<width>x<height>.png``.

The acquisitions (a long-named 1D run, a 2D map, a failed run, each with a saved figure) are
written beforehand by a plain Python process; the notebook shows the panel, then runs a sweep.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time

import pytest
from test_panel_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, jupyter_lab

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"{CHROMIUM} missing"),
]

LONG = "T1_measurement_with_a_long_name"
SWEEP_POINTS = 40

SETUP = textwrap.dedent(
    f"""
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
    from labmate_core.backends import MirrorDirectoryBackend

    # a long backend name: the sync column must ellipsize it, not run over the notes
    mirror = MirrorDirectoryBackend("mirror_on_a_lab_server_with_a_long_directory_name")
    aqm = AcquisitionAnalysisManager("data", shell=None, backend=mirror)

    def figure(draw):
        fig = Figure(figsize=(4, 3))
        draw(fig.add_subplot())
        return fig

    x = np.linspace(0, 1, 201)
    with aqm.acquisition("{LONG}"):
        aqm.save_acquisition(t=x, signal=np.exp(-x / 0.3))
    aqm.analysis_cell(cell="plot")
    aqm.save_fig(figure(lambda ax: ax.plot(x, np.exp(-x / 0.3))))

    xs, ys = np.linspace(0, 2, 60), np.linspace(-1, 1, 40)
    with aqm.acquisition("map2d"):
        aqm.save_acquisition(x=xs, y=ys, z=np.sin(3 * np.add.outer(ys, xs)))
    aqm.analysis_cell(cell="plot")
    aqm.save_fig(figure(lambda ax: ax.imshow(np.sin(3 * np.add.outer(ys, xs)))))

    try:
        with aqm.acquisition("broken"):
            aqm.save_acquisition(x=np.arange(3))
            raise ValueError("amplifier overloaded at 3 dBm")
    except ValueError:
        pass
    assert aqm.wait_backends(120)
    """
)


def _notebook() -> dict:
    sweep = (
        "%%acquisition sweep\n"
        "import time\n"
        "import numpy as np\n"
        "from labmate_core.acquisition import AcquisitionLoop\n"
        "loop = AcquisitionLoop()\n"
        "aqm.save_acquisition(loop=loop)\n"
        f"for f in loop(np.linspace(0, 1, {SWEEP_POINTS})):\n"
        "    loop.append(f=f, v=np.sin(6 * f))\n"
        "    time.sleep(0.25)"
    )
    sources = ["%load_ext labmate_ext", "%labmate_panel", sweep]
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
        for s in sources
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


#: boxes of the name/status/sync cells of every row, and of every visible button in the panel
MEASURE_JS = """
() => {
  const box = e => { const r = e.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const rows = [...document.querySelectorAll('.labmate-panel .labmate-row')].map(row => ({
    name: box(row.querySelector('.labmate-name')),
    status: box(row.querySelector('.labmate-status')),
    sync: box(row.querySelector('.labmate-sync')),
    nameText: row.querySelector('.labmate-name').innerText,
    nameTitle: row.querySelector('.labmate-name').title,
    nameClipped: row.querySelector('.labmate-name').scrollWidth >
                 row.querySelector('.labmate-name').clientWidth,
    error: (row.querySelector('.labmate-row-error') || {innerText: ''}).innerText,
  }));
  const buttons = [...document.querySelectorAll('.labmate-panel button')]
    .filter(b => b.offsetParent !== null && getComputedStyle(b).visibility !== 'hidden'
                 && !b.classList.contains('labmate-name'))
    .map(b => {
      const r = b.getBoundingClientRect(), y = r.top + r.height / 2;
      // what is drawn at the button's left and right ends: the button itself unless a
      // scroll container clips it or something covers it
      const onTop = x => { const e = document.elementFromPoint(x, y);
        return e !== null && (e === b || b.contains(e)); };
      const inView = y > 0 && y < window.innerHeight;
      return {text: b.innerText.trim(), box: box(b), inView,
              visible: !inView || (onTop(r.left + 2) && onTop(r.right - 2)),
              clipped: b.scrollWidth > b.clientWidth + 1};
    });
  return {rows, buttons, width: window.innerWidth, height: window.innerHeight};
}
"""

#: fraction of an image's pixels that differ from its first pixel (0: blank)
NON_BLANK_JS = """
img => { const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  if (!c.width || !c.height) return 0;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - d[0]) + Math.abs(d[i+1] - d[1]) + Math.abs(d[i+2] - d[2]) > 60) n++;
  return n / (d.length / 4); }
"""


def _intersect(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 0.5
        and b["x"] < a["x"] + a["w"] - 0.5
        and a["y"] < b["y"] + b["h"] - 0.5
        and b["y"] < a["y"] + a["h"] - 0.5
    )


def _check_layout(page, where: str) -> dict:
    page.locator(".labmate-panel .labmate-table").evaluate(
        "t => { t.scrollLeft = 0; t.scrollIntoView({block: 'center'}); }"
    )
    measured = page.evaluate(MEASURE_JS)
    in_view = [b for b in measured["buttons"] if b["inView"] and b["text"] == "path"]
    assert len(in_view) == len(measured["rows"]), (where, measured["buttons"])
    assert measured["rows"], where
    for row in measured["rows"]:
        cells = [row["name"], row["status"], row["sync"]]
        for i in range(3):
            assert cells[i]["w"] > 20, (where, row)
            for j in range(i + 1, 3):
                assert not _intersect(cells[i], cells[j]), (where, row)
        if row["nameClipped"]:  # an ellipsized name keeps its full name on hover
            assert row["nameText"] in row["nameTitle"] or LONG in row["nameTitle"], (where, row)
    labels = {"analyse", "path", "retry", "Refresh", "◀ newer", "older ▶"}
    for button in measured["buttons"]:
        b = button["box"]
        assert b["x"] >= 0 and b["x"] + b["w"] <= measured["width"] + 0.5, (where, button)
        assert not button["clipped"] and button["visible"], (where, button)
        if button["text"] in labels or button["text"].startswith("analy"):
            assert button["text"] in labels, (where, button)  # the whole label, not "ar"
    return measured


def _wait_for_text(locator, pattern: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            text = locator.inner_text(timeout=1000)
            if pattern in text:
                return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared")


def _select_and_check_images(page, name: str, figures: int) -> None:
    from playwright.sync_api import expect

    page.locator(".labmate-panel button.labmate-name", has_text=name).first.click()
    title = page.locator(".labmate-panel .labmate-details-title")
    expect(title).to_contain_text(name, timeout=60_000)
    image = page.locator(".labmate-panel img.labmate-quicklook")
    expect(image).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.labmate-panel img.labmate-quicklook');"
        " return i && i.complete && i.naturalWidth > 50; }",
        timeout=60_000,
    )
    assert image.evaluate(NON_BLANK_JS) > 0.005, name
    thumbs = page.locator(".labmate-panel img.labmate-thumb")
    expect(thumbs).to_have_count(figures, timeout=60_000)
    for i in range(figures):
        page.wait_for_function(
            "i => { const t = document.querySelectorAll('.labmate-panel img.labmate-thumb')[i];"
            " return t && t.complete && t.naturalWidth > 20; }",
            arg=i,
            timeout=60_000,
        )
        assert thumbs.nth(i).evaluate(NON_BLANK_JS) > 0.005, name


def _ensure_file_browser_open(page) -> None:
    browser = page.locator("#filebrowser")
    if not browser.is_visible():
        page.locator("[data-id='filebrowser']").first.click()
    page.wait_for_selector("#filebrowser", state="visible", timeout=30_000)


def test_panel_layout_quicklook_and_progress(tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run([sys.executable, "-c", SETUP], cwd=root, check=True, timeout=300)
    with (
        jupyter_lab(tmp_path, _notebook(), "layout.ipynb") as (base, token, _),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/layout.ipynb?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            with contextlib.suppress(PlaywrightTimeout):
                page.locator(".jp-Dialog").get_by_role("button", name="Select").click(timeout=3000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )
            _ensure_file_browser_open(page)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # the sweep: the bar advances while the loop runs, the panel row follows it
            progress = page.locator(".labmate-progress-text")
            first = _wait_for_text(progress, f"/{SWEEP_POINTS} points")
            done_first = int(first.split("/")[0])
            later = first
            deadline = time.monotonic() + 60
            while int(later.split("/")[0]) <= done_first and time.monotonic() < deadline:
                time.sleep(0.3)
                later = progress.inner_text()
            assert int(later.split("/")[0]) > done_first, (first, later)
            assert "left" in later or "done" in later
            bar = page.locator(".labmate-progress .progress-bar")
            width = bar.evaluate("b => parseFloat(b.style.width) || 0")
            _wait_for_text(
                page.locator(".labmate-panel .labmate-status", has_text="running"),
                f"/{SWEEP_POINTS}",
                timeout=60,
            )
            time.sleep(1.0)
            assert bar.evaluate("b => parseFloat(b.style.width) || 0") > width
            _wait_for_text(progress, f"{SWEEP_POINTS}/{SWEEP_POINTS} points", timeout=120)

            rows = page.locator(".labmate-panel .labmate-row")
            expect(rows).to_have_count(4, timeout=60_000)
            expect(page.locator(".labmate-panel .labmate-status").first).to_have_text(
                "completed", timeout=60_000
            )
            measured = _check_layout(page, "1600x1000")
            synced = [r for r in measured["rows"] if r["sync"]["w"] > 0]
            assert len(synced) == 4
            expect(page.locator(".labmate-panel .labmate-sync").nth(1)).to_contain_text("mirror")
            errors = [r["error"] for r in measured["rows"] if r["error"]]
            assert errors == ["ValueError: amplifier overloaded at 3 dBm"], errors

            _select_and_check_images(page, LONG[:10], figures=1)
            page.locator(".labmate-panel .labmate-analyse").first.click()  # a click shrinks
            _check_layout(page, "1600x1000 after a click")  # nothing
            page.locator(".labmate-panel").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "panel-1600x1000.png"))

            page.set_viewport_size({"width": 1280, "height": 800})
            _ensure_file_browser_open(page)
            time.sleep(1.0)  # JupyterLab relayouts on resize
            _select_and_check_images(page, "map2d", figures=1)
            _check_layout(page, "1280x800 with the file browser")
            page.locator(".labmate-panel .labmate-analyse").nth(1).click()
            _check_layout(page, "1280x800 after a click")
            page.locator(".labmate-panel .labmate-table").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "panel-1280x800.png"))

            # the failed filter never leaves the details of a hidden row
            page.locator(".labmate-panel select").select_option(label="failed")
            expect(rows).to_have_count(1, timeout=30_000)
            expect(page.locator(".labmate-panel .labmate-details")).to_be_hidden(timeout=30_000)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "panel-layout-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
