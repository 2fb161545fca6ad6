"""no-grad-fn: compute the loss with grad mode on, when grad mode being off is the cause.

From the failing `loss.backward()` the transformer follows `loss` back to the statement
that assigned it. If that statement calls a function of this file decorated with
`@torch.no_grad()` (or `inference_mode()`), that decorator is removed: the function then
records a graph wherever it is used, which is why the entry labels this fix unsafe.
Anything else is refused.
Never `loss.requires_grad = True`: that silences the error and trains nothing.
"""

from __future__ import annotations

import ast

import libcst as cst

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal

GRAD_OFF = ("torch.no_grad", "torch.inference_mode", "no_grad", "inference_mode")


def apply(request: FixRequest) -> FixOutcome:
    try:
        function = grad_off_function(request.source, request.line)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    transformer = DropDecorator(function)
    new_source = cst.parse_module(request.source).visit(transformer).code
    if transformer.dropped != 1:
        return FixOutcome(None, f"`{function}` is defined with no single grad-off decorator")
    return FixOutcome(new_source)


def grad_off_function(source: str, line: int) -> str:
    """The function, decorated to turn grad mode off, that computes the backward() receiver."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise Refusal(f"the file does not parse: {error.msg}") from None
    name = backward_receiver(tree, line)
    assignment = last_assignment(tree, name, line)
    for node in ast.walk(assignment.value):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function = defined_function(tree, node.func.id)
            if function is not None and grad_off_decorator(function) is not None:
                return function.name
    raise Refusal(f"`{name}` is not computed by a function of this file that turns grad "
                  "mode off")


def backward_receiver(tree: ast.Module, line: int) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node, "lineno", 0) == line \
                and isinstance(node.func, ast.Attribute) and node.func.attr == "backward" \
                and isinstance(node.func.value, ast.Name):
            return node.func.value.id
    raise Refusal("the failing line is not `name.backward()`")


def last_assignment(tree: ast.Module, name: str, line: int) -> ast.Assign:
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and node.lineno < line and any(isinstance(t, ast.Name) and t.id == name
                                            for t in node.targets)]
    if not found:
        raise Refusal(f"no assignment of `{name}` before the failing line")
    return max(found, key=lambda node: node.lineno)


def defined_function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    functions = [node for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef) and node.name == name]
    return functions[0] if len(functions) == 1 else None


def grad_off_decorator(function: ast.FunctionDef) -> ast.expr | None:
    for decorator in function.decorator_list:
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(called) in GRAD_OFF:
            return decorator
    return None


class DropDecorator(cst.CSTTransformer):
    def __init__(self, name: str) -> None:
        self.name = name
        self.dropped = 0

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        if updated.name.value != self.name:
            return updated
        kept = [d for d in updated.decorators if not turns_grad_off(d)]
        self.dropped += len(updated.decorators) - len(kept)
        return updated.with_changes(decorators=kept)


def turns_grad_off(decorator: cst.Decorator) -> bool:
    expression = decorator.decorator
    called = expression.func if isinstance(expression, cst.Call) else expression
    return cst.Module(body=[]).code_for_node(called) in GRAD_OFF

