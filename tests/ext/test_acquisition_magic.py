"""%%acquisition on a real InteractiveShell: files on disk, --save, --step, failures, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ext_helpers import h5_files, only_h5, run
from IPython.core.error import UsageError

from labmate_core import DH5
from labmate_core.acquisition.acquisition_data import RESERVED_KEYS
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager


def test_acquisition_writes_file_and_runnable_cell(shell, tmp_path: Path, capsys) -> None:
    cell = "import numpy as np\nx = np.linspace(0, 1, 11)\nprint('measuring')\naqm.save_acquisition(x=x)\nx.sum()\n"
    result = run(shell, "%%acquisition sine\n" + cell)
    assert result.success
    out = capsys.readouterr().out
    assert "measuring" in out and "Out[" in out and "5.5" in out  # normal print and display
    (h5,) = h5_files(tmp_path / "data" / "sine")
    assert h5.name.endswith("__sine.h5")
    d = DH5(h5)
    np.testing.assert_allclose(d["x"], np.linspace(0, 1, 11))
    assert d["useful"] and d["experiment_name"] == "sine"
    assert d["info"]["status"] == "completed"
    assert "measuring" in d["info"]["prints"]
    stored = d["acquisition_cell"]["1"]
    assert stored == "# %%acquisition sine\n" + cell
    cell_file = Path(str(h5)[: -len(".h5")] + "_CELL.py")
    assert cell_file.read_text() == stored
    sink = _Sink()  # the copy runs as plain Python, outside IPython
    exec(compile(cell_file.read_text(), str(cell_file), "exec"), {"aqm": sink})
    np.testing.assert_allclose(sink.saved["x"], np.linspace(0, 1, 11))


class _Sink:
    saved: dict = {}

    def save_acquisition(self, **data):
        self.saved = data
        return self


def test_save_option_saves_named_variables(shell, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition scan --save x y\nx = [1.0, 2.0]\ny = 'label'\nz = 5").success
    d = only_h5(tmp_path / "data")
    assert list(d["x"]) == [1.0, 2.0] and d["y"] == "label"
    assert "z" not in d
    assert d["info"]["status"] == "completed"


def test_failure_keeps_saved_data_records_status_and_fails_cell(
    shell, tmp_path: Path, capsys
) -> None:
    code = "%%acquisition broken\naqm.save_acquisition(partial=np.arange(3))\nraise RuntimeError('lost the fridge')\n"
    shell.user_ns["np"] = np
    result = run(shell, code)
    assert not result.success
    assert isinstance(result.error_in_exec, RuntimeError)
    assert shell.last_execution_result is result
    out = capsys.readouterr().out
    assert out.count("Traceback (most recent call last)") == 1  # shown once, natively
    assert "RuntimeError: lost the fridge" in out
    assert "line 3" in out  # line numbers are those of the visible cell
    assert "run_cell_magic" not in out  # no frames from inside the extension
    d = only_h5(tmp_path / "data")
    assert list(d["partial"]) == [0, 1, 2]
    assert d["info"]["status"] == "failed"
    assert "RuntimeError: lost the fridge" in d["info"]["error"]
    # the next analysis refuses (the acquisition failed), as a one-line error
    refused = run(shell, "%%analysis\nprint('never')")
    assert isinstance(refused.error_in_exec, UsageError)
    assert "failed" in str(refused.error_in_exec)


def test_failure_with_save_keeps_existing_variables(shell, tmp_path: Path) -> None:
    result = run(shell, "%%acquisition half --save a b\na = 1\n1 / 0\nb = 2")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    d = only_h5(tmp_path / "data")
    assert d["a"] == 1 and "b" not in d
    assert d["info"]["status"] == "failed"


def test_syntax_error_in_body(shell, tmp_path: Path) -> None:
    result = run(shell, "%%acquisition syn\nx = (")
    assert not result.success
    assert isinstance(result.error_in_exec, SyntaxError)
    assert only_h5(tmp_path / "data")["info"]["status"] == "failed"


def test_missing_save_variable_fails_with_one_line(shell, tmp_path: Path, capsys) -> None:
    result = run(shell, "%%acquisition m --save x nothere\nx = 1")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nothere" in str(result.error_in_exec)
    assert "Traceback" not in capsys.readouterr().out
    d = only_h5(tmp_path / "data")
    assert d["x"] == 1 and d["info"]["status"] == "failed"


def test_unstorable_value_is_refused_and_loses_nothing(shell, tmp_path: Path) -> None:
    result = run(shell, "%%acquisition u --save good bad\ngood = 1\nbad = object()")
    assert isinstance(result.error_in_exec, UsageError)
    assert "could not store bad" in str(result.error_in_exec)
    assert "good" not in str(result.error_in_exec)
    d = only_h5(tmp_path / "data")
    assert d["good"] == 1  # the storable variable is not lost
    assert "bad" not in d and d["info"]["status"] == "failed"
    assert d["acquisition_cell"]["1"].startswith("# %%acquisition u")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%%acquisition", "required: name"),
        ("%%acquisition ../../etc", "not allowed"),
        ("%%acquisition ..", "escape"),
        ("%%acquisition 'a\\x00b'", "not allowed"),
        ("%%acquisition CON", "reserved"),
        ("%%acquisition x --step 0", "--step"),
        ("%%acquisition x --step two", "invalid int"),
        ("%%acquisition x --save 1abc", "--save"),
        ("%%acquisition x --bogus", "unrecognized"),
        ("%%acquisition --save x y sine", "NAME comes first"),  # --save took the name
        ("%%acquisition my run", "is one word"),
    ],
)
def test_bad_arguments_give_one_line_and_write_nothing(
    shell, tmp_path: Path, capsys, line: str, expected: str
) -> None:
    shell.user_ns["ran"] = False
    result = run(shell, line + "\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert expected in str(result.error_in_exec)
    assert "Traceback" not in capsys.readouterr().out
    assert shell.user_ns["ran"] is False
    assert h5_files(tmp_path) == []


def test_steps_continue_the_same_file(shell, tmp_path: Path) -> None:
    assert run(shell, "%%acquisition st --save a\na = 1").success
    assert run(shell, "%%acquisition st --step 2 --save b\nb = 2").success
    d = only_h5(tmp_path / "data")
    assert d["a"] == 1 and d["b"] == 2
    assert set(d["acquisition_cell"].keys()) == {"1", "2"}
    assert d["acquisition_cell"]["2"].startswith("# %%acquisition st --step 2")
    again = run(shell, "%%acquisition st --step 2\npass")
    assert isinstance(again.error_in_exec, UsageError) and "already" in str(again.error_in_exec)
    wrong = run(shell, "%%acquisition other --step 3\npass")
    assert isinstance(wrong.error_in_exec, UsageError)
    assert len(h5_files(tmp_path)) == 1


def test_same_name_same_second_gets_distinct_files(shell, tmp_path: Path) -> None:
    for i in range(3):
        assert run(shell, f"%%acquisition dup --save i\ni = {i}").success
    files = h5_files(tmp_path / "data" / "dup")
    assert len(files) == 3
    assert sorted(int(DH5(f)["i"]) for f in files) == [0, 1, 2]


def test_user_bound_manager_is_used(shell, tmp_path: Path) -> None:
    mine = AcquisitionAnalysisManager(tmp_path / "mine", shell=shell)
    shell.user_ns["aqm"] = mine
    assert run(shell, "%%acquisition own --save v\nv = 7").success
    assert only_h5(tmp_path / "mine")["v"] == 7
    assert h5_files(tmp_path / "data") == []


def test_rebound_name_gets_the_manager_back(shell, tmp_path: Path, caplog) -> None:
    shell.user_ns["aqm"] = 42
    assert run(shell, "%%acquisition back --save v\nv = 1").success
    assert isinstance(shell.user_ns["aqm"], AcquisitionAnalysisManager)
    assert "rebound" in caplog.text
    assert only_h5(tmp_path / "data")["v"] == 1


def test_outside_a_cell_the_error_is_raised(shell, tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        shell.run_cell_magic("acquisition", "direct", "1 / 0\n")
    assert only_h5(tmp_path / "data")["info"]["status"] == "failed"
    shell.run_cell_magic("acquisition", "direct --save w", "w = 2\n")
    assert len(h5_files(tmp_path / "data")) == 2


def test_mirror_receives_the_failed_snapshot(shell, tmp_path: Path) -> None:
    assert run(shell, f"%labmate_backend mirror {tmp_path / 'mirror'}").success
    result = run(shell, "%%acquisition mirrored\naqm.save_acquisition(k=1)\nraise KeyError('k')")
    assert isinstance(result.error_in_exec, KeyError)
    assert run(shell, "%labmate_backend wait 60").success
    copied = only_h5(tmp_path / "mirror")
    assert copied["k"] == 1 and copied["info"]["status"] == "failed"
    assert list((tmp_path / "mirror" / "mirrored").glob("*_CELL.py"))


def test_quoted_name_with_spaces(shell, tmp_path: Path) -> None:
    assert run(shell, '%%acquisition "cool down" --save t\nt = 0.01').success
    assert only_h5(tmp_path / "data" / "cool down")["experiment_name"] == "cool down"


def test_interrupt_is_recorded_as_failure(shell, tmp_path: Path) -> None:
    result = run(shell, "%%acquisition stopped --save i\ni = 3\nraise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert shell.last_execution_succeeded is False
    d = only_h5(tmp_path / "data")
    assert d["i"] == 3 and d["info"]["status"] == "failed"
    assert "KeyboardInterrupt" in d["info"]["error"]


def test_failing_prerun_hook_marks_the_new_file_failed(shell, tmp_path: Path) -> None:
    def hook():
        raise RuntimeError("instrument not ready")

    shell.user_ns["aqm"].set_acquisition_cell_prerun_hook(hook)
    shell.user_ns["ran"] = False
    result = run(shell, "%%acquisition hooked\nran = True")
    assert isinstance(result.error_in_exec, RuntimeError)
    assert shell.user_ns["ran"] is False
    d = only_h5(tmp_path / "data")
    assert d["info"]["status"] == "failed" and "instrument not ready" in d["info"]["error"]


def test_top_level_await_runs_where_no_loop_is_busy(shell, tmp_path: Path) -> None:
    # terminal IPython: the nested cell gets its own event loop
    code = "%%acquisition awaited --save x\nimport asyncio\nawait asyncio.sleep(0)\nx = 1"
    assert run(shell, code).success
    assert only_h5(tmp_path / "data")["x"] == 1


def test_the_magic_refuses_the_library_s_reserved_keys_one_source() -> None:
    from labmate_ext import magics

    assert magics.RESERVED_KEYS is RESERVED_KEYS


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_save_refuses_the_file_s_own_keys_before_running(
    shell, tmp_path: Path, capsys, key: str
) -> None:
    shell.user_ns["ran"] = False
    result = run(shell, f"%%acquisition r --save x {key}\nran = True\nx = 1\n{key} = 3")
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert f"--save {key}" in message and "\n" not in message
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert shell.user_ns["ran"] is False
    assert h5_files(tmp_path) == []
    assert run(shell, "%%acquisition after --save x\nx = 2").success  # nothing left running
    d = only_h5(tmp_path / "data")
    assert d["x"] == 2 and d["info"]["status"] == "completed"


def test_interrupt_while_saving_finishes_the_file_as_failed(shell, tmp_path: Path) -> None:
    code = (
        "%%acquisition stopped --save good stop\n"
        "class Stop:\n"
        "    def asdict(self):\n"
        "        raise KeyboardInterrupt\n"
        "good = 1\n"
        "stop = Stop()\n"
    )
    result = run(shell, code)
    assert isinstance(result.error_in_exec, KeyboardInterrupt)  # still reaches the user
    d = only_h5(tmp_path / "data")
    assert d["info"]["status"] == "failed"
    assert "KeyboardInterrupt" in d["info"]["error"]
    assert run(shell, "%%acquisition next --save x\nx = 1").success
    assert DH5(h5_files(tmp_path / "data" / "next")[0])["info"]["status"] == "completed"


@pytest.mark.parametrize(
    "line",
    [
        "%%acquisition 'unclosed",
        '%%acquisition name --save "x',
        "%%analysis 'unclosed",
        "%labmate_backend mirror 'unclosed",
        "%labmate_backend mirror ./m --name 'unclosed",
    ],
)
def test_unclosed_quote_is_a_one_line_usage_error(shell, tmp_path: Path, capsys, line: str) -> None:
    shell.user_ns["ran"] = False
    result = run(shell, line + ("\nran = True" if line.startswith("%%") else ""))
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert "No closing quotation" in message and "\n" not in message
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert shell.user_ns["aqm"].backends == {}
    assert shell.user_ns["ran"] is False
    assert h5_files(tmp_path) == []


@pytest.mark.parametrize("line", ["%%acquisition?", "%acquisition?", "%%analysis?", "%analysis?"])
def test_help_shows_the_arguments(shell, capsys, line: str) -> None:
    assert run(shell, line).success
    out = capsys.readouterr().out
    assert "not found" not in out
    if "acquisition" in line:
        assert "--save" in out and "--step" in out and "name of the acquisition" in out
    else:
        assert "--name" in out and "an older acquisition" in out


def test_line_form_says_it_is_a_cell_magic(shell, tmp_path: Path) -> None:
    result = run(shell, "%acquisition sine")
    assert isinstance(result.error_in_exec, UsageError)
    assert "is a cell magic" in str(result.error_in_exec)
    assert h5_files(tmp_path) == []
