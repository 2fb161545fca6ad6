"""numpy-requires-grad: detach the tensor before converting it, `t.numpy()` ->
`t.detach().numpy()`. With several `.numpy()` calls on the line, the live facts must say
which receiver requires grad; otherwise the transformer refuses rather than guess."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal, code_of, edit_statement, transformed

NUMPY_CALL = m.Call(func=m.Attribute(attr=m.Name("numpy")))
DETACHED = m.Call(func=m.Attribute(attr=m.Name("detach")), args=[])


def apply(request: FixRequest) -> FixOutcome:
    def edit(statement: cst.SimpleStatementLine) -> cst.CSTNode:
        receivers = [call.func.value for call in m.findall(statement, NUMPY_CALL)
                     if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)]
        return transformed(statement, Detach(chosen(receivers, request.facts)))

    return edit_statement(request.source, request.line, edit)


def chosen(receivers: list[cst.BaseExpression],
           facts: Mapping[str, Any]) -> cst.BaseExpression:
    """The one receiver to detach: the only one, or the only one the facts say needs it."""
    if len(receivers) == 1:
        return receivers[0]
    needs = [r for r in receivers if facts.get(code_of(r), {}).get("requires_grad")]
    if len(needs) != 1:
        raise Refusal(f"{len(receivers)} .numpy() calls on the line and no live fact says "
                      "which tensor requires grad")
    return needs[0]


class Detach(cst.CSTTransformer):
    def __init__(self, receiver: cst.BaseExpression) -> None:
        self.receiver = receiver

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not m.matches(original, NUMPY_CALL):
            return updated
        assert isinstance(original.func, cst.Attribute) and isinstance(updated.func, cst.Attribute)
        if original.func.value is not self.receiver:
            return updated
        if m.matches(updated.func.value, DETACHED):
            raise Refusal("the tensor is already detached")
        detached = cst.Call(func=cst.Attribute(value=updated.func.value, attr=cst.Name("detach")))
        return updated.with_changes(func=updated.func.with_changes(value=detached))
