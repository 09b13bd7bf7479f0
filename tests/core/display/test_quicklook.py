"""Quick look: what is plotted from real files, decimation, loops so far, figure previews."""

from __future__ import annotations

import io
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from labmate_core.acquisition import AcquisitionLoop
from labmate_core.acquisition.figures import save_figure
from labmate_core.dh5 import DH5, storage
from labmate_core.display import quicklook


def png_pixels(data: bytes) -> np.ndarray:
    """The RGB pixels of a PNG (asserts it is one)."""
    from matplotlib.image import imread

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(io.BytesIO(data), format="png")[..., :3]


def assert_not_blank(data: bytes) -> None:
    pixels = png_pixels(data)
    assert pixels.shape[0] > 20 and pixels.shape[1] > 20
    # a drawn plot has dark pixels (lines, text) and light ones (background)
    assert pixels.min() < 0.3 and pixels.max() > 0.9
    assert (pixels < 0.5).mean() > 0.002


def write(path: Path, **data: object) -> Path:
    with storage.open_write(path) as file:
        file["info/status"] = "completed"
        file["acquisition_cell/1"] = "x = 1"
        for key, value in data.items():
            file[key] = value
    return path


def test_1d_against_the_key_of_the_same_length(tmp_path):
    x = np.linspace(0, 1, 50)
    path = write(tmp_path / "a.h5", freq=x, signal=np.sin(x), other=np.arange(7.0), scalar=3.0)
    contents = quicklook.scan(path)
    assert {a.key for a in contents.arrays} == {"freq", "signal", "other"}  # no bookkeeping
    plots = quicklook.plan(contents)
    by_y = {p.y.key: p for p in plots}
    assert set(by_y) == {"signal", "other"}
    assert by_y["signal"].x is not None and by_y["signal"].x.key == "freq"
    assert by_y["other"].x is None  # alone with its length: against the index
    assert_not_blank(quicklook.render_png(path))


def test_2d_as_image_with_axes_when_coordinates_are_saved(tmp_path):
    x, y = np.linspace(0, 1, 30), np.linspace(-1, 1, 20)
    path = write(tmp_path / "b.h5", x=x, y=y, z=np.outer(y, x))
    plots = quicklook.plan(quicklook.scan(path))
    image = next(p for p in plots if p.kind == "image")
    assert image.y.key == "z" and image.x.key == "x" and image.x2.key == "y"
    assert len(plots) == 1  # the coordinates are the image's axes, not curves of their own
    assert_not_blank(quicklook.render_png(path))
    # without coordinates: still an image, axes are indexes
    bare = write(tmp_path / "c.h5", z=np.random.default_rng(0).random((16, 12)))
    (only,) = quicklook.plan(quicklook.scan(bare))
    assert only.kind == "image" and only.x is None
    assert_not_blank(quicklook.render_png(bare))


def test_nothing_plottable_gives_none(tmp_path):
    path = write(tmp_path / "d.h5", note="text only", value=1.5)
    assert quicklook.render_png(path) is None


def test_loop_points_so_far(tmp_path):
    """A loop cut in its 4th of 10 points: the 3 finished ones are plotted (title 3/10)."""
    path = tmp_path / "loop.h5"
    write(path)
    loop = AcquisitionLoop()
    loop.attach(str(path), "loop")
    for i, f in enumerate(loop(np.linspace(1, 2, 10))):
        loop.append(f=f, amp=np.cos(f))
        if i == 3:
            break
    loop.close()
    contents = quicklook.scan(path)
    (info,) = contents.loops
    assert (info.key, info.shape, info.done, info.total) == ("loop", (10,), 3, 10)
    assert quicklook.loop_progress(path) == [info]
    plots = quicklook.plan(contents)
    (amp,) = [p for p in plots if p.y.key == "loop/amp"]
    assert amp.loop == "loop" and amp.x.key == "loop/f"
    drawn = []
    from matplotlib.axes import Axes

    original = Axes.plot

    def spy(self, *args, **kwargs):
        drawn.append(np.asarray(args[0]))
        return original(self, *args, **kwargs)

    Axes.plot = spy
    try:
        assert_not_blank(quicklook.render_png(path))
    finally:
        Axes.plot = original
    assert [len(x) for x in drawn] == [3]


def test_big_arrays_are_read_decimated(tmp_path):
    """A 4M-point array and a 3000x3000 image: only a decimated view is read."""
    path = tmp_path / "big.h5"
    write(path, t=np.arange(4_000_000, dtype=float), v=np.random.default_rng(1).random(4_000_000))
    with h5py.File(path, "a") as file:
        file.create_dataset("img", data=np.ones((3000, 3000), dtype=np.float32))
    selections = []
    original = quicklook.LazyArray.__getitem__

    def spy(self, selection):
        values = original(self, selection)
        selections.append(np.asarray(values).size)
        return values

    quicklook.LazyArray.__getitem__ = spy  # type: ignore[method-assign]
    try:
        assert_not_blank(quicklook.render_png(path, max_points=1000, max_pixels=300))
    finally:
        quicklook.LazyArray.__getitem__ = original  # type: ignore[method-assign]
    assert selections and max(selections) <= 300 * 300
    assert sum(selections) < 200_000


def test_many_keys_limit_the_panels(tmp_path):
    data = {f"k{i:03d}": np.arange(5.0) * i for i in range(150)}
    path = write(tmp_path / "many.h5", **data)
    contents = quicklook.scan(path)
    assert len(contents.arrays) == 150
    assert len(quicklook.plan(contents)) == quicklook.MAX_PANELS
    assert_not_blank(quicklook.render_png(path))


def test_unreadable_file_raises_a_clear_error(tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(OSError):
        quicklook.scan(broken)


def test_save_figure_writes_a_hidden_png_preview(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([0, 1, 0, 2])
    prefix = tmp_path / "2026_11_24__16_56_38__sine"
    pdf = f"{prefix}_FIG1.pdf"
    save_figure(figure, pdf)
    assert Path(pdf).read_bytes().startswith(b"%PDF")  # the record
    preview = quicklook.preview_path(pdf)
    assert os.path.basename(preview) == ".2026_11_24__16_56_38__sine_FIG1.pdf.png"
    assert_not_blank(Path(preview).read_bytes())
    assert png_pixels(Path(preview).read_bytes()).shape[1] <= 400  # a thumbnail
    (Path(f"{prefix}_FIG2.pdf")).write_bytes(b"%PDF-1.4 made elsewhere")
    previews = quicklook.figure_previews(prefix)
    assert [name for name, _ in previews] == [
        "2026_11_24__16_56_38__sine_FIG1.pdf",
        "2026_11_24__16_56_38__sine_FIG2.pdf",
    ]
    assert previews[0][1] == Path(preview).read_bytes() and previews[1][1] is None


def test_a_figure_without_png_support_still_saves_its_pdf(tmp_path, caplog):
    caplog.set_level("INFO", logger="labmate_core.display.quicklook")

    class PdfOnly:
        def savefig(self, fname, format=None, **kwargs):
            if format == "png":
                raise ValueError("no png here")
            Path(fname).write_bytes(b"%PDF")

    target = str(tmp_path / "p_FIG1.pdf")
    save_figure(PdfOnly(), target)
    assert Path(target).read_bytes() == b"%PDF"
    assert not os.path.exists(quicklook.preview_path(target))
    assert not list(tmp_path.glob(".*tmp"))
    assert "no preview" in caplog.text


def test_reads_through_dh5_lazily(tmp_path):
    path = write(tmp_path / "lazy.h5", x=np.arange(10.0))
    lazy = DH5(path, open_on_init=False).get_lazy("x")
    assert isinstance(lazy, quicklook.LazyArray)
