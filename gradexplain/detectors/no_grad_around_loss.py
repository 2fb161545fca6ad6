"""no-grad-around-loss: backward() on a value that was computed
with grad mode off, which raises "element 0 of tensors does not require grad".

The back-propagated value is followed back through the assignments of its scope (only those
that certainly reach the line). It is grad-free when:
- it is computed inside `with torch.no_grad():` (`inference_mode()`, `set_grad_enabled(False)`)
  or in a function decorated with one of them: any call or arithmetic there gives a tensor
  with no history, except what may hand back an existing tensor (a view, `.to()`, `getattr`,
  `nn.Parameter`, `requires_grad=...`), which is followed to its source instead;
- or it is computed after the block only from grad-free values and constants, by operations
  that cannot add a graph of their own: arithmetic, known tensor methods, torch functions, a
  loss module built without tensors. `criterion(model(x), target)` never is: `model(x)` may
  record a graph, whatever `target` is.
A name changed in place anywhere in the scope (`x.add_(w)`, `x[0] = w`, `x.requires_grad = True`)
is not followed. The hit is only medium when the cut is a call of a module-level helper
decorated with `@torch.no_grad()`: the helper could be rebound at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.scopes import (
    NESTED,
    Scope,
    attribute_values,
    call_name,
    dotted_name,
    keyword,
    own_nodes,
    scopes,
)

# a call in a grad-off block that may hand back an existing tensor: followed to its source
SAME_OR_VIEW = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "type_as",
                "contiguous", "view", "view_as", "reshape", "reshape_as", "flatten",
                "unflatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "narrow",
                "select", "expand", "expand_as", "unfold", "chunk", "split", "unbind",
                "diagonal", "movedim", "swapaxes", "as_strided", "as_tensor", "asarray",
                "view_as_real", "view_as_complex", "broadcast_to", "atleast_1d", "atleast_2d",
                "atleast_3d", "tensor_split"}
# calls that may hand back an object they were given or hold: never taken as fresh
BUILTINS_HANDING_BACK = {"getattr", "next", "iter", "max", "min", "sorted", "reversed", "list",
                         "tuple", "dict", "Parameter", "Variable", "deepcopy", "copy"}
METHODS_HANDING_BACK = {"get", "pop", "popleft", "popitem", "setdefault", "parameters",
                        "named_parameters", "get_parameter", "requires_grad_", "__getitem__",
                        "copy", "deepcopy", "Parameter", "Variable"}
# tensor methods whose result depends only on the tensor and the arguments
TENSOR_METHODS = {"mean", "sum", "abs", "pow", "sqrt", "exp", "log", "neg", "square", "clamp",
                  "clip", "norm", "max", "min", "prod", "std", "var", "view", "reshape",
                  "flatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "mul", "add",
                  "sub", "div", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "log1p",
                  "expm1", "matmul", "mm", "bmm", "dot", "view_as", "reshape_as", "expand",
                  "expand_as", "repeat", "gather", "index_select", "masked_fill", "logsumexp",
                  "amax", "amin", "nansum", "nanmean"}
# methods whose arguments are a device or a dtype: only the tensor matters
DEVICE_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type_as",
                  "contiguous", "detach", "clone"}
ATTRIBUTES = {"loss", "logits", "T", "mT", "H", "real", "imag"}
FUNCTIONAL = ("torch.nn.functional.", "nn.functional.", "F.")
SETTINGS = {"dtype", "device", "layout", "memory_format", "pin_memory", "non_blocking",
            "generator"}  # keyword arguments that never carry a gradient
UNSEEN_TENSORS = {"torch.load"}  # hands back tensors that may require grad, from a file
SWITCHES = {"enable_grad", "set_grad_enabled", "_set_grad_enabled"}
MAX_DEPTH = 12


@dataclass(frozen=True)
class Cut:
    """Where grad mode was off: a `with` block, or a function decorated to turn it off
    (`helper`: a function called here, rather than the one this code runs in)."""

    node: ast.AST
    text: str
    helper: bool = False


@dataclass(frozen=True)
class Flow:
    """What following a value needs: its scope, which statements run with grad off, the
    names changed in place, and the module's grad-off helpers."""

    scope: Scope
    cuts: dict[ast.stmt, Cut]
    mutated: frozenset[str]
    helpers: dict[str, Cut]


def no_grad_around_loss(module: Module) -> Iterator[Hit]:
    helpers = grad_off_helpers(module.tree)
    functions = {id(node.body): node for node in ast.walk(module.tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for scope in scopes(module.tree):
        backward = [(call, targets) for call in scope.calls()
                    if (targets := backward_targets(call))]
        if not backward:
            continue
        flow = Flow(scope, grad_off_statements(scope, functions.get(id(scope.body))),
                    mutated_names(scope), helpers)
        for call, targets in backward:
            for target in targets:
                cuts = grad_free(target, flow, 0)
                if cuts:
                    helper = any(cut.helper for cut in cuts)
                    yield Hit(call.lineno, call.col_offset,
                              {"name": ast.unparse(target), "cut": cuts[0].text},
                              offered_fix(module, call, cuts),
                              "medium" if helper else "high")
                    break


def backward_targets(call: ast.Call) -> list[ast.expr]:
    """What `t.backward()`, `scaler.scale(t).backward()` or `torch.autograd.backward(t)`
    back-propagates."""
    func = call.func
    if call_name(call) == "torch.autograd.backward":
        tensors = call.args[0] if call.args else keyword(call, "tensors", raw=True)
        if isinstance(tensors, (ast.List, ast.Tuple)):
            return list(tensors.elts)
        return [tensors] if isinstance(tensors, ast.expr) else []
    if not (isinstance(func, ast.Attribute) and func.attr == "backward"):
        return []
    receiver = func.value
    if (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)
            and receiver.func.attr == "scale" and len(receiver.args) == 1
            and not receiver.keywords):
        return [receiver.args[0]]
    return [receiver]


def grad_free(node: ast.expr, flow: Flow, depth: int) -> list[Cut] | None:
    """The cuts that certainly leave `node` without a graph ([] when it never had one: a
    number, a fresh tensor), or None when it may require grad."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.Name):
        if node.id in flow.mutated:
            return None
        value = flow.scope.value_before(node.id, node)
        if value is None or value not in flow.scope.statement_of:  # a global: not followed
            return None
        return grad_free(value, flow, depth + 1)
    if isinstance(node, ast.Subscript):  # an index never carries a gradient
        return grad_free(node.value, flow, depth + 1)
    if isinstance(node, ast.Attribute):
        return grad_free(node.value, flow, depth + 1) if node.attr in ATTRIBUTES else None
    if isinstance(node, ast.Call) and creates_leaf(node):
        return None
    cut = flow.cuts.get(flow.scope.statement_of.get(node))  # type: ignore[arg-type]
    if cut is not None:
        return grad_off_value(node, cut, flow, depth)
    return grad_on_value(node, flow, depth)


def grad_off_value(node: ast.expr, cut: Cut, flow: Flow, depth: int) -> list[Cut] | None:
    """Computed with grad mode off: fresh results have no graph; a view or a conversion may
    be the tensor it came from, so that is followed instead."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        return [cut]
    if not isinstance(node, ast.Call):
        return None
    last = call_name(node).split(".")[-1]
    if last in SAME_OR_VIEW:
        if isinstance(node.func, ast.Attribute) and not dotted_name(node).startswith("torch."):
            return grad_free(node.func.value, flow, depth + 1)
        return grad_free(node.args[0], flow, depth + 1) if node.args else None
    handing_back = (METHODS_HANDING_BACK if isinstance(node.func, ast.Attribute)
                    else BUILTINS_HANDING_BACK)
    return None if last in handing_back else [cut]


def grad_on_value(node: ast.expr, flow: Flow, depth: int) -> list[Cut] | None:
    """Computed with grad mode on: grad-free only when every input is."""
    if isinstance(node, ast.BinOp):
        return merge(grad_free(node.left, flow, depth + 1), grad_free(node.right, flow, depth + 1))
    if isinstance(node, ast.UnaryOp):
        return grad_free(node.operand, flow, depth + 1)
    if isinstance(node, ast.Compare):
        return []  # a comparison never has a gradient, whatever its inputs
    if isinstance(node, (ast.List, ast.Tuple)):
        return merge(*(grad_free(item, flow, depth + 1) for item in node.elts))
    if isinstance(node, ast.Call):
        return grad_on_call(node, flow, depth)
    return None


def grad_on_call(call: ast.Call, flow: Flow, depth: int) -> list[Cut] | None:
    name = dotted_name(call)
    last = call_name(call).split(".")[-1]
    helper = flow.helpers.get(name)
    if helper is not None and not flow.scope.bindings(name) and name not in flow.scope.parameters:
        return [helper]
    arguments = [*call.args, *(k.value for k in call.keywords if k.arg not in SETTINGS)]
    if any(isinstance(a, ast.Starred) for a in arguments) or any(
            k.arg is None for k in call.keywords):
        return None
    function = name.startswith(FUNCTIONAL) or (
        name.startswith("torch.") and name.count(".") == 1 and name not in UNSEEN_TENSORS)
    if function or is_loss_module(call.func, flow):
        return merge(*(grad_free(a, flow, depth + 1) for a in arguments))
    if not isinstance(call.func, ast.Attribute):
        return None
    if last in DEVICE_METHODS:
        return grad_free(call.func.value, flow, depth + 1)
    if last in TENSOR_METHODS:
        return merge(*(grad_free(a, flow, depth + 1) for a in [*arguments, call.func.value]))
    return None


def merge(*found: list[Cut] | None) -> list[Cut] | None:
    if any(cuts is None for cuts in found):
        return None
    merged: list[Cut] = []
    for cuts in found:
        merged += [cut for cut in cuts or [] if cut not in merged]
    return merged


def creates_leaf(call: ast.Call) -> bool:
    """Anything in the call that may make a tensor that requires grad whatever the mode."""
    for node in ast.walk(call):
        if isinstance(node, ast.Call) and (
                keyword(node, "requires_grad", raw=True) is not None
                or call_name(node).split(".")[-1] in ("requires_grad_", "Parameter",
                                                      "Variable")):
            return True
    return False


def is_loss_module(func: ast.expr, flow: Flow) -> bool:
    """`criterion` or `self.criterion` certainly built as `nn.XxxLoss(...)` from constants:
    a loss module with no weights, whose result depends on its inputs only."""
    if isinstance(func, ast.Call):
        return loss_constructor(func)
    if isinstance(func, ast.Name):
        value = flow.scope.value_before(func.id, func)
        return isinstance(value, ast.Call) and loss_constructor(value)
    owner = flow.scope.owner
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "self" and owner is not None):
        values = attribute_values(owner, func.attr)
        return bool(values) and all(isinstance(v, ast.Call) and loss_constructor(v)
                                    for v in values)
    return False


def loss_constructor(call: ast.Call) -> bool:
    name = dotted_name(call)
    return (name.startswith(("nn.", "torch.nn.")) and name.endswith("Loss")
            and all(isinstance(a, ast.Constant)
                    for a in (*call.args, *(k.value for k in call.keywords))))


def grad_mode(expression: ast.expr) -> str | None:
    """'off' or 'on' for a grad-mode context manager or decorator ('on' also when it may
    turn grad on), None for anything else (autocast, inference_mode(False))."""
    called = expression.func if isinstance(expression, ast.Call) else expression
    if not isinstance(called, (ast.Name, ast.Attribute)):
        return None
    name = ast.unparse(called)
    last = name.split(".")[-1]
    if name != last and not name.startswith("torch."):
        return None
    argument = None
    if isinstance(expression, ast.Call):
        argument = expression.args[0] if expression.args else keyword(expression, "mode",
                                                                      raw=True)
    constant = argument.value if isinstance(argument, ast.Constant) else argument
    if last == "no_grad" or (last == "inference_mode" and constant in (None, True)):
        return "off"
    if last == "set_grad_enabled":
        return "off" if constant is False else "on"
    return "on" if last == "enable_grad" else None


def switches_grad(statements: list[ast.stmt]) -> bool:
    """A call that may turn grad mode back on somewhere inside."""
    return any(isinstance(node, ast.Call) and call_name(node).split(".")[-1] in SWITCHES
               for statement in statements for node in own_nodes(statement))


def grad_off_statements(scope: Scope, function: ast.FunctionDef | ast.AsyncFunctionDef | None
                        ) -> dict[ast.stmt, Cut]:
    """Each statement of the scope (the body of `function`, if any) that certainly runs with
    grad mode off, and why."""
    cuts: dict[ast.stmt, Cut] = {}
    mark(scope.body, None if function is None else decorator_cut(function, False), cuts)
    return cuts


def mark(body: list[ast.stmt], cut: Cut | None, cuts: dict[ast.stmt, Cut]) -> None:
    for statement in body:
        if cut is not None:
            cuts[statement] = cut
        if isinstance(statement, NESTED):
            continue
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            mark(statement.body, with_cut(statement, cut), cuts)
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(statement, name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                mark(inner, cut, cuts)
        for child in [*getattr(statement, "handlers", []), *getattr(statement, "cases", [])]:
            mark(child.body, cut, cuts)


def with_cut(statement: ast.With | ast.AsyncWith, outer: Cut | None) -> Cut | None:
    modes = [grad_mode(item.context_expr) for item in statement.items]
    if "on" in modes:
        return None
    if "off" not in modes:
        return outer
    if switches_grad(statement.body):
        return None
    items = ", ".join(ast.unparse(item) for item in statement.items)
    return Cut(statement, f"the `with {items}:` block at line {statement.lineno}")


def decorator_cut(function: ast.FunctionDef | ast.AsyncFunctionDef, helper: bool
                  ) -> Cut | None:
    modes = [grad_mode(decorator) for decorator in function.decorator_list]
    if "on" in modes or "off" not in modes or switches_grad(function.body):
        return None
    decorator = function.decorator_list[modes.index("off")]
    where = f"`@{ast.unparse(decorator)}` (line {decorator.lineno})"
    if helper:
        return Cut(function, f"`{function.name}()`, decorated with {where}", helper=True)
    return Cut(function, f"{where} on `{function.name}`")


def grad_off_helpers(tree: ast.Module) -> dict[str, Cut]:
    """Module-level functions decorated to turn grad mode off, defined once, whose every
    return value is certainly grad-free."""
    defined: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[node.name] = defined.get(node.name, 0) + 1
    module = Scope(tree.body)
    helpers = {}
    for function in tree.body:
        if (isinstance(function, ast.FunctionDef) and defined[function.name] == 1
                and not module.bindings(function.name)):
            cut = decorator_cut(function, True)
            if cut is not None and returns_grad_free(function):
                helpers[function.name] = cut
    return helpers


def returns_grad_free(function: ast.FunctionDef) -> bool:
    scope = Scope(function.body)
    flow = Flow(scope, grad_off_statements(scope, function), mutated_names(scope), {})
    nodes = list(scope.nodes())
    if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in nodes):
        return False
    values = [node.value for node in nodes if isinstance(node, ast.Return)]
    return bool(values) and all(value is not None and grad_free(value, flow, 0) is not None
                                for value in values)


def mutated_names(scope: Scope) -> frozenset[str]:
    """Names whose tensor may be changed in place, which can connect it to a graph."""
    names = set()
    for node in scope.nodes():
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.attr.endswith("_")
                and not node.func.attr.startswith("_")):
            names.add(node.func.value.id)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        names |= {t.value.id for t in targets if isinstance(t, (ast.Subscript, ast.Attribute))
                  and isinstance(t.value, ast.Name)}
        if isinstance(node, ast.keyword) and node.arg == "out" and isinstance(node.value,
                                                                             ast.Name):
            names.add(node.value.id)
    return frozenset(names)


def offered_fix(module: Module, call: ast.Call, cuts: list[Cut]) -> str | None:
    """The entry's fix, only where its transformer would undo this very cut: the
    `with` block (safe) or the helper's decorator (unsafe)."""
    from gradexplain.fixes import grad_mode_on
    from gradexplain.fixes._statement import Refusal

    if len(cuts) != 1:
        return None
    cut = cuts[0]
    try:
        if cut.helper:
            name = grad_mode_on.grad_off_function(module.source, call.lineno)
            return "undecorate-helper" if name == getattr(cut.node, "name", None) else None
        if not isinstance(cut.node, ast.With):
            return None
        receiver = grad_mode_on.backward_receiver(module.tree, call.lineno)
        assignment = grad_mode_on.last_assignment(module.tree, receiver, call.lineno)
        used = {n.id for n in ast.walk(assignment.value) if isinstance(n, ast.Name)}
        block = grad_mode_on.grad_off_block(module.tree, used, assignment.lineno)
    except Refusal:
        return None
    return "train-with-grad-on" if block.lineno == cut.node.lineno else None
