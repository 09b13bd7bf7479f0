"""A real Tiled server on 127.0.0.1 in its own process (imported as ``tiled_server``).

The catalog (SQLite) and its writable storage live in a folder that survives ``kill()`` /
``start()``, so a test can take the server down mid-delivery and bring it back.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TiledServer:
    """``tiled serve catalog`` bound to 127.0.0.1 with an API key and a catalog in ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.api_key = secrets.token_hex(16)  # tiled wants alphanumeric keys
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._initialized = False

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until it answers."""
        storage = self.root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tiled", "serve", "catalog", str(self.root / "cat.db")]
        if not self._initialized:
            command.append("--init")
        command += ["-w", str(storage), "--api-key", self.api_key]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (kept by the process)
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self._initialized = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tiled server exited: {(self.root / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(f"{self.uri}/api/v1/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (401 without a key)
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"tiled server on {self.uri} did not start")

    def kill(self) -> None:
        """SIGKILL the server (and anything it started)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
