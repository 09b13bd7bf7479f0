"""Operations on the text of a config file: parse, annotate with values, update, find."""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from .scanner import Statement, iter_statements
from .values import ParsedValue

VALUE_SEPARATOR = "  # value: "


def parse_str(text: str, /) -> dict[str, ParsedValue]:
    """Parse the top-level ``name = value`` lines of a config file.

    Values may span several lines inside brackets; comments are dropped; a ``# value: X``
    comment overrides the value (the original text is kept in ``ParsedValue.original``).
    ``a = b = 1`` gives both names; statements that are not simple assignments are skipped.

    >>> parse_str("freq = 1.5e9  # Hz\\nf2 = freq * 2  # value: 3e9")["f2"].value
    3000000000.0
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_str expects the text of a config file (str), got {type(text)!r}")
    parsed: dict[str, ParsedValue] = {}
    for statement in iter_statements(text):
        annotation = statement.annotation
        for name in statement.targets:
            parsed[name] = ParsedValue(statement.value, annotation)
    return parsed


def _needs_annotation(code: str, real: Any) -> bool:
    """Whether the evaluated `real` value says more than the source text `code`."""
    if not isinstance(ParsedValue(code).value, str):
        return False  # already a number literal
    if isinstance(real, str):
        return real != code.strip("\"'")
    return isinstance(real, numbers.Number) and not isinstance(real, (bool, np.bool_))


def _format_real(real: Any) -> str:
    return str(real.item()) if isinstance(real, np.generic) else str(real)


def annotate_values(text: str, values: Mapping[str, Any], separator: str = VALUE_SEPARATOR) -> str:
    """Append ``# value: X`` to each assignment whose evaluated value `values[name]` is not
    obvious from its text (``f2 = freq * 2`` -> ``f2 = freq * 2  # value: 3000000000.0``).

    Numbers and strings are annotated; names missing from `values` are left alone.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of name -> value, got {type(values)!r}")
    lines = text.split("\n")
    for statement in iter_statements(text):
        name = statement.targets[0]
        if name in values and _needs_annotation(statement.value, values[name]):
            end = statement.end
            lines[end] = lines[end].rstrip("\r") + separator + _format_real(values[name])
    return "\n".join(lines)


def append_values_from_module_to_file(
    body: str, module: Any, separator: str = VALUE_SEPARATOR
) -> str:
    """`annotate_values` with the variables of an imported config `module` (labmate's name)."""
    return annotate_values(body, vars(module), separator=separator)


def append_values_from_modules_to_files(
    configs: dict[str, str], evals_modules: Mapping[str, Any]
) -> dict[str, str]:
    """Annotate ``configs[name]`` (text) with the values of ``evals_modules[name]``, in place."""
    for name, module in evals_modules.items():
        if name not in configs:
            raise KeyError(f"No config named {name!r} to annotate; known: {sorted(configs)}")
        configs[name] = append_values_from_module_to_file(configs[name], module)
    return configs


def find_param_line(text: str, param: str) -> int | None:
    """1-based number of the first line of `text` starting with `param`, or None."""
    if not param:
        raise ValueError("param must be a non-empty string")
    for line_no, line in enumerate(text.split("\n"), start=1):
        if line.startswith(param):
            return line_no
    return None


def format_python_value(value: Any) -> str:
    """Python source for `value` (``True``, ``1.5``, ``'x'``, ``[1, 2]``), for writing configs.

    A `ParsedValue` is written as its original text. Raises TypeError for objects that have no
    literal form.
    """
    import ast

    if isinstance(value, ParsedValue):
        return value.text
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError) as error:
        raise TypeError(
            f"Cannot write {value!r} ({type(value).__name__}) into a config file: "
            "only literals (numbers, strings, bools, None, lists, dicts...) are supported"
        ) from error
    return text


#: a number written as text (what a text box gives): written into a config file as the number
_NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _config_code(value: Any) -> str:
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return value.strip()  # as labmate: "789" or "1.5e9" becomes the number, as typed
    return format_python_value(value)


def update_values_in_text(text: str, params: Mapping[str, Any]) -> tuple[str, set[str]]:
    """Rewrite the top-level assignments of the names in `params` with their new values.

    A string that is a number (``"789"``, ``"1.123e6"``) is written as that number, as labmate
    does (values typed in a text box). The trailing comment of each statement is kept.
    Returns ``(new_text, names_updated)``.
    """
    new_code = {name: _config_code(value) for name, value in params.items()}
    lines = text.split("\n")
    statements: list[Statement] = [
        s for s in iter_statements(text) if len(s.targets) == 1 and s.targets[0] in new_code
    ]
    for statement in reversed(statements):
        name = statement.targets[0]
        comment = statement.comments[-1].rstrip("\r") if statement.comments else None
        newline = f"{name} = {new_code[name]}" + (f"  {comment}" if comment else "")
        ending = "\r" if lines[statement.end].endswith("\r") else ""
        lines[statement.start : statement.end + 1] = [newline + ending]
    return "\n".join(lines), {s.targets[0] for s in statements}
