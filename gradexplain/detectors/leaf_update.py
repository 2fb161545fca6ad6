"""leaf-inplace: an in-place change (`w -= lr * w.grad`, `w.sub_(...)`, `w.copy_(...)`,
`layer.weight.uniform_(...)`) of a tensor that certainly is a leaf requiring grad, where grad
mode is on.

The leaf is one made in the file (`requires_grad=True`, `nn.Parameter`, `requires_grad_()`),
followed through its scope's assignments and through every call's argument of a
module-level function, or the weight (or bias) of a built-in layer. Not flagged: the change
under `torch.no_grad()`, through `.data`, on `.grad`, by `nn.init` (which runs under no_grad
itself), on a slice (`w[0] = 1` raises view-inplace's message instead), or on a name that
may hold anything else (a loop variable over `model.parameters()`). In a function whose
callers are not all known the change is only probable, unless it is a manual step on a leaf
made in that function: it reads the leaf's `.grad`, which only a backward recorded there,
with grad mode on, can have filled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.requires_grad import (
    Context,
    Sure,
    analyse,
    expected_to_fail,
    grad_mode,
    leaf_origin,
)

INPLACE_OPERATORS = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.Pow: "**="}
# each checked against torch (tests/test_detect_numpy_leaf.py); fill_diagonal_ is left out: it
# writes through a view and raises view-inplace's message instead
INPLACE_METHODS = {"add_", "sub_", "mul_", "div_", "pow_", "neg_", "zero_", "fill_", "copy_",
                   "uniform_", "normal_", "clamp_", "clamp_min_", "clamp_max_", "abs_", "exp_",
                   "log_", "sqrt_", "sign_", "relu_", "sigmoid_", "tanh_", "addcmul_",
                   "addcdiv_", "lerp_", "masked_fill_", "index_fill_", "index_add_",
                   "scatter_", "bernoulli_", "exponential_", "random_",
                   "round_", "floor_", "ceil_", "reciprocal_"}
INIT_METHODS = {"copy_", "fill_", "zero_", "uniform_", "normal_", "bernoulli_", "exponential_",
                "random_"}
NO_GRAD_FIX = "wrap-in-no-grad"


def leaf_update_outside_no_grad(module: Module) -> Iterator[Hit]:
    file = analyse(module.tree)
    for context in file.contexts:
        for node in context.scope.nodes():
            update = inplace_update(node)
            if update is None or expected_to_fail(context, node):
                continue
            target, shown = update
            leaf = leaf_origin(context, target, node)
            sure = None if leaf is None else certainty(context, node, target)
            if leaf is not None and sure is not None:
                fix = NO_GRAD_FIX if leaf.parameter or is_init(node) or reads_grad(
                    context, node, target) else None
                yield Hit(node.lineno, node.col_offset,  # type: ignore[attr-defined]
                          {"name": ast.unparse(target), "why": leaf.why, "update": shown}, fix,
                          sure.confidence)


def inplace_update(node: ast.AST) -> tuple[ast.expr, str] | None:
    """The tensor an augmented assignment or an in-place method changes, and the change as
    shown to the user; None for anything else, slices included."""
    if (isinstance(node, ast.AugAssign) and type(node.op) in INPLACE_OPERATORS
            and isinstance(node.target, (ast.Name, ast.Attribute))):
        return node.target, f"{ast.unparse(node.target)} {INPLACE_OPERATORS[type(node.op)]} ..."
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in INPLACE_METHODS
            and isinstance(node.func.value, (ast.Name, ast.Attribute))):
        arguments = "..." if node.args or node.keywords else ""
        return node.func.value, f"{ast.unparse(node.func.value)}.{node.func.attr}({arguments})"
    return None


def certainty(context: Context, node: ast.AST, target: ast.expr) -> Sure | None:
    """How sure grad mode is on at the change; a manual step is sure anyway."""
    mode = grad_mode(context, node)
    if mode == Sure.MEDIUM and is_manual_step(context, node, target):
        return Sure.HIGH
    return mode


def is_manual_step(context: Context, node: ast.AST, target: ast.expr) -> bool:
    """The change reads `<target>.grad` (`w -= lr * w.grad`) of a leaf made in this scope."""
    return isinstance(target, ast.Name) and not all(
        isinstance(b, ast.AugAssign) for b in context.scope.bindings(target.id)) and reads_grad(
        context, node, target)


def reads_grad(context: Context, node: ast.AST, target: ast.expr) -> bool:
    """The change's statement reads `<target>.grad`: an optimisation step by hand, which
    belongs under no_grad."""
    statement = context.scope.statement_of.get(node, node)
    name = ast.unparse(target)
    return any(isinstance(n, ast.Attribute) and n.attr == "grad" and ast.unparse(n.value) == name
               for n in ast.walk(statement))


def is_init(node: ast.AST) -> bool:
    """`w.uniform_()`, `w.copy_(pretrained)`: an initialisation, which belongs under no_grad."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in INIT_METHODS)
