"""TiledBackend against a real Tiled server on 127.0.0.1 (its own process, SQLite catalog)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

# tiled's client retries a refused connection for up to 45 s by itself: the dispatcher retries
os.environ.setdefault("TILED_RETRY_ATTEMPTS", "1")
pytest.importorskip("tiled.client", reason="tiled is not installed (pip install 'tiled[all]')")
pytest.importorskip("tiled.server", reason="tiled's server is not installed")

from tiled_server import TiledServer  # noqa: E402

from labmate_core import DH5  # noqa: E402
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager  # noqa: E402
from labmate_core.backends import (  # noqa: E402
    BackendDispatcher,
    State,
    create_backend,
    get_backend_class,
)
from labmate_core.backends.tiled_backend import TiledBackend, connect  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = TiledServer(tmp_path_factory.mktemp("tiled"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def key(server: TiledServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TILED_API_KEY", server.api_key)
    return server.api_key


def acquire(directory: Path, name: str, cell: str = "x = 1", **data) -> str:
    """A real acquisition (config file, saved cell); returns its prefix."""
    config = directory / "cfg_lab.py"
    config.write_text("freq = 1.5e9  # Hz\nshots = 200\n")
    aqm = AcquisitionAnalysisManager(
        directory / "data", shell=None, config_files=[str(config)], save_files=True
    )
    aqm.acquisition_cell(name, cell=cell)
    aqm.save_acquisition(**data)
    return aqm.current_filepath


def deliver(data: Path, backend: TiledBackend, *prefixes: str, **options) -> BackendDispatcher:
    dispatcher = BackendDispatcher(data, [backend], backoff=0.05, **options)
    for prefix in prefixes:
        dispatcher.submit(prefix)
    assert dispatcher.wait(120)
    return dispatcher


def run_node(backend: TiledBackend, prefix: str):
    name = Path(prefix).parent.name
    return backend.client()[name][Path(prefix).name]


def test_run_is_searchable_and_sliceable_from_a_process_with_only_the_url(
    tmp_path: Path, server: TiledServer, key: str
) -> None:
    prefix = acquire(
        tmp_path, "T1", cell="x = np.arange(1000)", x=np.arange(1000.0), fit={"tau": 12.5}
    )
    other = acquire(tmp_path, "rabi", y=np.ones(3))
    backend = TiledBackend(server.uri)
    with deliver(tmp_path / "data", backend, prefix, other) as dispatcher:
        assert dispatcher.status(prefix)[backend.name].state == State.DONE
    meta = run_node(backend, prefix).metadata
    assert meta["name"] == "T1" and meta["status"] == "completed" and meta["useful"] is True
    assert meta["run"] == Path(prefix).name and meta["duration"] >= 0
    assert meta["start"].startswith(Path(prefix).name[:4]) and meta["end"] >= meta["start"]
    assert meta["host"] and meta["user"] and meta["error"] is None
    assert meta["config"]["cfg_lab"] == {"freq": 1.5e9, "shots": 200}
    assert {"x", "fit", "info"} <= set(meta["keys"])
    assert meta["acquisition_cell"] == {"1": "x = np.arange(1000)"}
    script = """
import json, sys
from tiled.client import from_uri
from tiled.queries import Key
c = from_uri(sys.argv[1], api_key=sys.argv[2])
hits = c.search_deep(Key("name") == "T1", Key("status") == "completed")
[(path, run)] = list(hits.items())
print(json.dumps({"path": list(path), "slice": run["x"][10:20].tolist(),
                  "tau": run.metadata["labmate"]["values"]["fit/tau"],
                  "shots": run.metadata["config"]["cfg_lab"]["shots"]}))
"""
    env = {k: v for k, v in os.environ.items() if k != "TILED_API_KEY"}
    out = subprocess.run(
        [sys.executable, "-c", script, server.uri, key],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {
        "path": ["T1", Path(prefix).name],
        "slice": list(range(10, 20)),
        "tau": 12.5,
        "shots": 200,
    }


def test_resave_updates_the_entry_and_unchanged_is_left_alone(
    tmp_path: Path, server: TiledServer, key: str
) -> None:
    prefix = acquire(tmp_path, "resave", v=np.zeros(5))
    backend = TiledBackend(server.uri)
    deliver(tmp_path / "data", backend, prefix).close()
    first = dict(run_node(backend, prefix).metadata["labmate"])
    data = DH5(prefix + ".h5", "a", save_on_edit=True)
    data["v"] = np.full(5, 7.0)
    data["note"] = "changed"
    deliver(tmp_path / "data", backend, prefix).close()
    node = run_node(backend, prefix)
    assert node["v"].read().tolist() == [7.0] * 5
    assert node.metadata["labmate"]["values"]["note"] == "changed"
    assert "note" in node.metadata["keys"]
    assert node.metadata["labmate"]["digest"] != first["digest"]
    assert list(backend.client()["resave"]) == [Path(prefix).name]
    # the same content again: the entry (and its arrays) are not rewritten
    array_uri = node["v"].uri
    deliver(tmp_path / "data", backend, prefix).close()
    assert run_node(backend, prefix)["v"].uri == array_uri


def test_a_note_reaches_the_servers_metadata(tmp_path: Path, server: TiledServer, key: str) -> None:
    from labmate_core.index.notes import write_note

    prefix = acquire(tmp_path, "noted", v=np.zeros(3))
    backend = TiledBackend(server.uri)
    deliver(tmp_path / "data", backend, prefix).close()
    assert run_node(backend, prefix).metadata["notes"] == ""
    write_note(prefix, "fridge at 10 mK")  # what the panel writes
    deliver(tmp_path / "data", backend, prefix).close()
    assert run_node(backend, prefix).metadata["notes"] == "fridge at 10 mK"


def test_load_snapshot_rebuilds_the_files(tmp_path: Path, server: TiledServer, key: str) -> None:
    prefix = acquire(
        tmp_path,
        "hydrate",
        m=np.arange(6).reshape(2, 3),
        g={"s": "text", "k": 3, "a": [1.5, 2], "rate?": np.arange(3)},  # '?' ends a URL path
        c=1 + 2j,
        log="a long text\n" * 3000,  # kept out of the searchable metadata
        inf=float("-inf"),
    )
    backend = TiledBackend(server.uri)
    with deliver(tmp_path / "data", backend, prefix) as dispatcher:
        folder = Path(prefix).parent
        saved = shutil.copytree(folder, tmp_path / "saved")
        shutil.rmtree(folder)
        assert dispatcher.load(prefix) is True
    name = Path(prefix).name
    assert "log" not in run_node(backend, prefix).metadata["labmate"]["values"]
    for original in saved.iterdir():
        if original.name.startswith(name):
            assert (folder / original.name).exists(), original.name
            if original.suffix == ".py":
                assert (folder / original.name).read_text() == original.read_text()
    before, after = DH5(str(saved / (name + ".h5")), "r"), DH5(prefix + ".h5", "r")
    if True:
        assert sorted(before.keys()) == sorted(after.keys())
        assert after["m"].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert after["g"]["s"] == "text" and after["g"]["k"] == 3
        assert list(after["g"]["a"]) == [1.5, 2]
        assert after["useful"] == before["useful"] and bool(after["useful"])
    assert _leaves(saved / (name + ".h5")) == _leaves(Path(prefix + ".h5"))


def _leaves(path: Path) -> dict[str, object]:
    """Every data set of an .h5 as (path -> Python value), to compare two files."""
    import h5py

    out: dict[str, object] = {}

    def visit(key: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            value = item[()]
            value = value.tolist() if isinstance(value, np.ndarray) else value
            out[key] = value.decode() if isinstance(value, bytes) else value

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return out


def test_wrong_or_missing_api_key_is_refused_clearly(
    tmp_path: Path, server: TiledServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TILED_API_KEY", raising=False)
    with pytest.raises(PermissionError, match="refused the API key given"):
        connect(server.uri, "not-the-key")
    with pytest.raises(PermissionError, match="requires an API key: set TILED_API_KEY"):
        connect(server.uri)
    prefix = acquire(tmp_path, "denied", x=np.ones(2))
    backend = TiledBackend(server.uri, api_key="not-the-key")
    with deliver(tmp_path / "data", backend, prefix, max_attempts=1) as dispatcher:
        status = dispatcher.status(prefix)[backend.name]
    assert status.state == State.FAILED
    assert "refused the API key" in (status.last_error or "")


def test_the_key_is_never_journaled_nor_in_the_url(tmp_path: Path, server: TiledServer) -> None:
    backend = TiledBackend(server.uri, api_key="secret-value")
    assert backend.spec() == {"kind": "tiled", "args": [server.uri], "kwargs": {}}
    again = create_backend("tiled", *backend.spec()["args"])  # what `labmate sync` does
    assert isinstance(again, TiledBackend) and again.name == backend.name
    assert "secret-value" not in repr(backend) + backend.name
    with pytest.raises(ValueError, match="credentials"):
        TiledBackend("http://127.0.0.1:1/?api_key=secret-value")
    with pytest.raises(ValueError, match="credentials"):
        TiledBackend("http://me:secret-value@127.0.0.1:1")
    prefix = acquire(tmp_path, "journal", x=np.ones(2))
    unreachable = TiledBackend("tiled://127.0.0.1:1", api_key="secret-value")
    assert unreachable.uri == "http://127.0.0.1:1"
    dispatcher = BackendDispatcher(tmp_path / "data", [unreachable], max_attempts=1, backoff=0.01)
    dispatcher.submit(prefix)
    dispatcher.wait(60)
    dispatcher.close(0)
    labmate = tmp_path / "data" / ".labmate"
    texts = [p.read_bytes() for p in labmate.rglob("*") if p.is_file()]
    assert texts and not any(b"secret-value" in text for text in texts)
    assert not any(b"secret-value" in p.read_bytes() for p in Path(prefix).parent.iterdir())


def test_server_killed_mid_delivery_then_back(
    tmp_path: Path, server: TiledServer, key: str
) -> None:
    arrays = {f"a{i}": np.random.default_rng(i).random(200_000) for i in range(30)}
    prefix = acquire(tmp_path, "killed", **arrays)
    backend = TiledBackend(server.uri)
    watcher = TiledBackend(server.uri)
    killed = threading.Event()

    def kill_when_partial() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed.is_set():
            try:
                node = run_node(watcher, prefix)
            except Exception:
                time.sleep(0.01)
                continue
            if node.metadata["labmate"].get("partial"):
                server.kill()
                killed.set()
            return

    thread = threading.Thread(target=kill_when_partial)
    thread.start()
    dispatcher = BackendDispatcher(tmp_path / "data", [backend], backoff=0.5, max_attempts=100)
    try:
        dispatcher.submit(prefix)
        thread.join(60)
        assert killed.is_set(), "the upload finished before the server could be killed"
        deadline = time.monotonic() + 60
        while dispatcher.status(prefix)[backend.name].attempts < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = dispatcher.status(prefix)[backend.name]
        assert status.state != State.DONE and status.last_error
        server.start()
        damaged = False
        deadline = time.monotonic() + 180
        while not dispatcher.wait(1):
            final = dispatcher.status(prefix)[backend.name]
            # Tiled's catalog is not transactional: a server killed while it wrote an array
            # can leave pieces it cannot delete itself. Then the error must say so, in one
            # line, and the upload keeps being retried (never reported done).
            if final.last_error and "cannot replace the entry killed/" in final.last_error:
                assert "remove the entry on the server" in final.last_error
                assert final.state != State.DONE
                damaged = True
                break
            log = (server.root / "server.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"{final.last_error}\nserver log:\n{log}"
        if damaged:
            return
        final = dispatcher.status(prefix)[backend.name]
        assert final.state == State.DONE and final.attempts >= 2
    finally:
        dispatcher.close(1)
        if server.process is None:
            server.start()
    node = run_node(TiledBackend(server.uri), prefix)
    assert node.metadata["labmate"]["partial"] is False
    assert node["a7"][5:15].tolist() == arrays["a7"][5:15].tolist()
    assert sorted(k for k in node if k.startswith("a")) == sorted(arrays)


def test_kind_and_packaging() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["labmate.backends"]["tiled"]
    assert target == "labmate_core.backends.tiled_backend:TiledBackend"
    assert any(dep.startswith("tiled[client]") for dep in project["optional-dependencies"]["tiled"])
    assert get_backend_class("tiled") is TiledBackend
