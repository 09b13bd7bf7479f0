"""End to end: JupyterLab + headless chromium run a notebook that acquires twice and shows the panel.

Asserts that the rows and their sync states render, that *analyse* puts a ``%%analysis``
cell in the notebook and that *path* copies the file path (shown selected beside the button;
the clipboard holds it when the browser lets the page read it back). Saves a screenshot into
``test-artifacts/panel.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


def _panel_cell() -> str:
    from labmate_ext.magics import LabmateMagics

    if hasattr(LabmateMagics, "labmate_panel"):
        return "%labmate_panel"
    return (
        "from labmate_ext.panel import show_panel\n"
        "panel = show_panel(aqm.data_directory, dispatcher=aqm.dispatcher)"
    )


def _notebook(mirror: Path) -> dict:
    acquisition = (
        "%%acquisition {name}\n"
        "import numpy as np\n"
        "x = np.linspace(0, 1, 11)\n"
        "aqm.save_acquisition(x=x, y=np.sin({k} * x))"
    )
    sources = [
        f"%load_ext labmate_ext\n%labmate_backend mirror {mirror}",
        acquisition.format(name="sine", k=1),
        acquisition.format(name="rabi", k=2),
        "%labmate_backend wait 120",
        _panel_cell(),
        'print("after the panel")',
    ]
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


def _start_kernel(base: str, token: str, name: str = "panel.ipynb") -> None:
    """Create the notebook's session before the page opens: no kernel-selection dialog."""
    body = {"path": name, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    request = urllib.request.Request(
        f"{base}/api/sessions?token={token}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201, response.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer at {url}")


@contextlib.contextmanager
def jupyter_lab(tmp_path: Path, notebook: dict, name: str = "panel.ipynb"):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path/root`` with ``notebook`` saved as
    ``name`` and its kernel started; yields (base url, token, root)."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / name).write_text(json.dumps(notebook))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    for variable, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[variable] = str(tmp_path / folder)
    notification = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env.pop("ACQUISITION_DIR", None)
    env.pop("ACQUISITION_CONFIG_FILES", None)
    log = open(tmp_path / "jupyter.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            "--ServerApp.terminals_enabled=False",
            "--allow-root",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_for_server(f"{base}/api/status?token={token}", proc)
        except (RuntimeError, TimeoutError) as error:
            log.flush()
            tail = (tmp_path / "jupyter.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}\n{tail}") from None
        _start_kernel(base, token, name)
        yield base, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving the acquire-twice notebook; yields (base url, token, root, tmp_path)."""
    with jupyter_lab(tmp_path, _notebook(tmp_path / "mirror")) as (base, token, root):
        yield base, token, root, tmp_path


def _check_copy_path(page, row, root: Path) -> None:
    """*path* on a row: the path is shown selected and copied (or left selected for Ctrl+C)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    (rabi,) = sorted((root / "data" / "rabi").glob("*__rabi.h5"))
    row.locator(".labmate-copy").click()
    field = row.locator("input.labmate-path-field")
    expect(field).to_be_visible(timeout=30_000)
    expect(field).to_have_value(str(rabi))
    status = row.locator(".labmate-copy-status")
    expect(status).to_have_text(re.compile(r"^(copied|press Ctrl\+C to copy)$"), timeout=30_000)
    selected = field.evaluate("f => f.value.substring(f.selectionStart, f.selectionEnd)")
    expect(row.locator(".labmate-name")).to_be_in_viewport()  # the popup did not scroll the row
    assert selected == str(rabi)
    if status.inner_text() == "copied":
        try:
            clipboard = page.evaluate("navigator.clipboard.readText()")
        except PlaywrightError:  # reading back may be refused even though writing worked
            clipboard = None
        if clipboard is not None:
            assert clipboard == str(rabi), clipboard


def test_panel_in_jupyterlab(lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    base, token, root, tmp_path = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(
            viewport={"width": 1600, "height": 1000},
            permissions=["clipboard-read", "clipboard-write"],
        )
        try:
            page.goto(f"{base}/lab/tree/panel.ipynb?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            with contextlib.suppress(PlaywrightTimeout):  # should not appear (session exists)
                page.locator(".jp-Dialog").get_by_role("button", name="Select").click(timeout=3000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            rows = page.locator(".labmate-panel .labmate-row")
            expect(rows).to_have_count(2, timeout=240_000)
            names = page.locator(".labmate-panel .labmate-row .labmate-name")
            expect(names.nth(0)).to_have_text("rabi")  # newest first
            expect(names.nth(1)).to_have_text("sine")
            for i in range(2):
                expect(page.locator(".labmate-row .labmate-status").nth(i)).to_have_text(
                    "completed"
                )
                expect(page.locator(".labmate-row .labmate-sync").nth(i)).to_contain_text(
                    "delivered", timeout=60_000
                )
            expect(page.locator(".labmate-panel .labmate-page")).to_have_text("1–2 of 2")

            rows.nth(1).locator(".labmate-analyse").click()
            expect(page.locator(".labmate-panel .labmate-message")).to_contain_text(
                "analysis", timeout=60_000
            )
            # set_next_input reaches the notebook with the next execution's reply
            last = page.locator(".jp-Notebook .jp-Cell").last
            last.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            analysis_cell = page.locator(".jp-Notebook .jp-Cell .cm-content", has_text="%%analysis")
            expect(analysis_cell).to_have_count(1, timeout=60_000)
            text = analysis_cell.inner_text()
            sine = sorted((root / "data" / "sine").glob("*__sine.h5"))
            assert len(sine) == 1
            assert text.strip() == f"%%analysis {sine[0].with_suffix('')}"
            _check_copy_path(page, rows.nth(0), root)
            rows.nth(0).scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "panel.png"), full_page=True)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "panel-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert (tmp_path / "mirror" / "sine" / f"{sine[0].name}").is_file()
