"""``%labmate_backend tiled URL`` in a real InteractiveShell, against a real Tiled server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TILED_RETRY_ATTEMPTS", "1")  # the dispatcher retries, not tiled's client
pytest.importorskip("tiled.client", reason="tiled is not installed (pip install 'tiled[all]')")
pytest.importorskip("tiled.server", reason="tiled's server is not installed")

from ext_helpers import run  # noqa: E402
from tiled_server import TiledServer  # noqa: E402

from labmate_core.backends.tiled_backend import connect  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = TiledServer(tmp_path_factory.mktemp("tiled"))
    server.start()
    yield server
    server.kill()


def test_magic_delivers_to_tiled_and_never_stores_the_key(
    shell, tmp_path: Path, server: TiledServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILED_API_KEY", server.api_key)
    assert run(shell, f"%labmate_backend tiled {server.uri}").success
    assert f"tiled:{server.uri}" in shell.user_ns["aqm"].backends
    assert run(shell, "import numpy as np").success
    cell = "%%acquisition t1 --save trace\ntrace = np.linspace(0, 1, 101)"
    assert run(shell, cell).success
    waited = run(shell, "%labmate_backend wait 120").result
    assert waited.failed == 0 and waited.pending == 0, repr(waited)
    prefix = Path(shell.user_ns["aqm"].current_filepath)
    node = connect(server.uri, server.api_key)["t1"][prefix.name]
    assert node.metadata["status"] == "completed" and node.metadata["name"] == "t1"
    assert "trace = np.linspace(0, 1, 101)" in node.metadata["acquisition_cell"]["1"]
    assert node["trace"][50:52].tolist() == [0.5, 0.51]
    secret = server.api_key.encode()
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_magic_with_a_wrong_key_shows_the_failure(
    shell, server: TiledServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILED_API_KEY", "0" * 32)
    shell.run_line_magic("config", "Labmate.max_attempts = 1")
    assert run(shell, f"%labmate_backend tiled {server.uri}").success
    assert run(shell, "%%acquisition denied --save x\nx = 1").success
    waited = run(shell, "%labmate_backend wait 120").result
    assert waited.failed == 1
    assert "TiledAuthError" in repr(waited) and "refused the API key" in repr(waited)
