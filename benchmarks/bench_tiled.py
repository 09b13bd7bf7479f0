"""Tiled at lab scale, against a real server on 127.0.0.1 (SQLite catalog, local storage).

1. delivery of one run: the mirror alone, the Tiled backend alone, both (median, s);
2. a search (name + status) over N runs (``LABMATE_BENCH_RUNS``, default 10000; runs are made
   with their metadata only, and creation stops at ``LABMATE_BENCH_BUDGET`` s, default 300);
3. a 10-value slice of an ``LABMATE_BENCH_TILED_MB`` (default 400) MB array.

Run with ``python -m benchmarks`` or ``python benchmarks/bench_tiled.py``; skipped without tiled.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import BackendDispatcher, MirrorDirectoryBackend


def _start_server(root: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = secrets.token_hex(16)
    (root / "storage").mkdir(parents=True)
    command = [sys.executable, "-m", "tiled", "serve", "catalog", str(root / "cat.db"), "--init"]
    command += ["-w", str(root / "storage"), "--api-key", key, "--port", str(port)]
    command += ["--host", "127.0.0.1"]
    with open(root / "server.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(uri + "/api/v1/", timeout=2).close()
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)
    return process, uri, key


def _median_delivery(data: Path, backends: list, prefixes: list[str]) -> float:
    times = []
    with BackendDispatcher(data, backends, backoff=0.05) as dispatcher:
        for prefix in prefixes:
            start = time.perf_counter()
            dispatcher.submit(prefix)
            assert dispatcher.wait(600)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_delivery(root: Path, uri: str, mb: float = 8.0, runs: int = 5) -> None:
    from labmate_core.backends.tiled_backend import TiledBackend

    config = root / "cfg.py"
    config.write_text("freq = 1.5e9\nshots = 200\n")
    aqm = AcquisitionAnalysisManager(
        root / "data", shell=None, config_files=[str(config)], save_files=True
    )
    prefixes = []
    for i in range(3 * runs):
        aqm.acquisition_cell("deliver", cell=f"trace = measure({i})")
        aqm.save_acquisition(trace=np.random.default_rng(i).random(int(mb * 1e6 / 8)), i=i)
        prefixes.append(aqm.current_filepath)
    mirror = _median_delivery(root / "data", [MirrorDirectoryBackend(root / "m1")], prefixes[:runs])
    tiled = _median_delivery(root / "data", [TiledBackend(uri)], prefixes[runs : 2 * runs])
    both = _median_delivery(
        root / "data",
        [MirrorDirectoryBackend(root / "m2"), TiledBackend(uri)],
        prefixes[2 * runs :],
    )
    print(f"delivery of one {mb:.0f} MB run (median of {runs}, submit -> delivered):")
    print(f"  mirror alone {mirror * 1e3:8.1f} ms")
    print(f"  tiled alone  {tiled * 1e3:8.1f} ms  (upload of the arrays over HTTP)")
    print(f"  both         {both * 1e3:8.1f} ms  ({(both / mirror - 1) * 100:+.0f}% over mirror)")


def bench_search(uri: str, key: str, target: int, budget: float) -> None:
    from labmate_core.backends.tiled_backend import connect
    from labmate_core.remote import search_runs

    names = [f"exp{i:02d}" for i in range(20)] + ["T1"]
    client = connect(uri, key)
    for name in names:
        client.create_container(key=name)
    start = time.perf_counter()
    counter = itertools.count()

    def create() -> int:  # one client per thread: runs made by 4 "measurement PCs"
        folders = {name: connect(uri, key)[name] for name in names}
        done = 0
        while time.perf_counter() - start < budget:
            i = next(counter)
            if i >= target:
                break
            name = names[i % len(names)]
            metadata = {
                "name": name, "run": f"r{i}", "status": "failed" if i % 5 == 0 else "completed",
                "start_time": 1.8e9 + i, "duration": 1.0, "host": "pc1", "user": "lab",
                "config": {"cfg": {"freq": 1.5e9 + i}}, "keys": ["x", "y"],
                "labmate": {"partial": False},
            }  # fmt: skip
            folders[name].create_container(key=f"r{i}", metadata=metadata)
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = sum(pool.map(lambda _: create(), range(4)))
    rate = made / (time.perf_counter() - start)
    times, connects, hits = [], [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        connect(uri, key)
        connects.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hits = len(search_runs(uri, name="T1", status="failed", api_key=key))
        times.append(time.perf_counter() - t0)
    search, connecting = statistics.median(times), statistics.median(connects)
    print(f"search over {made} runs ({rate:.0f} runs/s created; name=T1 status=failed):")
    print(f"  {hits} hits, median {search * 1e3:.0f} ms with a new connection, of which")
    print(
        f"  connecting {connecting * 1e3:.0f} ms: search itself ~{(search - connecting) * 1e3:.0f} ms"
    )


def bench_slice(uri: str, key: str, mb: float) -> None:
    from labmate_core.backends.tiled_backend import _chunked, connect

    client = connect(uri, key)
    array = np.random.default_rng(0).random(int(mb * 1e6 / 8))
    t0 = time.perf_counter()  # chunked as TiledBackend uploads it
    node = client.create_container(key="big").write_array(_chunked(array), key="trace")
    upload = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    times = []
    for _ in range(20):
        offset = int(rng.integers(0, array.size - 10))
        t0 = time.perf_counter()
        values = node[offset : offset + 10]
        times.append(time.perf_counter() - t0)
        assert np.array_equal(values, array[offset : offset + 10])
    print(f"10-value slice of a {mb:.0f} MB array (uploaded in {upload:.1f} s):")
    print(f"  median {statistics.median(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms")


def main() -> None:
    try:
        import tiled.server  # noqa: F401
    except ImportError:
        print("skipped: tiled (with its server) is not installed")
        return
    logging.getLogger("tiled").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        process, uri, key = _start_server(root / "server")
        os.environ["TILED_API_KEY"] = key
        try:
            bench_delivery(root, uri)
            bench_slice(uri, key, float(os.environ.get("LABMATE_BENCH_TILED_MB", 400)))
            bench_search(
                uri,
                key,
                int(os.environ.get("LABMATE_BENCH_RUNS", 10000)),
                float(os.environ.get("LABMATE_BENCH_BUDGET", 300)),
            )
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    main()
