"""The panel's details: selecting a run shows its plot, figure thumbnails, code and notes, read
in the background; filters never leave the details of a hidden row; failed rows show their error."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from acquisition_files import stamp, write_acquisition

from labmate_core.acquisition.figures import save_figure
from labmate_ext.panel import LabmatePanel


def assert_png_not_blank(data: bytes) -> None:
    from matplotlib.image import imread

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(io.BytesIO(data), format="png")[..., :3]
    assert pixels.min() < 0.3 and pixels.max() > 0.9 and (pixels < 0.5).mean() > 0.002


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


def _row(panel: LabmatePanel, name: str):
    for i, row in enumerate(panel.rows):
        if row.name == name:
            return panel.row_widgets(i)
    raise AssertionError(f"{name} is not shown")


def test_selecting_a_1d_run_shows_its_plot_figures_code(data_dir, panel_of):
    x = np.linspace(0, 1, 101)
    prefix = write_acquisition(
        data_dir, "sine", stamp(3600), cell="y = sin(x)\n", x=x, y=np.sin(6 * x)
    )
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot(x, np.sin(6 * x))
    save_figure(figure, f"{prefix}_FIG1.pdf")
    panel = panel_of(data_dir)
    _row(panel, "sine").select.click()
    panel.details.wait()
    details = panel.details
    assert details.layout.display is None and details.prefix == str(prefix)
    assert_png_not_blank(details.plot.value)
    assert details.code.value == "y = sin(x)\n"
    (thumbnail,) = details.figures.children
    picture, caption = thumbnail.children
    assert_png_not_blank(picture.value)
    assert "FIG1.pdf" in caption.value
    assert "labmate-selected" in _row(panel, "sine").box._dom_classes


def test_a_2d_run_is_plotted_as_an_image(data_dir, panel_of):
    x, y = np.linspace(0, 1, 40), np.linspace(0, 2, 30)
    write_acquisition(data_dir, "map", stamp(7200), x=x, y=y, z=np.outer(y, x))
    panel = panel_of(data_dir)
    panel.select(panel.rows[0])
    panel.details.wait()
    assert_png_not_blank(panel.details.plot.value)
    assert panel.details.figures.children == ()


def test_selection_returns_before_the_plot_is_made(data_dir, panel_of):
    write_acquisition(data_dir, "slow", stamp(3600), x=np.arange(10.0), y=np.arange(10.0))
    panel = panel_of(data_dir)
    release = threading.Event()
    blocker = panel.details._executor.submit(release.wait, 30)  # the worker is busy
    try:
        panel.row_widgets(0).select.click()  # returns although nothing can be read yet
        assert panel.details.plot.value == b"" and "plotting" in panel.details.plot_note.value
        assert "slow" in panel.details.title.value
    finally:
        release.set()
    blocker.result(30)
    panel.details.wait()
    assert_png_not_blank(panel.details.plot.value)


def test_a_newer_selection_wins(data_dir, panel_of):
    write_acquisition(data_dir, "first", stamp(3600), cell="first", x=np.arange(5.0))
    write_acquisition(data_dir, "second", stamp(7200), cell="second", x=np.arange(6.0))
    panel = panel_of(data_dir)
    release = threading.Event()
    panel.details._executor.submit(release.wait, 30)
    _row(panel, "first").select.click()
    _row(panel, "second").select.click()
    release.set()
    panel.details.wait()
    panel.details._executor.submit(lambda: None).result(30)  # the older job ran too
    assert panel.details.code.value == "second"
    assert "second" in panel.details.title.value
    assert "labmate-selected" not in _row(panel, "first").box._dom_classes


def test_filters_never_leave_details_of_a_hidden_row(data_dir, panel_of):
    write_acquisition(data_dir, "good", stamp(3600), x=np.arange(3.0))
    write_acquisition(
        data_dir, "bad", stamp(7200), status="failed", error="Traceback...\nValueError: boom\n"
    )
    panel = panel_of(data_dir)
    panel.select(panel.rows[1])  # good
    panel.details.wait()
    panel.status_filter.value = "failed"
    assert [r.name for r in panel.rows] == ["bad"]
    assert panel.details.prefix is None and panel.details.layout.display == "none"
    assert panel.code_text.value == ""
    panel.status_filter.value = ""
    panel.select(panel.rows[0])
    panel.details.wait()
    panel.text_filter.value = "bad"  # the selected row is still shown: details stay
    assert panel.details.prefix == panel.rows[0].prefix


def test_a_failed_row_shows_the_last_line_of_its_error(data_dir, panel_of):
    write_acquisition(
        data_dir,
        "bad",
        stamp(3600),
        status="failed",
        error='Traceback (most recent call last):\n  File "x"\nValueError: out of range\n',
    )
    write_acquisition(data_dir, "good", stamp(7200))
    panel = panel_of(data_dir)
    bad, good = _row(panel, "bad"), _row(panel, "good")
    assert bad.error.layout.display is None
    assert ">ValueError: out of range<" in bad.error.value
    assert "title=" in bad.error.value  # the whole stored error on hover
    assert good.error.layout.display == "none"


def test_unplottable_and_missing_files_say_so(data_dir, panel_of):
    prefix = write_acquisition(data_dir, "text", stamp(3600), label="only text")
    panel = panel_of(data_dir)
    panel.select(panel.rows[0])
    panel.details.wait()
    assert "no array to plot" in panel.details.plot_note.value
    Path(f"{prefix}.h5").unlink()
    panel.select(panel.rows[0])
    panel.details.wait()
    assert "FileNotFoundError" in panel.message.value


def _wait_for(condition, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_running_loop_shows_its_points_so_far_and_refreshes(data_dir, panel_of):
    """The loop runs in this process: its row says running k/8 and follows it (ticker)."""
    from labmate_core.acquisition import AcquisitionLoop

    prefix = write_acquisition(data_dir, "sweep", stamp(3600), status="running", x=np.arange(2))
    panel = panel_of(data_dir, refresh_interval=0.05)
    loop = AcquisitionLoop()
    loop.attach(f"{prefix}.h5", "loop")
    status = panel.row_widgets(0).cells["status"]
    seen = []
    for i, f in enumerate(loop(np.linspace(0, 1, 8))):
        loop.append(f=f, v=np.sin(f))
        if i >= 1:  # i points are finished (the i-th one is being measured)
            _wait_for(lambda i=i: f">running {i}/8<" in status.value)
            seen.append(i)
    loop.close()
    assert seen == list(range(1, 8))
    assert "points" in status.value  # rate and ETA on hover


def test_a_running_file_of_another_kernel_shows_its_finished_points(data_dir, panel_of):
    """No loop here: the points come from the loop marks saved in the file."""
    from labmate_core.acquisition import AcquisitionLoop

    prefix = write_acquisition(data_dir, "other", stamp(3600), status="running", x=np.arange(2))
    loop = AcquisitionLoop()
    loop.attach(f"{prefix}.h5", "loop")
    for i in loop(10):
        loop.append(v=i)
        if i == 4:
            break
    loop.close()
    panel = panel_of(data_dir)
    assert ">running 4/10<" in panel.row_widgets(0).cells["status"].value
    panel.select(panel.rows[0])
    panel.details.wait()
    assert_png_not_blank(panel.details.plot.value)
