"""TiledBackend: uploads each acquisition into a writable Tiled catalog, searchable over HTTP.

The run lands under ``<name>/<run>`` (see :mod:`.tiled_layout`). The API key comes from the
``api_key`` argument, else the ``TILED_API_KEY`` environment variable, else the keyring
(service ``labmate-tiled``, user = the server URL); it is never part of the spec, the name or
the repr, so it is never journaled nor written into a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import AcquisitionBackend, AcquisitionSnapshot
from .copying import temporary_name
from .files import acquisition_files
from .tiled_layout import FILES, LARGE, content_digest, read_run, write_h5

logger = logging.getLogger(__name__)

API_KEY_ENV = "TILED_API_KEY"
KEYRING_SERVICE = "labmate-tiled"
#: Size of the stored chunks of a large array (a remote slice reads the chunks it touches).
CHUNK_BYTES = 4_000_000


class TiledAuthError(PermissionError):
    """The Tiled server refused the API key (or none was found)."""


def normalize_uri(uri: str) -> str:
    """``tiled://host:port/x`` -> ``http://host:port/x``; refuses credentials in the URL."""
    if not isinstance(uri, str) or not uri.strip():
        raise TypeError(f"a Tiled backend needs the server URL, got {uri!r}")
    uri = uri.strip().rstrip("/")
    if uri.startswith("tiled://"):
        uri = "http://" + uri[len("tiled://") :]
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a Tiled server URL is http(s)://HOST:PORT, got {uri!r}")
    if parts.username or parts.password or "api_key" in parse_qs(parts.query):
        raise ValueError(
            f"do not put credentials in the Tiled URL; set {API_KEY_ENV} or the keyring "
            f"(service {KEYRING_SERVICE!r}) instead"
        )
    return uri


def resolve_api_key(uri: str, api_key: str | None = None) -> str | None:
    """The API key for ``uri``: ``api_key``, else ``$TILED_API_KEY``, else the keyring."""
    if api_key:
        return api_key
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, uri) or None
    except Exception:  # no keyring installed or no usable keyring backend
        return None


def connect(uri: str, api_key: str | None = None) -> Any:
    """A Tiled client of ``uri`` (never prompts); ``TiledAuthError`` when the key is refused."""
    from tiled.client import from_uri
    from tiled.client.utils import ClientError

    key = resolve_api_key(uri, api_key)
    try:
        return from_uri(uri, api_key=key, remember_me=False)
    except ClientError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            how = "the API key given" if key else f"no API key (set {API_KEY_ENV})"
            raise TiledAuthError(
                f"Tiled server {uri} refused {how}: {str(error).splitlines()[0]}"
            ) from None
        raise
    except RuntimeError as error:  # the server requires a key: none found, or not accepted
        if "api key" not in str(error).lower():
            raise
        if key:
            raise TiledAuthError(f"Tiled server {uri} refused the API key given") from None
        raise TiledAuthError(
            f"Tiled server {uri} requires an API key: set {API_KEY_ENV} or the keyring "
            f"(service {KEYRING_SERVICE!r}, user {uri!r})"
        ) from None


class TiledBackend(AcquisitionBackend):
    """Uploads each acquisition to the Tiled server at ``uri`` (a writable catalog).

    A re-save whose files are unchanged (same content digest) does nothing; a changed one
    replaces the entry. The searchable metadata is written last, so a search never finds a
    run whose arrays are not all there.
    """

    def __init__(self, uri: str, *, api_key: str | None = None):
        self.uri = normalize_uri(uri)
        self._api_key = api_key
        self._client: Any = None
        self._lock = threading.Lock()

    def default_name(self) -> str:
        return f"tiled:{self.uri}"

    def spec(self) -> dict[str, Any]:
        """The URL alone: ``labmate sync`` finds the key as a kernel does (env or keyring)."""
        return {"kind": "tiled", "args": [self.uri], "kwargs": {}}

    def client(self) -> Any:
        """The connected client (connects on first use, from the worker thread)."""
        with self._lock:
            if self._client is None:
                self._client = connect(self.uri, self._api_key)
            return self._client

    def _forget_client(self) -> None:
        with self._lock:
            self._client = None

    def save_snapshot(self, acquisition: AcquisitionSnapshot) -> None:
        """Upload the (private, consistent) files at ``acquisition.filepath``."""
        source = Path(acquisition.filepath)
        h5 = source.with_name(source.name + ".h5")
        files = acquisition_files(source)
        if h5 not in files:
            raise FileNotFoundError(f"no .h5 for acquisition {source}")
        stem = Path(acquisition.original_filepath).name
        digest = content_digest(files)
        try:
            self._upload(acquisition, h5, files, stem, digest)
        except Exception:
            self._forget_client()  # reconnect next time (server restarted, key changed)
            raise

    def _upload(
        self, acquisition: AcquisitionSnapshot, h5: Path, files: list[Path], stem: str, digest: str
    ) -> None:
        experiment = self._experiment(self.client(), acquisition.experiment_name)
        try:
            existing = _child(experiment, stem)
        except Exception as error:  # an entry the server cannot read (killed mid-upload)
            logger.warning(
                "%s on %s cannot be read (%s): removed, uploaded again", stem, self.uri, error
            )
            experiment.delete_contents(stem, recursive=True, external_only=False)
            existing = None
        if existing is not None:
            info = dict(existing.metadata).get("labmate") or {}
            if info.get("digest") == digest and not info.get("partial"):
                logger.debug("%s unchanged on %s", stem, self.uri)
                return
            _remove_entry(experiment, existing, acquisition.experiment_name, stem, self.uri)
        with read_run(h5, Path(acquisition.original_filepath), files, digest) as content:
            run = experiment.create_container(
                key=stem, metadata={"run": stem, "labmate": {"partial": True}}
            )
            try:
                _write_content(run, content)
            except Exception as error:
                if _server_error(error):  # e.g. storage left behind by a server killed mid-write
                    raise _damaged(acquisition.experiment_name, stem, self.uri, error) from error
                raise
        logger.debug("uploaded %s to %s", stem, self.uri)

    def _experiment(self, client: Any, name: str) -> Any:
        node = _child(client, name)
        if node is None:
            try:
                node = client.create_container(key=name, metadata={"experiment": name})
            except Exception:  # created meanwhile by another PC of the lab
                node = _child(client, name)
                if node is None:
                    raise
        return node

    def load_snapshot(self, acquisition: AcquisitionSnapshot) -> bool:
        """Rebuild the ``.h5`` and companions next to ``acquisition.filepath``; False if absent."""
        target = Path(acquisition.filepath)
        experiment = _child(self.client(), acquisition.experiment_name)
        run = _child(experiment, target.name) if experiment is not None else None
        if run is None:
            return False
        metadata = dict(run.metadata)
        if (metadata.get("labmate") or {}).get("partial", True):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        companions: dict[str, bytes] = {}
        _collect(run, "", arrays, companions)
        metadata = plain_metadata(metadata)
        info = metadata["labmate"]
        for path, key in info.get("large", {}).items():
            info["values"][path] = companions.pop(f"{LARGE}/{key}").decode()
        for suffix, data in companions.items():
            _write_atomically(
                target.parent / (target.name + suffix), lambda t, d=data: t.write_bytes(d)
            )
        _write_atomically(
            target.with_name(target.name + ".h5"), lambda t: write_h5(t, metadata, arrays)
        )
        return True

    def __repr__(self) -> str:
        return f"TiledBackend({self.uri!r})"


class DamagedEntryError(RuntimeError):
    """An entry on the server, left by an interrupted upload, that the server cannot delete."""


def _remove_entry(experiment: Any, existing: Any, name: str, stem: str, uri: str) -> None:
    """Delete the run's old entry; pieces of an upload interrupted by a server crash that the
    server cannot delete make a one-line :class:`DamagedEntryError` (retried like any error)."""
    try:
        existing.delete(recursive=True, external_only=False)
        return
    except Exception as error:
        first = error
    for key in list(existing):  # what can go, piece by piece
        try:
            existing.delete_contents(key, recursive=True, external_only=False)
        except Exception:
            logger.debug("cannot delete %s/%s on %s", stem, key, uri, exc_info=True)
    try:
        experiment.delete_contents(stem, recursive=True, external_only=False)
    except Exception:
        raise _damaged(name, stem, uri, first) from first


def _write_content(run: Any, content: Any) -> None:
    """Upload a run's arrays, companion files and long texts into its new container, then
    its metadata (which marks it complete)."""
    containers: dict[tuple[str, ...], Any] = {(): run}
    for path, array in content.arrays.items():
        node = _require(containers, path[:-1])
        node.write_array(_chunked(array), key=path[-1])
    if content.files:
        folder = run.create_container(key=FILES)
        for suffix, companion in content.files.items():
            folder.write_array(_bytes_array(companion.read_bytes()), key=suffix)
    if content.large:
        texts = run.create_container(key=LARGE)
        for key, data in content.large.items():
            texts.write_array(_bytes_array(data), key=key)
    content.metadata["labmate"]["partial"] = False
    run.replace_metadata(metadata=content.metadata, drop_revision=True)


def _server_error(error: BaseException) -> bool:
    """An HTTP 5xx answer (the server failed), not a refused or lost connection."""
    response = getattr(error, "response", None)
    return getattr(response, "status_code", 0) >= 500


def _damaged(name: str, stem: str, uri: str, error: BaseException) -> DamagedEntryError:
    return DamagedEntryError(
        f"the server {uri} cannot replace the entry {name}/{stem} ({_one_line(error)}); a server "
        "killed during an upload can leave pieces it cannot replace: if this persists, remove "
        "the entry on the server (catalog and writable storage); the upload is retried"
    )


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _child(node: Any, key: str) -> Any:
    try:
        return node[key]
    except KeyError:
        return None


def _require(containers: dict[tuple[str, ...], Any], path: tuple[str, ...]) -> Any:
    if path not in containers:
        parent = _require(containers, path[:-1])
        containers[path] = _child(parent, path[-1]) or parent.create_container(key=path[-1])
    return containers[path]


def _chunked(array: Any) -> Any:
    """Large arrays as dask arrays of ~``CHUNK_BYTES`` blocks: uploaded block by block and
    stored so that a remote slice reads one small chunk, not a 100 MB one."""
    if array.nbytes <= CHUNK_BYTES:
        return array[()]  # an h5py data set (or an array): read whole
    import dask.array
    from dask.array.core import normalize_chunks

    chunks = normalize_chunks(
        ("auto",) * array.ndim, limit=CHUNK_BYTES, dtype=array.dtype, shape=array.shape
    )
    return dask.array.from_array(array, chunks=chunks)


def _bytes_array(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype=np.uint8)


def _collect(node: Any, prefix: str, arrays: dict[str, Any], companions: dict[str, bytes]) -> None:
    for key, child in node.items():
        family = str(child.structure_family).rsplit(".", 1)[-1]
        if not prefix and key in (FILES, LARGE):
            for suffix, item in child.items():
                name = suffix if key == FILES else f"{LARGE}/{suffix}"
                companions[name] = item.read().tobytes()
        elif family == "container":
            _collect(child, f"{prefix}{key}/", arrays, companions)
        else:
            arrays[prefix + key] = child.read()


def plain_metadata(value: Any) -> Any:
    """Tiled's metadata views as plain dicts and lists."""
    if hasattr(value, "items"):
        return {k: plain_metadata(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_metadata(v) for v in value]
    return value


def _write_atomically(final: Path, write: Any) -> None:
    tmp = temporary_name(final)
    try:
        write(tmp)
        tmp.replace(final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
