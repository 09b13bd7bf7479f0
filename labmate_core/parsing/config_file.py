"""`ConfigFile`: the parsed values of one (or several merged) config files."""

from __future__ import annotations

import logging
import types
from typing import Any

from ..attrdict import AttrDict
from .config_text import parse_str

logger = logging.getLogger(__name__)


class ConfigFile(AttrDict):
    """Parsed config values (``ParsedValue`` by name) plus the source text in `content`.

    ``cfg1 + cfg2`` merges (the right side wins, contents are concatenated).

    >>> cfg = ConfigFile.from_text("freq = 1.5e9\\nf2 = freq * 2")
    >>> cfg.freq / 1e9, cfg.eval_key("f2")
    (1.5, 3000000000.0)
    """

    _attributes = frozenset({"content"})

    def __init__(self, data: dict | None = None, code: str | None = None) -> None:
        """`data`: the parsed values; `code`: the text of the file (needed by ``eval_*``)."""
        super().__init__(data or {})
        if code is not None and not isinstance(code, str):
            raise TypeError(f"code must be the text of the config file, got {type(code)!r}")
        self.content = code

    @classmethod
    def from_text(cls, code: str) -> ConfigFile:
        """Parse `code` (the text of a config file)."""
        return cls(parse_str(code), code)

    def copy(self) -> ConfigFile:
        """A shallow copy keeping `content`."""
        return type(self)(self, self.content)

    def __add__(self, other: dict) -> ConfigFile:
        if not isinstance(other, dict):
            return NotImplemented
        result = self.copy()
        result.update(other)
        other_content = getattr(other, "content", None)
        if other_content is not None:
            result.content = (
                other_content if self.content is None else self.content + "\n" + other_content
            )
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {dict.__repr__(self)}"

    def eval_as_module(self) -> types.ModuleType:
        """Run `content` as Python and return the resulting module.

        Raises ValueError when there is no content; errors of the config code propagate.
        """
        if self.content is None:
            raise ValueError("Content is not defined: this ConfigFile was built without its text")
        module = types.ModuleType("config_module")
        code = compile(self.content, "<config>", "exec")
        exec(code, module.__dict__)  # noqa: S102 - executing the user's own config is the point
        return module

    def eval_key(self, key: str) -> Any:
        """The evaluated value of `key`, or None when the key is not in the config.

        Number values are returned as they are; other values are evaluated as Python,
        with the config's own variables available (``f2 = freq * 2`` works).
        """
        if key not in self:
            return None
        parsed = self[key]
        value = getattr(parsed, "value", parsed)
        if not isinstance(value, str):
            return value
        if self.content is not None:
            try:
                module = self.eval_as_module()
            except Exception as error:  # the config may import things missing here
                logger.debug("Cannot run the config to evaluate %s: %s", key, error)
            else:
                if hasattr(module, key):
                    return getattr(module, key)
        namespace = {
            name: getattr(v, "value", v)
            for name, v in self.items()
            if not isinstance(getattr(v, "value", v), str)
        }
        try:
            return eval(value, namespace)  # noqa: S307
        except Exception as error:
            raise ValueError(f"Cannot evaluate {key} = {value!r}: {error}") from error
