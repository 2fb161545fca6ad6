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
graph (gradexplain/detectors/loop_carry.py: assigned from a computation that reads its own
previous value; not detached, not assigned under no_grad, not reassigned afresh at the top of
the body or after the backward). Then the retained graph serves only the next iteration, which
back-propagates through it again. Without a visible carried variable the retained graph
may be legitimate (a Jacobian row by row, several heads over features built before the
loop) or only wasteful, so nothing is reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.loop_carry import (
    advice,
    backward_calls,
    backward_target,
    carried_into,
    innermost_loop,
)
from gradexplain.detectors.scopes import LOOPS, Scope, call_name, keyword, scopes

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


# retain-graph-in-loop

def retain_graph_in_loop(module: Module) -> Iterator[Hit]:
    for scope in scopes(module.tree):
        loops = [node for node in scope.nodes() if isinstance(node, LOOPS)]
        for call in scope.calls():
            target = retaining_backward(call)
            loop = None if target is None else innermost_loop(loops, call)
            if target is None or loop is None or backward_after(loop, call):
                continue
            carried = carried_into(target, loop, call, module.tree)
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


def backward_after(loop: ast.AST, call: ast.Call) -> bool:
    """Another backward pass later in the same iteration may need the retained graph."""
    position = (call.lineno, call.col_offset)
    return any(node is not call and (node.lineno, node.col_offset) > position
               for node in backward_calls(loop))
