"""AcquisitionLoop (points on disk at once, nesting, complex, resume) and AnalysisLoop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from labmate_core import DH5
from labmate_core.acquisition import AcquisitionLoop, AnalysisLoop, NotebookAcquisitionData


def _acq(tmp_path: Path, save_on_edit: bool = True) -> NotebookAcquisitionData:
    return NotebookAcquisitionData(
        str(tmp_path / "acq"), cell="c", save_on_edit=save_on_edit, experiment_name="acq"
    )


def test_each_point_is_on_disk_when_append_returns(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(4):
        loop.append(x=i * 2.0)
        on_disk = DH5(str(tmp_path / "acq"))["loop"]
        assert on_disk["x"][i] == i * 2.0
    assert list(DH5(str(tmp_path / "acq"))["loop"]["__index_1__"]) == [1, 2, 3, 4]


def test_nested_levels_and_complex_values(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        for j in loop(range(2)):
            loop.append(v=10 * i + j, c=complex(i, j))
        loop.append(outer=i)
    d = DH5(str(tmp_path / "acq"))["loop"]
    assert d["v"].shape == (3, 2)
    np.testing.assert_array_equal(d["v"], [[0, 1], [10, 11], [20, 21]])
    assert d["c"].dtype == np.complex128 and d["c"][2, 1] == 2 + 1j
    np.testing.assert_array_equal(d["outer"], [0, 1, 2])
    assert d["__loop_shape__"] == [3, 2]
    assert len(loop) == 3


def test_float_then_complex_upgrades_dtype(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(2):
        loop.append(z=1.0 if i == 0 else 1j)
    np.testing.assert_array_equal(DH5(str(tmp_path / "acq"))["loop"]["z"], [1, 1j])


def test_loop_forms_and_len(tmp_path: Path) -> None:
    loop = AcquisitionLoop()
    assert list(loop(1, 2, 0.5)) == [1.0, 1.5]
    it = loop([5, 6, 7])
    assert len(it) == 3 and list(it) == [5, 6, 7]
    assert [i for i, _ in loop.enum(3)] == [0, 1, 2]
    with pytest.raises(TypeError):
        loop.iter(x for x in range(3))
    assert len(loop.iter((x for x in range(3)), length=3)) == 3


def test_bad_appends_raise_clear_errors(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    with pytest.raises(ValueError):
        loop.append()
    for _ in loop(2):
        loop.append(a=np.zeros(3))
        with pytest.raises(TypeError):
            loop.append(s="text")
        with pytest.raises(ValueError):
            loop.append(a=np.zeros((3, 3)))
    np.testing.assert_array_equal(DH5(str(tmp_path / "acq"))["loop"]["a"], np.zeros((2, 3)))


def test_already_saved_resumes_an_interrupted_loop(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(5):
        loop.append(x=i + 1)
        if i == 2:
            break
    again = DH5(str(tmp_path / "acq"), mode="a", save_on_edit=True)
    resumed = AcquisitionLoop(again["loop"])
    acq2 = NotebookAcquisitionData.open_existing(str(tmp_path / "acq"))
    acq2.loop = resumed
    skipped, ran = [], []
    for i in resumed(5):
        if resumed.already_saved():
            skipped.append(i)
            continue
        ran.append(i)
        resumed.append(x=i + 1)
    # index of iteration 2 was never written (break before the end of its body)
    assert skipped == [0, 1] and ran == [2, 3, 4]
    np.testing.assert_array_equal(DH5(str(tmp_path / "acq"))["loop"]["x"], [1, 2, 3, 4, 5])


def test_loop_saved_only_on_save_without_save_on_edit(tmp_path: Path) -> None:
    aq = _acq(tmp_path, save_on_edit=False)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        loop.append(x=i)
    assert "loop" not in DH5(str(tmp_path / "acq"))
    aq.save()
    np.testing.assert_array_equal(DH5(str(tmp_path / "acq"))["loop"]["x"], [0, 1, 2])


_KILLED = """
import sys, time
from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData
aq = NotebookAcquisitionData(sys.argv[1], cell="c", experiment_name="k")
aq.loop = loop = AcquisitionLoop()
for i in loop(100000):
    loop.append(x=i + 1.0, y=2.0 * i)
    print(i, flush=True)
"""


def test_sigkill_keeps_every_appended_point(tmp_path: Path) -> None:
    prefix = str(tmp_path / "killed")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, prefix], stdout=subprocess.PIPE, text=True
    )
    reported = -1
    assert proc.stdout is not None
    while reported < 30:
        line = proc.stdout.readline()
        assert line, "the writer stopped early"
        reported = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read().split()
    if rest:
        reported = int(rest[-1])
    loop = DH5(prefix)["loop"]
    x = loop["x"]
    done = int(np.count_nonzero(x))
    assert done >= reported + 1  # every point whose append returned (and was printed)
    np.testing.assert_array_equal(x[:done], np.arange(1, done + 1))
    np.testing.assert_array_equal(loop["y"][:done], 2.0 * np.arange(done))


def test_analysis_loop_iterate_slice_len() -> None:
    data = {
        "x": np.arange(6.0),
        "m": np.arange(12.0).reshape(6, 2),
        "const": np.array([7.0]),
        "__loop_shape__": "__json__[6, 2]",
    }
    loop = AnalysisLoop(data)
    assert len(loop) == 6
    rows = list(loop)
    assert isinstance(rows[0], AnalysisLoop) and len(rows[0]) == 2
    assert [p.m for p in rows[3]] == [6.0, 7.0]
    assert rows[2].x == 2.0 and rows[2].const == 7.0
    part = loop[1:6:2]
    assert len(part) == 3
    np.testing.assert_array_equal(part.x, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal([r.x for r in part], [1.0, 3.0, 5.0])
    assert part.loop_shape == [3, 2]
    flat = AnalysisLoop({"x": np.arange(3.0)}, loop_shape=[3])
    assert [p.x for p in flat] == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError):
        list(AnalysisLoop({"x": [1]}))
    with pytest.raises(TypeError):
        AnalysisLoop(5)  # type: ignore[arg-type]


def test_standalone_loop_file(tmp_path: Path) -> None:
    loop = AcquisitionLoop(str(tmp_path / "standalone"))
    for i in loop(3):
        loop.append(x=i)
    d = DH5(str(tmp_path / "standalone"))
    np.testing.assert_array_equal(d["x"], [0, 1, 2])


def _open_descriptors(path: Path) -> int:
    """How many descriptors of this process point at ``path`` (Linux /proc)."""
    target = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.path.realpath(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_file_is_kept_open_during_the_loop_and_closed_at_its_end(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    h5 = tmp_path / "acq.h5"
    aq.loop = loop = AcquisitionLoop()
    assert _open_descriptors(h5) == 0
    seen = []
    for i in loop(3):
        for j in loop(2):
            loop.append(v=i + j)
            seen.append(_open_descriptors(h5))
    assert seen == [1] * 6  # one handle for all the appends
    assert _open_descriptors(h5) == 0  # closed at the end of the outermost level
    broken = AcquisitionLoop()
    aq.broken = broken
    for i in broken(5):
        broken.append(x=i)
        if i == 1:
            break
    assert _open_descriptors(h5) == 0  # a loop left by break closes too
    np.testing.assert_array_equal(DH5(str(h5))["broken"]["x"], [0, 1, 0, 0, 0])


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_finishing_the_acquisition_closes_a_loop_left_open(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    h5 = tmp_path / "acq.h5"
    aq.loop = loop = AcquisitionLoop()
    iterator = iter(loop(4))
    next(iterator)
    loop.append(x=1.0)  # the generator is still alive (as after an exception in a notebook)
    assert _open_descriptors(h5) == 1
    aq.save_acquisition(y=2)
    assert _open_descriptors(h5) == 0
    d = DH5(str(h5))
    assert d["y"] == 2 and d["loop"]["x"][0] == 1.0


def test_dh5_saves_of_the_same_file_inside_the_loop_keep_both(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    other = DH5(str(tmp_path / "acq"), mode="a", save_on_edit=True)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(6):
        for j in loop(3):
            loop.append(x=10 * i + j, c=complex(i, j))
            if j == 1:
                aq[f"inside_{i}"] = i  # the acquisition's own DH5 save, same file, same process
        other[f"other_{i}"] = np.arange(i + 1)  # another DH5 object on the same file
    d = DH5(str(tmp_path / "acq"))
    np.testing.assert_array_equal(d["loop"]["x"], 10 * np.arange(6)[:, None] + np.arange(3))
    np.testing.assert_array_equal(d["loop"]["c"][:, 2], np.arange(6) + 2j)
    np.testing.assert_array_equal(d["loop"]["__index_1__"], np.arange(1, 7))
    for i in range(6):
        assert d[f"inside_{i}"] == i
        np.testing.assert_array_equal(d[f"other_{i}"], np.arange(i + 1))


def test_continued_loop_resizes_exactly_and_arrays_span_several_chunks(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    expected_x, expected_trace = [], []
    for run in (700, 301):  # the same level run again: the loop continues
        for _ in loop(run):
            x = float(len(expected_x) + 1)
            trace = np.arange(5.0) * x
            loop.append(x=x, trace=trace)
            expected_x.append(x)
            expected_trace.append(trace)
    with h5py.File(tmp_path / "acq.h5", "r", locking=False) as file:
        group = file["loop"]
        assert group["x"].shape == (1001,) and group["trace"].shape == (1001, 5)
        assert group["x"].chunks is not None and group["x"].chunks[0] < 1001
        np.testing.assert_array_equal(group["x"][...], expected_x)
        np.testing.assert_array_equal(group["trace"][...], expected_trace)
    d = DH5(str(tmp_path / "acq"))["loop"]
    assert d["__loop_shape__"] == [1001]
    analysis = AnalysisLoop(d)
    assert len(analysis) == 1001 and list(analysis)[1000].x == 1001.0


def test_labmate_reads_a_continued_nested_loop(tmp_path: Path) -> None:
    labmate_dh5 = pytest.importorskip("dh5")
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for _ in range(2):
        for i in loop(3):
            for j in loop(4):
                loop.append(v=i * 4 + j, z=1j * j)
    theirs = labmate_dh5.DH5(str(tmp_path / "acq.h5"))
    v = np.asarray(theirs["loop"]["v"])
    assert v.shape == (6, 4)
    np.testing.assert_array_equal(v[3:], np.arange(12.0).reshape(3, 4))
    assert np.asarray(theirs["loop"]["z"]).dtype == np.complex128
    assert list(theirs["loop"]["__loop_shape__"]) == [6, 4]


_KILLED_NESTED = """
import sys
import numpy as np
from labmate_core import DH5
from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData
aq = NotebookAcquisitionData(sys.argv[1], cell="c", experiment_name="k")
other = DH5(sys.argv[1], mode="a", save_on_edit=True)
aq.loop = loop = AcquisitionLoop()
n = 0
for i in loop(1000):
    for j in loop(7):
        n += 1
        loop.append(v=np.full(40, float(n)), c=complex(n, -n))
        print(n, flush=True)
    other[f"k{i % 3}"] = i  # another writer of the same file between the appends
"""


def test_sigkill_in_nested_loop_with_other_writes_keeps_every_appended_point(
    tmp_path: Path,
) -> None:
    prefix = str(tmp_path / "killed")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_NESTED, prefix], stdout=subprocess.PIPE, text=True
    )
    reported = 0
    assert proc.stdout is not None
    while reported < 60:
        line = proc.stdout.readline()
        assert line, "the writer stopped early"
        reported = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read().split()
    if rest:
        reported = int(rest[-1])
    loop = DH5(prefix)["loop"]
    v = np.asarray(loop["v"]).reshape(-1, 40)
    c = np.asarray(loop["c"]).reshape(-1)
    done = int(np.count_nonzero(v[:, 0]))
    assert done >= reported  # every point whose append returned (and was printed)
    expected = np.arange(1, done + 1, dtype=float)
    np.testing.assert_array_equal(v[:done], np.repeat(expected[:, None], 40, axis=1))
    np.testing.assert_array_equal(c[:done], expected - 1j * expected)
    assert not np.any(v[done:])


def _marks_on_disk(tmp_path: Path) -> list[int]:
    loop = DH5(str(tmp_path / "acq"))["loop"]
    return [int(v) for v in loop["__index_1__"]] if "__index_1__" in loop else []


def test_marks_of_finished_iterations_ride_along_once_overdue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow loop (every append later than MAX_DEFER_S): each append also writes the marks of
    the iterations finished before it, so a kill redoes at most one."""
    from labmate_core.acquisition import acquisition_loop

    monkeypatch.setattr(acquisition_loop, "MAX_DEFER_S", 0.0)
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(4):
        loop.append(x=float(i))
        assert _marks_on_disk(tmp_path)[:i] == list(range(1, i + 1))
    assert _marks_on_disk(tmp_path) == [1, 2, 3, 4]


def test_marks_of_a_fast_loop_wait_but_every_point_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast loop: the marks wait (one chunk write per append, not two) until the level ends;
    the points never wait, and ``already_saved`` resumes from what is on disk."""
    from labmate_core.acquisition import acquisition_loop

    monkeypatch.setattr(acquisition_loop, "MAX_DEFER_S", 1e9)
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    for i in loop(5):
        loop.append(x=i + 1.0)
        on_disk = DH5(str(tmp_path / "acq"))["loop"]
        assert on_disk["x"][i] == i + 1.0
        assert not any(_marks_on_disk(tmp_path))
    assert _marks_on_disk(tmp_path) == [1, 2, 3, 4, 5]
    resumed = AcquisitionLoop(DH5(str(tmp_path / "acq"))["loop"])
    assert [resumed.already_saved() for _ in resumed(5)] == [True] * 5


def _on_disk(tmp_path: Path) -> dict:
    with h5py.File(str(tmp_path / "acq.h5"), "r") as f:
        return {k: f["loop"][k][()] for k in f["loop"]}


def test_refused_update_changes_nothing_and_later_appends_reach_the_disk(tmp_path: Path) -> None:
    from labmate_core.dh5.errors import UnstorableValueError

    class Unstorable:
        pass

    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    loop.update(axis=[1.0, 2.0])
    for i in loop(3):
        loop.append(x=i)
    with pytest.raises(UnstorableValueError, match="bad"):
        loop.update(axis=[5.0], bad=Unstorable())
    assert "bad" not in loop.keys()
    np.testing.assert_array_equal(loop["axis"], [1.0, 2.0])
    for i in loop(2):
        loop.append(x=10 + i)
    disk = _on_disk(tmp_path)
    np.testing.assert_array_equal(disk["x"], [0, 1, 2, 10, 11])
    np.testing.assert_array_equal(disk["axis"], [1.0, 2.0])
    assert "bad" not in disk
    loop.save(force=True)
    np.testing.assert_array_equal(_on_disk(tmp_path)["x"], [0, 1, 2, 10, 11])


def test_appending_a_key_set_by_update_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    aq = _acq(tmp_path)
    aq.loop = loop = AcquisitionLoop()
    loop.update(freq=np.arange(5.0))
    for i in loop(3):
        with pytest.raises(ValueError, match="'freq' was set with update"):
            loop.append(freq=i * 100, y=i)
        loop.append(y=i)
        if i == 1:
            loop.update(other=1)
    np.testing.assert_array_equal(_on_disk(tmp_path)["y"], [0, 1, 2])
    loop.save(force=True)
    disk = _on_disk(tmp_path)
    np.testing.assert_array_equal(disk["freq"], np.arange(5.0))
    np.testing.assert_array_equal(disk["y"], [0, 1, 2])
    assert disk["other"] == 1
