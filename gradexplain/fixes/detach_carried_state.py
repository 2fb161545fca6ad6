"""backward-twice: cut a recurrent state carried across loop iterations off the graph.

`out, state = lstm(chunk, state)` inside the training loop feeds each step the graph of
the step before, which its backward() already freed. The fix detaches the state right
after the step that produced it (the same as detaching it at the top of the next
iteration): `state = tuple(s.detach() for s in state)` for an LSTM's (h, c), `h =
h.detach()` for a GRU or RNN. The module must be created in the same file as an
nn.LSTM / nn.GRU / nn.RNN, so the form of its state is known; otherwise it refuses.
"""

from __future__ import annotations

import ast

import libcst as cst

from gradexplain.fixes import FixOutcome, FixRequest
from gradexplain.fixes._statement import Refusal, edit_statement

RECURRENT = {"LSTM": "tuple", "GRU": "tensor", "RNN": "tensor"}


def apply(request: FixRequest) -> FixOutcome:
    try:
        line, name, form = carried_state(request.source, request.line)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    detach = (f"{name} = tuple(s.detach() for s in {name})\n" if form == "tuple"
              else f"{name} = {name}.detach()\n")

    def insert_after(statement: cst.SimpleStatementLine) -> cst.FlattenSentinel[cst.BaseStatement]:
        added = cst.parse_statement(detach)
        return cst.FlattenSentinel([statement, added])

    return edit_statement(request.source, line, insert_after)


def carried_state(source: str, line: int) -> tuple[int, str, str]:
    """(line of the step, name of the state, "tuple" or "tensor") in the loop around `line`."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise Refusal(f"the file does not parse: {error.msg}") from None
    loops = [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While))
             and node.lineno <= line <= (node.end_lineno or node.lineno)]
    if not loops:
        raise Refusal("the failing line is not inside a loop")
    loop = max(loops, key=lambda node: node.lineno)  # the innermost
    for node in ast.walk(loop):
        step = recurrent_step(node, tree)
        if step is not None:
            if detached_in(loop, step[1]):
                raise Refusal(f"`{step[1]}` is already detached in the loop")
            return step
    raise Refusal("no recurrent state passed from one iteration of the loop to the next")


def detached_in(loop: ast.AST, name: str) -> bool:
    return any(isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in node.targets)
        and "detach" in ast.unparse(node.value) for node in ast.walk(loop))


def recurrent_step(node: ast.AST, tree: ast.Module) -> tuple[int, str, str] | None:
    """`out, h = rnn(x, h)`: an assignment whose call takes a name it also assigns."""
    if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
        return None
    targets = [t for target in node.targets for t in
               (target.elts if isinstance(target, ast.Tuple) else [target])]
    assigned = {t.id for t in targets if isinstance(t, ast.Name)}
    passed = [a.id for a in node.value.args if isinstance(a, ast.Name) and a.id in assigned]
    if len(passed) != 1:
        return None
    form = module_form(tree, ast.unparse(node.value.func))
    if form is None:
        raise Refusal(f"cannot tell what `{ast.unparse(node.value.func)}` returns as its "
                      "state (not created here as nn.LSTM, nn.GRU or nn.RNN)")
    return node.lineno, passed[0], form


def module_form(tree: ast.Module, callee: str) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and any(
                ast.unparse(t) == callee for t in node.targets):
            kind = ast.unparse(node.value.func).rsplit(".", 1)[-1]
            return RECURRENT.get(kind)
    return None
