"""Find the line that really caused an error, by reading the user's code with `ast`.

The traceback names the line where torch noticed the problem (`loss.backward()`); the cause
is usually elsewhere: a `torch.no_grad()` block ten lines up, a `.detach()` in a helper, an
in-place `+=` in the model's forward in another module. This module follows the data the
failing statement uses backwards through assignments (into local helper functions and
into `forward` of model classes defined in the user's files, including sibling modules it
imports) and reports the statements that match what a cause describes.

Finders are named and registered in FINDERS; knowledge entries refer to them from a cause
(`finder: no-grad-block`). A finder returns evidence lines, most relevant first; an empty
list means the code does not show that cause. Nothing here imports torch; a file that does
not parse gives no evidence, never an error.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradexplain.frames import is_user_file, parse_source, read_source_file, without_comments

MAX_MODULES = 16  # user files followed through imports
MAX_SLICE = 400  # statements visited while following data backwards
MAX_EVIDENCE = 5


@dataclass(frozen=True)
class Line:
    """One piece of evidence: a statement of the user's code."""

    file: str
    line: int
    code: str


@dataclass
class Module:
    path: Path
    tree: ast.Module
    lines: list[str]
    parents: dict[ast.AST, ast.AST]

    def line(self, node: ast.AST) -> Line:
        number = getattr(node, "lineno", 1)
        text = self.lines[number - 1].strip() if 0 < number <= len(self.lines) else ""
        return Line(str(self.path), number, text)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node


def parse_module(path: Path) -> Module | None:
    source = read_source_file(str(path))
    tree = parse_source(source) if source is not None else None
    if source is None or tree is None:
        return None
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return Module(path, tree, without_comments(source).splitlines(), parents)


@dataclass
class Program:
    """The failing file and the user's modules it imports, parsed on demand."""

    main: Module
    modules: dict[Path, Module | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> Program | None:
        module = parse_module(Path(path))
        if module is None:
            return None
        return cls(module, {module.path: module})

    def imported(self, module: Module, name: str) -> tuple[Module, str] | None:
        """Where `name` comes from when `module` imports it from a sibling user file."""
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        found = self.sibling(module, node.module)
                        return (found, alias.name) if found else None
        return None

    def sibling(self, module: Module, dotted: str) -> Module | None:
        path = module.path.parent.joinpath(*dotted.split(".")).with_suffix(".py")
        if path not in self.modules:
            if len(self.modules) >= MAX_MODULES or not is_user_file(str(path)):
                return None
            self.modules[path] = parse_module(path)
        return self.modules[path]

    def all_modules(self) -> list[Module]:
        """The main file and every sibling module it imports by `from X import ...`."""
        for node in ast.walk(self.main.tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                self.sibling(self.main, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.sibling(self.main, alias.name)
        return [m for m in self.modules.values() if m is not None]


@dataclass(frozen=True)
class Site:
    """Where the error was raised: the statement, and the facts parsed from the message."""

    program: Program
    line: int
    facts: dict[str, Any]

    @property
    def module(self) -> Module:
        return self.program.main

    def statement(self) -> ast.stmt | None:
        return statement_at(self.module.tree, self.line)


def statement_at(tree: ast.AST, line: int) -> ast.stmt | None:
    """The innermost statement whose lines include `line`."""
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        spans = node.lineno <= line <= (node.end_lineno or 0)
        if spans and (best is None or node.lineno >= best.lineno):
            best = node
    return best


def scope_of(module: Module, node: ast.AST) -> ast.AST:
    for parent in module.ancestors(node):
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            return parent
    return module.tree


def dotted(node: ast.AST) -> str | None:
    """`loss`, `self.hidden`: the name an expression refers to, if it is a plain name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def names_in(node: ast.AST) -> set[str]:
    """Every plain and dotted name an expression reads (`self.h` gives `self.h` and `self`)."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, (ast.Name, ast.Attribute)):
            name = dotted(child)
            if name:
                found.add(name)
    return found


def assigned_names(stmt: ast.stmt) -> set[str]:
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars]
    names = set()
    for target in targets:
        for node in ast.walk(target):
            name = dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            if name and isinstance(getattr(node, "ctx", None), ast.Store):
                names.add(name)
    return names


def value_of(stmt: ast.stmt) -> ast.AST | None:
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return stmt.value
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return stmt.iter
    if isinstance(stmt, ast.Return):
        return stmt.value
    return None


def statements(scope: ast.AST) -> list[ast.stmt]:
    """The scope's statements in source order, nested blocks included, nested functions and
    classes not."""
    found: list[ast.stmt] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            found.append(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for name in ("body", "orelse", "finalbody"):
                visit(getattr(stmt, name, []) or [])
            for handler in getattr(stmt, "handlers", []) or []:
                visit(handler.body)

    visit(getattr(scope, "body", []))
    return found


def enclosing_loop(module: Module, node: ast.AST, scope: ast.AST) -> ast.stmt | None:
    for parent in module.ancestors(node):
        if parent is scope:
            return None
        if isinstance(parent, (ast.For, ast.AsyncFor, ast.While)):
            return parent
    return None


def inside(node: ast.AST, block: ast.AST) -> bool:
    return (getattr(block, "lineno", 0) <= getattr(node, "lineno", -1)
            <= (getattr(block, "end_lineno", 0) or 0))


@dataclass(frozen=True)
class Step:
    """A statement on the path from the data to the failing statement."""

    module: Module
    stmt: ast.stmt
    carried: bool = False  # assigned later in the loop: its value comes from the last iteration


def backward_roots(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement back-propagates from (`loss` in `loss.backward()`,
    `accelerator.backward(loss)`, `torch.autograd.grad(out, ...)`)."""
    roots: list[ast.AST] = []
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        receiver = dotted(node.func.value) or ""
        if name == "backward" and (node.args and receiver.split(".")[-1] in (
                "autograd", "accelerator", "engine", "model_engine", "fabric", "self")):
            roots.append(node.args[0])
        elif name == "backward":
            roots.append(node.func.value)
        elif name in ("grad", "manual_backward") and node.args:
            roots.append(node.args[0])
    return roots


def data_path(site: Site, seeds: set[str]) -> list[Step]:
    """The statements whose results flow into `seeds` at the failing line, nearest first:
    assignments in the same scope (in a loop, also those later in the loop body, which feed
    the next iteration), then the bodies of local helpers and `forward` methods they call."""
    module = site.module
    stmt = site.statement()
    if stmt is None:
        return []
    scope = scope_of(module, stmt)
    steps: list[Step] = []
    followed: set[int] = set()
    follow_scope(site.program, module, scope, stmt, seeds, steps, followed)
    return steps


def follow_scope(program: Program, module: Module, scope: ast.AST, at: ast.stmt,
                 seeds: set[str], steps: list[Step], followed: set[int]) -> None:
    body = statements(scope)
    loop = enclosing_loop(module, at, scope)
    wanted = set(seeds)
    seen: set[int] = set()
    frontier = list(wanted)
    while frontier and len(steps) < MAX_SLICE:
        name = frontier.pop()
        for stmt, carried in definitions(module, body, name, at, loop):
            if id(stmt) in seen:
                continue
            seen.add(id(stmt))
            steps.append(Step(module, stmt, carried))
            value = value_of(stmt)
            used = names_in(value) if value is not None else set()
            if isinstance(stmt, ast.AugAssign):
                used |= assigned_names(stmt)
            for new in sorted(used - wanted):
                wanted.add(new)
                frontier.append(new)
            if value is not None:
                follow_calls(program, module, value, steps, followed)


def definitions(module: Module, body: list[ast.stmt], name: str, at: ast.stmt,
                loop: ast.stmt | None) -> Iterator[tuple[ast.stmt, bool]]:
    """The assignments to `name` that can reach `at`: the last one before it, and in a loop
    the ones after it in the loop body (they feed the next iteration)."""
    before = [s for s in body if s.lineno < at.lineno and name in assigned_names(s)
              and not contains(s, at)]
    if before:
        yield before[-1], False
        if isinstance(before[-1], ast.AugAssign):  # `total += loss` keeps the older value too
            yield from ((s, False) for s in before[:-1][-2:])
    if loop is not None:
        for stmt in body:
            if stmt.lineno > at.lineno and inside(stmt, loop) and name in assigned_names(stmt):
                yield stmt, True


def contains(outer: ast.stmt, inner: ast.stmt) -> bool:
    return outer is not inner and inside(inner, outer)


def follow_calls(program: Program, module: Module, value: ast.AST, steps: list[Step],
                 followed: set[int]) -> None:
    """Into the functions the expression calls that the user defined: a helper's return
    value, or a model's forward() when a name was bound to an instance of a local class."""
    for node in ast.walk(value):
        if not isinstance(node, ast.Call):
            continue
        for target_module, function in resolve(program, module, node.func):
            if id(function) in followed or len(followed) > MAX_MODULES * 4:
                continue
            followed.add(id(function))
            for ret in statements(function):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    steps.append(Step(target_module, ret))
                    follow_scope(program, target_module, function, ret, names_in(ret.value),
                                 steps, followed)


def resolve(program: Program, module: Module,
            func: ast.AST) -> Iterator[tuple[Module, ast.FunctionDef]]:
    """The user-defined functions a call may run."""
    name = dotted(func)
    if name is None:
        return
    head, _, attr = name.partition(".")
    if not attr:
        yield from defined(program, module, head, "forward")
    elif head == "self":
        cls = next((p for p in module.ancestors(func) if isinstance(p, ast.ClassDef)), None)
        if cls is not None:
            method = method_of(cls, attr.split(".")[0])
            if method is not None:
                yield module, method
            else:  # `self.encoder(x)`: the submodule's class is unknown; look for forward()
                yield from defined(program, module, None, "forward", attr.split(".")[0])


def defined(program: Program, module: Module, name: str | None, method: str,
            attribute: str | None = None) -> Iterator[tuple[Module, ast.FunctionDef]]:
    """`name` as a function of the user's, or as an instance of a user class (its
    `method`); `attribute` finds the class assigned to `self.<attribute>`."""
    if attribute is not None:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and any(
                    dotted(t) == f"self.{attribute}" for t in node.targets):
                cls_name = dotted(node.value.func)
                if cls_name and "." not in cls_name:
                    yield from defined(program, module, cls_name, method)
        return
    assert name is not None
    for target_module, node in find_definition(program, module, name):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield target_module, node  # type: ignore[misc]
        elif isinstance(node, ast.ClassDef):
            found = method_of(node, method)
            if found is not None:
                yield target_module, found
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            cls_name = dotted(node.value.func)
            if cls_name and "." not in cls_name and cls_name != name:
                yield from defined(program, target_module, cls_name, method)


def find_definition(program: Program, module: Module,
                    name: str) -> Iterator[tuple[Module, ast.AST]]:
    for node in module.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                yield module, node
        elif isinstance(node, ast.Assign) and name in assigned_names(node):
            yield module, node
    origin = program.imported(module, name)
    if origin is not None:
        other, original = origin
        for node in other.tree.body:
            if getattr(node, "name", None) == original:  # a def or class statement
                yield other, node


def method_of(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def path_from_roots(site: Site) -> list[Step]:
    stmt = site.statement()
    if stmt is None:
        return []
    seeds: set[str] = set()
    for root in backward_roots(stmt):
        seeds |= names_in(root)
    return data_path(site, seeds) if seeds else []


# ---- finders -------------------------------------------------------------------------

GRAD_OFF_CALLS = re.compile(
    r"(?:^|\.)(?:no_grad|inference_mode)$|(?:^|\.)set_grad_enabled$")


def grad_off(call: ast.AST) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`."""
    if not isinstance(call, ast.Call):
        name = dotted(call)
        return bool(name and re.search(r"(?:^|\.)(?:no_grad|inference_mode)$", name))
    name = dotted(call.func) or ""
    if not GRAD_OFF_CALLS.search(name):
        return False
    if name.endswith("set_grad_enabled"):
        return bool(call.args) and isinstance(call.args[0], ast.Constant) and \
            call.args[0].value is False
    if name.endswith("inference_mode") and call.args:
        return not (isinstance(call.args[0], ast.Constant) and call.args[0].value is False)
    return True


def grad_off_around(module: Module, stmt: ast.stmt) -> ast.AST | None:
    """The `with torch.no_grad():` block or the decorated function around `stmt`, if any."""
    for parent in module.ancestors(stmt):
        if isinstance(parent, (ast.With, ast.AsyncWith)) and any(
                grad_off(item.context_expr) for item in parent.items):
            return parent
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in parent.decorator_list:
                if grad_off(decorator):
                    return decorator
    return None


def find_no_grad_block(site: Site) -> list[Line]:
    """no-grad-fn: a statement on the path ran with grad mode off."""
    found: list[Line] = []
    for step in path_from_roots(site):
        block = grad_off_around(step.module, step.stmt)
        if block is not None:
            found.append(step.module.line(block))
            found.append(step.module.line(step.stmt))
    stmt = site.statement()
    if stmt is not None:  # torch.set_grad_enabled(False) as a statement earlier on
        scope = scope_of(site.module, stmt)
        for earlier in statements(scope):
            if earlier.lineno < stmt.lineno and isinstance(earlier, ast.Expr) and \
                    isinstance(earlier.value, ast.Call) and grad_off(earlier.value):
                found.append(site.module.line(earlier))
    return unique(found)


def find_on_path(pattern: re.Pattern[str]) -> Callable[[Site], list[Line]]:
    def finder(site: Site) -> list[Line]:
        found = []
        for step in path_from_roots(site):
            value = value_of(step.stmt)
            if value is not None and any(pattern.search(term) for term in terms(value)):
                found.append(step.module.line(step.stmt))
        return unique(found)

    return finder


def terms(node: ast.AST) -> Iterator[str]:
    """Call and attribute names in an expression: `.detach()`, `torch.tensor(`, `.data`."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            name = dotted(child.func)
            if name:
                yield name + "("
            elif isinstance(child.func, ast.Attribute):
                yield "." + child.func.attr + "("
        elif isinstance(child, ast.Attribute):
            yield "." + child.attr


DETACHED = re.compile(r"\.detach\($|\.detach_\($|\.data$")
PYTHON_NUMBER = re.compile(
    r"\.(?:item|numpy|tolist)\($|^(?:torch\.)?(?:tensor|as_tensor|from_numpy|Tensor|"
    r"FloatTensor)\($|^(?:float|int)\($")
NON_DIFFERENTIABLE = re.compile(
    r"(?:^|\.)(?:argmax|argmin|round|sign|floor|ceil|long|int|bool)\($")


def find_frozen(site: Site) -> list[Line]:
    """no-grad-fn: parameters frozen anywhere in the user's files."""
    found = []
    for module in site.program.all_modules():
        for node in ast.walk(module.tree):
            if frozen(node):
                found.append(module.line(node))
    return unique(found)


def frozen(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "requires_grad_":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and \
            node.args[0].value is False
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
            node.value.value is False:
        return any(isinstance(t, ast.Attribute) and t.attr == "requires_grad"
                   for t in node.targets)
    return False


def find_carried_state(site: Site) -> list[Line]:
    """backward-twice: a value assigned in the loop from its own previous value (a hidden
    state, a running total) flows into the backward() call."""
    found = []
    for step in path_from_roots(site):
        names = assigned_names(step.stmt)
        value = value_of(step.stmt)
        reads_itself = value is not None and bool(names & names_in(value))
        if isinstance(step.stmt, ast.AugAssign) or reads_itself:
            loop = enclosing_loop(step.module, step.stmt, scope_of(step.module, step.stmt))
            if loop is not None and not names & detached_in(loop):
                found.append(step.module.line(step.stmt))
    return unique(found)


def detached_in(loop: ast.AST) -> set[str]:
    """Names the loop cuts from their history: `h = h.detach()`, `h.detach_()`,
    `h = tuple(t.detach() for t in h)`."""
    names: set[str] = set()
    for node in ast.walk(loop):
        if isinstance(node, ast.stmt) and detached_value(value_of(node)):
            names |= assigned_names(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "detach_":
            names.add(dotted(node.func.value) or "")
    return names


def detached_value(value: ast.AST | None) -> bool:
    return value is not None and any(DETACHED.search(t) for t in terms(value))


def find_earlier_backward(site: Site) -> list[Line]:
    """backward-twice: another backward() earlier in the same scope (or the same loop body)
    back-propagates from data that shares statements with this one's."""
    stmt = site.statement()
    if stmt is None:
        return []
    scope = scope_of(site.module, stmt)
    mine = {id(step.stmt) for step in path_from_roots(site)}
    found = []
    for earlier in statements(scope):
        if earlier.lineno >= stmt.lineno or not backward_roots(earlier) or contains(earlier, stmt):
            continue
        theirs = path_from_roots(Site(site.program, earlier.lineno, site.facts))
        if mine & {id(step.stmt) for step in theirs}:
            found.append(site.module.line(earlier))
    return unique(found)


FACTORY = re.compile(
    r"^(?:torch\.)?(?:zeros|ones|empty|full|rand|randn|randint|randperm|arange|linspace|eye|"
    r"tensor|as_tensor|from_numpy|load|zeros_like|ones_like|randn_like|empty_like|manual_seed)\($"
    r"|^(?:range|len|list|dict|tuple|enumerate|zip|iter|next|open|print|float|int|str)\($"
    r"|(?:^|\.)(?:DataLoader|to|cuda|cpu|detach|numpy|item|parameters|named_parameters)\($")


def find_computed_before_loop(site: Site) -> list[Line]:
    """backward-twice: a value computed from a call before the training loop, and not
    recomputed in it, flows into every iteration's backward()."""
    stmt = site.statement()
    if stmt is None:
        return []
    scope = scope_of(site.module, stmt)
    loop = enclosing_loop(site.module, stmt, scope)
    if loop is None:
        return []
    found = []
    for step in path_from_roots(site):
        value = value_of(step.stmt)
        if (step.module is not site.module or value is None or inside(step.stmt, loop)
                or step.stmt.lineno > loop.lineno or isinstance(step.stmt, ast.Return)):
            continue
        calls = [dotted(c.func) or "" for c in ast.walk(value) if isinstance(c, ast.Call)]
        computed = [c for c in calls if c and not c.split(".")[-1][:1].isupper()
                    and not FACTORY.search(c + "(")]
        if computed and not detached_value(value):
            found.append(site.module.line(step.stmt))
    return unique(found)


INPLACE_METHOD = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]_$")
NOT_INPLACE = {"requires_grad_", "zero_grad_", "retain_grad_", "share_memory_", "set_",
               "register_", "apply_", "record_stream_"}


def inplace_target(node: ast.AST) -> str | None:
    """The tensor an in-place statement or call changes, if `node` is one."""
    if isinstance(node, ast.AugAssign):
        return dotted(node.target)
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) for t in node.targets):
        target = next(t for t in node.targets if isinstance(t, ast.Subscript))
        return dotted(base_of(target))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if INPLACE_METHOD.match(node.func.attr) and node.func.attr not in NOT_INPLACE:
            return dotted(base_of(node.func.value)) or "?"
        if any(k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in node.keywords):
            return "?"
    if isinstance(node, ast.Call) and any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords):
        return "?"
    return None


def base_of(node: ast.AST) -> ast.AST:
    """`w[0]` -> `w`: the tensor an indexed expression views."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


def find_inplace_on_saved(site: Site) -> list[Line]:
    """inplace-modified-saved: in-place statements in the user's files; those on a value
    produced by the operation the message names (`output 0 of ReluBackward0`) first."""
    op = str(site.facts.get("op") or "").lower()
    produced_by_op: list[Line] = []
    others: list[Line] = []
    for module in site.program.all_modules():
        for node in ast.walk(module.tree):
            target = inplace_target(node)
            if target is None or in_no_grad_update(module, node):
                continue
            stmt = node if isinstance(node, ast.stmt) else enclosing_stmt(module, node)
            line = module.line(stmt)
            if op and target != "?" and produced_by(module, stmt, target, op):
                produced_by_op.append(line)
            else:
                others.append(line)
    return unique(produced_by_op or others)


def enclosing_stmt(module: Module, node: ast.AST) -> ast.stmt:
    for parent in module.ancestors(node):
        if isinstance(parent, ast.stmt):
            return parent
    return module.tree.body[0]


def in_no_grad_update(module: Module, node: ast.AST) -> bool:
    """In-place updates under torch.no_grad() (an optimizer step by hand) are not the
    forward-pass mutations this error is about."""
    stmt = node if isinstance(node, ast.stmt) else enclosing_stmt(module, node)
    return grad_off_around(module, stmt) is not None


def produced_by(module: Module, stmt: ast.stmt, target: str, op: str) -> bool:
    """Was `target` last assigned, before `stmt`, from an expression that calls `op`?"""
    scope = scope_of(module, stmt)
    earlier = [s for s in statements(scope) if s.lineno < stmt.lineno
               and target in assigned_names(s)]
    if not earlier:
        return False
    value = value_of(earlier[-1])
    return value is not None and any(op in term.lower() for term in terms(value))


def find_view_source(site: Site) -> list[Line]:
    """view-inplace: where the tensor modified in place became a view (`a, b = x.chunk(2)`,
    `row = weight[0]`), and the in-place statement itself."""
    stmt = site.statement()
    if stmt is None:
        return []
    targets = [t for node in ast.walk(stmt) if (t := inplace_target(node)) not in (None, "?")]
    found = []
    scope = scope_of(site.module, stmt)
    for target in targets:
        assert target is not None
        base = target.split(".")[0]
        for earlier, _ in definitions(site.module, statements(scope), base, stmt, None):
            found.append(site.module.line(earlier))
    if targets:
        found.append(site.module.line(stmt))
    return unique(found)


def unique(lines: list[Line]) -> list[Line]:
    seen: set[tuple[str, int]] = set()
    kept = []
    for line in lines:
        if (line.file, line.line) not in seen:
            seen.add((line.file, line.line))
            kept.append(line)
    return kept[:MAX_EVIDENCE]


FINDERS: dict[str, Callable[[Site], list[Line]]] = {
    "no-grad-block": find_no_grad_block,
    "detach-on-path": find_on_path(DETACHED),
    "python-number-on-path": find_on_path(PYTHON_NUMBER),
    "non-differentiable-on-path": find_on_path(NON_DIFFERENTIABLE),
    "frozen-parameters": find_frozen,
    "carried-state": find_carried_state,
    "earlier-backward": find_earlier_backward,
    "computed-before-loop": find_computed_before_loop,
    "inplace-on-saved": find_inplace_on_saved,
    "view-source": find_view_source,
}


def find(name: str, file: str, line: int, facts: dict[str, Any],
         programs: dict[str, Program | None] | None = None) -> list[Line]:
    """Run one finder on the failing file; never raises (a finder bug must not cost the
    user the explanation)."""
    cache = programs if programs is not None else {}
    if file not in cache:
        cache[file] = Program.load(file)
    program = cache[file]
    if program is None:
        return []
    try:
        return FINDERS[name](Site(program, line, facts))
    except Exception:  # noqa: BLE001 - a finder's bug must not cost the user the explanation
        return []
