"""nonscalar-backward: reduce the tensor to a scalar before backward().

`A.backward()` -> `A.sum().backward()` (or `.mean()`, chosen by the entry's evidence), and
the loss argument of wrappers: `accelerator.backward(loss)` -> `accelerator.backward(
loss.mean())`. Refuses when backward already gets a gradient, or when the line holds no
backward call or more than one.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import OneChange, Refusal, edit_statement, transformed

WRAPPER_SUFFIXES = ("accelerator", "engine", "fabric")


def apply(request: FixRequest) -> FixOutcome:
    reduction = str(request.args.get("reduction", "sum"))
    if reduction not in ("sum", "mean"):
        return FixOutcome(None, f"unknown reduction {reduction!r}")
    return edit_statement(request.source, request.line,
                          lambda statement: transformed(statement, Reduce(reduction)))


def reduced(expression: cst.BaseExpression, reduction: str) -> cst.Call:
    if m.matches(expression, m.Call(func=m.Attribute(attr=m.Name("sum") | m.Name("mean")),
                                    args=[])):
        raise Refusal("the tensor is already reduced with .sum() or .mean()")
    return cst.Call(func=cst.Attribute(value=expression, attr=cst.Name(reduction)))


def is_wrapper(func: cst.Attribute) -> bool:
    """torch.autograd.backward(loss), accelerator.backward(loss), engine.backward(loss)."""
    owner = func.value
    if m.matches(owner, m.Attribute(value=m.Name("torch"), attr=m.Name("autograd"))):
        return True
    name = owner.attr.value if isinstance(owner, cst.Attribute) else getattr(owner, "value", "")
    return isinstance(name, str) and name.lower().endswith(WRAPPER_SUFFIXES)


class Reduce(OneChange):
    wanted = "backward() call to change"

    def __init__(self, reduction: str) -> None:
        super().__init__()
        self.reduction = reduction

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = updated.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "backward"):
            return updated
        positional = [a for a in updated.args if a.keyword is None]
        keywords = {a.keyword.value for a in updated.args if a.keyword is not None}
        if is_wrapper(func):
            if not positional or "gradient" in keywords or "grad_tensors" in keywords:
                raise Refusal("the backward call already passes a gradient")
            first = positional[0]
            self.changed += 1
            new_first = first.with_changes(value=reduced(first.value, self.reduction))
            return updated.with_changes(args=[new_first, *updated.args[1:]])
        if positional or "gradient" in keywords:
            raise Refusal("backward() already gets a gradient; the shapes need a person")
        self.changed += 1
        return updated.with_changes(
            func=func.with_changes(value=reduced(func.value, self.reduction)))

