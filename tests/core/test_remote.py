"""labmate_core.remote and ``labmate ls --server``: runs read and listed from a real Tiled server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TILED_RETRY_ATTEMPTS", "1")
pytest.importorskip("tiled.client", reason="tiled is not installed (pip install 'tiled[all]')")
pytest.importorskip("tiled.server", reason="tiled's server is not installed")

from tiled_server import TiledServer  # noqa: E402

from labmate_core import DH5  # noqa: E402
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager  # noqa: E402
from labmate_core.backends import BackendDispatcher  # noqa: E402
from labmate_core.backends.tiled_backend import TiledBackend  # noqa: E402
from labmate_core.remote import RemoteRun, open_run, search_runs, split_run_url  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """A server holding three runs: T1 completed, T1 failed, rabi completed."""
    root = tmp_path_factory.mktemp("remote")
    server = TiledServer(root / "server")
    server.start()
    os.environ["TILED_API_KEY"] = server.api_key
    try:
        aqm = AcquisitionAnalysisManager(root / "data", shell=None)
        prefixes = {}
        for label, name in (("ok", "T1"), ("bad", "T1"), ("rabi", "rabi")):
            aqm.acquisition_cell(name, cell=f"# {label}")
            aqm.save_acquisition(
                x=np.arange(1000.0) * 2, fit={"tau": 12.5, "unit": "us"}, log="ok\n" * 10_000
            )
            prefixes[label] = aqm.current_filepath
        bad = DH5(prefixes["bad"] + ".h5", "a", save_on_edit=True)
        bad["info"]["status"] = "failed"
        bad["info"]["error"] = "Traceback (most recent call last):\nValueError: lost lock"
        backend = TiledBackend(server.uri)
        with BackendDispatcher(root / "data", [backend], backoff=0.05) as dispatcher:
            for prefix in prefixes.values():
                dispatcher.submit(prefix)
            assert dispatcher.wait(120)
        yield server, {k: Path(v) for k, v in prefixes.items()}
    finally:
        os.environ.pop("TILED_API_KEY", None)
        server.kill()


def test_split_run_url() -> None:
    assert split_run_url("tiled://h:8000/T1/run") == ("http://h:8000", "T1", "run")
    assert split_run_url("https://h/base/T1/run/") == ("https://h/base", "T1", "run")
    with pytest.raises(ValueError, match="/<name>/<run>"):
        split_run_url("tiled://h:8000/T1")


def test_open_run_reads_like_analysis_data_and_lazily(lab) -> None:
    server, prefixes = lab
    ok = prefixes["ok"]
    d = open_run(f"tiled://127.0.0.1:{server.port}/T1/{ok.name}")
    assert isinstance(d, RemoteRun)
    assert {"x", "fit", "info", "acquisition_cell", "useful"} <= set(d.keys())
    assert not isinstance(d.x, np.ndarray) and d.x.shape == (1000,)  # nothing fetched yet
    assert d.x[10:20].tolist() == [2.0 * i for i in range(10, 20)]
    assert d["x"][995:].tolist() == [1990.0, 1992.0, 1994.0, 1996.0, 1998.0]
    assert d.fit.tau == 12.5 and d["fit"]["unit"] == "us"
    assert d.acquisition_cell["1"] == "# ok" and d.useful is True
    assert d.info.status == "completed"
    assert "log" not in d.metadata["labmate"]["values"] and "log" in d.keys()
    assert d.log == "ok\n" * 10_000  # a long text: fetched when asked for
    assert d.metadata["status"] == "completed" and np.asarray(d.x).sum() == 999_000.0
    with pytest.raises(KeyError, match="no key 'nope'"):
        d["nope"]
    with pytest.raises(AttributeError):
        _ = d.nope


def test_open_run_of_a_missing_run_names_it(lab) -> None:
    server, _ = lab
    with pytest.raises(KeyError, match="has no run T1/2020_01_01__00_00_00__T1"):
        open_run(f"{server.uri}/T1/2020_01_01__00_00_00__T1")


def test_search_runs_filters(lab) -> None:
    server, prefixes = lab
    everything = search_runs(server.uri)
    assert {r["path"] for r in everything} == {
        f"{p.parent.name}/{p.name}" for p in prefixes.values()
    }
    failed = search_runs(server.uri, name="T1", status="failed")
    assert [r["path"] for r in failed] == [f"T1/{prefixes['bad'].name}"]
    assert failed[0]["error"] == "ValueError: lost lock"
    assert search_runs(server.uri, name="rab")[0]["name"] == "rabi"
    assert search_runs(server.uri, since=__import__("datetime").date(2999, 1, 1)) == []
    # an upload cut short (searchable metadata not written yet) is never listed
    partial = {"run": "cut", "name": "T1", "status": "failed", "labmate": {"partial": True}}
    TiledBackend(server.uri).client()["T1"].create_container(key="cut", metadata=partial)
    assert [r["path"] for r in search_runs(server.uri, name="T1", status="failed")] == [
        f"T1/{prefixes['bad'].name}"
    ]


def test_labmate_ls_server_from_a_process_with_only_the_url(lab) -> None:
    server, prefixes = lab
    env = {**os.environ, "PYTHONPATH": str(REPO), "TILED_API_KEY": server.api_key}
    command = [sys.executable, "-m", "labmate_core.cli", "ls", "--server", server.uri]
    out = subprocess.run(
        [*command, "--name", "T1", "--status", "failed", "--since", "2000-01-01"],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and f"T1/{prefixes['bad'].name}" in lines[0]
    assert "failed" in lines[0] and "ValueError: lost lock" in lines[0]
    wrong = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        env={**env, "TILED_API_KEY": "0" * 32},
    )
    assert wrong.returncode == 1 and "refused the API key" in wrong.stderr
    neither = subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", "ls"],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        timeout=120,
    )
    assert neither.returncode == 2 and "--server URL" in neither.stderr
