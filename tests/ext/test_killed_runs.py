"""Real SIGKILLs at seeded random points of acquisitions of every kind, each followed by one
entry point of the restarted kernel (``%labmate``, ``%labmate_backend``, ``%%analysis``,
``labmate status``, a new ``%%acquisition``, a plain ``aqm.save_acquisition``): then no run is
left running, no killed run is completed, no traceback is lost, and every ``.h5`` was on disk
from the first line of its body. InteractiveShell processes and real ipykernels."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from killed_runs_harness import ENTRY_POINTS

pytestmark = pytest.mark.slow

HARNESS = Path(__file__).with_name("killed_runs_harness.py")
SHELL_KILLS = int(os.environ.get("KILLS", 60))
KERNEL_KILLS = 12


def _statuses(data: Path) -> dict[str, tuple[str, str]]:
    """prefix -> (status, error) of every .h5 under ``data``, read with plain h5py."""
    found = {}
    for h5 in data.rglob("*.h5"):
        with h5py.File(h5, "r") as file:
            info = file["info"]
            status = info["status"][()].decode()
            error = info["error"][()].decode() if "error" in info else ""
        found[str(h5)[:-3]] = (status, error)
    return found


def _problems(data: Path, log: Path) -> list[str]:
    """What breaks the promises, after a kill and an entry point."""
    lines = [line.split() for line in log.read_text().splitlines() if line.strip()]
    started = {words[1] for words in lines if words[0] == "start"}
    ended = {words[1] for words in lines if words[0] == "end"}
    failed = {words[1] for words in lines if words[0] == "failed"}
    statuses = _statuses(data)
    problems = [f"missing at its first line: {w[1]}" for w in lines if w[0] == "missing"]
    problems += [
        f"not running at its first line: {w[1]}"
        for w in lines
        if w[0] == "start" and w[2] != "running"
    ]
    for prefix, (status, error) in statuses.items():
        if status == "running":
            problems.append(f"left running: {prefix}")
        if prefix in started and prefix not in ended and status == "completed":
            problems.append(f"killed mid-body, completed: {prefix}")
        if prefix in failed and (status != "failed" or "probe broke" not in error):
            problems.append(f"traceback lost: {prefix} {status} {error[-80:]!r}")
    problems += [f"no file: {prefix}" for prefix in started if prefix not in statuses]
    return problems


def _add(problems: list[str], when: str, found: list[str]) -> None:
    """Each problem once, with the first kill after which it was seen."""
    seen = {problem.partition(": ")[2] for problem in problems}
    problems += [f"{when}: {problem}" for problem in found if problem not in seen]


def _interrupted(data: Path, log: Path) -> int:
    """How many runs were cut short (started, body not ended) so far."""
    words = [line.split() for line in log.read_text().splitlines() if line.strip()]
    return len({w[1] for w in words if w[0] == "start"} - {w[1] for w in words if w[0] == "end"})


def _wait_for(child: subprocess.Popen, word: str) -> None:
    """Read the child's output (IPython's own lines too) until ``word`` on a line."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == word:
            return
    raise AssertionError(f"the child ended before {word!r} (exit code {child.wait()})")


def _delay(rng: random.Random) -> float:
    """Often within the first acquisition (its setup, the first line), else anywhere."""
    return rng.uniform(0, 0.03) if rng.random() < 0.3 else rng.uniform(0, 0.8)


@pytest.mark.timeout(1800)
def test_sigkilled_interactive_shells(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "log.txt"
    log.touch()
    rng = random.Random(20261204)
    problems: list[str] = []
    for kill in range(SHELL_KILLS + 1):
        kind = ENTRY_POINTS[kill % len(ENTRY_POINTS)]
        child = subprocess.Popen(
            [sys.executable, str(HARNESS), str(data), str(log), kind, str(rng.randrange(10**6))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        assert child.stdout is not None and child.stdin is not None
        _wait_for(child, "ready")
        if kill:  # the entry point ran after the previous kill: check before anything else
            _add(problems, f"kill {kill} then {kind}", _problems(data, log))
        if kill == SHELL_KILLS:
            child.stdin.write("stop\n")
            child.stdin.close()
            assert child.wait(60) == 0
            break
        child.stdin.write("go\n")
        child.stdin.flush()
        _wait_for(child, "started")
        time.sleep(_delay(rng))
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(60) == -signal.SIGKILL
    assert problems == []
    assert _interrupted(data, log) > 0  # some kills did land in the middle of a run


_KERNEL_ENTRY = """
import sys
sys.path.insert(0, {folder!r})
import killed_runs_harness as h
h.entry_point({kind!r}, {data!r}, get_ipython())
"""

_KERNEL_RUN = """
h.run_forever(get_ipython(), {data!r}, {log!r}, {seed})
"""


@pytest.mark.timeout(900)
def test_sigkilled_kernels(tmp_path: Path) -> None:
    from jupyter_client.manager import KernelManager

    data, log = tmp_path / "data", tmp_path / "log.txt"
    log.touch()
    rng = random.Random(1204)
    problems: list[str] = []
    for kill in range(KERNEL_KILLS + 1):
        kind = ENTRY_POINTS[kill % len(ENTRY_POINTS)]
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)
            code = _KERNEL_ENTRY.format(folder=str(HARNESS.parent), kind=kind, data=str(data))
            reply = client.execute_interactive(code, timeout=120)
            assert reply["content"]["status"] == "ok", reply["content"]
            if kill:
                _add(problems, f"kill {kill} then {kind}", _problems(data, log))
            if kill == KERNEL_KILLS:
                break
            code = _KERNEL_RUN.format(data=str(data), log=str(log), seed=rng.randrange(10**6))
            client.execute(code)
            deadline = time.monotonic() + 120  # until the loop runs ("started" on its stdout)
            while time.monotonic() < deadline:
                message = client.get_iopub_msg(timeout=120)
                content = message["content"]
                if message["msg_type"] == "stream" and "started" in content.get("text", ""):
                    break
            time.sleep(_delay(rng))
            os.kill(manager.provisioner.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
            manager.provisioner.process.wait(60)  # type: ignore[union-attr]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    assert problems == []
