"""A real IPython InteractiveShell with labmate_ext loaded, working in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import labmate_ext


@pytest.fixture
def bare_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The InteractiveShell singleton, in tmp_path, without the extension."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ACQUISITION_DIR", raising=False)
    monkeypatch.delenv("ACQUISITION_CONFIG_FILES", raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("colors", "nocolor")
    yield shell
    if "labmate_ext" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "labmate_ext")
    labmate_ext.unload_ipython_extension(shell)
    shell.config.pop("Labmate", None)
    shell.reset()


@pytest.fixture
def shell(bare_shell: InteractiveShell, tmp_path: Path):
    """The shell with ``%load_ext labmate_ext``, data in ``tmp_path / 'data'``."""
    bare_shell.config.Labmate.data_directory = str(tmp_path / "data")
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    return bare_shell
