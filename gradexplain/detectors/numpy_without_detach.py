"""numpy-requires-grad: `t.numpy()` (or `t.cpu().numpy()`) where `t` certainly requires grad,
with grad mode on (torch converts a tensor that requires grad under no_grad).

Certainly means: followed back through its scope's assignments (and, in a module-level
function, through every call's argument) to a leaf made to require grad (`requires_grad=True`,
`nn.Parameter`), which requires grad in any grad mode, or to the output of a module with
parameters, through operations that keep requires_grad (arithmetic, `.sum()`, `.softmax()`,
`.cpu()`, indexing; not `.detach()`, `.data`, `.item()`, `.argmax()`, `.long()`) run while
grad mode is on. In a file that may move tensors to a GPU only `t.cpu().numpy()` is
flagged: `t.numpy()` of a GPU tensor fails on its device first (numpy-cuda-tensor).
High-confidence hits are certain; medium ones hold unless a caller turns grad mode off, or
come out of the file's own nn.Module classes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.requires_grad import (
    MAX_DEPTH,
    Context,
    Sure,
    analyse,
    expected_to_fail,
    grad_mode,
    leaf_made,
    leaf_origin,
    least,
    module_kind,
    values_of,
)
from gradexplain.detectors.scopes import call_name

KEEPING_METHODS = {"sum", "mean", "softmax", "log_softmax", "sigmoid", "tanh", "relu", "exp",
                   "log", "abs", "sqrt", "pow", "cpu", "float", "double", "half",
                   "squeeze", "unsqueeze", "view", "reshape", "flatten", "t", "transpose",
                   "permute", "clone", "contiguous", "clamp", "norm", "std", "var", "cumsum",
                   "matmul", "mm", "neg", "square", "sin", "cos", "mul", "add", "sub", "div",
                   "expand", "expand_as", "repeat", "view_as", "reshape_as", "log1p", "expm1",
                   "prod", "logsumexp"}
KEEPING_FUNCTIONS = {"sigmoid", "tanh", "exp", "log", "relu", "softmax", "log_softmax", "abs",
                     "sqrt", "sum", "mean", "matmul", "mm", "square", "flatten", "squeeze",
                     "unsqueeze", "clamp", "gelu", "normalize", "silu", "leaky_relu"}
TORCH_FUNCTION_PREFIXES = ("torch.", "F.", "torch.nn.functional.")
KEEPING_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult)
MAX_SHOWN = 50


@dataclass(frozen=True)
class Trace:
    """Why a tensor requires grad: its origin, the name bound to that origin, and whether
    operations came after it."""

    sure: Sure
    origin: str
    source: str | None = None
    derived: bool = False

    def why(self) -> str:
        if not self.derived:
            return self.origin
        return f"computed from `{self.source}`, {self.origin}" if self.source else (
            f"computed from {self.origin}")


def numpy_without_detach(module: Module) -> Iterator[Hit]:
    file = analyse(module.tree)
    for context in file.contexts:
        for call in context.scope.calls():
            receiver = numpy_receiver(call)
            if receiver is None or (file.may_use_a_gpu and not is_cpu_copy(receiver)) or (
                    expected_to_fail(context, call)):
                continue
            trace = requires_grad(context, receiver, call, 0)
            sure = None if trace is None else least(trace.sure, grad_mode(context, call))
            if trace is not None and sure is not None:
                yield Hit(call.lineno, call.col_offset,
                          {"tensor": shown(receiver), "why": trace.why()},
                          confidence=sure.confidence)


def numpy_receiver(call: ast.Call) -> ast.expr | None:
    """`t` of `t.numpy()`; `t.numpy(force=True)` detaches by itself."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "numpy" and not call.args and all(
            k.arg == "force" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in call.keywords):
        return func.value
    return None


def is_cpu_copy(node: ast.expr) -> bool:
    """`t.cpu()`: on the CPU whatever the device of `t`."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "cpu" and not node.args)


def shown(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def requires_grad(context: Context, node: ast.expr, use: ast.AST, depth: int) -> Trace | None:
    """Why `node` certainly (or probably) requires grad, or None."""
    if depth > MAX_DEPTH or context.file.requires_grad_changed:
        return None
    if isinstance(node, ast.Name):
        return named(context, node.id, use, depth)
    if isinstance(node, ast.Call):
        return called(context, node, use, depth)
    if isinstance(node, ast.BinOp) and isinstance(node.op, KEEPING_OPERATORS):
        return derived(context, node, [node.left, node.right], use, depth)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return derived(context, node, [node.operand], use, depth)
    if isinstance(node, ast.Subscript) or (isinstance(node, ast.Attribute)
                                           and node.attr in ("T", "mT")):
        return derived(context, node, [node.value], use, depth)
    if isinstance(node, ast.Attribute):  # layer.weight, self.w
        leaf = leaf_origin(context, node, use, depth + 1)
        return None if leaf is None else Trace(Sure.HIGH, leaf.why)
    return None


def named(context: Context, name: str, use: ast.AST, depth: int) -> Trace | None:
    """A name: what every value it may hold says, the least sure of them."""
    values = values_of(context, name, use, through_augmented=True)
    traces = [requires_grad(ctx, value, value, depth + 1) for value, ctx in values or []]
    known = [trace for trace in traces if trace is not None]
    if not known or len(known) != len(traces):
        return None
    trace = min(known, key=lambda t: t.sure)
    return trace if trace.derived or trace.source else replace(trace, source=name)


def called(context: Context, call: ast.Call, use: ast.AST, depth: int) -> Trace | None:
    leaf = leaf_made(call, context.file)
    if leaf is not None:
        return Trace(Sure.HIGH, leaf.why)
    kind = module_kind(context, call.func, use)
    if kind is not None:
        sure = least(kind[1], grad_mode(context, call))
        return None if sure is None else Trace(
            sure, f"the output of `{shown(call.func)}`, an {kind[0]} with parameters"
            if kind[0].startswith("nn.") else f"the output of `{shown(call.func)}`")
    name = call_name(call)
    if isinstance(call.func, ast.Attribute) and call.func.attr in KEEPING_METHODS and not (
            name.startswith(TORCH_FUNCTION_PREFIXES)):
        return derived(context, call, [call.func.value], use, depth)
    if any(name.startswith(prefix) and name[len(prefix):] in KEEPING_FUNCTIONS
           for prefix in TORCH_FUNCTION_PREFIXES):
        return derived(context, call, [a for a in call.args if not isinstance(a, ast.Starred)],
                       use, depth)
    return None


def derived(context: Context, node: ast.AST, operands: list[ast.expr], use: ast.AST,
            depth: int) -> Trace | None:
    """An operation's result requires grad when an operand does and grad mode is on."""
    traces = [t for t in (requires_grad(context, o, use, depth + 1) for o in operands) if t]
    if not traces:
        return None
    best = max(traces, key=lambda t: t.sure)
    sure = least(best.sure, grad_mode(context, node))
    return None if sure is None else replace(best, sure=sure, derived=True)
