"""Linting of analysis cells: find the variables a cell uses without defining them.

An analysis cell should only use what it defines, what the saved data provides, the allowed
names (e.g. those of the init-analyse file) and builtins; anything else is an *external*
variable that happens to live in the kernel and will be missing when the analysis is re-run.

Scopes follow Python: a function body sees every module-level name of the cell (it runs
later), comprehensions and lambdas have their own variables, and the module level is read top
to bottom (a name used before it is assigned is external). Lines with ``# noqa`` are left
out, as labmate does (what they define is not defined after them). Calls of
``save_acquisition`` are not checked.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

#: Names every notebook kernel defines besides builtins.
NOTEBOOK_NAMES = frozenset(
    {"display", "get_ipython", "In", "Out", "exit", "quit", "_", "__", "___"}
)
_BUILTINS = frozenset(dir(builtins)) | NOTEBOOK_NAMES
_NOQA_RE = re.compile(r"#\s*noqa\b", re.IGNORECASE)

CallCheck = Callable[[ast.Call, dict[str, Any]], list[str]]


class LintResult(NamedTuple):
    """Names the code defines, external names it uses (first use first) and error messages."""

    internal_vars: set[str]
    external_vars: list[str]
    errors: list[str]


def _save_fig_signature(node: ast.Call) -> str:
    """What a ``save_fig(fig_or_name, /, *, fig=, name=, ...)`` call saves: a first positional
    constant is the name, any other the figure; ``save_fig("a")`` is ``save_fig(name="a")``."""
    args, keywords = list(node.args), list(node.keywords)
    if args and isinstance(args[0], ast.Constant):
        keywords.append(ast.keyword("name", args.pop(0)))
    elif args:
        keywords.append(ast.keyword("fig", args.pop(0)))
    keywords.sort(key=lambda keyword: keyword.arg or "")
    return ast.dump(ast.Call(ast.Name("save_fig", ast.Load()), args, keywords))


def check_duplicate_save_fig(node: ast.Call, db: dict[str, Any]) -> list[str]:
    """Report a second ``save_fig`` call with the same arguments (it would save the same figure)."""
    if not (isinstance(node.func, ast.Attribute) and node.func.attr == "save_fig"):
        return []
    signature = _save_fig_signature(node)
    seen = db.setdefault("save_fig", set())
    if signature in seen:
        return [f"line {node.lineno}: save_fig with the same arguments is used more than once."]
    seen.add(signature)
    return []


def _target_names(node: ast.AST) -> list[str]:
    return [
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


def _bound_names(body: Iterable[ast.stmt]) -> set[str]:
    """Names bound anywhere in a scope (not entering nested functions/classes/comprehensions)."""
    bound: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            continue
        if isinstance(
            node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        ):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(_import_names(node))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        stack.extend(ast.iter_child_nodes(node))
    return bound


def _import_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    names = []
    for alias in node.names:
        if alias.name == "*":
            continue
        names.append(alias.asname or alias.name.split(".")[0])
    return names


def _argument_names(args: ast.arguments) -> set[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


class _Linter(ast.NodeVisitor):
    """Walks the module top to bottom; `scopes` is the chain of names visible at this point."""

    def __init__(self, allowed: set[str], on_call: CallCheck | None) -> None:
        self.scopes: list[set[str]] = [set(allowed)]
        self.defined: set[str] = set()
        self.external: dict[str, list[int]] = {}
        self.module_names: set[str] = set()
        self.errors: list[str] = []
        self.on_call = on_call
        self.call_db: dict[str, Any] = {}

    # names -------------------------------------------------------------------------------
    def _bind(self, names: Iterable[str]) -> None:
        names = list(names)
        self.scopes[-1].update(names)
        if len(self.scopes) == 1:
            self.defined.update(names)

    def _use(self, name: str, lineno: int) -> None:
        if name in _BUILTINS or any(name in scope for scope in self.scopes):
            return
        self.external.setdefault(name, []).append(lineno)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node.id, node.lineno)
        else:
            self._bind([node.id])

    # statements --------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        for child in (node.annotation, node.value, node.target):
            if child is not None:
                self.visit(child)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._use(node.target.id, node.lineno)
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind([node.target.id])
        if len(self.scopes) > 1:  # a walrus inside a comprehension binds outside of it
            self.scopes[0].add(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for child in [*node.body, *node.orelse]:
            self.visit(child)

    visit_AsyncFor = visit_For

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self._bind(_import_names(node))

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind([node.name])
        for child in node.body:
            self.visit(child)

    def visit_MatchAs(self, node: ast.MatchAs | ast.MatchStar) -> None:
        self.generic_visit(node)
        if node.name:
            self._bind([node.name])

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind([node.rest])

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        self._bind(node.names)

    visit_Nonlocal = visit_Global

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "save_acquisition":
            self.visit(node.func)
            return
        if self.on_call is not None:
            self.errors.extend(self.on_call(node, self.call_db))
        self.generic_visit(node)

    # scopes ------------------------------------------------------------------------------
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)
            if node.returns is not None:
                self.visit(node.returns)
            self._bind([node.name])
        body = [node.body] if isinstance(node.body, ast.expr) else node.body
        # a body runs later: it sees the whole module, and all of its own names
        inner = _argument_names(args) | (
            set() if isinstance(node, ast.Lambda) else _bound_names(node.body)
        )
        self.scopes.append(self.module_names | inner)
        for child in body:
            self.visit(child)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self.scopes.append(set())
        for child in node.body:
            self.visit(child)
        self.scopes.pop()
        self._bind([node.name])

    def _visit_comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self.scopes.append(set())
        for index, generator in enumerate(node.generators):
            if index:
                self.visit(generator.iter)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for element in elements:
            self.visit(element)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def run(self, tree: ast.Module) -> None:
        self.module_names = _bound_names(tree.body)
        for statement in tree.body:
            self.visit(statement)


def _parse(code: str, what: str) -> ast.Module:
    if not isinstance(code, str):
        raise TypeError(f"{what} must be Python source (str), got {type(code)!r}")
    return ast.parse(code)


def defined_names(code: str) -> set[str]:
    """Names defined at the top level of `code` (e.g. an init-analyse file).

    Raises ValueError when `code` is not valid Python.
    """
    try:
        tree = _parse(code, "code")
    except SyntaxError as error:
        raise ValueError(f"Cannot read the names defined by this code: {error}") from error
    return _bound_names(tree.body)


def lint_code(
    code: str,
    allowed: Iterable[str] = (),
    *,
    init_code: str | None = None,
    on_call: CallCheck | None = check_duplicate_save_fig,
) -> LintResult:
    """Lint an analysis cell: its defined names, external names used, and errors.

    `allowed`: names the cell may use (saved-data keys, ``aqm``...). `init_code`: the
    init-analyse source; its top-level names are allowed too. `on_call(node, db)` is run on
    every call and returns error messages (default: duplicate ``save_fig`` calls).
    A syntax error in `code` is reported in `errors`, not raised.
    """
    if isinstance(allowed, str):
        raise TypeError("allowed must be a collection of names, not a single str")
    allowed_set = set(allowed)
    if init_code is not None:
        allowed_set |= defined_names(init_code)
    lines = code.splitlines()
    noqa = {no for no, line in enumerate(lines, start=1) if _NOQA_RE.search(line)}
    try:  # as labmate: a ``# noqa`` line is left out (what it defines is not defined after)
        blanked = [("" if no in noqa else line) for no, line in enumerate(lines, start=1)]
        tree = _parse("\n".join(blanked), "code")
    except SyntaxError:  # the line was part of a block or statement: keep it, report nothing
        try:
            tree = _parse(code, "code")
        except SyntaxError as error:
            return LintResult(
                set(),
                [],
                [f"Syntax error found during linting at line {error.lineno}: {error.msg}"],
            )
    linter = _Linter(allowed_set, on_call)
    linter.run(tree)
    first_use = {
        name: min(reported)
        for name, lines in linter.external.items()
        if (reported := set(lines) - noqa)
    }
    external = sorted(first_use, key=first_use.__getitem__)  # stable: same line keeps order
    errors = [e for e in linter.errors if _error_line(e) not in noqa]
    return LintResult(linter.defined, external, errors)


def _error_line(message: str) -> int | None:
    match = re.match(r"line (\d+):", message)
    return int(match.group(1)) if match else None


def find_external_variables(
    code: str, allowed: Iterable[str] = (), init_code: str | None = None
) -> list[str]:
    """External variables of the analysis cell `code`, in order of first use (see `lint_code`)."""
    return lint_code(code, allowed, init_code=init_code, on_call=None).external_vars
