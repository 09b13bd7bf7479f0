"""`labmate status` finds everything not delivered, `labmate sync` repairs it: real mirror, a
real S3 protocol server (moto on 127.0.0.1), a real SIGKILL between a save and its submit, a
write outside any manager, a damaged pending record, acquisitions never delivered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from labmate_core import DH5
from labmate_core.backends.survey import survey
from labmate_core.dh5 import storage

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")
pytest.importorskip("s3fs")


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """A bucket; the credentials and endpoint in the environment (never in a backend's spec),
    so every process re-creates ``FsspecBackend("s3://bucket/data")`` from its spec."""
    for key, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    name = f"lab-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    return client, name


KERNEL = """
import os, signal, sys, threading
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import FsspecBackend, MirrorDirectoryBackend
data, mirror, url, step = sys.argv[1:5]
if step == "setup":
    aqm = AcquisitionAnalysisManager(
        data, shell=None, backend=[MirrorDirectoryBackend(mirror), FsspecBackend(url)]
    )
    for name in ("a", "b"):
        with aqm.acquisition(name):  # ended here, not by the exit
            aqm.save_acquisition(x=[1, 2, 3])
    assert aqm.wait_backends(60)
else:  # a later kernel: the backends are restored; the save commits, then SIGKILL
    aqm = AcquisitionAnalysisManager(data, shell=None)
    assert len(aqm.backends) == 2, aqm.backends
    for thread in threading.enumerate():  # what it resumes at start is not this test's point
        if thread.name == "labmate-backend-resume":
            thread.join()
    assert aqm.wait_backends(60)
    loaded = aqm.load_file(step)
    submit = aqm.dispatcher.submit

    def killed(*args, **kwargs):  # the kernel's own submit; the resume thread's go through
        if threading.current_thread() is threading.main_thread():
            os.kill(os.getpid(), signal.SIGKILL)
        return submit(*args, **kwargs)

    aqm.dispatcher.submit = killed
    loaded["fit"] = 1.5
"""


def _kernel(*argv: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KERNEL, *map(str, argv)], capture_output=True, text=True, timeout=180
    )


def _cli(*argv: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labmate_core.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _local_files(data: Path) -> dict[str, bytes]:
    return {
        p.relative_to(data).as_posix(): p.read_bytes()
        for p in data.rglob("*")
        if p.is_file()
        and p.parent != data  # temp.json: not an acquisition's
        and not any(part.startswith(".") for part in p.relative_to(data).parts)
    }


def _s3_files(client, bucket: str) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        obj["Key"].removeprefix("data/"): client.get_object(Bucket=bucket, Key=obj["Key"])[
            "Body"
        ].read()
        for obj in listing
    }


@pytest.mark.timeout(600)
def test_status_names_what_is_missing_and_sync_repairs_it(tmp_path: Path, s3) -> None:
    client, bucket = s3
    data, mirror, url = tmp_path / "DATA", tmp_path / "mirror", f"s3://{bucket}/data"
    done = _kernel(data, mirror, url, "setup")
    assert done.returncode == 0, done.stderr
    status = _cli("status", data)
    assert status.returncode == 0, status.stdout + status.stderr
    (a,) = (data / "a").glob("*.h5")
    (b,) = (data / "b").glob("*.h5")
    # 1. a later kernel: the save of the fit committed, the process was killed before submit
    killed = _kernel(data, mirror, url, a)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert DH5(a)["fit"] == 1.5
    # 2. a write outside any manager
    DH5(b, "a=")["note"] = "written by hand"  # saved on edit
    # 3. an acquisition no backend ever saw
    never = data / "c" / "2026_11_24__16_56_38__c"
    with storage.open_write(never.with_name(never.name + ".h5")) as f:
        f["y"] = np.arange(5)
    # 4. a damaged pending record
    pending = data / ".labmate" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    (pending / "c-0123456789.json").write_text('{"version": 2, "prefix": ')

    status = _cli("status", data)
    assert status.returncode == 1, status.stdout
    lines = status.stdout.splitlines()
    mirror_name, s3_name = f"mirror:{mirror}", f"fsspec:{url}"
    a_line = next(line for line in lines if line.startswith(f"a/{a.name[:-3]}:"))
    assert f"{mirror_name} stale" in a_line and f"{s3_name} stale" in a_line
    b_line = next(line for line in lines if line.startswith(f"b/{b.name[:-3]}:"))
    assert f"{mirror_name} stale" in b_line and f"{s3_name} stale" in b_line
    c_line = next(line for line in lines if line.startswith(f"c/{never.name}:"))
    assert "never delivered" in c_line and s3_name in c_line
    assert any("unreadable pending record" in line and "c-0123456789" in line for line in lines)
    as_json = json.loads(_cli("status", data, "--json").stdout)
    assert as_json["ok"] is False
    states = {
        item["prefix"]: {n: s["state"] for n, s in item["backends"].items()}
        for item in as_json["acquisitions"]
    }
    assert states[f"c/{never.name}"] == {mirror_name: "never", s3_name: "never"}

    synced = _cli("sync", data)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    status = _cli("status", data)
    assert status.returncode == 0, status.stdout
    local = _local_files(data)
    assert _s3_files(client, bucket) == local
    mirrored = {
        p.relative_to(mirror).as_posix(): p.read_bytes() for p in mirror.rglob("*") if p.is_file()
    }
    assert mirrored == local
    assert DH5(mirror / "a" / a.name)["fit"] == 1.5


def test_a_kernel_starting_on_the_directory_resumes_in_the_background(tmp_path: Path) -> None:
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
    from labmate_core.backends import MirrorDirectoryBackend

    data, mirror = tmp_path / "DATA", tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=MirrorDirectoryBackend(mirror))
    aqm.acquisition_cell("a", cell="c")
    aqm.save_acquisition(x=1)
    assert aqm.wait_backends(60)
    h5 = Path(os.fspath(aqm.current_filepath) + ".h5")
    DH5(h5, "a=")["extra"] = 2  # outside any manager, saved on edit
    assert not survey(data).ok
    later = AcquisitionAnalysisManager(data, shell=None)  # a new kernel: restores, resumes
    deadline = time.monotonic() + 120
    while not survey(data).ok and time.monotonic() < deadline:
        later.wait_backends(1)
        time.sleep(0.1)
    assert survey(data).ok
    assert (mirror / "a" / h5.name).read_bytes() == h5.read_bytes()


def test_unreadable_delivery_records_are_reported_and_rebuilt(tmp_path: Path) -> None:
    from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
    from labmate_core.backends import MirrorDirectoryBackend

    data, mirror = tmp_path / "DATA", tmp_path / "mirror"
    aqm = AcquisitionAnalysisManager(data, shell=None, backend=MirrorDirectoryBackend(mirror))
    aqm.acquisition_cell("a", cell="c")
    aqm.save_acquisition(x=1)
    assert aqm.wait_backends(60)
    aqm.remove_backend(next(iter(aqm.backends)), forget=False)
    aqm.dispatcher.close(0)
    records = data / ".labmate" / "delivered.sqlite"
    for side in ("-wal", "-shm"):  # what a damaged disk leaves: no log to fall back on
        Path(f"{records}{side}").unlink(missing_ok=True)
    records.write_bytes(b"garbage" * 1000)
    status = _cli("status", data)
    assert status.returncode == 1 and "unreadable delivery records" in status.stdout
    synced = _cli("sync", data)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "set aside the unreadable delivery records" in synced.stdout
    assert _cli("status", data).returncode == 0
