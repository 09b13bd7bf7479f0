"""Live plot of a loop: snapshots of finished points, drawings, throttling by duty cycle."""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest

from labmate_core.acquisition import AcquisitionLoop
from labmate_core.display import liveplot, progress


def assert_png_not_blank(data: bytes) -> None:
    from matplotlib.image import imread

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(io.BytesIO(data), format="png")[..., :3]
    assert pixels.min() < 0.3 and pixels.max() > 0.9 and (pixels < 0.5).mean() > 0.002


def _loop(points: int, stop: int) -> AcquisitionLoop:
    loop = AcquisitionLoop()
    for i, f in enumerate(loop(np.linspace(0, 1, points))):
        loop.append(freq=f, v=np.sin(f), z=1j * f)
        if i == stop:
            break
    return loop


def test_snapshot_keeps_finished_points_and_copies():
    loop = _loop(10, 4)
    arrays = liveplot.snapshot(loop, 4)
    assert sorted(arrays) == ["freq", "v", "z"]
    assert all(len(a) == 4 for a in arrays.values())
    assert arrays["z"][1] == abs(1j * loop["freq"][1])  # complex: magnitude
    arrays["v"][0] = 99.0
    assert loop["v"][0] != 99.0  # a copy: the loop's data is untouched
    assert_png_not_blank(liveplot.render(arrays, "4/10 points"))


def test_nested_loops_drawn_as_an_image():
    loop = AcquisitionLoop()
    for i in loop(4):
        for j in loop(5):
            loop.append(v=i * j)
    arrays = liveplot.snapshot(loop, 20)
    assert arrays["v"].shape == (4, 5)
    assert_png_not_blank(liveplot.render(arrays))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_drawings_are_spaced_by_their_duration():
    """A drawing that took d seconds is followed by none for max(MIN_INTERVAL, DUTY * d)."""
    loop = _loop(10, 5)
    clock = Clock()
    image = widgets.Image(format="png")
    live = liveplot.LivePlot(loop, image, clock=clock)
    live.update(2)  # too early: the first drawing waits DUTY drawings after the start
    assert not live._busy.is_set() and live.drawings == 0
    clock.now += liveplot.DUTY * max(liveplot._last_duration, liveplot.MIN_DRAWING)
    original = liveplot.render

    def slow_render(arrays, title=""):
        clock.now += 0.1  # the drawing takes 0.1 s of the (fake) clock
        return original(arrays, title)

    liveplot.render = slow_render
    try:
        live.update(3)
        live._executor.submit(lambda: None).result(30)
        assert live.drawings == 1
        assert live._next == pytest.approx(clock.now + liveplot.DUTY * 0.1)  # 1.9 s > MIN_INTERVAL
        for _ in range(50):  # calls before the next allowed time: nothing drawn
            clock.now += 0.03
            live.update(4)
        live._executor.submit(lambda: None).result(30)
        assert live.drawings == 1
        clock.now += 1.0
        live.update(5)
        live.close(5, wait=True)
    finally:
        liveplot.render = original
    assert live.drawings == 3  # the one due, and the final state at close
    assert_png_not_blank(image.value)


def test_progress_draws_a_live_plot_only_inside_live_plots(shown):
    """In a kernel (``shown``: a frontend is there)."""
    loop = _loop(6, 2)
    plain = progress.Progress(6, widget=True)
    assert plain.live is None
    with progress.live_plots():
        shown = progress.start(6, lambda: None, loop)
    assert shown is not None and shown.live is not None
    shown.set_done(3)
    shown.finish()
    shown.live._executor.shutdown(wait=True)
    assert shown.live.drawings >= 1
    assert_png_not_blank(shown.live.image.value)
    assert progress.start(6, lambda: None, loop).live is None  # outside: no plot
