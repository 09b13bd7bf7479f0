"""The Labmate configurable at run time through %config, and %labmate."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from ext_helpers import h5_files, only_h5, run

from labmate_ext import Labmate
from labmate_ext.config import check_writable_directory


def _config(shell) -> Labmate:
    (config,) = [c for c in shell.configurables if isinstance(c, Labmate)]
    return config


def test_data_directory_applies_to_next_acquisition(shell, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition first --save x\nx = 1").success
    assert run(shell, "%config Labmate.data_directory = 'second_dir'").success
    assert (tmp_path / "second_dir").is_dir()
    # the current acquisition stays where it is and can still be analysed
    assert run(shell, "%%analysis\nassert aqm.d.x == 1").success
    assert run(shell, "%%acquisition second --save y\ny = 2").success
    assert only_h5(tmp_path / "data")["x"] == 1
    assert only_h5(tmp_path / "second_dir")["y"] == 2
    assert shell.user_ns["aqm"].data_directory == tmp_path / "second_dir"


def _refused(shell, capsys, caplog, line: str) -> str:
    """Run ``%config line``; the one-line refusal shown. Nothing reaches the root logger (IPython's
    ``%config`` logs errors with ``logging.error``, which would configure it for the kernel)."""
    handlers = list(logging.getLogger().handlers)
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG):
        shell.run_line_magic("config", line)
    err = capsys.readouterr().err
    assert [r for r in caplog.records if r.name == "root"] == []
    assert logging.getLogger().handlers == handlers
    assert err.startswith("UsageError: Labmate.") and err.count("\n") == 1, err
    return err


def test_bad_data_directory_is_refused_and_changes_nothing(
    shell, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a_file").write_text("keep")
    assert "not a directory" in _refused(shell, capsys, caplog, "Labmate.data_directory = 'a_file'")
    err = _refused(shell, capsys, caplog, "Labmate.data_directory = 'a_file/sub/data'")
    assert "Not a directory" in err or "not a directory" in err
    assert _config(shell).data_directory == str(tmp_path / "data")
    assert shell.user_ns["aqm"].data_directory == tmp_path / "data"
    assert (tmp_path / "a_file").read_text() == "keep"


def test_save_files_at_run_time(shell, tmp_path: Path) -> None:
    shell.run_line_magic("config", "Labmate.save_files = False")
    assert run(shell, "%%acquisition nofiles --save x\nx = 1").success
    assert not list((tmp_path / "data").rglob("*_CELL.py"))
    assert (
        only_h5(tmp_path / "data")["acquisition_cell"]["1"]
        == "# %%acquisition nofiles --save x\nx = 1\n"
    )
    shell.run_line_magic("config", "Labmate.save_files = True")
    assert run(shell, "%%acquisition files --save x\nx = 1").success
    assert len(list((tmp_path / "data").rglob("*_CELL.py"))) == 1


def test_config_files_are_snapshotted(shell, tmp_path: Path, capsys, caplog) -> None:
    (tmp_path / "cfg.py").write_text("freq = 5e9\n")
    shell.run_line_magic("config", f"Labmate.config_files = ['{tmp_path / 'cfg.py'}']")
    assert run(shell, "%%acquisition c --save x\nx = 1").success
    d = only_h5(tmp_path / "data")
    assert d["configs"]["cfg.py"] == "freq = 5e9\n"
    assert "missing.py" in _refused(shell, capsys, caplog, "Labmate.config_files = ['missing.py']")
    assert _config(shell).config_files == [str(tmp_path / "cfg.py")]


def test_manager_name(shell, capsys, caplog) -> None:
    manager = shell.user_ns["aqm"]
    shell.run_line_magic("config", "Labmate.manager_name = 'lab'")
    assert shell.user_ns["lab"] is manager
    assert run(shell, "%%acquisition n\nlab.save_acquisition(v=1)").success
    line = "Labmate.manager_name = 'not an identifier'"
    assert "identifier" in _refused(shell, capsys, caplog, line)


def test_retry_limits_are_validated(shell, capsys, caplog) -> None:
    assert ">= 1" in _refused(shell, capsys, caplog, "Labmate.max_attempts = 0")
    assert ">= 0" in _refused(shell, capsys, caplog, "Labmate.backoff = -1.0")
    assert _config(shell).max_attempts == 5 and _config(shell).backoff == 1.0


def test_mirror_setting(shell, tmp_path: Path) -> None:
    shell.run_line_magic("config", f"Labmate.mirror = '{tmp_path / 'm1'}'")
    assert list(shell.user_ns["aqm"].backends) == [f"mirror:{tmp_path / 'm1'}"]
    shell.run_line_magic("config", f"Labmate.mirror = '{tmp_path / 'm2'}'")
    assert list(shell.user_ns["aqm"].backends) == [f"mirror:{tmp_path / 'm2'}"]
    assert run(shell, "%%acquisition mm --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").success
    assert only_h5(tmp_path / "m2")["x"] == 1
    assert h5_files(tmp_path / "m1") == []
    shell.run_line_magic("config", "Labmate.mirror = ''")
    assert shell.user_ns["aqm"].backends == {}


def test_mirror_from_ipython_config(bare_shell, tmp_path: Path) -> None:
    bare_shell.config.Labmate.mirror = str(tmp_path / "cfg_mirror")
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    assert run(bare_shell, "%%acquisition fromcfg --save x\nx = 1").success
    assert run(bare_shell, "%labmate_backend wait 60").success
    assert only_h5(tmp_path / "cfg_mirror")["x"] == 1


def test_config_help_lists_traits(shell, capsys) -> None:
    shell.run_line_magic("config", "Labmate")
    out = capsys.readouterr().out
    for trait in ("data_directory", "save_files", "config_files", "manager_name", "max_attempts"):
        assert f"Labmate.{trait}" in out


def test_labmate_status(shell, tmp_path: Path) -> None:
    empty = repr(run(shell, "%labmate").result)
    assert str(tmp_path / "data") in empty and "current acquisition: none" in empty
    assert run(shell, "%labmate_backend mirror ./mirror").success
    assert run(shell, "%%acquisition stat --save x\nx = 1").success
    assert run(shell, "%labmate_backend wait 60").success
    report = run(shell, "%labmate").result
    text = repr(report)
    (h5,) = h5_files(tmp_path / "data")
    assert f"current acquisition: {h5} (completed)" in text
    assert "pending copies: 0, failed: 0" in text
    assert "mirror:" in text
    assert report.current == str(h5)[: -len(".h5")]
    assert not run(shell, "%labmate extra").success


def test_labmate_panel_shows_the_recent_acquisitions(shell, capsys) -> None:
    assert run(shell, "%%acquisition shown --save x\nx = 1").success
    capsys.readouterr()
    assert run(shell, "%labmate_panel").success
    assert capsys.readouterr().out.startswith("LabmatePanel(")  # displayed (text repr here)
    assert not run(shell, "%labmate_panel extra").success


@pytest.mark.skipif(
    not os.path.isdir("/proc") or not os.access("/proc", os.W_OK | os.X_OK),
    reason="needs a directory that os.access calls writable but where files cannot be made",
)
def test_writability_is_tried_with_a_file(shell, tmp_path: Path, capsys, caplog) -> None:
    with pytest.raises(ValueError, match="not writable"):
        check_writable_directory("/proc")
    err = _refused(shell, capsys, caplog, "Labmate.data_directory = '/proc'")
    assert "/proc is not writable" in err
    assert shell.user_ns["aqm"].data_directory == tmp_path / "data"
    check_writable_directory(tmp_path / "fine")
    assert list((tmp_path / "fine").iterdir()) == []  # the probe file is gone


def test_config_files_feed_cfg_in_analysis(shell, tmp_path: Path) -> None:
    (tmp_path / "cfg.py").write_text("freq = 5.2e9\npower = -20\n")
    shell.run_line_magic("config", f"Labmate.config_files = ['{tmp_path / 'cfg.py'}']")
    assert run(shell, "%%acquisition withcfg --save x\nx = 1").success
    body = "assert aqm.cfg.freq == 5.2e9\nassert 'power' in aqm.parse_config_str(['freq', 'power'])"
    result = run(shell, "%%analysis\n" + body)
    assert result.success, result.error_in_exec


def test_config_files_from_ipython_config_feed_cfg(bare_shell, tmp_path: Path) -> None:
    (tmp_path / "lab.py").write_text("freq = 6e9\n")
    bare_shell.config.Labmate.data_directory = str(tmp_path / "data")
    bare_shell.config.Labmate.config_files = [str(tmp_path / "lab.py")]
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    assert run(bare_shell, "%%acquisition c --save x\nx = 1").success
    assert run(bare_shell, "%%analysis\nassert aqm.cfg.freq == 6e9").success


def test_a_mirror_inside_the_data_directory_is_refused(
    shell, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """As `%labmate_backend mirror`: its copies would be indexed as acquisitions."""
    err = _refused(shell, capsys, caplog, "Labmate.mirror = 'data/backup'")
    assert "inside it" in err
    assert _config(shell).mirror == "" and not shell.user_ns["aqm"].backends
    assert not (tmp_path / "data" / "backup").exists()
    assert shell.run_cell("%reload_ext labmate_ext").success  # the refused value is not kept
    assert "aqm" in shell.user_ns and _config(shell).mirror == ""


def test_a_data_directory_holding_the_mirror_is_refused(
    shell, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    shell.run_line_magic("config", "Labmate.mirror = 'backup/mirror'")
    assert "holds it" in _refused(shell, capsys, caplog, "Labmate.data_directory = 'backup'")
    assert "holds it" in _refused(shell, capsys, caplog, "Labmate.data_directory = 'backup/mirror'")
    assert _config(shell).data_directory == str(tmp_path / "data")


def test_a_mirror_setting_whose_name_is_taken_keeps_the_configured_one(
    shell, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    shell.run_line_magic("config", "Labmate.mirror = 'm1'")
    shell.run_line_magic("labmate_backend", "mirror m2")
    before = set(shell.user_ns["aqm"].backends)
    err = _refused(shell, capsys, caplog, "Labmate.mirror = 'm2'")
    assert "already configured" in err
    assert set(shell.user_ns["aqm"].backends) == before  # m1 is still there
    assert _config(shell).mirror == "m1"  # and the setting says so
    shell.run_line_magic("labmate_backend", f"remove mirror:{tmp_path / 'm2'}")
    shell.run_line_magic("config", "Labmate.mirror = 'm2'")  # the retry after the hint works
    assert set(shell.user_ns["aqm"].backends) == {f"mirror:{tmp_path / 'm2'}"}

