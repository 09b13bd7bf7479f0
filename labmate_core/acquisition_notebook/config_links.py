"""Links from the notebook to parameters of the config files, and writing values back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..display import CfgRow, ParamLink, display_cfg_links, display_param_links
from ..parsing import update_file_variables

logger = logging.getLogger(__name__)

__all__ = ["ConfigLinks"]


class ConfigLinks:
    """Mixin for the analysis manager (needs ``d``, ``config_files``, default config files)."""

    def find_param_in_config(self, param: str) -> tuple[str, int] | None:
        """(config name, 1-based line) of the first line starting with ``param`` in the saved
        default config files of the loaded data."""
        configs = self.d.get("configs")  # type: ignore[attr-defined]
        if configs is None:
            return None
        for file in self._default_config_files:  # type: ignore[attr-defined]
            if file not in configs:
                continue
            for line_no, line in enumerate(configs[file].split("\n"), start=1):
                if line.startswith(param):
                    return file, line_no
        return None

    def _config_path(self, name: str) -> str:
        return self._config_files_names_to_path.get(name, name)  # type: ignore[attr-defined]

    def display_param_link(
        self,
        params: str | list[str] | list[tuple[str, str]],
        after_text: str | None = None,
        title: str | None = None,
    ) -> bool:
        """Show links to where ``params`` are defined (plain text in the log without frontend)."""
        if after_text is not None:
            if not isinstance(params, str):
                raise ValueError(
                    "Cannot use after_text with multiple params. "
                    "Use params=[(param, after_text), ...] instead."
                )
            params = [(params, after_text)]
        if isinstance(params, str):
            params = [params]
        links = []
        for param in params:
            text, after = (param, None) if isinstance(param, str) else param
            found = self.find_param_in_config(text)
            if found is None:
                logger.warning("Parameter '%s' cannot be found in default config files.", text)
                continue
            file, line_no = found
            links.append(ParamLink(text, self._config_path(file), line_no, after))
        return display_param_links(links, title=title)

    def display_cfg_link(self, parameters: Mapping[str, Any], update_button: bool = False) -> bool:
        """Show ``param = value`` rows linked to the config lines; optional "Update" buttons
        write the value to the config file."""
        rows = []
        for param, value in parameters.items():
            found = self.find_param_in_config(f"{param.strip()} = ")
            if found is None:
                logger.warning("Parameter '%s' cannot be found in default config files.", param)
                continue
            file, line_no = found
            rows.append(CfgRow(param, value, self._config_path(file), line_no))

        def on_update(param: str, value: Any) -> None:
            self.update_config_params_on_disk({param: value})

        return display_cfg_links(rows, on_update=on_update if update_button else None)

    def update_config_params_on_disk(self, params: Mapping[str, Any]) -> Any:
        """Write new values of ``params`` into the config files that define them."""
        found: set[str] = set()
        for file in self.config_files:  # type: ignore[attr-defined]
            found |= set(update_file_variables(file, params))
        missing = [name for name in params if name not in found]
        if missing:
            logger.warning("Parameters not found in the config files: %s", ", ".join(missing))
        return self
