"""Snapshots of the config files taken when an acquisition starts.

A snapshot is ``{basename: text}``. With ``set_config_evaluation_module(file, module)`` the
lines whose value is an expression get the evaluated value appended as ``  # value: X``
(``param2 = param1 * 2  # value: 246``), so that the saved file says what the value really was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..parsing import append_values_from_module_to_file, read_files

__all__ = ["read_config_files", "config_mtimes", "take_snapshot"]


def read_config_files(files: Iterable[str | os.PathLike]) -> dict[str, str]:
    """``{basename: text}`` of ``files``; a missing file or two equal basenames: ``ValueError``."""
    return read_files(list(files))


def config_mtimes(files: Iterable[str | os.PathLike]) -> list[tuple[int, int]]:
    """Modification stamps used to detect a config changed between acquisition steps."""
    stamps = []
    for file in files:
        stat = os.stat(file)
        stamps.append((stat.st_mtime_ns, stat.st_size))
    return stamps


def take_snapshot(
    files: Iterable[str | os.PathLike], evaluation_modules: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Read ``files`` and annotate those with an evaluation module (keyed by basename)."""
    configs = read_config_files(files)
    for name, module in (evaluation_modules or {}).items():
        if name in configs:
            configs[name] = append_values_from_module_to_file(configs[name], module)
    return configs
