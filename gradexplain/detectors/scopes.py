"""What detectors ask of a module: its scopes (the module body, each function), the calls
in a scope, and which value a name certainly holds at a line.

"Certainly" is the point: a value is only given when one plain assignment reaches the line
on every path (no other binding of the name in between, none inside a branch that may not
run, none later in a loop around the line that could come back to it). Everything else is
None, and detectors stay silent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
LOOPS = (ast.For, ast.AsyncFor, ast.While)


Path = tuple[tuple[int, str], ...]  # (compound statement id, body field) from the top


@dataclass
class Scope:
    """A module or function body; `owner` is the class a method belongs to."""

    body: list[ast.stmt]
    owner: ast.ClassDef | None = None
    statement_of: dict[ast.AST, ast.stmt] = field(default_factory=dict)
    path_of: dict[ast.stmt, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index(self.body, ())

    def index(self, body: list[ast.stmt], path: Path) -> None:
        """Each statement's block path, and each node's statement."""
        for statement in body:
            self.path_of[statement] = path
            for node in own_nodes(statement):
                self.statement_of.setdefault(node, statement)
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(statement, name, []) or []:
                    if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                        self.index(child.body, (*path, (id(statement), f"{name}:{id(child)}")))
                if name not in ("handlers", "cases") and not isinstance(statement, NESTED):
                    inner = getattr(statement, name, None)
                    if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                        self.index(inner, (*path, (id(statement), name)))

    def nodes(self) -> Iterator[ast.AST]:
        for statement in self.body:
            yield from own_nodes(statement)

    def calls(self) -> Iterator[ast.Call]:
        return (node for node in self.nodes() if isinstance(node, ast.Call))

    def bindings(self, name: str) -> list[ast.AST]:
        """Every statement or expression that binds `name` in this scope."""
        found: list[ast.AST] = []
        for node in self.nodes():
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For,
                                   ast.AsyncFor, ast.comprehension)):
                targets = [node.target]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets = [node.optional_vars]
            elif isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
                found.append(node)
            elif isinstance(node, ast.Delete):
                targets = node.targets
            if any(binds(target, name) for target in targets):
                found.append(node)
        return found

    def value_before(self, name: str, use: ast.AST) -> ast.expr | None:
        """The value `name` certainly holds where `use` is, or None: the last binding
        before it is a plain assignment in a block that holds the use, and no binding
        later in a loop around the use can come back to it."""
        line = getattr(use, "lineno", 0)
        bindings = self.bindings(name)
        before = [b for b in bindings if getattr(b, "lineno", 0) < line]
        if not before:
            return None
        last = max(before, key=lambda b: (getattr(b, "lineno", 0), getattr(b, "col_offset", 0)))
        simple = (isinstance(last, ast.Assign) and len(last.targets) == 1
                  and isinstance(last.targets[0], ast.Name)) or (
                  isinstance(last, ast.AnnAssign) and last.value is not None)
        use_statement = self.statement_of.get(use, use)
        if not simple or not isinstance(use_statement, ast.stmt):
            return None
        assigned_in = self.path_of.get(last, None)  # type: ignore[call-overload]
        used_in = self.path_of.get(use_statement)
        if assigned_in is None or used_in is None or used_in[:len(assigned_in)] != assigned_in:
            return None  # assigned in a branch or loop that does not hold the use
        loops = [n for n in self.nodes() if isinstance(n, LOOPS)
                 and n.lineno <= line <= (n.end_lineno or n.lineno)]
        if any(loop.lineno <= getattr(b, "lineno", 0) <= (loop.end_lineno or loop.lineno)
               for loop in loops for b in bindings if getattr(b, "lineno", 0) >= line):
            return None
        value = getattr(last, "value", None)
        return value if isinstance(value, ast.expr) else None

    def is_per_sample_criterion(self, func: ast.expr, use: ast.AST) -> bool:
        """`crit` or `self.crit` certainly built with `reduction='none'`."""
        if isinstance(func, ast.Name):
            value = self.value_before(func.id, use)
            return isinstance(value, ast.Call) and keyword(value, "reduction") == "none"
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "self" and self.owner is not None):
            values = attribute_values(self.owner, func.attr)
            return bool(values) and all(isinstance(v, ast.Call)
                                        and keyword(v, "reduction") == "none" for v in values)
        return False


def own_nodes(statement: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a statement, not entering nested functions, classes or lambdas."""
    pending = [statement]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, NESTED))


def binds(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(binds(item, name) for item in target.elts)
    if isinstance(target, ast.Starred):
        return binds(target.value, name)
    return False


def scopes(tree: ast.Module) -> Iterator[Scope]:
    yield Scope(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield Scope(item.body, node)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not is_method(
                tree, node):
            yield Scope(node.body)


def is_method(tree: ast.Module, function: ast.AST) -> bool:
    return any(isinstance(node, ast.ClassDef) and function in node.body
               for node in ast.walk(tree))


def attribute_values(owner: ast.ClassDef, attr: str) -> list[ast.expr]:
    """The values assigned to `self.<attr>` anywhere in the class."""
    values = []
    for node in ast.walk(owner):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and target.attr == attr
                        and isinstance(target.value, ast.Name) and target.value.id == "self"):
                    values.append(node.value)
    return values


def call_name(call: ast.Call) -> str:
    """`torch.nn.functional.relu` for that call, `x.exp` for a method; '' when unnamed."""
    try:
        return ast.unparse(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else ""
    except (ValueError, RecursionError):
        return ""


def keyword(call: ast.Call, name: str, raw: bool = False) -> object:
    """The constant value of keyword `name` (the node itself with `raw`), or None."""
    for item in call.keywords:
        if item.arg == name:
            if raw:
                return item.value
            return item.value.value if isinstance(item.value, ast.Constant) else None
    return None
