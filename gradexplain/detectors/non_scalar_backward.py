"""nonscalar-backward: `t.backward()` with no gradient, where `t` visibly holds more than
one number.

Visibly means: followed back through the assignments of its scope to a tensor built from
a literal with two or more elements (`torch.tensor([5.0, 5.0])`, `torch.randn(3, 4)`),
through element-wise operations only (which can never make a tensor smaller), or to a loss
computed with `reduction='none'`. Anything unknown on the way, a reduction, a matrix
product, an assignment in a branch that may not run: no finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.scopes import Scope, call_name, keyword, scopes

FACTORIES = {"randn", "rand", "zeros", "ones", "empty", "randint", "full"}
ELEMENTWISE_FUNCTIONS = {"sin", "cos", "tan", "exp", "log", "sigmoid", "tanh", "relu", "abs",
                         "sqrt", "square", "neg", "softplus", "gelu", "silu", "elu", "erf",
                         "clamp", "pow", "log1p", "expm1", "reciprocal", "rsqrt", "mul", "add",
                         "sub", "div", "leaky_relu", "dropout"}
ELEMENTWISE_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod)
PER_SAMPLE = "a per-sample loss (reduction='none')"
MAX_DEPTH = 8


def non_scalar_backward(module: Module) -> Iterator[Hit]:
    for scope in scopes(module.tree):
        for call in scope.calls():
            target = backward_target(call)
            if target is None:
                continue
            why = shape_of(target, scope, call, 0)
            if why is not None:
                per_sample = why == PER_SAMPLE
                yield Hit(call.lineno, call.col_offset,
                          {"name": ast.unparse(target), "why": why,
                           "reduce": "mean" if per_sample else "sum"},
                          "reduce-mean" if per_sample else None)


def backward_target(call: ast.Call) -> ast.expr | None:
    """`t` of `t.backward()` called without a gradient."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "backward"):
        return None
    if call.args or any(k.arg in ("gradient", None) for k in call.keywords):
        return None
    return func.value


def shape_of(node: ast.expr, scope: Scope, before: ast.AST, depth: int) -> str | None:
    """Why `node` certainly holds several numbers, or None when that is not certain."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Name):
        value = scope.value_before(node.id, before)
        return None if value is None else shape_of(value, scope, value, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ELEMENTWISE_OPERATORS):
        return shape_of(node.left, scope, before, depth + 1) or shape_of(
            node.right, scope, before, depth + 1)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return shape_of(node.operand, scope, before, depth + 1)
    if isinstance(node, ast.Call):
        return call_shape(node, scope, before, depth)
    return None


def call_shape(call: ast.Call, scope: Scope, before: ast.AST, depth: int) -> str | None:
    name = call_name(call)
    if keyword(call, "reduction") == "none" or scope.is_per_sample_criterion(call.func, before):
        return PER_SAMPLE
    if name == "torch.tensor" and call.args:
        count = literal_size(call.args[0])
        return f"torch.tensor(...) of {count} numbers" if count >= 2 else None
    if name.startswith("torch.") and name.split(".")[-1] in FACTORIES:
        return factory_shape(call, name.split(".")[-1])
    method = isinstance(call.func, ast.Attribute) and not name.startswith(("torch.", "F."))
    function = name.split(".")[-1]
    if function not in ELEMENTWISE_FUNCTIONS:
        return None
    if method:  # x.exp(), x.pow(2)
        assert isinstance(call.func, ast.Attribute)
        return shape_of(call.func.value, scope, before, depth + 1)
    if name.startswith(("torch.", "F.", "torch.nn.functional.")) and call.args:
        return shape_of(call.args[0], scope, before, depth + 1)
    return None


def literal_size(node: ast.expr) -> int:
    """How many numbers a nested list/tuple literal holds (0 when it is not one)."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return sum(literal_size(item) for item in node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return 1
    return 0


def factory_shape(call: ast.Call, factory: str) -> str | None:
    """torch.randn(3, 4) or torch.zeros((3, 4)): literal sizes whose product is at least 2."""
    sizes = call.args[:1] if factory == "full" else call.args
    if factory == "randint":
        size = keyword(call, "size", raw=True) or (call.args[-1] if call.args else None)
        sizes = [size] if isinstance(size, ast.expr) else []
    if len(sizes) == 1 and isinstance(sizes[0], (ast.Tuple, ast.List)):
        sizes = list(sizes[0].elts)
    numbers = [s.value for s in sizes if isinstance(s, ast.Constant) and type(s.value) is int]
    if not numbers or len(numbers) != len(sizes):
        return None
    product = 1
    for number in numbers:
        product *= number
    return f"torch.{factory}({', '.join(map(str, numbers))})" if product >= 2 else None
