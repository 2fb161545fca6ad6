"""Anti-fixes: edits that silence an autograd error while training goes wrong.

requires-grad-on-loss: `loss.requires_grad = True`, `loss.requires_grad_()`, or rebuilding
the loss with `torch.tensor(loss, requires_grad=True)` / `Variable(loss, requires_grad=True)`.
The value must certainly be computed (a call or an operation, not a literal tensor, a factory
such as torch.zeros, an nn.Parameter or a module built from a class) and be a loss: named like
one or back-propagated itself afterwards; a value of unknown origin must be both. A loop
variable over `model.parameters()` (unfreezing) has no certain value and is never flagged;
a computed input marked for saliency or a gradient penalty is not a loss.

retain-graph-in-loop: `.backward(retain_graph=True)` that is the last backward of its loop's
body, where the loss depends on a variable carried from one iteration to the next with its
graph (assigned from a computation that reads its own previous value; not detached, not
assigned under no_grad, not reassigned afresh at the top of the body or after the backward).
Then the retained graph serves only the next iteration, which
back-propagates through it again. Without a visible carried variable the retained graph
may be legitimate (a Jacobian row by row, several heads over features built before the
loop) or only wasteful, so nothing is reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.scopes import LOOPS, Scope, call_name, keyword, own_nodes, scopes

LOSS_NAME = re.compile(r"(?i)\w*loss|loss_(?:[a-z]|\d+|total|sum|all)")
FACTORIES = {"zeros", "ones", "randn", "rand", "empty", "full", "arange", "linspace", "logspace",
             "eye", "randint", "randperm", "normal", "zeros_like", "ones_like", "randn_like",
             "rand_like", "empty_like", "full_like"}
REBUILDERS = {"torch.tensor", "torch.as_tensor", "torch.from_numpy", "torch.Tensor",
              "torch.FloatTensor", "torch.DoubleTensor", "Variable", "torch.autograd.Variable"}
CONVERSIONS = {"to", "float", "double", "half", "bfloat16", "cuda", "cpu", "clone", "detach",
               "contiguous", "view", "reshape", "squeeze", "unsqueeze", "type", "requires_grad_"}
COMPUTED, LEAF = "computed", "leaf"
MAX_DEPTH = 8


# requires-grad-on-loss

@dataclass(frozen=True)
class Marking:
    """A place that makes `name` require grad; `value` is what it marks."""

    node: ast.stmt
    code: str
    name: str
    value: ast.expr


def requires_grad_on_loss(module: Module) -> Iterator[Hit]:
    for scope in scopes(module.tree):
        for marking in markings(scope):
            if is_marked_loss(marking, scope):
                yield Hit(marking.node.lineno, marking.node.col_offset,
                          {"code": marking.code, "name": marking.name})


def is_marked_loss(marking: Marking, scope: Scope) -> bool:
    """A computed value named like a loss or back-propagated; an unknown one must be both."""
    kind = origin(marking.value, scope, marking.node, 0)
    if kind == LEAF:
        return False
    named = LOSS_NAME.fullmatch(marking.name) is not None
    backed = back_propagated(marking, scope)
    return (named or backed) if kind == COMPUTED else (named and backed)


def markings(scope: Scope) -> Iterator[Marking]:
    for node in scope.nodes():
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            yield from assigned_markings(node, node.targets[0])
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            receiver = marked_receiver(node.value)
            if isinstance(receiver, ast.Name):
                yield Marking(node, ast.unparse(node.value), receiver.id, receiver)


def assigned_markings(node: ast.Assign, target: ast.expr) -> Iterator[Marking]:
    """`x.requires_grad = True`, `x = <value>.requires_grad_()`, `x = torch.tensor(<value>,
    requires_grad=True)`."""
    if (isinstance(target, ast.Attribute) and target.attr == "requires_grad"
            and isinstance(target.value, ast.Name) and is_true(node.value)):
        yield Marking(node, ast.unparse(node), target.value.id, target.value)
    elif isinstance(target, ast.Name) and isinstance(node.value, ast.Call):
        marked = marked_receiver(node.value) or rebuilt_value(node.value)
        if marked is not None:
            yield Marking(node, ast.unparse(node.value), target.id, marked)


def marked_receiver(call: ast.Call) -> ast.expr | None:
    """`x` of `x.requires_grad_()` or `x.requires_grad_(True)`."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "requires_grad_"):
        return None
    flag = call.args[0] if call.args else keyword(call, "requires_grad", raw=True)
    return func.value if flag is None or is_true(flag) else None


def rebuilt_value(call: ast.Call) -> ast.expr | None:
    """`x` of `torch.tensor(x, requires_grad=True)` or `Variable(x, requires_grad=True)`."""
    if call_name(call) in REBUILDERS and call.args and keyword(call, "requires_grad") is True:
        return call.args[0]
    return None


def is_true(node: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def origin(node: ast.expr, scope: Scope, use: ast.AST, depth: int) -> str | None:
    """COMPUTED, LEAF (a literal, a factory, a parameter) or None when not certain."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Name):
        value = scope.value_before(node.id, use)
        return None if value is None else origin(value, scope, value, depth + 1)
    if isinstance(node, ast.Constant):
        return LEAF
    if isinstance(node, (ast.List, ast.Tuple)):
        return combined([origin(item, scope, use, depth + 1) for item in node.elts])
    if isinstance(node, ast.BinOp):
        return combined([origin(side, scope, use, depth + 1) for side in (node.left, node.right)])
    if isinstance(node, ast.UnaryOp):
        return origin(node.operand, scope, use, depth + 1)
    if isinstance(node, ast.Subscript):
        return origin(node.value, scope, use, depth + 1)
    if isinstance(node, ast.Attribute) and LOSS_NAME.fullmatch(node.attr):
        return COMPUTED  # outputs.loss
    if isinstance(node, ast.Call):
        return call_origin(node, scope, use, depth)
    return None


def call_origin(call: ast.Call, scope: Scope, use: ast.AST, depth: int) -> str | None:
    """A factory, a parameter or an object built from a class (`nn.MSELoss()`) is a leaf;
    a conversion or a rebuild (`torch.tensor(x)`) is whatever it converts; any other call
    computes."""
    name = call_name(call)
    if name in REBUILDERS:
        return origin(call.args[0], scope, use, depth + 1) if call.args else LEAF
    if name.startswith("torch.") and name[6:] in FACTORIES or name.split(".")[-1][:1].isupper():
        return LEAF
    func = call.func
    if (isinstance(func, ast.Attribute) and func.attr in CONVERSIONS
            and name != f"torch.{func.attr}"):
        return origin(func.value, scope, use, depth + 1)
    return COMPUTED


def combined(kinds: list[str | None]) -> str | None:
    if COMPUTED in kinds:
        return COMPUTED
    return None if None in kinds else LEAF


def back_propagated(marking: Marking, scope: Scope) -> bool:
    """`name` (as marked, not rebound since) is back-propagated after the marking."""
    start = marking.node.lineno
    for call in scope.calls():
        target = backward_target(call)
        if call.lineno <= start or not is_plain_loss(target, marking.name):
            continue
        rebound = [b for b in scope.bindings(marking.name)
                   if start < getattr(b, "lineno", 0) <= call.lineno]
        if not rebound:
            return True
    return False


def is_plain_loss(target: ast.expr | None, name: str) -> bool:
    """`loss`, `loss.mean()`, `loss / steps`, `scaler.scale(loss)`, `[loss]`."""
    while target is not None and not isinstance(target, ast.Name):
        target = unwrapped(target)
    return target is not None and target.id == name


def unwrapped(node: ast.expr) -> ast.expr | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("sum", "mean") and not node.args:
            return node.func.value
        if node.func.attr == "scale" and len(node.args) == 1:
            return node.args[0]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult)):
        return node.left if isinstance(node.right, (ast.Constant, ast.Name)) else None
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 1:
        return node.elts[0]
    return None


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


# retain-graph-in-loop

GRAPH_CUTS = {"detach", "detach_", "item", "tolist", "numpy", "size", "dim", "numel"}
NUMBER_BUILTINS = {"float", "int", "len", "round", "bool", "str", "range", "isinstance", "id",
                   "print", "hasattr"}
PASS_THROUGH = {"enumerate", "zip", "list", "tuple", "dict", "sum", "min", "max", "abs",
                "getattr"}  # builtins that carry what they are given without computing
NO_GRAD = re.compile(r"no_grad|inference_mode|set_grad_enabled")
DETACHING = re.compile(r"detach|repackage")


def retain_graph_in_loop(module: Module) -> Iterator[Hit]:
    for scope in scopes(module.tree):
        loops = [node for node in scope.nodes() if isinstance(node, LOOPS)]
        for call in scope.calls():
            target = retaining_backward(call)
            loop = None if target is None else innermost_loop(loops, call)
            if target is None or loop is None or backward_after(loop, call):
                continue
            carried = carried_into(target, loop, call)
            if carried is not None:
                yield Hit(call.lineno, call.col_offset,
                          {"name": ast.unparse(target), "carried": carried,
                           "advice": advice(carried, loop)})


def retaining_backward(call: ast.Call) -> ast.expr | None:
    """The target of a backward() (not autograd.grad) with retain_graph=True and no
    create_graph=True (a higher-order use keeps its graph on purpose)."""
    if keyword(call, "retain_graph") is not True or keyword(call, "create_graph") is True:
        return None
    is_grad = isinstance(call.func, ast.Attribute) and call.func.attr == "grad"
    return None if is_grad else backward_target(call)


def innermost_loop(loops: Sequence[ast.AST], call: ast.Call) -> ast.AST | None:
    """The loop whose body (not its header or `else`) holds the call most closely."""
    holding = [loop for loop in loops if body_lines(loop)[0] <= call.lineno
               <= body_lines(loop)[1]]
    return max(holding, key=lambda loop: getattr(loop, "lineno", 0), default=None)


def body_lines(loop: ast.AST) -> tuple[int, int]:
    body = loop_body(loop)
    return body[0].lineno, body[-1].end_lineno or body[-1].lineno


def backward_after(loop: ast.AST, call: ast.Call) -> bool:
    """Another backward pass later in the same iteration may need the retained graph."""
    position = (call.lineno, call.col_offset)
    return any(isinstance(node, ast.Call) and node is not call and backward_target(node)
               is not None and (node.lineno, node.col_offset) > position
               for statement in loop_body(loop) for node in own_nodes(statement))


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
    tensor operation) computes on the way; `.detach()`, `.item()`, `len()` cut it."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in GRAPH_CUTS and isinstance(func, ast.Attribute) or (
                name in NUMBER_BUILTINS and isinstance(func, ast.Name)):
            return set(), False
        keys, _ = children_reads(node)
        return keys, not (isinstance(func, ast.Name) and func.id in PASS_THROUGH)
    if isinstance(node, ast.Attribute) and node.attr in ("data", "shape", "grad_fn"):
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


def carried_into(target: ast.expr, loop: ast.AST, call: ast.Call) -> str | None:
    """A variable the loss depends on that brings the previous iteration's graph along."""
    bindings = bindings_in(loop)
    keys, _ = closure(target, bindings)
    return next((key for key in sorted(keys) if key in bindings
                 and carries_graph(key, loop, bindings, call)), None)


def carries_graph(key: str, loop: ast.AST, bindings: dict[str, list[ast.stmt]],
                  call: ast.Call) -> bool:
    """Assigned from a computation that reads its own previous value, not reset at the
    top of each iteration nor after the backward(), never detached or assigned under
    no_grad in the loop."""
    if (detached(key, loop) or reset_each_iteration(key, loop)
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


def detached(key: str, loop: ast.AST) -> bool:
    """Any simple statement that mentions `key` and detaches something, `.data` included,
    or an assignment under no_grad: then the carried value may well have no graph."""
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
    return any((isinstance(node, ast.Call) and DETACHING.search(call_name(node) or ""))
               or (isinstance(node, ast.Attribute) and node.attr == "data")
               for node in ast.walk(statement))


def reset_each_iteration(key: str, loop: ast.AST) -> bool:
    """The first statement of the body that mentions `key` assigns it afresh."""
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


def straight_line(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run in order every time: `with` blocks opened."""
    for statement in body:
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            yield from straight_line(statement.body)
        else:
            yield statement


def advice(key: str, loop: ast.AST) -> str:
    """Detach a carried state; an accumulated loss is back-propagated once instead."""
    accumulated = any(isinstance(s, ast.AugAssign) or isinstance(getattr(s, "value", None),
                                                                  ast.BinOp)
                      for s in bindings_in(loop).get(key, []))
    if accumulated:
        return (f"call backward() on each iteration's own loss, or once on `{key}` after "
                "the loop")
    return (f"detach `{key}` where each iteration starts (truncated back-propagation "
            "through time)")
