"""inplace-modified-saved: make the in-place change of a saved tensor out of place.

The crash line is backward(); the line given here is the forward call that saved the
tensor (from anomaly mode). The transformer finds the first in-place change of the name
that line assigns, later in the same block, and rewrites that statement only:
`e += 1` -> `e = e + 1`, `y.mul_(2)` -> `y = y.mul(2)`, an index assignment `y[mask] = 0`
-> `y = y.clone()` before it (the saved tensor stays intact, the copy is changed), and an
`nn.ReLU(inplace=True)` module applied to it -> `inplace=False` where the module is
created. Anything it cannot see is refused, with the reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal, StatementEdit, edit_statement

AUG_TO_BINARY: dict[type[cst.BaseAugOp], type[cst.BaseBinaryOp]] = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.PowerAssign: cst.Power,
    cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
    cst.MatrixMultiplyAssign: cst.MatrixMultiply,
}


@dataclass(frozen=True)
class Change:
    kind: str  # "augmented", "method", "index" or "module"
    line: int
    name: str


def apply(request: FixRequest) -> FixOutcome:
    try:
        change = locate(request.source, request.line)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    edits: dict[str, StatementEdit] = {
        "augmented": augmented, "method": method, "module": module_not_inplace,
        "index": lambda statement: clone_first(statement, change.name)}
    return edit_statement(request.source, change.line, edits[change.kind])


def locate(source: str, line: int) -> Change:
    """The first in-place change of the tensor assigned at `line`, in the same block."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise Refusal(f"the file does not parse: {error.msg}") from None
    body, index = enclosing_body(tree.body, line)
    saved = body[index]
    if not (isinstance(saved, ast.Assign) and len(saved.targets) == 1
            and isinstance(saved.targets[0], ast.Name)):
        raise Refusal(f"line {line} does not assign the saved tensor to one name")
    name = saved.targets[0].id
    for statement in body[index + 1:]:
        for node in sorted(ast.walk(statement), key=lambda n: getattr(n, "lineno", 0)):
            found = in_place_change(node, name, tree)
            if found is not None:
                return found
        if reassigns(statement, name):
            break
    raise Refusal(f"no in-place change of `{name}` found after line {line}")


def enclosing_body(body: list[ast.stmt], line: int) -> tuple[list[ast.stmt], int]:
    for index, statement in enumerate(body):
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and any(
                        s.lineno <= line <= (s.end_lineno or s.lineno) for s in inner):
                    return enclosing_body(inner, line)
            return body, index
    raise Refusal(f"no statement at line {line}")


def reassigns(statement: ast.stmt, name: str) -> bool:
    return isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in statement.targets)


def in_place_change(node: ast.AST, name: str, tree: ast.Module) -> Change | None:
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
            and node.target.id == name:
        return Change("augmented", node.lineno, name)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id == name and is_inplace_method(func.attr):
            return Change("method", node.lineno, name)
    if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name
            for t in node.targets):
        return Change("index", node.lineno, name)
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name) \
            and node.args[0].id == name and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
        line = inplace_module_line(tree, node.func.attr)
        if line is not None:
            return Change("module", line, name)
    return None


def is_inplace_method(attr: str) -> bool:
    return attr.endswith("_") and not attr.startswith("_")


def inplace_module_line(tree: ast.Module, attribute: str) -> int | None:
    """The line `self.<attribute> = SomeModule(..., inplace=True)`, if there is one."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and any(
                isinstance(t, ast.Attribute) and t.attr == attribute
                and isinstance(t.value, ast.Name) and t.value.id == "self"
                for t in node.targets) and any(
                k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.value.keywords):
            return node.lineno
    return None


def augmented(statement: cst.SimpleStatementLine) -> cst.CSTNode:
    (small,) = statement.body
    if not isinstance(small, cst.AugAssign) or type(small.operator) not in AUG_TO_BINARY:
        raise Refusal("not an augmented assignment this fix knows")
    value = small.value
    if not isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer,
                              cst.Float)):
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    operator = AUG_TO_BINARY[type(small.operator)]()
    binary = cst.BinaryOperation(left=small.target, operator=operator, right=value)
    assign = cst.Assign(targets=[cst.AssignTarget(target=small.target)], value=binary)
    return statement.with_changes(body=[assign])


def method(statement: cst.SimpleStatementLine) -> cst.CSTNode:
    (small,) = statement.body
    if not m.matches(small, m.Expr(value=m.Call(func=m.Attribute(value=m.Name())))):
        raise Refusal("not an in-place method call this fix knows")
    assert isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
    call = small.value
    assert isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name)
    out_of_place = call.with_changes(func=call.func.with_changes(
        attr=cst.Name(call.func.attr.value[:-1])))
    assign = cst.Assign(targets=[cst.AssignTarget(target=call.func.value)], value=out_of_place)
    return statement.with_changes(body=[assign])


def clone_first(statement: cst.SimpleStatementLine,
                name: str) -> cst.FlattenSentinel[cst.BaseStatement]:
    clone = cst.parse_statement(f"{name} = {name}.clone()\n")
    assert isinstance(clone, cst.SimpleStatementLine)
    return cst.FlattenSentinel([clone.with_changes(leading_lines=statement.leading_lines),
                                statement.with_changes(leading_lines=[])])


def module_not_inplace(statement: cst.SimpleStatementLine) -> cst.CSTNode:
    inplace = m.Arg(keyword=m.Name("inplace"), value=m.Name("True"))
    if not m.findall(statement, inplace):
        raise Refusal("the module is not created with inplace=True on that line")
    replaced = m.replace(statement, inplace,
                         lambda node, _: node.with_changes(value=cst.Name("False")))
    assert isinstance(replaced, cst.CSTNode)
    return replaced
