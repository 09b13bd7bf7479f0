"""FsspecBackend: copies acquisitions to any fsspec URL (``s3://``, ``file://``, ``memory://``)."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

import fsspec

from .base import AcquisitionBackend, AcquisitionSnapshot
from .copying import temporary_name
from .files import acquisition_files, is_acquisition_file

logger = logging.getLogger(__name__)

# object stores (an object appears whole when its upload completes) and in-memory stores
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"}
# the password of a URL's userinfo (``scheme://user:password@host``), in any chained part
_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#]*@")
# a token given as the whole userinfo of an http(s) URL (``https://TOKEN@host``)
_HTTP_TOKEN = re.compile(r"(?P<head>\bhttps?://)[^/?#@:]+@", re.IGNORECASE)


def _without_password(url: str) -> str:
    """``url`` with the password of its userinfo (if any) replaced by ``***``, and the whole
    userinfo of an http(s) URL that has no password (a token, ``https://TOKEN@host``)."""
    return _HTTP_TOKEN.sub(r"\g<head>***@", _PASSWORD.sub(r"\g<head>:***@", url))


class FsspecBackend(AcquisitionBackend):
    """Uploads an acquisition's own files to ``<url>/<experiment folder>/``.

    ``storage_options`` go to the filesystem (e.g. ``key=``, ``secret=``,
    ``client_kwargs={"endpoint_url": ...}`` for S3). Where a single upload is atomic (object
    stores) files are put under their final key, elsewhere under a temporary name then moved;
    each upload is size-checked.
    """

    def __init__(self, url: str, **storage_options: Any):
        if not isinstance(url, str) or not url:
            raise TypeError(f"FsspecBackend needs a URL string, got {url!r}")
        self.url = url
        self.storage_options = storage_options
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self._atomic_put = bool(set(protocols) & _ATOMIC_PUT)

    def default_name(self) -> str:
        return f"fsspec:{_without_password(self.url)}"

    def spec(self) -> dict[str, Any] | None:
        """The URL alone; None with storage options or a password in the URL (credentials are
        never journaled)."""
        if self.storage_options or _without_password(self.url) != self.url:
            return None
        return {"kind": "fsspec", "args": [self.url], "kwargs": {}}

    def _remote(self, folder: str, filename: str) -> str:
        return f"{self.root}/{folder}/{filename}" if self.root else f"{folder}/{filename}"

    def save_snapshot(self, acquisition: AcquisitionSnapshot) -> None:
        """Upload the files at ``acquisition.filepath``."""
        source = Path(acquisition.filepath)
        files = acquisition_files(source)
        if not files:
            raise FileNotFoundError(f"no files for acquisition {source}")
        folder = source.parent.name
        if not self._atomic_put:
            self.fs.makedirs(self._remote(folder, "").rstrip("/"), exist_ok=True)
        for path in files:
            self._upload(path, self._remote(folder, path.name))
        logger.debug("uploaded %d file(s) of %s to %s", len(files), source.name, self.url)

    def _upload(self, path: Path, remote: str) -> None:
        size = path.stat().st_size
        if self._atomic_put:
            self.fs.put_file(str(path), remote)
        else:
            folder, filename = remote.rsplit("/", 1)
            tmp = f"{folder}/.{filename}.{uuid.uuid4().hex[:8]}.labmate-tmp"
            try:
                self.fs.put_file(str(path), tmp)
                self._check_size(tmp, size)
                self.fs.mv(tmp, remote)
            except BaseException:
                try:
                    self.fs.rm_file(tmp)
                except Exception:  # already gone, or the store is unreachable
                    logger.debug("could not remove temporary %s", tmp, exc_info=True)
                raise
        self._check_size(remote, size)

    def _check_size(self, remote: str, size: int) -> None:
        self.fs.invalidate_cache(remote)
        got = self.fs.info(remote)["size"]
        if got != size:
            raise OSError(f"{self.url}: {remote} holds {got} bytes instead of {size}")

    def load_snapshot(self, acquisition: AcquisitionSnapshot) -> bool:
        """Download the files of ``acquisition`` next to its ``filepath``; False if absent."""
        target = Path(acquisition.filepath)
        folder = self._remote(target.parent.name, "").rstrip("/")
        self.fs.invalidate_cache(folder)
        try:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return False
        names = sorted(n for n in names if is_acquisition_file(target.name, n))
        if target.name + ".h5" not in names:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        names.sort(key=lambda n: n == target.name + ".h5")
        for name in names:
            remote = self._remote(target.parent.name, name)
            final = target.parent / name
            tmp = temporary_name(final)
            try:
                self.fs.get_file(remote, str(tmp))
                size = self.fs.info(remote)["size"]
                if tmp.stat().st_size != size:
                    raise OSError(f"download of {remote} is incomplete")
                tmp.replace(final)
            finally:
                tmp.unlink(missing_ok=True)
        return True

    def __repr__(self) -> str:
        return f"FsspecBackend({self.url!r})"
