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
from functools import cached_property, lru_cache

NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
PLAIN_MANAGERS = {"no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "autocast"}


Path = tuple[tuple[int, str], ...]  # (compound statement id, body field) from the top


@dataclass
class Scope:
    """A module or function body; `owner` is the class a method belongs to."""

    body: list[ast.stmt]
    owner: ast.ClassDef | None = None
    module: Scope | None = None  # for a function: the module's scope, where globals live
    parameters: frozenset[str] = frozenset()  # a function's arguments hide globals
    statement_of: dict[ast.AST, ast.stmt] = field(default_factory=dict)
    path_of: dict[ast.stmt, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index(self.body, ())

    def index(self, body: list[ast.stmt], path: Path) -> None:
        """Each statement's block path, and each node's statement."""
        for statement in body:
            self.path_of[statement] = path
            for node in own_nodes(statement):
                self.statement_of[node] = statement  # the innermost one, set last
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(statement, name, []) or []:
                    if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                        self.index(child.body, (*path, (id(statement), f"{name}:{id(child)}")))
                if name not in ("handlers", "cases") and not isinstance(statement, NESTED):
                    inner = getattr(statement, name, None)
                    if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                        self.index(inner, path if runs_through(statement)
                                   else (*path, (id(statement), name)))

    def nodes(self) -> Iterator[ast.AST]:
        return iter(self.all_nodes)

    @cached_property
    def all_nodes(self) -> tuple[ast.AST, ...]:
        """The scope's nodes, found once: each detector walks them several times."""
        return tuple(node for statement in self.body for node in own_nodes(statement))

    def calls(self) -> Iterator[ast.Call]:
        return (node for node in self.nodes() if isinstance(node, ast.Call))

    def bindings(self, name: str) -> list[ast.AST]:
        """Every statement or expression that binds `name` in this scope."""
        return list(self.bound.get(name, ()))

    @cached_property
    def bound(self) -> dict[str, list[ast.AST]]:
        """The bindings of every name, found in one pass: detectors ask about many names,
        and a pass per question is quadratic in long scripts."""
        found: dict[str, list[ast.AST]] = {}
        for node in self.nodes():
            for name in bound_names(node):
                found.setdefault(name, []).append(positioned(node))
        return found

    @cached_property
    def loops(self) -> list[ast.For | ast.AsyncFor | ast.While]:
        return [node for node in self.nodes() if isinstance(node, LOOPS)]

    def value_before(self, name: str, use: ast.AST,
                     through_augmented: bool = False) -> ast.expr | None:
        """The value `name` certainly holds where `use` is, or None: the last binding
        before it is a plain assignment in a block that holds the use, and no binding
        later in a loop around the use can come back to it. `through_augmented` passes
        over `name -= ...` and the like: on a tensor they work in place and keep the
        object, so its origin (a leaf, a model's output) stays what it was."""
        line = getattr(use, "lineno", 0)
        bindings = self.bindings(name)
        if not bindings and self.module is not None and name not in self.parameters:
            return self.module.only_value(name)
        bindings = [b for b in bindings
                    if not (through_augmented and isinstance(b, ast.AugAssign))]
        before = [b for b in bindings if precedes(b, use)]
        if not before:
            return None
        last = max(before, key=lambda b: (getattr(b, "lineno", 0), getattr(b, "col_offset", 0)))
        value = assigned_value(last, name)
        use_statement = self.statement_of.get(use, use)
        if value is None or not isinstance(use_statement, ast.stmt):
            return None
        assigned_in = self.path_of.get(last, None)  # type: ignore[call-overload]
        used_in = self.path_of.get(use_statement)
        if assigned_in is None or used_in is None or used_in[:len(assigned_in)] != assigned_in:
            return None  # assigned in a branch or loop that does not hold the use
        loops = [n for n in self.loops if n.lineno <= line <= (n.end_lineno or n.lineno)]
        if any(loop.lineno <= getattr(b, "lineno", 0) <= (loop.end_lineno or loop.lineno)
               for loop in loops for b in bindings if getattr(b, "lineno", 0) >= line):
            return None
        return value

    def only_value(self, name: str) -> ast.expr | None:
        """A global's value as a function sees it: one plain top-level assignment, no other
        binding in the module, and no function declaring it `global`."""
        bindings = self.bindings(name)
        if len(bindings) != 1 or not isinstance(bindings[0], ast.Assign):
            return None
        assignment = bindings[0]
        if self.path_of.get(assignment) != ():
            return None
        if any(isinstance(node, ast.Global) and name in node.names
               for statement in self.body for node in ast.walk(statement)):
            return None
        return assigned_value(assignment, name)

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


def precedes(binding: ast.AST, use: ast.AST) -> bool:
    """The binding starts before the use, and, for an assignment, ends before it too
    (`y = 2 * x; y.backward()` on one line; in `y = y * 2` the `y` read is not yet the
    new one). A loop's binding holds its body's uses and stays a candidate."""
    start = (getattr(use, "lineno", 0), getattr(use, "col_offset", 0))
    if (getattr(binding, "lineno", 0), getattr(binding, "col_offset", 0)) >= start:
        return False
    if isinstance(binding, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return (binding.end_lineno or 0, binding.end_col_offset or 0) <= start
    return True


def assigned_value(binding: ast.AST, name: str) -> ast.expr | None:
    """What a plain assignment gives `name`: `name = v`, `name: T = v`, or its own item of
    `a, name = v1, v2`; None for any other binding (unpacking an unknown value, `+=`...)."""
    if isinstance(binding, ast.AnnAssign):
        return binding.value
    if not isinstance(binding, ast.Assign) or len(binding.targets) != 1:
        return None
    target, value = binding.targets[0], binding.value
    if isinstance(target, ast.Name):
        return value
    if not (isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))):
        return None
    items = [v for t, v in zip(target.elts, value.elts, strict=True)
             if isinstance(t, ast.Name) and t.id == name]
    return items[0] if len(items) == 1 else None


def runs_through(statement: ast.stmt) -> bool:
    """A `with` whose managers never swallow an exception (grad modes, autocast): what its
    body assigns reaches the code after it, as if there were no block."""
    return isinstance(statement, (ast.With, ast.AsyncWith)) and all(
        isinstance(item.context_expr, ast.Call)
        and call_name(item.context_expr).split(".")[-1] in PLAIN_MANAGERS
        for item in statement.items)


def own_nodes(statement: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a statement, not entering nested functions, classes or lambdas (a
    `def` statement itself gives its decorators and defaults, which run here, not its body)."""
    pending = [statement]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, NESTED)
                       and not (isinstance(node, NESTED) and isinstance(child, ast.stmt)))


def positioned(binding: ast.AST) -> ast.AST:
    """A binding with a place in the file: `with ... as y` and a comprehension's `for y in`
    have none of their own, their target has (with no value that can be known)."""
    if isinstance(binding, ast.withitem) and binding.optional_vars is not None:
        return binding.optional_vars
    return binding.target if isinstance(binding, ast.comprehension) else binding


def bound_names(node: ast.AST) -> list[str]:
    """The names a node binds: an assignment's or a loop's targets, `global x`, `del x`,
    `except E as x`, an import, a match capture..."""
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names
                if alias.name != "*"]
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    targets: list[ast.expr] = []
    if isinstance(node, (ast.Assign, ast.Delete)):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
                           ast.comprehension)):
        targets = [node.target]
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        targets = [node.optional_vars]
    return [name for target in targets for name in target_names(target)]


def target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for item in target.elts:
            yield from target_names(item)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def scopes(tree: ast.Module) -> Iterator[Scope]:
    return iter(module_scopes(tree))


@lru_cache(maxsize=2)  # every detector asks, one after the other, about the same file
def module_scopes(tree: ast.Module) -> tuple[Scope, ...]:
    return tuple(new_scopes(tree))


def new_scopes(tree: ast.Module) -> Iterator[Scope]:
    module = Scope(tree.body)
    yield module
    methods: set[ast.AST] = set()  # found once: asking is_method per function is quadratic
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    methods.add(item)
                    yield Scope(item.body, node, module, arguments(item))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node not in methods:
            yield Scope(node.body, module=module, parameters=arguments(node))


def arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    spec = function.args
    named = [*spec.posonlyargs, *spec.args, *spec.kwonlyargs, spec.vararg, spec.kwarg]
    return frozenset(a.arg for a in named if a is not None)


def is_method(tree: ast.Module, function: ast.AST) -> bool:
    return any(isinstance(node, ast.ClassDef) and function in node.body
               for node in ast.walk(tree))


def attribute_values(owner: ast.ClassDef, attr: str) -> list[ast.expr]:
    """The values assigned to `self.<attr>` anywhere in the class."""
    return list(assigned_attributes(owner).get(attr, ()))


def assigned_attributes(owner: ast.ClassDef) -> dict[str, list[ast.expr]]:
    """The values assigned to each `self.<attr>` anywhere in the class, found in one pass
    (for a detector that asks about many attributes of a long class)."""
    values: dict[str, list[ast.expr]] = {}
    for node in ast.walk(owner):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self"):
                    values.setdefault(target.attr, []).append(node.value)
    return values


def call_name(call: ast.Call) -> str:
    """`torch.nn.functional.relu` for that call, `x.exp` for a method; '' when unnamed."""
    try:
        return ast.unparse(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else ""
    except (ValueError, RecursionError):
        return ""


def dotted_name(call: ast.Call) -> str:
    """`torch.nn.functional.relu` for a call of a plain dotted name; '' for a method of a
    computed value (`torch.randn(3).long()` is no torch function)."""
    node = call.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def keyword(call: ast.Call, name: str, raw: bool = False) -> object:
    """The constant value of keyword `name` (the node itself with `raw`), or None."""
    for item in call.keywords:
        if item.arg == name:
            if raw:
                return item.value
            return item.value.value if isinstance(item.value, ast.Constant) else None
    return None
