"""item-nonscalar: reduce before converting to a Python number. `t.item()` ->
`t.mean().item()` and `float(t)` -> `float(t.mean())` (args: {reduction: mean}), or keep every
value with `t.item()` -> `t.tolist()` (args: {reduction: tolist}). Exactly one conversion
on the line, or the transformer refuses."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import OneChange, Refusal, edit_statement, transformed

ITEM = m.Call(func=m.Attribute(attr=m.Name("item")), args=[])
NUMBER = m.Call(func=m.Name("float") | m.Name("int"), args=[m.Arg(keyword=None)])


def apply(request: FixRequest) -> FixOutcome:
    reduction = str(request.args.get("reduction", "mean"))
    if reduction not in ("mean", "sum", "tolist"):
        return FixOutcome(None, f"unknown reduction {reduction!r}")
    return edit_statement(request.source, request.line,
                          lambda statement: transformed(statement, Reduce(reduction)))


REDUCED = m.Call(func=m.Attribute(attr=m.Name("mean") | m.Name("sum")), args=[])


def method(value: cst.BaseExpression, name: str) -> cst.Call:
    if m.matches(value, REDUCED):
        raise Refusal("the value is already reduced to one number")
    return cst.Call(func=cst.Attribute(value=value, attr=cst.Name(name)))


class Reduce(OneChange):
    wanted = ".item() / float() / int() conversion"

    def __init__(self, reduction: str) -> None:
        super().__init__()
        self.reduction = reduction

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if m.matches(updated, ITEM):
            assert isinstance(updated.func, cst.Attribute)
            self.changed += 1
            if self.reduction == "tolist":
                return method(updated.func.value, "tolist")
            return updated.with_changes(func=updated.func.with_changes(
                value=method(updated.func.value, self.reduction)))
        if m.matches(updated, NUMBER) and self.reduction != "tolist":
            self.changed += 1
            argument = updated.args[0]
            return updated.with_changes(
                args=[argument.with_changes(value=method(argument.value, self.reduction))])
        return updated

