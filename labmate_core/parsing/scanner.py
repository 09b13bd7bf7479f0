"""Split config source into top-level ``name = value`` statements.

The scanner knows strings (including triple-quoted ones), comments, brackets and ``\\`` line
continuations, so a ``#`` or a bracket inside a string or a comment never confuses it.
It never raises on malformed text: it does its best and moves on.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_OPENING = "([{"
_CLOSING = ")]}"
_NOT_ASSIGN_BEFORE = "=!<>:+-*/%&|^@"
_ANNOTATION_RE = re.compile(r"#\s*value:\s?")


@dataclass
class _State:
    depth: int = 0
    string: str | None = None  # open string delimiter carried over to the next line


@dataclass
class Statement:
    """One top-level assignment: ``targets = value`` spanning `start`..`end` (0-based lines)."""

    targets: list[str]
    value: str
    comments: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0

    @property
    def annotation(self) -> str | None:
        """Text of the last ``# value: X`` annotation of the statement, if any."""
        found = None
        for comment in self.comments:
            for match in _ANNOTATION_RE.finditer(comment):
                found = comment[match.end() :].strip()
        return found


def _walk(text: str, state: _State) -> Iterator[int]:
    """Yield the index of each char of `text` that is code (not inside a string literal).

    Updates `state` (bracket depth, open string) as it goes; a one-quote string ends at a newline.
    """
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if state.string is not None:
            if char == "\\":
                i += 2
                continue
            if text.startswith(state.string, i):
                i += len(state.string)
                state.string = None
                continue
            if char == "\n" and len(state.string) == 1:
                state.string = None
            i += 1
            continue
        yield i
        if char in "'\"":
            state.string = char * 3 if text.startswith(char * 3, i) else char
            i += len(state.string)
            continue
        if char in _OPENING:
            state.depth += 1
        elif char in _CLOSING:
            state.depth = max(0, state.depth - 1)
        i += 1


def split_line(line: str, state: _State) -> tuple[str, str | None]:
    """Return ``(code, comment)`` of one line, updating bracket depth and open strings."""
    for i in _walk(line, state):
        if line[i] == "#":
            return line[:i], line[i:]
    if state.string is not None and len(state.string) == 1 and not line.endswith("\\"):
        state.string = None  # an unterminated one-line string ends with its line
    return line, None


def _is_name(text: str) -> bool:
    return text.isidentifier() and not keyword.iskeyword(text)


def _target_name(text: str, first: bool) -> str | None:
    """Name assigned by `text` (``x`` or, for the first target, ``x: annotation``)."""
    text = text.strip()
    if first and ":" in text:
        text = text.split(":", 1)[0].strip()
    return text if _is_name(text) else None


def _assignment_positions(code: str) -> list[int]:
    """Positions of the top-level ``=`` of an assignment (not ``==``, ``<=``, ``+=``, ``:=``...)."""
    state = _State()
    positions = []
    for i in _walk(code, state):
        if (
            code[i] == "="
            and state.depth == 0
            and (i == 0 or code[i - 1] not in _NOT_ASSIGN_BEFORE)
            and code[i + 1 : i + 2] != "="
        ):
            positions.append(i)
    return positions


def _split_assignment(code: str) -> tuple[list[str], str] | None:
    positions = _assignment_positions(code)
    if not positions:
        return None
    targets = []
    last = -1
    for index, pos in enumerate(positions):
        name = _target_name(code[last + 1 : pos], first=index == 0)
        if name is None:
            break
        targets.append(name)
        last = pos
    if not targets:
        return None
    return targets, code[last + 1 :].strip()


def _starts_statement(line: str) -> bool:
    return bool(line) and (line[0].isalpha() or line[0] == "_")


def iter_statements(text: str) -> Iterator[Statement]:
    """Yield the top-level assignments of `text` in order (indented lines are ignored)."""
    state = _State()
    lines = text.split("\n")  # same line numbers as the callers' text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        start = index
        at_top = state.depth == 0 and state.string is None
        code_parts: list[str] = []
        comments: list[str] = []
        while True:
            code, comment = split_line(lines[index], state)
            code_parts.append(code.rstrip())
            if comment is not None:
                comments.append(comment)
            continued = code.rstrip().endswith("\\") and state.string is None
            if (state.depth == 0 and state.string is None and not continued) or index + 1 >= len(
                lines
            ):
                break
            index += 1
        index += 1
        if not (at_top and _starts_statement(line)):
            continue
        split = _split_assignment("\n".join(code_parts))
        if split is None:
            continue
        targets, value = split
        yield Statement(targets, value, comments, start, index - 1)
