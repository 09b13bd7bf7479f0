"""Loading, unloading and reloading the extension on a real InteractiveShell."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest
from ext_helpers import run
from IPython.core.error import UsageError

import labmate_ext
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_ext import Labmate

MAGICS = {
    "line": ["labmate", "labmate_backend", "labmate_panel"],
    "cell": ["acquisition", "analysis"],
}


def _callbacks(shell) -> dict[str, int]:
    return {e: len(shell.events.callbacks[e]) for e in ("pre_run_cell", "post_run_cell")}


def _ours(shell) -> list[Labmate]:
    return [c for c in shell.configurables if isinstance(c, Labmate)]


def test_load_registers_magics_manager_and_config(bare_shell, tmp_path: Path) -> None:
    shell = bare_shell
    labmate_ext.load_ipython_extension(shell)
    for kind, names in MAGICS.items():
        for name in names:
            assert name in shell.magics_manager.magics[kind]
    assert isinstance(shell.user_ns["aqm"], AcquisitionAnalysisManager)
    assert shell.user_ns["aqm"].data_directory == tmp_path / "data"  # default ./data
    assert (tmp_path / "data").is_dir()
    assert len(_ours(shell)) == 1


def test_loading_twice_registers_once(bare_shell) -> None:
    shell = bare_shell
    before = _callbacks(shell)
    labmate_ext.load_ipython_extension(shell)
    manager = shell.user_ns["aqm"]
    after_one = _callbacks(shell)
    labmate_ext.load_ipython_extension(shell)
    assert _callbacks(shell) == after_one
    assert shell.user_ns["aqm"] is manager
    assert len(_ours(shell)) == 1
    # ours: one pre and one post handler; the manager adds its own pair
    assert after_one["pre_run_cell"] - before["pre_run_cell"] == 2


def test_unload_removes_magics_handlers_config_and_manager(bare_shell) -> None:
    shell = bare_shell
    labmate_ext.load_ipython_extension(shell)
    session_runner = labmate_ext.session.SESSIONS[shell].runner
    labmate_ext.unload_ipython_extension(shell)
    for kind, names in MAGICS.items():
        for name in names:
            assert name not in shell.magics_manager.magics[kind]
    assert "LabmateMagics" not in shell.magics_manager.registry
    assert session_runner.pre_run_cell not in shell.events.callbacks["pre_run_cell"]
    assert session_runner.post_run_cell not in shell.events.callbacks["post_run_cell"]
    assert "aqm" not in shell.user_ns
    assert _ours(shell) == []
    labmate_ext.unload_ipython_extension(shell)  # a second unload is a no-op
    result = run(shell, "%%acquisition x\n1")
    assert not result.success  # the magic is gone


def test_reload_and_load_unload_twice(bare_shell, tmp_path: Path) -> None:
    shell = bare_shell
    for _ in range(2):
        shell.run_line_magic("load_ext", "labmate_ext")
        assert run(shell, "%%acquisition a --save x\nx = 1").success
        shell.run_line_magic("unload_ext", "labmate_ext")
        assert "acquisition" not in shell.magics_manager.magics["cell"]
    shell.run_line_magic("load_ext", "labmate_ext")
    shell.run_line_magic("reload_ext", "labmate_ext")
    assert len(_ours(shell)) == 1
    assert run(shell, "%%acquisition b --save y\ny = 2").success
    assert len(list((tmp_path / "data").rglob("*.h5"))) == 3


def test_config_from_ipython_config(bare_shell, tmp_path: Path) -> None:
    shell = bare_shell
    shell.config.Labmate.data_directory = str(tmp_path / "elsewhere")
    shell.config.Labmate.manager_name = "lab"
    shell.config.Labmate.save_files = False
    shell.run_line_magic("load_ext", "labmate_ext")
    manager = shell.user_ns["lab"]
    assert "aqm" not in shell.user_ns
    assert manager.data_directory == tmp_path / "elsewhere"
    assert run(shell, "%%acquisition s --save x\nx = 3").success
    assert list((tmp_path / "elsewhere" / "s").glob("*.h5"))
    assert not list((tmp_path / "elsewhere" / "s").glob("*_CELL.py"))


def test_env_default_data_directory(bare_shell, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ACQUISITION_DIR", str(tmp_path / "from_env"))
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    assert bare_shell.user_ns["aqm"].data_directory == tmp_path / "from_env"


def test_bad_data_directory_in_config_fails_load_cleanly(bare_shell, tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    bare_shell.config.Labmate.data_directory = str(tmp_path / "a_file")
    with pytest.raises(UsageError, match="labmate_ext is not loaded: .*not a directory"):
        labmate_ext.load_ipython_extension(bare_shell)  # one line, not a traitlets traceback
    assert labmate_ext.session.SESSIONS.get(bare_shell) is None
    assert "aqm" not in bare_shell.user_ns
    assert "acquisition" not in bare_shell.magics_manager.magics["cell"]
    assert (tmp_path / "a_file").read_text() == "x"


def test_after_a_restart_the_current_acquisition_is_found_again(bare_shell) -> None:
    shell = bare_shell
    shell.run_line_magic("load_ext", "labmate_ext")
    assert run(shell, "%%acquisition kept --save x\nx = 5").success
    shell.run_line_magic("unload_ext", "labmate_ext")  # a new manager, as after a restart
    shell.run_line_magic("load_ext", "labmate_ext")
    assert run(shell, "%%analysis --name kept\nassert aqm.d.x == 5").success


def _manager_handlers(shell, manager) -> list:
    """The shell callbacks that call back into ``manager`` (through a weak reference to it or
    to its shell link)."""
    targets = (manager, getattr(manager, "_shell_link", None))
    found = []
    for event in ("pre_run_cell", "post_run_cell"):
        for callback in shell.events.callbacks[event]:
            cells = getattr(callback, "__closure__", None) or ()
            refs = [c.cell_contents for c in cells if isinstance(c.cell_contents, weakref.ref)]
            if any(ref() is not None and any(ref() is t for t in targets) for ref in refs):
                found.append(callback)
    return found


def test_unload_removes_the_manager_handlers_even_when_it_is_still_referenced(
    bare_shell,
) -> None:
    shell = bare_shell
    before = _callbacks(shell)
    labmate_ext.load_ipython_extension(shell)
    kept = shell.user_ns["aqm"]  # referenced elsewhere: its weak handlers would stay
    assert len(_manager_handlers(shell, kept)) == 2
    labmate_ext.unload_ipython_extension(shell)
    assert _manager_handlers(shell, kept) == []
    assert "acquisition" not in shell.magics_manager.magics["line"]  # the %acquisition? form
    assert _callbacks(shell) == before
    for _ in range(2):  # load / unload / load: idempotent
        labmate_ext.load_ipython_extension(shell)
        labmate_ext.load_ipython_extension(shell)
        assert _callbacks(shell)["pre_run_cell"] == before["pre_run_cell"] + 2
        labmate_ext.unload_ipython_extension(shell)
        assert _callbacks(shell) == before
    labmate_ext.load_ipython_extension(shell)
    assert run(shell, "%%acquisition again --save x\nx = 1").success
    assert shell.user_ns["aqm"] is not kept


def test_unload_removes_every_name_the_manager_was_published_under(bare_shell) -> None:
    shell = bare_shell
    shell.run_line_magic("load_ext", "labmate_ext")
    manager = shell.user_ns["aqm"]
    shell.run_line_magic("config", "Labmate.manager_name = 'lab'")
    assert shell.user_ns["lab"] is manager and shell.user_ns["aqm"] is manager
    shell.user_ns["mine"] = manager  # the user's own name: not ours to remove
    shell.run_line_magic("unload_ext", "labmate_ext")
    assert "aqm" not in shell.user_ns and "lab" not in shell.user_ns
    assert shell.user_ns["mine"] is manager


def test_unload_leaves_a_name_rebound_by_the_user(bare_shell) -> None:
    shell = bare_shell
    shell.run_line_magic("load_ext", "labmate_ext")
    shell.run_line_magic("config", "Labmate.manager_name = 'lab'")
    shell.user_ns["aqm"] = 42  # the old name now holds the user's value
    shell.run_line_magic("unload_ext", "labmate_ext")
    assert shell.user_ns["aqm"] == 42 and "lab" not in shell.user_ns


def test_reload_with_the_user_s_own_manager_and_a_configured_mirror(bare_shell, tmp_path: Path):
    """The session's mirror is taken off a manager that outlives it, so a reload adds it again
    instead of failing on its name."""
    shell = bare_shell
    shell.config.Labmate.data_directory = str(tmp_path / "data")
    shell.config.Labmate.mirror = str(tmp_path / "m")
    code = "from labmate_core.acquisition_notebook import AcquisitionAnalysisManager as A\n"
    assert run(shell, code + "aqm = A('data', shell=True);").success
    shell.run_line_magic("load_ext", "labmate_ext")
    names = set(shell.user_ns["aqm"].backends)
    assert len(names) == 1
    assert run(shell, "%reload_ext labmate_ext").success
    assert labmate_ext.session.SESSIONS.get(shell) is not None
    assert set(shell.user_ns["aqm"].backends) == names
