"""Progress of an AcquisitionLoop: fraction of nested loops, rate/ETA text, throttling, the bar,
the registry the panel reads, and real loops driving it."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from labmate_core.acquisition import AcquisitionLoop
from labmate_core.dh5 import storage
from labmate_core.display import progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fraction_of_nested_loops():
    assert progress.fraction_done([0], [10]) == 0
    assert progress.fraction_done([3], [10]) == pytest.approx(0.3)
    assert progress.fraction_done([3, 5], [10, 10]) == pytest.approx(0.35)
    assert progress.fraction_done([10], [10]) == 1.0
    assert progress.fraction_done([1, 2], [2]) == pytest.approx(0.5)  # inner level not known yet


def test_text_rate_eta_and_throttling():
    clock = Clock()
    bar = progress.Progress(50, widget=False, clock=clock)
    assert bar.text().startswith("0/50 points (0%)")
    for i in range(1, 1001):  # 1000 updates in 1 s of loop time
        clock.now += 0.001
        bar.set_done(i / 20)
    assert bar.done == 50
    assert bar.updates == 1  # logged once: LOG_INTERVAL outside notebooks
    clock.now += 1.0
    assert bar.text() == "50/50 points (100%), 25 points/s, done in 2 s"
    slow = progress.Progress(100, widget=False, clock=clock)
    clock.now += 30
    slow.set_done(10)
    assert slow.text() == "10/100 points (10%), 3 s/point, 4 min 30 s left"


def test_widget_bar_updates_throttled():
    clock = Clock()
    bar = progress.Progress(200, widget=True, clock=clock)
    assert bar.bar is not None and "labmate-progress" in bar.bar._dom_classes
    for i in range(1, 201):
        clock.now += 0.01  # 2 s in all: about 8 updates at 0.25 s
        bar.set_done(i)
    assert 5 <= bar.updates <= 10
    bar.finish()
    assert bar.bar.value == 1.0 and bar.bar.bar_style == "success"
    assert "200/200 points" in bar.label.value


def test_a_loop_logs_its_progress_outside_notebooks(caplog, monkeypatch):
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    caplog.set_level(logging.INFO, logger="labmate_core.display.progress")
    loop = AcquisitionLoop()
    for i in loop(4):
        for j in loop(5):
            loop.append(v=i * j)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("1/20 points")
    assert lines[-1].startswith("20/20 points (100%)") and "done in" in lines[-1]
    assert len(lines) == 20  # every point once (interval 0), the last one with "done in"


def test_the_panel_registry_follows_a_loop_writing_a_file(tmp_path):
    path = tmp_path / "run.h5"
    with storage.open_write(path) as file:
        file["info/status"] = "running"
    loop = AcquisitionLoop()
    loop.attach(str(path), "loop")
    seen = []
    for f in loop(np.arange(6.0)):
        loop.append(f=f)
        running = progress.running(path)
        seen.append(None if running is None else (running.done, running.total))
    assert seen == [(float(i), 6) for i in range(6)]  # registered from the start
    assert progress.running(path) is None  # unregistered at the end
    loop.close()


def test_an_interrupted_loop_unregisters(tmp_path):
    path = tmp_path / "cut.h5"
    with storage.open_write(path) as file:
        file["x"] = 1
    loop = AcquisitionLoop()
    loop.attach(str(path), "loop")
    with pytest.raises(KeyboardInterrupt):
        for i in loop(10):
            loop.append(v=i)
            if i == 3:
                raise KeyboardInterrupt
    assert progress.running(path) is None
    loop.close()
