"""FsspecBackend against a real S3 protocol server (moto) and local/memory filesystems."""

import shutil
import uuid

import pytest

from labmate_core.backends import BackendDispatcher, State
from labmate_core.backends.fsspec_backend import FsspecBackend

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")
pytest.importorskip("s3fs")


@pytest.fixture(scope="session")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint):
    name = f"lab-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return client, name


def _s3_backend(endpoint, url):
    return FsspecBackend(
        url, client_kwargs={"endpoint_url": endpoint}, key="x", secret="x", skip_instance_cache=True
    )


def test_s3_upload_and_load(data_dir, s3_endpoint, bucket, lab):
    client, name = bucket
    prefix = lab.write_acquisition(data_dir, version=3)
    lab.write_acquisition(data_dir, suffix="__1")  # same-second duplicate: not uploaded
    backend = _s3_backend(s3_endpoint, f"s3://{name}/lab/data")
    with BackendDispatcher(data_dir, [backend], backoff=0.01) as dispatcher:
        dispatcher.submit(prefix)
        assert dispatcher.wait(60)
        assert dispatcher.status(prefix)[f"fsspec:s3://{name}/lab/data"].state == State.DONE
        listing = client.list_objects_v2(Bucket=name)["Contents"]
        keys = sorted(obj["Key"] for obj in listing)
        ends = (".h5", "_CELL.py", "_FIG1.pdf", "_cfg1.py")
        assert keys == [f"lab/data/sine/{prefix.name}{end}" for end in ends]
        for obj in listing:  # complete objects, same bytes
            local = data_dir / obj["Key"].removeprefix("lab/data/")
            body = client.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
            assert body == local.read_bytes()
        # hydrate from the bucket after the local copy is gone
        shutil.rmtree(data_dir / "sine")
        assert dispatcher.load(prefix) is True
    assert lab.read_version(prefix.with_name(prefix.name + ".h5")) == 3
    assert (prefix.parent / f"{prefix.name}_CELL.py").read_text() == "x = 3\n"
    assert not (prefix.parent / f"{prefix.name}__1.h5").exists()


def test_s3_load_snapshot_of_unknown_acquisition(data_dir, s3_endpoint, bucket):
    _, name = bucket
    backend = _s3_backend(s3_endpoint, f"s3://{name}/empty")
    with BackendDispatcher(data_dir, [backend]) as dispatcher:
        with pytest.raises(FileNotFoundError, match="does not have it"):
            dispatcher.load(data_dir / "sine" / "2026_01_01__00_00_00__sine")


def test_s3_unreachable_fails_visibly(data_dir, lab):
    prefix = lab.write_acquisition(data_dir)
    backend = FsspecBackend(
        "s3://nothing/here",
        client_kwargs={"endpoint_url": "http://127.0.0.1:9"},  # nobody listens on port 9
        key="x",
        secret="x",
        config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1},
        skip_instance_cache=True,
    )
    with BackendDispatcher(data_dir, [backend], max_attempts=2, backoff=0.01) as dispatcher:
        dispatcher.submit(prefix)
        assert dispatcher.wait(120)
        status = dispatcher.status(prefix)[backend.name]
        assert status.state == State.FAILED and status.attempts == 2
        assert status.last_error


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_local_and_memory_urls(data_dir, tmp_path, lab, scheme):
    prefix = lab.write_acquisition(data_dir, version=2)
    target = tmp_path / "remote" if scheme == "file" else f"/lab-{uuid.uuid4().hex[:8]}"
    backend = FsspecBackend(f"{scheme}://{target}")
    with BackendDispatcher(data_dir, [backend]) as dispatcher:
        dispatcher.submit(prefix)
        assert dispatcher.wait(30)
        assert dispatcher.status(prefix)[backend.name].state == State.DONE
        names = sorted(p.rsplit("/", 1)[-1] for p in backend.fs.ls(f"{backend.root}/sine", False))
        assert names == sorted(f.name for f in prefix.parent.glob(f"{prefix.name}[._][!_]*"))
        shutil.rmtree(prefix.parent)
        assert dispatcher.load(prefix)
    assert lab.read_version(prefix.with_name(prefix.name + ".h5")) == 2


def test_bad_url():
    with pytest.raises(TypeError):
        FsspecBackend(None)
    with pytest.raises(ValueError):
        FsspecBackend("nosuchprotocol://x")


def test_a_password_in_the_url_is_never_journaled(data_dir, lab):
    class Unreachable(FsspecBackend):
        def save_snapshot(self, acquisition):
            raise OSError("the server is down")

    secret = f"pw-{uuid.uuid4().hex[:8]}"
    backend = Unreachable(f"memory://user:{secret}@host/lab")
    assert backend.spec() is None
    assert secret not in backend.name
    plain = FsspecBackend("memory://user@host/lab")  # a user without a password: a spec
    assert plain.spec() == {"kind": "fsspec", "args": ["memory://user@host/lab"], "kwargs": {}}
    token = f"ghp_{uuid.uuid4().hex[:12]}"  # a token as the whole userinfo of an http(s) URL
    with_token = FsspecBackend(f"simplecache::https://{token}@example.org/lab")
    assert token not in with_token.name and "https://***@example.org/lab" in with_token.name
    assert with_token.spec() is None  # never recorded with the token
    prefix = lab.write_acquisition(data_dir)
    with BackendDispatcher(data_dir, [backend], max_attempts=1) as dispatcher:
        dispatcher.submit(prefix)
        assert dispatcher.wait(30)
    (record,) = (data_dir / ".labmate" / "pending").glob("*.json")
    text = record.read_text()
    assert "memory://user:***@host/lab" in text and secret not in text
