"""Config parsing: ``name = value`` text -> `ParsedValue`, `ConfigFile`, titles.

>>> from labmate_core.parsing import parse_str
>>> parse_str("a = 1\\nb = a  # value: 1")
{'a': ParsedValue: 1=1, 'b': ParsedValue: a=1}
"""

from .config_file import ConfigFile
from .config_text import (
    VALUE_SEPARATOR,
    annotate_values,
    append_values_from_module_to_file,
    append_values_from_modules_to_files,
    find_param_line,
    format_python_value,
    parse_str,
    update_values_in_text,
)
from .files import read_file, read_files, update_file_variables
from .title import (
    KeyFormat,
    ValueForPrint,
    format_title,
    format_values,
    parse_get_format,
    parse_key_format,
    values_for_print,
)
from .values import ParsedValue, parse_value

__all__ = [
    "VALUE_SEPARATOR",
    "ConfigFile",
    "KeyFormat",
    "ParsedValue",
    "ValueForPrint",
    "annotate_values",
    "append_values_from_module_to_file",
    "append_values_from_modules_to_files",
    "find_param_line",
    "format_python_value",
    "format_title",
    "format_values",
    "parse_get_format",
    "parse_key_format",
    "parse_str",
    "parse_value",
    "read_file",
    "read_files",
    "update_file_variables",
    "update_values_in_text",
    "values_for_print",
]
