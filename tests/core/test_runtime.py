"""The runtime: exit steps in a fixed order, a forked child that starts afresh, background errors
logged (real subprocesses, a real fork)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from labmate_core import runtime
from labmate_core.index import open_index

EXIT_ORDER = textwrap.dedent(
    """
    import atexit, os, sys, threading
    data, log = sys.argv[1:3]

    def note(what):
        with open(log, "a") as file:
            file.write(what + "\\n")

    atexit.register(note, "after exit")  # registered before labmate: runs after its exit steps
    from labmate_core import runtime
    from labmate_core.acquisition import AcquisitionBackend
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
    from labmate_core.index import events

    exiting = threading.Event()

    class Recorder(AcquisitionBackend):
        def save_snapshot(self, acquisition):
            exiting.wait()  # every delivery happens in the exit drain
            note("drained")

    execute = events._writer._execute

    def noted(job):
        note("index rows" if isinstance(job, list) else "index job")
        execute(job)

    events._writer._execute = noted
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=Recorder())
    aqm.acquisition_cell("run", cell="c")
    aqm.save_acquisition(x=1)
    # steps registered in the wrong order still run drain first, then flush
    runtime.on_exit(runtime.FLUSH, "test flush", lambda: note("flush step"))
    runtime.on_exit(runtime.DRAIN, "test drain", lambda: note("drain step"))
    atexit.register(exiting.set)  # registered last: runs first
    sys.stdout.write(aqm.current_filepath + "\\n")
    """
)


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=180
    )


def test_exit_drains_the_backends_then_flushes_the_index(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "exit.log"
    done = _run(EXIT_ORDER, str(data_dir), str(log))
    assert done.returncode == 0 and done.stderr == "", done.stderr  # nothing logged at exit
    lines = log.read_text().splitlines()
    drained = lines.index("drained")
    flushed = lines.index("flush step")
    assert lines.index("drain step") < flushed < lines.index("after exit") == len(lines) - 1
    # the status of the drained copy is written to the index after it, before the exit ends
    assert "index job" in lines[drained:flushed]
    row = open_index(data_dir).get(done.stdout.splitlines()[0])
    assert row is not None
    (sync,) = row.sync.values()
    assert sync.state == "done"


FORK = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from labmate_core import index
    from labmate_core.acquisition import AcquisitionBackend
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

    data, out = sys.argv[1:3]
    parent = os.getpid()
    copying, release = threading.Event(), threading.Event()

    class Slow(AcquisitionBackend):
        def __init__(self):
            self.seen = []

        def save_snapshot(self, acquisition):
            if os.getpid() == parent:  # the parent's copy is mid-way when the child forks
                copying.set()
                release.wait()
            self.seen.append(os.path.basename(os.fspath(acquisition.filepath)))

    backend = Slow()
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=backend)
    busy = lambda status: os.getpid() != parent or release.wait()  # a busy listener too
    aqm._get_dispatcher().add_listener(busy)
    aqm.acquisition_cell("parent", cell="c")
    aqm.save_acquisition(x=1)
    assert copying.wait(60)
    (worker,) = aqm._dispatcher._workers.values()
    parent_thread = worker._thread
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            aqm.acquisition_cell("child", cell="c")
            aqm.save_acquisition(x=2)
            delivered = aqm.wait_backends(timeout=60)
            index.flush(60)
            row = index.open_index(data).get(aqm.current_filepath)
            (worker,) = aqm._dispatcher._workers.values()
            result = {
                "delivered": delivered,
                "seen": backend.seen,
                "child": os.path.basename(aqm.current_filepath),
                "status": row.status if row is not None else None,
                "own_thread": worker._thread is not parent_thread and worker._thread.is_alive(),
            }
            with open(out, "w") as file:
                json.dump(result, file)
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 120
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.exit("the forked child hung")
        time.sleep(0.05)
    release.set()
    assert aqm.wait_backends(timeout=60)
    sys.stdout.write(aqm.current_filepath + "\\n")
    """
)


def test_a_forked_child_saves_and_delivers_without_the_parents_threads(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "child.json"
    done = _run(FORK, str(data_dir), str(out))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    child = json.loads(out.read_text())
    assert child["delivered"] and child["own_thread"]
    # the child delivered its own acquisition, not the parent's (the parent copies that one)
    assert child["seen"] == [child["child"]]
    assert child["status"] == "completed"
    parent = open_index(data_dir).get(done.stdout.splitlines()[0])
    assert parent is not None and parent.sync  # the parent's copy, recorded by the parent


def test_an_error_in_a_background_thread_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("probe broke")

    with caplog.at_level(logging.ERROR, logger="labmate_core.runtime"):
        runtime.start_thread(broken, "labmate-test-broken").join(30)
    (record,) = [r for r in caplog.records if "labmate-test-broken" in r.getMessage()]
    assert record.exc_info is not None and "probe broke" in str(record.exc_info[1])


def test_a_failing_exit_step_is_logged_and_the_next_still_runs(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig()
        from labmate_core import runtime

        def broken():
            raise RuntimeError("step broke")

        runtime.on_exit(runtime.DRAIN, "broken step", broken)
        runtime.on_exit(runtime.FLUSH, "next step", lambda: sys.stdout.write("next ran"))
        """
    )
    done = _run(code)
    assert done.returncode == 0 and done.stdout == "next ran"
    assert "exit step 'broken step' failed" in done.stderr and "step broke" in done.stderr


HDF5_AT_EXIT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    import h5py, numpy as np
    path, log = sys.argv[1:3]
    refused = threading.Event()

    def note(what):
        with open(log, "a") as file:
            file.write(what + "\\n")

    def after_exit():  # registered before labmate: runs after its exit steps
        note(f"after exit, refused: {refused.wait(30)}")

    atexit.register(after_exit)
    from labmate_core import runtime
    from labmate_core.dh5 import storage

    with h5py.File(path, "w") as f:
        f["x"] = np.arange(1000)
    exiting, inside = threading.Event(), threading.Event()

    def reader():
        with storage.open_read(path) as f:
            inside.set()
            exiting.wait()
            time.sleep(0.5)  # still inside HDF5 while the exit steps run
            note(f"read {int(f['x'][()].sum())}")
        try:
            with storage.open_read(path):
                note("read again after the exit")
        except runtime.InterpreterExiting as error:
            note(f"refused: {error}")
            refused.set()
        time.sleep(60)

    runtime.start_thread(reader, "labmate-test-reader")
    inside.wait(30)
    with storage.open_read(path) as f:  # the main thread is never refused
        note(f"main read {int(f['x'][()].sum())}")
    atexit.register(exiting.set)  # registered last: runs first
    """
)


def test_the_exit_waits_for_background_hdf5_use_then_refuses_it(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    done = _run(HDF5_AT_EXIT, str(tmp_path / "f.h5"), str(log))
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "main read 499500",
        "read 499500",
        "refused: the interpreter is exiting: HDF5 is no longer used",
        "after exit, refused: True",
    ]


def test_a_background_use_inside_a_use_is_not_refused_at_exit() -> None:
    gate = runtime._Hdf5Gate()
    inner: list[str] = []
    entered, closing, closed = threading.Event(), threading.Event(), threading.Event()

    def nested() -> None:
        with gate.use():
            entered.set()
            closing.wait(30)
            with gate.use():  # e.g. compaction inside a save
                inner.append("nested ran")
        closed.wait(30)
        try:
            with gate.use():
                inner.append("ran after close")
        except runtime.InterpreterExiting:
            inner.append("refused")

    thread = runtime.start_thread(nested, "labmate-test-nested")
    assert entered.wait(30)
    closing.set()
    gate.close(30)  # waits for the thread to leave
    assert inner == ["nested ran"]
    closed.set()
    thread.join(30)
    assert inner == ["nested ran", "refused"] and gate.active == 0


H5PY_AT_EXIT = textwrap.dedent(
    """
    import sys
    from labmate_core import runtime  # first: before anything imports h5py
    path = sys.argv[1]

    def read_back():
        from labmate_core.dh5 import storage
        with storage.open_write(path) as f:
            f["s"] = "a string"
        with storage.open_read(path) as f:
            sys.stdout.write(f["s"][()].decode())

    runtime.on_exit(runtime.DRAIN, "read a string", read_back)
    """
)


def test_h5py_still_reads_strings_during_the_exit_steps(tmp_path: Path) -> None:
    done = _run(H5PY_AT_EXIT, str(tmp_path / "f.h5"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a string", done.stdout + done.stderr
