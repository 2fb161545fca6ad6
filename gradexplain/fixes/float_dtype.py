"""non-float-requires-grad: create the tensor as floating point,
`torch.tensor([1, 2], requires_grad=True)` -> `torch.tensor([1, 2], dtype=torch.float32,
requires_grad=True)`. Only a torch factory call with `requires_grad=True` and no dtype."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import OneChange, Refusal, edit_statement, transformed

FACTORIES = ("tensor", "as_tensor", "arange", "full", "zeros", "ones", "empty", "randint",
             "eye", "linspace")
FACTORY = m.Call(func=m.Attribute(value=m.Name("torch"),
                                  attr=m.OneOf(*(m.Name(name) for name in FACTORIES))))
REQUIRES_GRAD = m.Arg(keyword=m.Name("requires_grad"), value=m.Name("True"))


def apply(request: FixRequest) -> FixOutcome:
    return edit_statement(request.source, request.line,
                          lambda statement: transformed(statement, AddDtype()))


class AddDtype(OneChange):
    wanted = "torch factory call with requires_grad=True"

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not m.matches(updated, FACTORY) or not any(m.matches(a, REQUIRES_GRAD)
                                                      for a in updated.args):
            return updated
        if any(a.keyword is not None and a.keyword.value == "dtype" for a in updated.args):
            raise Refusal("the call already names a dtype; changing it needs a person")
        self.changed += 1
        dtype = cst.Arg(keyword=cst.Name("dtype"),
                        value=cst.Attribute(value=cst.Name("torch"), attr=cst.Name("float32")),
                        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                              whitespace_after=cst.SimpleWhitespace("")),
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        index = next(i for i, a in enumerate(updated.args) if m.matches(a, REQUIRES_GRAD))
        args = [*updated.args[:index], dtype, *updated.args[index:]]
        return updated.with_changes(args=args)

