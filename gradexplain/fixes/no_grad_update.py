"""leaf-inplace: run an in-place update of a leaf under `torch.no_grad()`, as optimizers
and nn.init do: `w -= lr * w.grad` -> `with torch.no_grad():` + the same statement.

Only for statements that are an in-place update and nothing else (an augmented assignment,
or a call of an in-place method ending in `_`), in a file that imports torch as `torch`."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal, edit_statement

IMPORTS_TORCH = ("import torch\n", "import torch ", "import torch,")


def apply(request: FixRequest) -> FixOutcome:
    if not any(line.lstrip().startswith(IMPORTS_TORCH) or line.strip() == "import torch"
               for line in request.source.splitlines()):
        return FixOutcome(None, "the file does not `import torch`, which the fix needs")
    return edit_statement(request.source, request.line, wrap)


def is_inplace_update(statement: cst.BaseSmallStatement) -> bool:
    if isinstance(statement, cst.AugAssign):
        return True
    return m.matches(statement, m.Expr(value=m.Call(func=m.Attribute(
        attr=m.MatchIfTrue(lambda name: name.value.endswith("_") and
                           not name.value.startswith("_"))))))


def wrap(statement: cst.SimpleStatementLine) -> cst.CSTNode:
    if len(statement.body) != 1 or not is_inplace_update(statement.body[0]):
        raise Refusal("the line is not a single in-place update")
    no_grad = cst.Call(func=cst.Attribute(value=cst.Name("torch"), attr=cst.Name("no_grad")))
    inner = statement.with_changes(leading_lines=[])
    return cst.With(items=[cst.WithItem(item=no_grad)], body=cst.IndentedBlock(body=[inner]),
                    leading_lines=statement.leading_lines)
