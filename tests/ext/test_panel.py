"""The recent-acquisitions panel: widget tree, filters, paging, notes, actions, live updates."""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
from acquisition_files import stamp
from acquisition_files import write_acquisition as write_file
from ext_helpers import run

import labmate_ext
from labmate_core import index
from labmate_core.backends import AcquisitionBackend, BackendDispatcher, MirrorDirectoryBackend
from labmate_core.dh5 import storage
from labmate_ext.panel import LabmatePanel, read_acquisition_code, show_panel


def write_acquisition(
    data_dir: Path, name: str, i: int, status: str = "completed", cell: str = "x = 1\n"
) -> Path:
    """A real acquisition file as the manager writes it; ``i`` orders them in time (hours)."""
    return write_file(
        data_dir,
        name,
        stamp(i * 3600),
        status=status,
        useful=status != "running",
        duration=2.0 + i,
        cell=cell,
        x=np.arange(i + 1),
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "DATA"
    folder.mkdir()
    return folder


@pytest.fixture
def panel_of():
    panels = []

    def make(*args, **kwargs) -> LabmatePanel:
        panels.append(LabmatePanel(*args, **kwargs))
        assert panels[-1].wait_reindexed()  # the files are read in the background
        return panels[-1]

    yield make
    for panel in panels:
        panel.close()


def _sync_text(panel: LabmatePanel, i: int = 0) -> str:
    return re.sub(r"<[^>]+>", " ", panel.row_widgets(i).cells["sync"].value)


def _sync_states(panel: LabmatePanel, i: int = 0) -> dict[str, str]:
    """{backend: state} as shown (full names from the tooltips)."""
    return dict(re.findall(r'title="([^"]*?): (\w+)', panel.row_widgets(i).cells["sync"].value))


def _names(panel: LabmatePanel) -> list[str]:
    return [row.name for row in panel.rows]


def test_widget_tree_and_row_cells(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "sine", 3, cell="for i in range(3):\n    pass\n")
    panel = panel_of(data_dir)
    assert isinstance(panel, widgets.VBox) and "labmate-panel" in panel._dom_classes
    assert panel.table in panel.children and panel.rows_box in panel.table.children
    assert len(panel.rows_box.children) == 1
    row = panel.row_widgets(0)
    assert ">26-11-01 03:00<" in row.cells["time"].value
    assert 'title="2026-11-01 03:00:00"' in row.cells["time"].value
    assert row.cells["name"].description == "sine" and row.select is row.cells["name"]
    assert str(prefix).endswith(row.select.tooltip.split(":")[0])  # the full name on hover
    assert ">completed<" in row.cells["status"].value
    assert row.cells["duration"].value == "5.0 s"
    assert row.cells["size"].value.endswith("kB")
    assert row.cells["sync"].value == "—"
    assert row.retry.layout.visibility == "hidden"
    assert panel.rows[0].prefix == str(prefix)
    assert panel.page_label.value == "1–1 of 1"
    with pytest.raises(IndexError):
        panel.row_widgets(1)


def test_paging_newest_first(data_dir, panel_of):
    for i in range(25):
        write_acquisition(data_dir, f"m{i:02d}", i)
    panel = panel_of(data_dir, page_size=10)
    assert _names(panel)[:2] == ["m24", "m23"]
    assert panel.prev_button.disabled and not panel.next_button.disabled
    panel.next_button.click()
    assert _names(panel) == [f"m{i:02d}" for i in range(14, 4, -1)]
    assert panel.page_label.value == "11–20 of 25"
    panel.next_button.click()
    assert _names(panel) == [f"m{i:02d}" for i in range(4, -1, -1)]
    assert len(panel.rows_box.children) == 5 and panel.next_button.disabled
    panel.next_button.click()  # past the end: stays on the last page
    assert panel.page == 2
    panel.prev_button.click()
    assert panel.page_label.value == "11–20 of 25"


def test_filters_text_date_status(data_dir, panel_of):
    write_acquisition(data_dir, "sine", 1)
    write_acquisition(data_dir, "rabi", 30, status="failed")
    write_acquisition(data_dir, "sine", 50)
    write_acquisition(data_dir, "ramsey", 60, status="running")
    panel = panel_of(data_dir, page_size=2)
    panel.next_button.click()
    panel.text_filter.value = "sin"
    assert _names(panel) == ["sine", "sine"] and panel.page == 0  # a filter goes back to page 1
    panel.text_filter.value = ""
    panel.status_filter.value = "failed"
    assert _names(panel) == ["rabi"]
    assert "#c62828" in panel.row_widgets(0).cells["status"].value
    panel.status_filter.value = ""
    panel.since_filter.value = datetime.date(2026, 11, 2)
    assert _names(panel) == ["ramsey", "sine"] and panel.total == 3
    panel.since_filter.value = None
    assert panel.total == 4


def test_a_note_that_cannot_be_saved_is_said_in_the_panel(data_dir, panel_of):
    write_acquisition(data_dir, "sine", 1)
    panel = panel_of(data_dir)
    log = data_dir / ".labmate" / "notes.jsonl"
    if log.exists():
        log.unlink()
    log.mkdir()  # the notes log cannot be written (a directory in its place)
    panel.row_widgets(0).notes.value = "fridge at 10 mK"
    assert index.flush(10)
    assert "could not save the note" in panel.message.value
    assert "IsADirectoryError" in panel.message.value


def test_notes_are_saved_to_the_index(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1)
    panel = panel_of(data_dir)
    panel.row_widgets(0).notes.value = "fridge at 10 mK"
    assert index.flush(10)  # notes are written in the background
    assert index.open_index(data_dir).get(prefix).notes == "fridge at 10 mK"
    other = panel_of(data_dir)
    assert other.row_widgets(0).notes.value == "fridge at 10 mK"  # refreshed by the event
    other.text_filter.value = "10 mk"
    assert _names(other) == ["sine"]


def test_analyse_puts_an_analysis_cell_in_the_next_input(data_dir, panel_of, bare_shell):
    prefix = write_acquisition(data_dir, "sine", 1)
    panel = panel_of(data_dir, shell=bare_shell)
    panel.row_widgets(0).analyse.click()
    assert bare_shell.rl_next_input == f"%%analysis {prefix}\n"


def test_analyse_quotes_a_path_with_spaces(tmp_path, panel_of, bare_shell):
    data_dir = tmp_path / "my data"
    data_dir.mkdir()
    prefix = write_acquisition(data_dir, "sine", 1)
    panel_of(data_dir, shell=bare_shell).row_widgets(0).analyse.click()
    assert bare_shell.rl_next_input == f"%%analysis '{prefix}'\n"


def test_code_and_path_actions(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1, cell="freq = 5e9\nmeasure(freq)\n")
    panel = panel_of(data_dir)
    assert panel.details.layout.display == "none" and panel.path_text.layout.display == "none"
    panel.row_widgets(0).select.click()
    panel.details.wait()
    assert panel.code_text.value == "freq = 5e9\nmeasure(freq)\n"
    assert panel.details.layout.display is None
    panel.show_path(panel.rows[0])  # scripting; the row's *path* button copies in the browser
    assert panel.path_text.value == f"{prefix}.h5"
    assert panel.path_text.layout.display is None


def test_path_button_copies_in_the_browser_with_the_path_escaped(tmp_path, panel_of):
    data_dir = tmp_path / 'it\'s <a> "dir"'
    data_dir.mkdir()
    prefix = write_acquisition(data_dir, "sine", 1)
    value = panel_of(data_dir).row_widgets(0).path.value
    assert "navigator.clipboard.writeText" in value and "labmate-path-field" in value
    assert f'data-path="{html.escape(f"{prefix}.h5", quote=True)}"' in value
    assert f"{prefix}.h5" not in value  # only escaped: a path cannot break out of the attribute


def test_code_of_several_steps(data_dir):
    prefix = write_acquisition(data_dir, "steps", 1, cell="a = 1")
    with storage.open_write(f"{prefix}.h5") as file:
        file["acquisition_cell/2"] = "b = 2"
    assert read_acquisition_code(f"{prefix}.h5") == (
        "# --- step 1 ---\na = 1\n# --- step 2 ---\nb = 2"
    )


def test_action_errors_are_shown_not_raised(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1)
    panel = panel_of(data_dir)
    Path(f"{prefix}.h5").unlink()
    panel.row_widgets(0).select.click()
    panel.details.wait()
    assert "FileNotFoundError" in panel.message.value
    panel.row_widgets(0).retry.click()
    assert "no backend dispatcher" in panel.message.value


def test_updates_itself_on_hooks_and_refresh_button(data_dir, panel_of):
    write_acquisition(data_dir, "first", 1)
    panel = panel_of(data_dir)
    index.record_start(
        write_acquisition(data_dir, "mine", 2, status="running"), data_directory=data_dir
    )
    assert _names(panel) == ["mine", "first"]  # this kernel's save: no click needed
    write_acquisition(data_dir, "other_kernel", 3)  # another process, no hook here
    assert _names(panel) == ["mine", "first"]
    panel.refresh_button.click()
    assert _names(panel) == ["other_kernel", "mine", "first"]
    assert "1 new" in panel.message.value
    panel.close()
    index.record_start(write_acquisition(data_dir, "after_close", 4), data_directory=data_dir)
    assert panel.total == 3


class FlakyBackend(AcquisitionBackend):
    """Fails until ``healthy`` is set."""

    def __init__(self) -> None:
        self.healthy = False

    def save_snapshot(self, acquisition) -> None:
        if not self.healthy:
            raise ConnectionError("server down")


def test_sync_states_and_retry(data_dir, tmp_path, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1)
    flaky = FlakyBackend()
    dispatcher = BackendDispatcher(data_dir, max_attempts=1, backoff=0, drain_timeout=5)
    try:
        dispatcher.add(MirrorDirectoryBackend(tmp_path / "mirror"), "mirror")
        dispatcher.add(flaky, "flaky")
        panel = panel_of(data_dir, dispatcher=dispatcher)
        dispatcher.submit(prefix, "sine")
        assert dispatcher.wait(60) and index.flush(60)
        row = panel.row_widgets(0)
        assert "mirror: done" in row.cells["sync"].value
        assert (
            "flaky: failed" in row.cells["sync"].value and "server down" in row.cells["sync"].value
        )
        assert row.retry.layout.visibility == "visible" and not row.retry.disabled

        flaky.healthy = True
        row.retry.click()
        assert dispatcher.wait(60) and index.flush(60)
        assert _sync_states(panel) == {"flaky": "done", "mirror": "done"}
        assert panel.row_widgets(0).retry.layout.visibility == "hidden"
        assert (tmp_path / "mirror" / "sine" / f"{prefix.name}.h5").is_file()
    finally:
        dispatcher.close(10)


def test_panel_catches_up_with_a_dispatcher_that_already_ran(data_dir, tmp_path, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1)
    dispatcher = BackendDispatcher(
        data_dir, [MirrorDirectoryBackend(tmp_path / "m")], drain_timeout=5
    )
    try:
        dispatcher.submit(prefix)
        assert dispatcher.wait(60) and index.flush(60)
        panel = panel_of(data_dir, dispatcher=dispatcher)
        assert list(_sync_states(panel).values()) == ["done"]
    finally:
        dispatcher.close(10)


def test_bad_arguments(data_dir, tmp_path):
    with pytest.raises(ValueError, match="page_size"):
        LabmatePanel(data_dir, page_size=0)
    with pytest.raises(NotADirectoryError):
        LabmatePanel(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_show_panel_displays_and_returns_it(data_dir, bare_shell, capsys):
    write_acquisition(data_dir, "sine", 1)
    panel = show_panel(data_dir, shell=bare_shell)
    try:
        assert isinstance(panel, LabmatePanel) and _names(panel) == ["sine"]
        assert "LabmatePanel" in capsys.readouterr().out
    finally:
        panel.close()


def test_long_backend_names_are_shortened_with_the_full_name_as_tooltip(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "sine", 1)
    name = "mirror:/very/long/path/to/the/backup/disk"
    index.open_index(data_dir).set_sync(prefix, name, "pending")
    panel = panel_of(data_dir)
    text = _sync_text(panel)
    assert name not in text and "…" in text and "pending" in text
    assert f'title="{name}: pending"' in panel.row_widgets(0).cells["sync"].value


def test_magic_panel_follows_the_dispatcher_of_a_backend_added_later(shell, tmp_path):
    shell.run_line_magic("config", "Labmate.max_attempts = 1")
    shell.run_line_magic("config", "Labmate.backoff = 0.0")
    assert run(shell, "%%acquisition early --save x\nx = 1").success
    assert run(shell, "%labmate_panel").success
    session = labmate_ext.session.SESSIONS[shell]
    (panel,) = session.panels
    manager = shell.user_ns["aqm"]
    assert manager.dispatcher is None and panel.dispatcher is None  # no backend yet
    assert panel.row_widgets(0).retry.disabled

    flaky = FlakyBackend()
    session.add_backend(flaky, name="flaky")
    assert panel.dispatcher is manager.dispatcher is not None
    assert run(shell, "%%acquisition late --save x\nx = 2").success
    assert manager.wait_backends(60) and index.flush(60)
    assert _names(panel) == ["late", "early"]
    row = panel.row_widgets(0)
    assert "flaky: failed" in row.cells["sync"].value
    assert row.retry.layout.visibility == "visible" and not row.retry.disabled

    flaky.healthy = True
    row.retry.click()
    assert "sent to the backends again" in panel.message.value
    assert manager.wait_backends(60) and index.flush(60)
    assert _sync_states(panel) == {"flaky": "done"}

    shell.run_line_magic("unload_ext", "labmate_ext")  # the panel stops listening
    assert session.panels == [] and panel._listening is None


def test_dispatcher_and_manager_are_exclusive(data_dir):
    with pytest.raises(ValueError, match="not both"):
        LabmatePanel(data_dir, dispatcher=object(), manager=object())


def test_sync_column_shows_delivered_retrying_stale_and_never(data_dir, tmp_path, panel_of):
    from labmate_core import DH5
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    older = write_acquisition(data_dir, "old", 0)  # before any backend: never delivered
    prefix = write_acquisition(data_dir, "sine", 1)
    flaky = FlakyBackend()
    aqm = AcquisitionAnalysisManager(
        data_dir, shell=None, backend=MirrorDirectoryBackend(tmp_path / "mirror")
    )
    aqm.configure_backends(backoff=600, drain_timeout=0)  # the retry waits: visible
    aqm.add_backend(flaky, "flaky")
    panel = panel_of(data_dir, manager=aqm)
    aqm.dispatcher.submit(prefix, "sine")
    for _ in range(600):  # the mirror done, flaky waiting to retry
        states = aqm.backend_status(prefix)
        if (
            states.get("flaky")
            and states["flaky"].retrying
            and states[f"mirror:{tmp_path / 'mirror'}"].finished
        ):
            break
        aqm.wait_backends(0.1)
    assert index.flush(60)
    panel.refresh()
    sync = panel.row_widgets(0).cells["sync"].value
    assert ">delivered " in sync and "mirror" in sync
    assert ">retrying<" in sync and "flaky: retrying" in sync and "server down" in sync
    assert "next try at " in sync
    old_sync = panel.row_widgets(1).cells["sync"].value
    assert ">never delivered<" in old_sync
    DH5(prefix.with_name(prefix.name + ".h5"), "a=")["by_hand"] = 1  # outside any manager
    panel.refresh()
    sync = panel.row_widgets(0).cells["sync"].value
    assert ">stale<" in sync and "the files changed since delivered" in sync
    assert older.with_name(older.name + ".h5").exists()
    aqm.dispatcher.close(0)


def test_notes_are_part_of_the_acquisition(data_dir, tmp_path, panel_of):
    import json
    import subprocess
    import sys

    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    noted = write_acquisition(data_dir, "old", 0)
    prefix = write_acquisition(data_dir, "sine", 1)
    # a note left by the first versions, only in .labmate/notes.jsonl
    log = data_dir / ".labmate" / "notes.jsonl"
    log.parent.mkdir(exist_ok=True)
    entry = {"stem": noted.name, "text": "from the old log", "time": 1.0}
    log.write_text(json.dumps(entry) + "\n")
    mirror = tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data_dir, shell=None, backend=MirrorDirectoryBackend(mirror))
    panel = panel_of(data_dir, manager=aqm)  # migrates the old note, sends it
    assert (noted.parent / f"{noted.name}_NOTES.txt").read_text() == "from the old log"
    panel.row_widgets(0).notes.value = "fridge at 10 mK"
    note = prefix.parent / f"{prefix.name}_NOTES.txt"
    assert note.read_text() == "fridge at 10 mK"
    assert aqm.wait_backends(60)
    assert (mirror / "sine" / note.name).read_text() == "fridge at 10 mK"
    assert (mirror / "old" / f"{noted.name}_NOTES.txt").read_text() == "from the old log"
    assert index.flush(10)
    # labmate ls shows it, even from an index rebuilt without the old log
    (data_dir / ".labmate" / "index.sqlite").unlink()
    log.unlink()
    index.reset()
    listed = subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", "ls", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "# fridge at 10 mK" in listed.stdout and "# from the old log" in listed.stdout


def test_files_made_elsewhere_appear_after_the_background_reindex(data_dir, tmp_path):
    """The first render shows the index at once; the files are re-read in the background
    and a file made by another process (no hook here) then appears by itself."""
    write_acquisition(data_dir, "known", 1)
    first = LabmatePanel(data_dir)
    assert first.wait_reindexed()
    first.close()
    write_acquisition(data_dir, "elsewhere", 2)  # plain writes: the index is not told
    panel = LabmatePanel(data_dir)
    try:
        assert panel.wait_reindexed()
        assert _names(panel) == ["elsewhere", "known"]
    finally:
        panel.close()
