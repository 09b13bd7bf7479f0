"""Shared fixtures for the backend tests: real acquisitions on disk and recording backends."""

from __future__ import annotations

import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from labmate_core.backends import AcquisitionBackend
from labmate_core.dh5 import storage

STAMP = "2026_11_24__16_56_38"


def write_acquisition(
    data_dir: Path,
    name: str = "sine",
    stamp: str = STAMP,
    suffix: str = "",
    version: int = 1,
    size: int = 1000,
    companions: bool = True,
) -> Path:
    """Write ``<data_dir>/<name>/<stamp>__<name><suffix>.h5`` (+ companions); return the prefix."""
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"{stamp}__{name}{suffix}"
    rewrite_h5(prefix, version, size)
    if companions:
        (folder / f"{prefix.name}_CELL.py").write_text(f"x = {version}\n")
        (folder / f"{prefix.name}_cfg1.py").write_text("freq = 1\n")
        (folder / f"{prefix.name}_FIG1.pdf").write_bytes(b"%PDF-1.4 fake figure " + bytes(50))
    return prefix


def rewrite_h5(prefix: Path, version: int, size: int = 1000) -> None:
    """Write ``data`` (all elements = version) and the ``version`` attribute, through storage."""
    with storage.open_write(prefix.with_name(prefix.name + ".h5")) as f:
        if "data" in f and f["data"].shape == (size,):
            f["data"][...] = np.full(size, version, dtype=np.int64)
        else:
            if "data" in f:
                del f["data"]
            f["data"] = np.full(size, version, dtype=np.int64)
        f.attrs["version"] = version


def read_version(h5_path: Path) -> int:
    """The version of a (copied) file; raises if the file is torn (data and attribute differ)."""
    with h5py.File(h5_path, "r") as f:
        data = f["data"][...]
        version = int(f.attrs["version"])
    if not (data == version).all():
        raise AssertionError(f"torn copy {h5_path}: attr {version}, data {set(data.tolist())}")
    return version


class RecordingBackend(AcquisitionBackend):
    """Records (prefix name, version, file names) of each snapshot; can block or fail."""

    def __init__(self, name: str | None = None, gate: threading.Event | None = None, fail: int = 0):
        if name:
            self.name = name
        self.gate = gate
        self.fail = fail
        self.seen: list[tuple[str, int, list[str]]] = []
        self.calls = 0
        self.started = threading.Event()

    def save_snapshot(self, acquisition) -> None:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            self.gate.wait()
        if self.calls <= self.fail:
            raise OSError(f"simulated failure {self.calls}")
        prefix = Path(acquisition.filepath)
        files = sorted(p.name for p in prefix.parent.iterdir())
        version = read_version(prefix.with_name(prefix.name + ".h5"))
        self.seen.append((prefix.name, version, files))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "DATA"
    path.mkdir()
    return path


@pytest.fixture
def dispatchers():
    """Create dispatchers that are closed (and their gates opened) at teardown."""
    from labmate_core.backends import BackendDispatcher

    made: list[BackendDispatcher] = []
    gates: list[threading.Event] = []

    def make(*args, gates_to_open=(), **kwargs) -> BackendDispatcher:
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("max_backoff", 0.05)
        dispatcher = BackendDispatcher(*args, **kwargs)
        made.append(dispatcher)
        gates.extend(gates_to_open)
        return dispatcher

    make.gates = gates
    yield make
    for gate in gates:
        gate.set()
    for dispatcher in made:
        dispatcher.close(5)


@pytest.fixture
def lab():
    """The helpers above, for the test modules."""
    import types

    return types.SimpleNamespace(
        write_acquisition=write_acquisition,
        rewrite_h5=rewrite_h5,
        read_version=read_version,
        RecordingBackend=RecordingBackend,
        STAMP=STAMP,
    )
