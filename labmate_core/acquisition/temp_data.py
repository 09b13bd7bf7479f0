"""``temp.json``: the current acquisition, so that a restarted kernel can find it again.

The file keeps labmate's four keys (``experiment_name``, ``time_stamp``, ``configs``,
``directory``) so that labmate can read it too. When the acquisition got a ``__n`` suffix, the
real file name is kept in a hidden sidecar ``.temp_filepath.json`` (labmate rejects extra keys),
and so are its extra files (``create_acquisition``), which a restarted kernel ends with it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..textfiles import write_text_atomically

logger = logging.getLogger(__name__)

__all__ = ["AcquisitionTmpData", "read_temp_data", "write_temp_data"]

_SIDECAR = ".temp_filepath.json"


@dataclass(frozen=True)
class AcquisitionTmpData:
    """What ``temp.json`` holds about the current acquisition."""

    experiment_name: str
    time_stamp: str
    configs: dict[str, str] = field(default_factory=dict)
    directory: str | None = None
    #: basename of the ``.h5`` prefix when it differs from ``<time_stamp>__<experiment_name>``
    file_name: str | None = None
    #: the extra files (``create_acquisition``), relative to :meth:`root`
    extras: tuple[str, ...] = ()

    def asdict(self) -> dict:
        """The labmate keys (without :attr:`file_name` and :attr:`extras`)."""
        data = asdict(self)
        data.pop("file_name")
        data.pop("extras")
        return data

    def default_file_name(self) -> str:
        return f"{self.time_stamp}__{self.experiment_name}"

    def root(self, data_directory: str | os.PathLike) -> str:
        """The data directory the acquisition was created in (:attr:`extras` are relative
        to it)."""
        return self.directory or os.fspath(data_directory)

    def prefix(self, data_directory: str | os.PathLike) -> str:
        """The acquisition's path without ``.h5``."""
        name = self.file_name or self.default_file_name()
        return os.path.join(self.root(data_directory), self.experiment_name, name)


def _write_json(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, sort_keys=True, indent=4))


def write_temp_data(path: str | os.PathLike, data: AcquisitionTmpData) -> None:
    """Write ``temp.json`` and, when the file name is not the default one (``__1``...), there
    are extra files, or the sidecar speaks of this acquisition, the sidecar (first); each
    replaced atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = path.with_name(_SIDECAR)
    named = data.file_name and data.file_name != data.default_file_name()
    if named or data.extras or _sidecar_matches(sidecar, data):
        _write_json(
            sidecar,
            {
                "experiment_name": data.experiment_name,
                "time_stamp": data.time_stamp,
                "file_name": data.file_name or data.default_file_name(),
                "extras": list(data.extras),
            },
        )
    _write_json(path, data.asdict())


def _sidecar_matches(sidecar: Path, data: AcquisitionTmpData) -> bool:
    """Whether an existing sidecar speaks of ``data``'s acquisition (it must then be rewritten;
    one about another acquisition is ignored by readers and left as it is)."""
    try:
        extra = _read_json(sidecar)
    except ValueError:
        return True
    return extra is not None and (extra.get("experiment_name"), extra.get("time_stamp")) == (
        data.experiment_name,
        data.time_stamp,
    )


def _read_json(path: Path) -> dict | None:
    """The JSON object at ``path``; None when there is none, ``ValueError`` when it is not."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    return raw


def read_temp_data(path: str | os.PathLike) -> AcquisitionTmpData | None:
    """Read ``temp.json``; None when there is none. A corrupt file raises ``ValueError``."""
    path = Path(path)
    try:
        raw = _read_json(path)
        if raw is None:
            return None
        data = AcquisitionTmpData(
            experiment_name=str(raw["experiment_name"]),
            time_stamp=str(raw["time_stamp"]),
            configs=dict(raw.get("configs") or {}),
            directory=raw.get("directory"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid acquisition temp file: {exc}") from exc
    sidecar = path.with_name(_SIDECAR)
    try:
        extra = _read_json(sidecar)
    except ValueError:
        logger.warning("Ignoring the unreadable %s", sidecar)
        return data
    if (
        extra is not None
        and extra.get("experiment_name") == data.experiment_name
        and extra.get("time_stamp") == data.time_stamp
    ):
        file_name = extra.get("file_name")
        if file_name == data.default_file_name():  # a sidecar kept up to date says the default
            file_name = None
        extras = extra.get("extras") or []
        if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
            logger.warning("Ignoring the extra files listed in %s: %r", sidecar, extras)
            extras = []
        data = AcquisitionTmpData(
            **{**asdict(data), "file_name": file_name, "extras": tuple(extras)}
        )
    return data
