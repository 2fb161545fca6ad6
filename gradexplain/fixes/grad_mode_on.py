"""no-grad-fn: compute the loss with grad mode on, when grad mode being off is the cause.

From the failing `loss.backward()` the transformer follows `loss` back to the statement
that assigned it. Two forms are known (arg `form`):
- `block`: the names that statement uses were assigned inside a `with torch.no_grad():`
  (or `inference_mode()`) block holding nothing else; the block is removed, its body kept.
- `decorator`: that statement calls a function of this file decorated with
  `@torch.no_grad()`; the decorator is removed. The function then records a graph wherever
  it is used, which is why the entry labels this form unsafe.
Anything else is refused.
Never `loss.requires_grad = True`: that silences the error and trains nothing.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal

GRAD_OFF = ("torch.no_grad", "torch.inference_mode", "no_grad", "inference_mode")


def apply(request: FixRequest) -> FixOutcome:
    if request.args.get("form") == "block":
        return unwrap_block(request)
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



def unwrap_block(request: FixRequest) -> FixOutcome:
    try:
        tree = ast.parse(request.source)
        name = backward_receiver(tree, request.line)
        assignment = last_assignment(tree, name, request.line)
        used = {n.id for n in ast.walk(assignment.value) if isinstance(n, ast.Name)}
        block = grad_off_block(tree, used, assignment.lineno)
    except (Refusal, SyntaxError) as problem:
        return FixOutcome(None, str(problem))
    transformer = UnwrapWith(block.lineno)
    new_source = MetadataWrapper(cst.parse_module(request.source)).visit(transformer).code
    if not transformer.done:
        return FixOutcome(None, "could not remove the with block")
    return FixOutcome(new_source)


def grad_off_block(tree: ast.Module, used: set[str], before: int) -> ast.With:
    """The last grad-off `with` block before `before` that only assigns names in `used`."""
    blocks = [node for node in ast.walk(tree) if isinstance(node, ast.With)
              and node.lineno < before and len(node.items) == 1
              and ast.unparse(strip_call(node.items[0].context_expr)) in GRAD_OFF]
    for block in sorted(blocks, key=lambda node: -node.lineno):
        targets = [t for statement in block.body if isinstance(statement, ast.Assign)
                   for t in statement.targets]
        if len(targets) == len(block.body) and targets and all(
                isinstance(t, ast.Name) and t.id in used for t in targets):
            return block
    raise Refusal("no `with torch.no_grad():` block that only computes what the loss uses")


def strip_call(expression: ast.expr) -> ast.expr:
    return expression.func if isinstance(expression, ast.Call) else expression


class UnwrapWith(cst.CSTTransformer):
    """Replace the `with` statement starting at `line` by its (dedented) body."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.done = False

    def leave_With(self, original: cst.With, updated: cst.With
                   ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        start = self.get_metadata(PositionProvider, original).start.line
        if start != self.line or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body = list(updated.body.body)
        body[0] = body[0].with_changes(
            leading_lines=[*updated.leading_lines, *getattr(body[0], "leading_lines", ())])
        self.done = True
        return cst.FlattenSentinel(body)
