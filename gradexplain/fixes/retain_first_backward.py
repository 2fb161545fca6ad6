"""backward-twice, two losses over one shared graph: keep the graph on the first call.

`loss_a.backward()` then `loss_b.backward()` through a shared part is a deliberate pair of
backward passes (multi-task heads); the first must keep the graph for the second:
`loss_a.backward(retain_graph=True)`. The gradients equal those of
`(loss_a + loss_b).backward()`. Refused when the earlier call is on the same tensor (that is
a loop or carried state, where retain_graph=True would be wrong), when an optimizer step
comes between the two calls, or when there is no earlier call in the same block.
"""

from __future__ import annotations

import ast

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal, edit_statement


def apply(request: FixRequest) -> FixOutcome:
    try:
        line = first_backward(request.source, request.line)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    return edit_statement(request.source, line, retain)


def backward_of(statement: ast.stmt) -> str | None:
    """`name` for a statement `name.backward(...)`."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if isinstance(func, ast.Attribute) and func.attr == "backward" \
                and isinstance(func.value, ast.Name):
            return func.value.id
    return None


def first_backward(source: str, line: int) -> int:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise Refusal(f"the file does not parse: {error.msg}") from None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        index = next((i for i, s in enumerate(body) if s.lineno == line), None)
        if index is None:
            continue
        second = backward_of(body[index])
        if second is None:
            raise Refusal("the failing line is not `loss.backward()`")
        for statement in reversed(body[:index]):
            if "step()" in ast.unparse(statement):
                raise Refusal("an optimizer step comes between the two backward() calls")
            first = backward_of(statement)
            if first == second:
                raise Refusal(f"`{first}.backward()` runs twice on the same tensor; "
                              "retain_graph=True would hide a real bug")
            if first is not None:
                return int(statement.lineno)
        break
    raise Refusal("no earlier backward() call on another loss in the same block")


def retain(statement: cst.SimpleStatementLine) -> cst.CSTNode:
    (small,) = statement.body
    call = small.value if isinstance(small, cst.Expr) else None
    if not isinstance(call, cst.Call):
        raise Refusal("not a backward() call")
    if any(m.matches(a, m.Arg(keyword=m.Name("retain_graph"))) for a in call.args):
        raise Refusal("the first backward() already sets retain_graph")
    keep = cst.Arg(keyword=cst.Name("retain_graph"), value=cst.Name("True"),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))
    args = [*call.args[:-1], call.args[-1].with_changes(
        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))] if call.args else []
    return statement.with_changes(body=[small.with_changes(
        value=call.with_changes(args=[*args, keep]))])
