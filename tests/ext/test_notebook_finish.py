"""The notebook's rough edges, on a real InteractiveShell: the namespace, no manager repr as a
cell's result, None in ``--save``, library errors in one line with ``%tb`` still complete."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest
from ext_helpers import only_h5, run
from IPython.core.error import UsageError

from labmate_core.acquisition_notebook import AcquisitionLoop
from labmate_core.dh5 import ReadOnlyKeyError
from labmate_core.dh5.errors import UnstorableValueError

matplotlib.use("Agg")

LIBRARY_PATHS = re.compile(r"labmate_(core|ext)[/\\]")


def test_acquisition_loop_is_in_the_namespace(shell, tmp_path: Path) -> None:
    assert shell.user_ns["AcquisitionLoop"] is AcquisitionLoop
    code = (
        "%%acquisition sweep\n"
        "aqm.aq.loop = loop = AcquisitionLoop()\n"
        "for i in loop(3):\n"
        "    loop.append(v=i * 2.0)\n"
    )
    assert run(shell, code).success
    assert list(only_h5(tmp_path / "data")["loop"]["v"]) == [0.0, 2.0, 4.0]
    shell.run_line_magic("unload_ext", "labmate_ext")
    assert "AcquisitionLoop" not in shell.user_ns


def test_a_user_binding_of_the_name_is_kept(bare_shell, tmp_path: Path) -> None:
    bare_shell.user_ns["AcquisitionLoop"] = mine = object()
    bare_shell.config.Labmate.data_directory = str(tmp_path / "data")
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    assert bare_shell.user_ns["AcquisitionLoop"] is mine
    bare_shell.run_line_magic("unload_ext", "labmate_ext")
    assert bare_shell.user_ns["AcquisitionLoop"] is mine


def test_the_manager_returned_for_chaining_is_not_displayed(shell, capsys, monkeypatch) -> None:
    displayed = []
    monkeypatch.setattr(
        shell.display_pub, "publish", lambda data, *args, **kwargs: displayed.append(data)
    )
    assert run(shell, "%%acquisition chain\naqm.save_acquisition(a=1)").success
    assert run(shell, "aqm.save_acquisition(b=2)").success
    body = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\naqm.save_fig()"
    assert run(shell, "%%analysis\n" + body).success
    chained = run(shell, "aqm.analysis_cell().save_fig()")  # chaining still works
    assert chained.success and chained.result is shell.user_ns["aqm"]  # the result, not shown
    assert "AcquisitionAnalysisManager" not in capsys.readouterr().out
    assert shell.display_formatter.format(shell.user_ns["aqm"]) == ({}, {})
    assert not displayed


def test_none_in_save_is_refused_in_one_line_and_loses_nothing(shell, tmp_path: Path) -> None:
    result = run(shell, "%%acquisition nothing --save a n\na = 1\nn = None")
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert "--save n: None is not stored" in message and "\n" not in message
    assert only_h5(tmp_path / "data")["a"] == 1


def _shown(capsys) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_a_library_error_is_one_line_after_the_user_s_frames(shell, capsys) -> None:
    run(shell, "class Instrument:\n    pass")
    result = run(shell, "%%acquisition inst\nx = 1\naqm.save_acquisition(inst=Instrument())")
    assert isinstance(result.error_in_exec, UnstorableValueError)
    shown = _shown(capsys)
    assert "----> 3 aqm.save_acquisition(inst=Instrument())" in shown  # the user's line
    assert not LIBRARY_PATHS.search(shown), shown
    (line,) = [text for text in shown.splitlines() if text.startswith("UnstorableValueError:")]
    assert "'inst'" in line and "use numbers" in line  # the key and the fix
    assert "frames of labmate hidden: %tb" in shown
    result = run(shell, "aqm.save_acquisition(inst=Instrument())")  # outside a magic too
    assert isinstance(result.error_in_exec, UnstorableValueError)
    assert not LIBRARY_PATHS.search(_shown(capsys))
    shell.run_line_magic("tb", "")
    full = _shown(capsys)
    assert "codec.py" in full and LIBRARY_PATHS.search(full)  # %tb: everything


def test_a_read_only_key_in_analysis_is_one_line(shell, capsys) -> None:
    assert run(shell, "%%acquisition ro --save x\nx = [1.0, 2.0]").success
    result = run(shell, "%%analysis\naqm.d['x'] = 0")
    assert isinstance(result.error_in_exec, ReadOnlyKeyError)
    shown = _shown(capsys)
    assert not LIBRARY_PATHS.search(shown), shown
    assert re.search(r"ReadOnlyKeyError: .*'x'.*unlock", shown)
    assert list(only_h5(Path(shell.user_ns["aqm"].data_directory))["x"]) == [1.0, 2.0]


def test_other_errors_are_shown_as_ipython_shows_them(shell, capsys) -> None:
    result = run(shell, "def f():\n    return 1 / 0\nf()")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    shown = _shown(capsys)
    assert "----> 2     return 1 / 0" in shown and "hidden" not in shown
    result = run(shell, "import numpy as np\nnp.zeros(3).reshape(2, 2)")  # raised by numpy
    assert isinstance(result.error_in_exec, ValueError) and "hidden" not in _shown(capsys)
    assert not run(shell, "x = (").success  # a syntax error is still shown as one
    assert "SyntaxError" in _shown(capsys)


def test_unload_gives_the_shell_its_handler_back(bare_shell, tmp_path: Path) -> None:
    bare_shell.config.Labmate.data_directory = str(tmp_path / "data")
    bare_shell.run_line_magic("load_ext", "labmate_ext")
    assert bare_shell.custom_exceptions
    bare_shell.run_line_magic("unload_ext", "labmate_ext")
    assert bare_shell.custom_exceptions == ()


def test_a_handler_set_by_the_user_is_kept(bare_shell, tmp_path: Path) -> None:
    def handler(shell, etype, value, tb, tb_offset=None):
        return ["mine"]

    bare_shell.set_custom_exc((ZeroDivisionError,), handler)
    try:
        bare_shell.config.Labmate.data_directory = str(tmp_path / "data")
        bare_shell.run_line_magic("load_ext", "labmate_ext")
        assert bare_shell.custom_exceptions == (ZeroDivisionError,)
        bare_shell.run_line_magic("unload_ext", "labmate_ext")
        assert bare_shell.custom_exceptions == (ZeroDivisionError,)
    finally:
        bare_shell.set_custom_exc((), None)


@pytest.mark.parametrize("value", ["np.zeros(3)", "{'a': 1}"])
def test_repr_of_lazy_analysis_data_shows_shape_and_dtype(shell, capsys, value: str) -> None:
    assert run(shell, "%%acquisition lazy\nimport numpy as np\naqm.save_acquisition(x=1)").success
    assert run(shell, f"%%analysis\naqm.d['fit'] = {{'f0': {value}, 'g': 2}}").success
    assert run(shell, "%%analysis\nprint(repr(aqm.d.fit))").success
    shown = capsys.readouterr().out
    assert "<not loaded>" not in shown and "g: 2 (int64)" in shown
    assert "f0: array float64 (3,)" in shown or "f0/" in shown
