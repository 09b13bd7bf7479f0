"""Writers SIGKILLed at seeded random moments, then the file rewritten by another tool or not.

A clean helper process (imports done once) forks one writer per trial; the test kills it with
SIGKILL after a seeded random delay, then either rewrites the file (plain h5py as a new file,
plain h5py ``'w'`` over the same inode, dh5 0.8.1 ``overwrite=True``) or does nothing, and opens
it with DH5. Nothing: the file holds every save that returned, all of each or nothing of it.
Rewritten: DH5 leaves the new file byte for byte as the other tool wrote it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dh5
import h5py
import numpy as np
import pytest

from labmate_core.dh5 import DH5

KILLS_PER_CASE = 16

#: Forks a writer per "run" line and prints its pid; reaps it on "reap".
ZYGOTE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from labmate_core.dh5 import DH5
    from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData

    def dh5_saves(path, seed, progress):
        rng = np.random.default_rng(seed)
        d = DH5(path, "a")
        i = int(d["count"]) + 1
        while True:
            d["a"] = np.full(int(rng.integers(1, 40_000)), i)  # a new size: replaced
            d["b"] = np.full(int(rng.integers(1, 40_000)), i)
            d[f"n/{i}"] = np.full(int(rng.integers(1, 3_000)), i)  # a growing group
            d["count"] = i
            d.save()
            os.write(progress, f"{i}\\n".encode())
            i += 1

    def loop_appends(path, seed, progress):
        aq = NotebookAcquisitionData(path[:-3], cell="c", experiment_name="k")
        aq.loop = loop = AcquisitionLoop()
        for i in loop(20_000):
            loop.append(x=np.full(20, i + 1.0), i=i + 1)
            os.write(progress, f"{i + 1}\\n".encode())

    for line in sys.stdin:
        command, *args = line.split()
        if command == "run":
            scenario, path, seed, progress_path = args
            pid = os.fork()
            if pid == 0:
                progress = os.open(progress_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                try:
                    (dh5_saves if scenario == "dh5" else loop_appends)(path, int(seed), progress)
                finally:
                    os._exit(1)
            print(pid, flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(args[0]), 0)
            print(status, flush=True)
    """
)


@pytest.fixture(scope="module")
def zygote():
    proc = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def kill_a_writer(zygote, scenario: str, path: Path, seed: int, delay: float) -> list[int]:
    """Fork a writer, SIGKILL it after ``delay`` seconds; what its returned saves reported."""
    progress = path.with_name("progress")
    progress.unlink(missing_ok=True)
    zygote.stdin.write(f"run {scenario} {path} {seed} {progress}\n")
    zygote.stdin.flush()
    pid = int(zygote.stdout.readline())
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    zygote.stdin.write(f"reap {pid}\n")
    zygote.stdin.flush()
    status = int(zygote.stdout.readline())
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return [int(x) for x in progress.read_text().split()] if progress.exists() else []


def dh5_file(path: Path) -> int:
    d = DH5(path, "w")
    d.update({"a": np.zeros(10), "b": np.zeros(10), "n": {"0": np.zeros(3)}, "count": 0})
    d.save()
    return 0


def loop_file(path: Path) -> int:
    return 0  # the loop creates its own file


def check_dh5_saves(path: Path, done: list[int]) -> None:
    d = DH5(path)
    count = int(d["count"])
    last = done[-1] if done else 0
    assert count in (last, last + 1)
    assert np.all(d["a"] == count) and np.all(d["b"] == count)  # all of a save or nothing
    assert set(d["n"].keys()) == {str(i) for i in range(count + 1)}
    for i in range(1, count + 1):
        assert np.all(d["n"][str(i)] == i)


def check_loop_appends(path: Path, done: list[int]) -> None:
    if not path.exists():
        assert not done
        return
    loop = DH5(path).get("loop")
    if loop is None or "i" not in loop:
        assert not done
        return
    index = np.asarray(loop["i"])
    stored = int(np.count_nonzero(index))
    last = done[-1] if done else 0
    assert stored in (last, last + 1)  # every returned append, at most the one under way
    assert list(index[:stored]) == list(range(1, stored + 1)) and not np.any(index[stored:])
    x = np.asarray(loop["x"])
    for j in range(stored):
        assert np.all(x[j] == j + 1.0)
    assert not np.any(x[stored:])


def rewrite_h5py_new(path: Path) -> None:
    path.unlink(missing_ok=True)
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(7)


def rewrite_h5py_same_inode(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(7)


def rewrite_dh5(path: Path) -> None:
    d = dh5.DH5(path, "w", overwrite=True)
    d["data"] = np.arange(7)
    d.save()


REWRITES = {
    "nothing": None,
    "h5py_new": rewrite_h5py_new,
    "h5py_same_inode": rewrite_h5py_same_inode,
    "dh5_0.8.1": rewrite_dh5,
}


@pytest.mark.parametrize("scenario", ["dh5", "loop"])
@pytest.mark.parametrize("after", list(REWRITES))
def test_sigkill_then_rewrite_or_nothing_damages_no_file(
    zygote, tmp_path: Path, scenario: str, after: str
) -> None:
    """KILLS_PER_CASE kills per case, 8 cases: 128 SIGKILLs at seeded random moments."""
    rng = np.random.default_rng([["dh5", "loop"].index(scenario), list(REWRITES).index(after)])
    for trial in range(KILLS_PER_CASE):
        path = tmp_path / f"t{trial}" / "run.h5"
        path.parent.mkdir()
        (dh5_file if scenario == "dh5" else loop_file)(path)
        done = kill_a_writer(zygote, scenario, path, trial, float(rng.uniform(0.02, 0.5)))
        rewrite = REWRITES[after]
        if rewrite is None:
            (check_dh5_saves if scenario == "dh5" else check_loop_appends)(path, done)
            continue
        rewrite(path)
        written = path.read_bytes()
        assert set(DH5(path).keys()) == {"data"}
        assert list(DH5(path)["data"]) == list(range(7))
        assert path.read_bytes() == written  # DH5 did not touch the new file
        with h5py.File(path, "r") as f:
            assert list(f["data"][()]) == list(range(7))
