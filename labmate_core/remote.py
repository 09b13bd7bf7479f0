"""Runs on a Tiled server, read from anywhere: ``open_run`` and ``search_runs``.

``open_run("tiled://host:8000/T1/2026_11_24__16_56_38__T1")`` gives the same ``d.key`` /
``d["key"]`` access as the analysis data of a local file; arrays are Tiled array clients, so
``d.trace[10:20]`` fetches those ten values only and ``np.asarray(d.trace)`` the whole array.
Small values (scalars, strings, the cells' code) come with the run's metadata.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .backends.tiled_backend import connect, normalize_uri, plain_metadata
from .backends.tiled_layout import FILES, LARGE

logger = logging.getLogger(__name__)

__all__ = ["RemoteRun", "open_run", "search_runs", "split_run_url"]


def split_run_url(url: str) -> tuple[str, str, str]:
    """``tiled://host:port[/base]/<name>/<run>`` -> ``(server URL, name, run)``."""
    uri = normalize_uri(url)
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        raise ValueError(f"a run URL ends with /<name>/<run>, got {url!r}")
    base = "/" + "/".join(segments[:-2]) if segments[:-2] else ""
    server = urlunsplit((parts.scheme, parts.netloc, base, "", ""))
    return server, segments[-2], segments[-1]


def open_run(url: str, *, api_key: str | None = None) -> RemoteRun:
    """Open the run at ``url`` (see :func:`split_run_url`) for reading.

    The key is found as the backend finds it (``api_key``, ``$TILED_API_KEY``, the keyring).
    ``KeyError`` names the run when the server does not have it (or only part of it).
    """
    server, name, run = split_run_url(url)
    client = connect(server, api_key)
    try:
        node = client[name][run]
    except KeyError:
        raise KeyError(f"{server} has no run {name}/{run}") from None
    metadata = plain_metadata(node.metadata)
    if (metadata.get("labmate") or {}).get("partial", True):
        raise KeyError(f"{server}: run {name}/{run} is still being uploaded (or was cut short)")
    return RemoteRun(node, metadata, url=f"{server}/{name}/{run}", root=node)


class RemoteRun(Mapping[str, Any]):
    """A run (or one of its groups) on a Tiled server, read lazily; read-only."""

    def __init__(
        self, node: Any, metadata: dict[str, Any], url: str, prefix: str = "", root: Any = None
    ):
        self._node = node  # None for a group holding no array (only small values)
        self._root = root if root is not None else node
        self.metadata = metadata
        self.url = url
        self._prefix = prefix
        info = metadata.get("labmate") or {}
        self._values: dict[str, Any] = info.get("values", {})
        self._large: dict[str, str] = info.get("large", {})  # long texts, fetched when asked

    def _children(self) -> list[str]:
        if self._node is None:
            return []
        return [k for k in self._node if self._prefix or k not in (FILES, LARGE)]

    def _value_names(self) -> set[str]:
        n = len(self._prefix)
        paths = [*self._values, *self._large]
        return {p[n:].split("/", 1)[0] for p in paths if p.startswith(self._prefix)}

    def keys(self) -> list[str]:  # type: ignore[override]
        """The keys at this level, arrays and groups included."""
        return sorted(set(self._children()) | self._value_names())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()

    def __getitem__(self, key: str) -> Any:
        path = self._prefix + key
        if path in self._values:
            return self._values[path]
        if path in self._large:
            return self._root[LARGE][self._large[path]].read().tobytes().decode()
        if self._node is not None and key in self._children():
            child = self._node[key]
            if "container" in str(child.structure_family):
                return RemoteRun(child, self.metadata, self.url, path + "/", self._root)
            return child  # an array client: slicing fetches only the slice
        if key in self._value_names():
            return RemoteRun(None, self.metadata, self.url, path + "/", self._root)
        raise KeyError(f"{self.url}: no key {path!r}")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError as error:
            raise AttributeError(str(error)) from None

    def __repr__(self) -> str:
        return f"<RemoteRun {self.url}{'/' + self._prefix if self._prefix else ''}: {self.keys()}>"


def search_runs(
    server: str,
    *,
    name: str | None = None,
    status: str | None = None,
    since: datetime.datetime | datetime.date | None = None,
    until: datetime.datetime | datetime.date | None = None,
    api_key: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The runs on ``server`` matching every filter, newest first (their metadata, plus
    ``path`` = ``<name>/<run>``). ``name`` matches names containing it."""
    from tiled.queries import Key, Like

    queries: list[Any] = [Key("labmate.partial") == False]  # noqa: E712 (a query, not a test)
    if name:
        queries.append(Like("name", f"%{name}%"))
    if status:
        queries.append(Key("status") == status)
    if since is not None:
        queries.append(Key("start_time") >= _epoch(since))
    if until is not None:
        queries.append(Key("start_time") < _epoch(until))
    client = connect(normalize_uri(server), api_key)
    found = []
    for path, node in client.search_deep(*queries, max_depth=2).items():
        metadata = plain_metadata(node.metadata)
        metadata.pop("labmate", None)
        metadata["path"] = "/".join(path)
        found.append(metadata)
    found.sort(key=lambda m: (m.get("start_time") or 0, m["path"]), reverse=True)
    return found[:limit] if limit is not None else found


def _epoch(moment: datetime.datetime | datetime.date) -> float:
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    return moment.timestamp()

