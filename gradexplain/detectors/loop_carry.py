"""What a loop carries from one iteration to the next: the analysis that the anti-fix
retain-graph-in-loop and the detector state-carried-into-backward share.

A variable is carried when the loop body assigns it from a computation that reads its own
previous value (a recurrent state, a running total, an EMA) and nothing cuts it off the graph
(`.detach()`, `repackage_hidden`, an assignment under no_grad) or assigns it afresh at the
top of each iteration. `carried_into` answers this from the body's assignments taken in any
order, which is enough where the code itself says a graph was carried (retain_graph=True);
state-carried-into-backward adds the order of the statements and what certainly builds a
graph (gradexplain/detectors/carried_state.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

from gradexplain.detectors.scopes import bound_names, keyword, own_nodes

GRAPH_CUTS = {"detach", "detach_", "item", "tolist", "numpy", "size", "dim", "numel"}
# results that carry no graph: integers, booleans, copies
NO_GRAPH_FUNCTIONS = {"argmax", "argmin", "argsort", "long", "int", "bool", "byte", "nonzero",
                      "eq", "ne", "gt", "ge", "lt", "le", "isnan", "isinf", "isfinite",
                      "tensor", "from_numpy", "randint", "multinomial", "bernoulli",
                      "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
                      "randn_like", "randint_like", "new_zeros", "new_ones", "new_empty",
                      "new_full", "new_tensor"}
NUMBER_BUILTINS = {"float", "int", "len", "round", "bool", "str", "range", "isinstance", "id",
                   "print", "hasattr"}
PASS_THROUGH = {"enumerate", "zip", "list", "tuple", "dict", "sum", "min", "max", "abs",
                "getattr"}  # builtins that carry what they are given without computing
NO_GRAD = re.compile(r"no_grad|inference_mode|set_grad_enabled")
DETACHING = re.compile(r"detach|repackage")
FUNCTION_CUTS = re.compile(r"detach|repackage|no_grad|inference_mode|set_grad_enabled|\.data\b")


def backward_target(call: ast.Call) -> ast.expr | None:
    """What a backward pass starts from: `t` of `t.backward()`, `torch.autograd.backward(t)`,
    `torch.autograd.grad(t, ...)`, `accelerator.backward(t)`, `self.manual_backward(t)`."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    receiver = ast.unparse(func.value)
    if func.attr == "grad" and receiver.endswith("autograd"):
        return first_argument(call, "outputs")
    if func.attr == "manual_backward" or (func.attr == "backward" and (
            receiver.endswith("autograd") or "accelerator" in receiver or "fabric" in receiver)):
        return first_argument(call, "tensors")
    return func.value if func.attr == "backward" else None


def first_argument(call: ast.Call, name: str) -> ast.expr | None:
    value = call.args[0] if call.args else keyword(call, name, raw=True)
    return value if isinstance(value, ast.expr) else None


def backward_calls(loop: ast.AST) -> list[ast.Call]:
    """The backward passes anywhere in the loop's body (not in functions defined there)."""
    return [node for statement in loop_body(loop) for node in own_nodes(statement)
            if isinstance(node, ast.Call) and backward_target(node) is not None]


def innermost_loop(loops: Sequence[ast.AST], call: ast.Call) -> ast.AST | None:
    """The loop whose body (not its header or `else`) holds the call most closely."""
    holding = [loop for loop in loops if body_lines(loop)[0] <= call.lineno
               <= body_lines(loop)[1]]
    return max(holding, key=lambda loop: getattr(loop, "lineno", 0), default=None)


def body_lines(loop: ast.AST) -> tuple[int, int]:
    body = loop_body(loop)
    return body[0].lineno, body[-1].end_lineno or body[-1].lineno


def loop_body(loop: ast.AST) -> list[ast.stmt]:
    return list(getattr(loop, "body", []))


def key_of(node: ast.AST) -> str | None:
    """A variable the analysis follows: a name, or `self.<attr>`."""
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "self"):
        return f"self.{node.attr}"
    return None


def bindings_in(loop: ast.AST) -> dict[str, list[ast.stmt]]:
    """The assignments in the loop's body, by the variables they bind."""
    found: dict[str, list[ast.stmt]] = {}
    for statement in loop_body(loop):
        for node in own_nodes(statement):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for key in (key for target in targets for key in target_keys(target)):
                    found.setdefault(key, []).append(node)
    return found


def target_keys(target: ast.expr) -> Iterator[str]:
    """The variables an assignment target binds (`out, self.h`; not `buf[i]`)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for item in target.elts:
            yield from target_keys(item)
    elif isinstance(target, ast.Starred):
        yield from target_keys(target.value)
    elif (key := key_of(target)) is not None:
        yield key


def graph_reads(node: ast.AST) -> tuple[set[str], bool]:
    """The variables whose graph `node` may carry, and whether a call (a model, a loss, a
    tensor operation) computes on the way; `.detach()`, `.item()`, `len()`, `argmax()`,
    comparisons cut it."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in GRAPH_CUTS and isinstance(func, ast.Attribute) or (
                name in NUMBER_BUILTINS and isinstance(func, ast.Name)) or (
                name in NO_GRAPH_FUNCTIONS):
            return set(), False
        keys, _ = children_reads(node)
        return keys, not (isinstance(func, ast.Name) and func.id in PASS_THROUGH)
    if isinstance(node, ast.Attribute) and node.attr in ("data", "shape", "grad_fn") or (
            isinstance(node, ast.Compare)):  # a comparison's result is boolean: no graph
        return set(), False
    key = key_of(node)
    if key is not None and isinstance(getattr(node, "ctx", None), ast.Load):
        return {key}, False
    if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
        return comprehension_reads(node)
    if isinstance(node, ast.Lambda):
        return set(), False
    return children_reads(node)


def children_reads(node: ast.AST) -> tuple[set[str], bool]:
    keys: set[str] = set()
    computes = False
    for child in ast.iter_child_nodes(node):
        child_keys, child_computes = graph_reads(child)
        keys |= child_keys
        computes = computes or child_computes
    return keys, computes


def comprehension_reads(node: ast.GeneratorExp | ast.ListComp | ast.SetComp
                        ) -> tuple[set[str], bool]:
    """The element's reads; the iterables count only when the element carries their items
    (`tuple(s.detach() for s in state)` carries nothing)."""
    inner = {key for generator in node.generators for t in ast.walk(generator.target)
             if (key := key_of(t)) is not None}
    keys, computes = graph_reads(node.elt)
    if keys & inner:
        for generator in node.generators:
            iter_keys, iter_computes = graph_reads(generator.iter)
            keys |= iter_keys
            computes = computes or iter_computes
    return keys - inner, computes


def closure(node: ast.AST, bindings: dict[str, list[ast.stmt]]) -> tuple[set[str], bool]:
    """graph_reads followed through the loop's assignments, in any order (a loop comes
    back to its top)."""
    keys, computes = graph_reads(node)
    pending = list(keys)
    while pending:
        for statement in bindings.get(pending.pop(), []):
            more, more_computes = graph_reads(getattr(statement, "value", statement))
            if isinstance(statement, ast.AugAssign):
                more.add(key_of(statement.target) or "")
            computes = computes or more_computes
            pending += sorted(more - keys)
            keys |= more
    return keys, computes


def carried_into(target: ast.expr, loop: ast.AST, call: ast.Call,
                 tree: ast.Module) -> str | None:
    """A variable the loss depends on that brings the previous iteration's graph along."""
    bindings = bindings_in(loop)
    keys, _ = closure(target, bindings)
    return next((key for key in sorted(keys) if key in bindings
                 and carries_graph(key, loop, bindings, call, tree)), None)


def carries_graph(key: str, loop: ast.AST, bindings: dict[str, list[ast.stmt]],
                  call: ast.Call, tree: ast.Module) -> bool:
    """Assigned from a computation that reads its own previous value, not reset at the
    top of each iteration nor after the backward(), never detached or assigned under
    no_grad in the loop."""
    if (detached(key, loop, tree) or reset_each_iteration(key, loop)
            or any(statement.lineno > call.lineno and is_fresh(statement, key)
                   for statement in bindings[key])):
        return False
    for statement in bindings[key]:
        reads, computes = closure(getattr(statement, "value", statement), bindings)
        if (key in reads or isinstance(statement, ast.AugAssign)) and computes:
            return True
    return False


def mentions(node: ast.AST, key: str) -> bool:
    return any(key_of(child) == key for child in ast.walk(node))


def detached(key: str, loop: ast.AST, tree: ast.Module) -> bool:
    """Any simple statement that mentions `key` and detaches something, `.data` included,
    an assignment under no_grad, or a call of the file's own function that may cut it: then
    the carried value may well have no graph."""
    if cut_by_a_callee(key, loop, tree):
        return True
    for statement in loop_body(loop):
        for node in own_nodes(statement):
            if (isinstance(node, ast.With) and NO_GRAD.search(ast.unparse(node.items[0]))
                    and any(mentions(inner, key) for inner in node.body)):
                return True
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)) and (
                    mentions(node, key) and cuts_graph(node)):
                return True
    return False


def cuts_graph(statement: ast.stmt) -> bool:
    """A detaching function called or passed on (`map(torch.Tensor.detach, state)`), or
    `.data`."""
    return any((isinstance(node, ast.Attribute)
                and (node.attr == "data" or DETACHING.search(node.attr)))
               or (isinstance(node, ast.Name) and DETACHING.search(node.id))
               for node in ast.walk(statement))


def cut_by_a_callee(key: str, loop: ast.AST, tree: ast.Module) -> bool:
    """The body calls a function of the file (`f(...)`, `self.f(...)`) that rebinds `key`
    (`global h`, `self.h = None`) or is given it and detaches or turns grad off: what the
    body shows of `key` is then not all that happens to it."""
    functions = file_functions(tree)
    for statement in loop_body(loop):
        for node in own_nodes(statement):
            name = own_callee(node) if isinstance(node, ast.Call) else None
            if any(rebinds(function, key) or (mentions(node, key) and FUNCTION_CUTS.search(
                    ast.unparse(function))) for function in functions.get(name or "", [])):
                return True
    return False


def own_callee(call: ast.Call) -> str | None:
    """`f` of `f(...)` or `self.f(...)`: what may be a function defined in the file."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (
            func.value.id == "self"):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


@lru_cache(maxsize=2)
def file_functions(tree: ast.Module) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """The file's functions and methods by name, found among its statements only (a walk
    of every expression costs too much on a long file)."""
    found: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, []).append(node)
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, name, None)
            pending += inner if isinstance(inner, list) else []
    return found


def rebinds(function: ast.FunctionDef | ast.AsyncFunctionDef, key: str) -> bool:
    """`self.h = ...` in a method, or `h = ...` after `global h` / `nonlocal h`."""
    if key.startswith("self."):
        return any(key in target_keys(target) for node in ast.walk(function)
                   if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete))
                   for target in getattr(node, "targets", [getattr(node, "target", None)])
                   if target is not None)
    return any(isinstance(node, (ast.Global, ast.Nonlocal)) and key in node.names
               for node in ast.walk(function))


def loop_targets(loop: ast.AST) -> set[str]:
    """What a `for` loop's header binds afresh for each iteration (`for x, h in pairs`)."""
    return set(bound_names(loop)) if isinstance(loop, (ast.For, ast.AsyncFor)) else set()


def reset_each_iteration(key: str, loop: ast.AST) -> bool:
    """The loop's header binds `key`, or the first statement of the body that mentions it
    assigns it afresh."""
    if key in loop_targets(loop):
        return True
    for statement in straight_line(loop_body(loop)):
        if not mentions(statement, key):
            continue
        return is_fresh(statement, key)
    return False


def is_fresh(statement: ast.stmt, key: str) -> bool:
    """A plain assignment of `key` from a value that does not read it (`loss = 0`)."""
    value = getattr(statement, "value", None)
    return (isinstance(statement, (ast.Assign, ast.AnnAssign)) and value is not None
            and not mentions(value, key))


def straight_line(body: list[ast.stmt],
                  opens: Callable[[ast.With | ast.AsyncWith], bool] = lambda _: True
                  ) -> Iterator[ast.stmt]:
    """The statements that run in order every time: the `with` blocks that `opens` accepts
    opened (by default all of them)."""
    for statement in body:
        if isinstance(statement, (ast.With, ast.AsyncWith)) and opens(statement):
            yield from straight_line(statement.body, opens)
        else:
            yield statement


def advice(key: str, loop: ast.AST) -> str:
    """Detach a carried state; an accumulated loss is back-propagated once instead."""
    accumulated = any(isinstance(s, ast.AugAssign) or isinstance(getattr(s, "value", None),
                                                                  ast.BinOp)
                      for s in bindings_in(loop).get(key, []))
    if accumulated:
        return f"call backward() on each iteration's own loss, or once on `{key}` after the loop"
    return (f"detach `{key}` where each iteration starts (truncated back-propagation "
            "through time)")
