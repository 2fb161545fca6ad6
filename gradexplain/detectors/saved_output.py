"""inplace-modified-saved: an in-place change (`y += 1`, `y.mul_(2)`, `y[mask] = 0`,
`F.relu(y, inplace=True)`, an `nn.ReLU(inplace=True)` applied to `y`) of a tensor that holds
the output of an operation that saves its output for backward (sigmoid, tanh, exp, relu,
softmax, sqrt...: each checked against torch; gelu, elu, leaky_relu, pow, `x * 2` save their
input and are left out), run on a tensor that certainly requires grad (as numpy-requires-grad
finds it, through built-in layers such as BatchNorm) in grad mode, and then back-propagated.

Backward raises only when it reaches the operation that saved the tensor, so a finding needs
a backward that certainly does. The first thing after the operation that back-propagates or
leaves (a backward(), the file's own function that calls one, autograd.grad, a return, a
break, a raise, an exit) must be `root.backward()` in the same block as the operation and the
change, after the change, with `root` one number (a full `.sum()` or `.mean()`, a loss that
reduces) computed from the tensor, before or after the change, through differentiable
operations run in grad mode. An earlier backward() is not allowed: it may have freed the
graph, and the next one then raises "backward through the graph a second time" instead.

In a function, that first thing may instead be a `return` of a value computed from the
tensor. The finding is then certain when one call of the function (a module-level function,
or an instance of a plain nn.Module class of the file, for its `forward`) is back-propagated
in that way with grad mode certainly on, and the function is read as running in grad mode.
A `forward` that no call is seen back-propagate (its module put into an nn.Sequential, or
trained by a framework) is reported with medium confidence: a module exists to be trained,
and its training step raises; only a model used for inference alone runs, and one seen
called only where grad mode may be off is not reported. A backward in a scope whose grad
mode or input is only probable gives a medium finding too. Files that may hide saved tensors
or run a forward otherwise than written (activation checkpointing, saved-tensor hooks,
`allow_mutation_on_saved_tensors`, forward hooks, torch.compile, TorchScript) give none, and
so do files that bind `torch`, `F` or `nn` to something else, and names that may be rebound
unseen between the operation and the change (`with ... as y`, `global y` in a function).
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.leaf_update import INPLACE_METHODS, INPLACE_OPERATORS
from gradexplain.detectors.numpy_without_detach import (
    KEEPING_FUNCTIONS,
    KEEPING_METHODS,
    KEEPING_OPERATORS,
    MAX_SHOWN,
    TORCH_FUNCTION_PREFIXES,
    requires_grad,
    shown,
)
from gradexplain.detectors.requires_grad import (
    FUNCTIONS,
    MAX_DEPTH,
    PASSING_LAYERS,
    SAME_MODULE_METHODS,
    Context,
    File,
    FunctionNode,
    Sure,
    analyse,
    call_sites,
    expected_to_fail,
    grad_mode,
    grad_on_in,
    layer_name,
    least,
    module_kind,
    own_walk,
    values_of,
)
from gradexplain.detectors.scopes import call_name, keyword

# operations whose backward reads their output, each checked against torch
# (tests/test_detect_saved_output.py): its in-place change makes backward raise
SAVING_METHODS = {"sigmoid", "tanh", "exp", "exp2", "expm1", "relu", "softmax", "log_softmax",
                  "sqrt", "rsqrt", "reciprocal"}
SAVING_TORCH_FUNCTIONS = SAVING_METHODS
SAVING_FUNCTIONAL = {"sigmoid", "tanh", "relu", "softmax", "log_softmax", "softmin"}
SAVING_MODULES = {"Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "Softmin"}
TAKING_DIM = {"softmax", "log_softmax", "softmin"}
SAVING_KEYWORDS = {"dim", "dtype", "inplace"}
# in-place methods whose name without `_` is no out-of-place twin (`y.bernoulli()` takes no p)
WITHOUT_TWIN = {"zero_", "fill_", "copy_", "uniform_", "normal_", "exponential_", "random_",
                "bernoulli_"}
# in-place forms beyond the methods and augmented assignments leaf-inplace trusts
INPLACE_TORCH_FUNCTIONS = {"relu_", "sigmoid_", "tanh_", "exp_"}
INPLACE_FUNCTIONAL = {"relu_", "elu_", "leaky_relu_"}
INPLACE_ACTIVATIONS = {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "hardtanh",
                       "mish", "hardswish", "hardsigmoid"}
INPLACE_MODULES = {"ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "SiLU", "Hardtanh",
                   "Mish", "Hardswish", "Hardsigmoid"}
FUNCTIONAL_PREFIXES = ("F.", "torch.nn.functional.")
# what a backward root is followed through to the saved output (an in-place form returns it)
FOLLOWED_METHODS = KEEPING_METHODS | INPLACE_METHODS
FOLLOWED_FUNCTIONS = KEEPING_FUNCTIONS | INPLACE_ACTIVATIONS
# what makes a backward root one number
REDUCTIONS = {"sum", "mean"}
LOSS_FUNCTIONS = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                  "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div"}
LOSS_MODULES = {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
                "CrossEntropyLoss", "NLLLoss", "KLDivLoss"}
SCALAR_REDUCTIONS = {"mean", "sum", "batchmean"}
SCALAR_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
# what ends the certain run of a scope, and what back-propagates
EXITS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom)
EXIT_CALLS = {"exit", "quit", "sys.exit", "os._exit"}
BACKPROPAGATING_CALLS = ("autograd.grad", "autograd.backward")
# what keeps saved tensors from being checked, or runs the forward some other way
HIDING_NAMES = {"checkpoint_sequential", "save_on_cpu", "saved_tensors_hooks",
                "allow_mutation_on_saved_tensors", "register_forward_hook",
                "register_forward_pre_hook", "register_module_forward_hook"}
HIDING_ATTRIBUTES = {"torch.compile", "torch.jit.script", "torch.jit.trace",
                     "torch.utils.checkpoint"}
HIDING_ENDINGS = {name.rsplit(".", 1)[-1] for name in HIDING_ATTRIBUTES}
CHECKPOINTING = "torch.utils.checkpoint"
# the names the trusted forms are reached through, and what may rebind any global at run time
TORCH_NAMES = {"torch", "F", "nn"}
DYNAMIC_BINDERS = {"exec", "globals"}

Position = tuple[int, int]


@dataclass(frozen=True)
class Change:
    """An in-place change of the tensor a name holds: the node that makes it, how it is
    shown, and what to do instead."""

    node: ast.stmt | ast.expr
    name: str
    shown: str
    instead: str


@dataclass(frozen=True)
class Saved:
    """The operation that saved its output (`call`), what it was computed from, and the
    statement that assigned it."""

    call: ast.Call
    source: ast.expr
    statement: ast.stmt


@dataclass(frozen=True)
class Source:
    """The value a backward root must be computed from, and whether it is one number."""

    node: ast.AST
    scalar: bool = False


def inplace_on_saved_output(module: Module) -> Iterator[Hit]:
    if hides_saved_tensors(module.tree) or shadows_torch(module.tree):
        return
    analysis = Analysis(analyse(module.tree))
    for context in analysis.file.contexts:
        claimed: set[ast.Call] = set()
        for change, saved in candidates(context):
            if saved.call in claimed:
                continue  # the first change of a saved output is the one to fix
            sure = analysis.certainty(context, change, saved)
            if sure is not None:
                claimed.add(saved.call)
                yield Hit(change.node.lineno, change.node.col_offset,
                          {"tensor": change.name, "op": shown(saved.call),
                           "change": change.shown, "instead": change.instead},
                          confidence=sure.confidence)


def hides_saved_tensors(tree: ast.Module) -> bool:
    """The file may check no saved tensor, or run a forward otherwise than as written (a
    variable named `checkpoint`, a loaded state, hides nothing)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in HIDING_NAMES:
            return True
        if isinstance(node, ast.Attribute) and (node.attr in HIDING_NAMES or (
                node.attr in HIDING_ENDINGS and ast.unparse(node) in HIDING_ATTRIBUTES)):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and imports_checkpointing(node):
            return True
    return False


def shadows_torch(tree: ast.Module) -> bool:
    """The file binds `torch`, `F` or `nn` to something other than torch or a part of it (a
    class of its own, a parameter, `import numpy as F`): `F.relu(x)` may then be any function
    and keep nothing. `F = torch.nn.functional` is torch."""
    from_torch: set[ast.AST] = set()
    for node in ast.walk(tree):  # an assignment is met before its targets
        if isinstance(node, ast.Assign) and head(node.value) == "torch":
            from_torch.update(node.targets)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            from_torch.update(a for a in node.names if is_torch_module(module or a.name)
                              and not getattr(node, "level", 0))
        if node not in from_torch and TORCH_NAMES.intersection(bound_here(node)):
            return True
    return False


def is_torch_module(name: str) -> bool:
    return name.split(".")[0] == "torch"


def head(node: ast.expr) -> str | None:
    """`torch` for `torch.nn.functional`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def bound_here(node: ast.AST) -> list[str]:
    """The names a node binds itself, each with the node's position (`with ... as y` binds
    through its Name, a `def` its name, an import its alias)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return [node.id]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    name = getattr(node, "name", None)  # a def, a class, `except E as y`, a match capture
    return [name] if isinstance(name, str) else []


def imports_checkpointing(node: ast.Import | ast.ImportFrom) -> bool:
    """`from torch.utils.checkpoint import checkpoint`, `from torch.utils import checkpoint`,
    `import torch.utils.checkpoint as cp`."""
    module = f"{node.module}." if isinstance(node, ast.ImportFrom) and node.module else ""
    return any(f"{module}{alias.name}".startswith(CHECKPOINTING) for alias in node.names)


def candidates(context: Context) -> list[tuple[Change, Saved]]:
    """Each in-place change of a name that holds a saved output assigned in the same
    block, with that output, in the order of the code."""
    found = []
    for node in context.scope.statement_of:  # every node of the scope, found once already
        change = inplace_change(context, node)
        saved = None if change is None else saved_output(context, change)
        if change is not None and saved is not None:
            found.append((change, saved))
    return sorted(found, key=lambda pair: start(pair[0].node))


# --- the change ----------------------------------------------------------------------------

def inplace_change(context: Context, node: ast.AST) -> Change | None:
    if isinstance(node, ast.AugAssign) and type(node.op) in INPLACE_OPERATORS:
        if isinstance(node.target, ast.Name):
            name = node.target.id
            return Change(node, name, brief(ast.unparse(node)),
                          "write " + assigned(name, ast.BinOp(node.target, node.op, node.value)))
        return indexed_change(node, node.target)
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return indexed_change(node, node.targets[0])
    if isinstance(node, ast.Call):
        return function_change(node) or method_change(node) or module_change(context, node)
    return None


def indexed_change(node: ast.stmt, target: ast.expr) -> Change | None:
    """`y[mask] = 0`, `y[0] += 1`: a write into the tensor itself."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return Change(node, target.value.id, brief(ast.unparse(node)),
                      clone_first(target.value.id))
    return None


def method_change(call: ast.Call) -> Change | None:
    """`y.mul_(2)`, written out of place `y = y.mul(2)`; a method with no such twin
    (`zero_`, `fill_`) changes a clone instead."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in INPLACE_METHODS
            and isinstance(func.value, ast.Name)
            and not call_name(call).startswith(TORCH_FUNCTION_PREFIXES)):
        return None
    name = func.value.id
    return Change(call, name, shown(call), clone_first(name) if func.attr in WITHOUT_TWIN
                  else "write " + assigned(name, out_of_place(call, func.attr[:-1])))


def clone_first(name: str) -> str:
    clone = ast.Call(ast.Attribute(ast.Name(name), "clone"), [], [])
    return f"run {assigned(name, clone)} before it"


def function_change(call: ast.Call) -> Change | None:
    """`torch.relu_(y)`, `F.relu(y, inplace=True)`."""
    name = call_name(call)
    if not call.args or not isinstance(call.args[0], ast.Name) or not isinstance(
            call.func, ast.Attribute):
        return None
    tensor = call.args[0].id
    if function_in(name, ("torch.",), INPLACE_TORCH_FUNCTIONS) or function_in(
            name, FUNCTIONAL_PREFIXES, INPLACE_FUNCTIONAL):
        return Change(call, tensor, shown(call),
                      "write " + assigned(tensor, out_of_place(call, call.func.attr[:-1])))
    if function_in(name, FUNCTIONAL_PREFIXES, INPLACE_ACTIVATIONS) and (
            keyword(call, "inplace") is True):
        return Change(call, tensor, shown(call),
                      f"call `{shown(out_of_place(call, call.func.attr))}`, without inplace=True")
    return None


def out_of_place(call: ast.Call, function: str) -> ast.Call:
    """The call with its function renamed and without `inplace=`: a new tensor."""
    assert isinstance(call.func, ast.Attribute)
    return ast.Call(ast.Attribute(call.func.value, function), call.args,
                    [k for k in call.keywords if k.arg != "inplace"])


def assigned(name: str, value: ast.expr) -> str:
    return f"`{brief(f'{name} = {ast.unparse(value)}')}`"


def brief(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def module_change(context: Context, call: ast.Call) -> Change | None:
    """A module certainly built with `inplace=True` applied to a name."""
    if (len(call.args) != 1 or call.keywords or not isinstance(call.args[0], ast.Name)
            or not builds_inplace_layers(context.file.tree)):
        return None
    built = constructors(context, call.func, call)
    if not built or not all(layer_name(c) in INPLACE_MODULES and is_inplace(c) for c in built):
        return None
    tensor = call.args[0].id
    return Change(call, tensor, f"{shown(call.func)}({tensor})",
                  f"create the nn.{layer_name(built[0])} with `inplace=False`")


@lru_cache(maxsize=2)
def builds_inplace_layers(tree: ast.Module) -> bool:
    """Whether the file builds any in-place layer: most do not, and then no call needs its
    callee followed back to a construction."""
    return any(isinstance(node, ast.Call) and layer_name(node) in INPLACE_MODULES
               and is_inplace(node) for node in ast.walk(tree))


def is_inplace(layer: ast.Call) -> bool:
    """`inplace=True`, or `nn.ReLU(True)`."""
    flag = keyword(layer, "inplace", raw=True)
    if flag is None and layer_name(layer) == "ReLU" and layer.args:
        flag = layer.args[0]
    return isinstance(flag, ast.Constant) and flag.value is True


def constructors(context: Context, func: ast.expr, use: ast.AST) -> list[ast.Call]:
    """The module constructions a called expression certainly holds one of: itself
    (`nn.ReLU()(y)`), a name's values, or what `self.<attr>` is ever assigned in its class
    (and nowhere else); empty when unknown."""
    if isinstance(func, ast.Call):
        return [func]
    if isinstance(func, ast.Name):
        values = [value for value, _ in values_of(context, func.id, use) or []]
    elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
          and func.value.id == "self" and context.scope.owner is not None
          and func.attr not in context.file.replaced_attributes):
        values = context.file.class_attributes[context.scope.owner].get(func.attr, [])
    else:
        return []
    calls = [value for value in values if isinstance(value, ast.Call)]
    return calls if calls and len(calls) == len(values) else []


# --- the saved output --------------------------------------------------------------------

def saved_output(context: Context, change: Change) -> Saved | None:
    """The saving operation the changed name certainly holds, assigned in the change's
    block (earlier changes in place keep the tensor, and are passed over)."""
    value = context.scope.value_before(change.name, change.node, through_augmented=True)
    if not isinstance(value, ast.Call):
        return None
    source = saved_input(context, value)
    statement = context.scope.statement_of.get(value)
    changed_in = context.scope.statement_of.get(change.node)
    if source is None or statement is None or changed_in is None or (
            context.scope.path_of.get(statement) != context.scope.path_of.get(changed_in)):
        return None
    if rebound_between(context, change.name, value, changed_in):
        return None
    return Saved(value, source, statement)


def rebound_between(context: Context, name: str, saved: ast.Call,
                    changed_in: ast.stmt) -> bool:
    """`name` may hold something else than the saved output by the change: a binding
    value_before does not see runs between them (`with ... as y`, `except E as y`, a match
    capture, an import), or code elsewhere may rebind it (a `global y` or `nonlocal y`, and
    for a global `exec` or `globals()`)."""
    if name in rebinding_names(context.file.tree)[0] or (
            context.function is None and rebinding_names(context.file.tree)[1]):
        return True
    starts = binding_starts(context).get(name, [])
    index = bisect.bisect_left(starts, end(saved))
    return index < len(starts) and starts[index] < start(changed_in)


@lru_cache(maxsize=8)
def binding_starts(context: Context) -> dict[str, list[Position]]:
    """Where each name is bound in the scope, in order, found once per scope: a long
    script has many changes to look between. `y += 1` keeps the tensor, and is left out;
    so is a comprehension's variable, which is its own."""
    kept: set[ast.AST] = set()
    for node in context.scope.all_nodes:
        if isinstance(node, ast.AugAssign):
            kept.add(node.target)
        elif isinstance(node, ast.comprehension):
            kept.update(ast.walk(node.target))
    found: dict[str, list[Position]] = {}
    for node in context.scope.all_nodes:
        for name in [] if node in kept else bound_here(node):
            found.setdefault(name, []).append(start(node))
    return {name: sorted(starts) for name, starts in found.items()}


@lru_cache(maxsize=2)
def rebinding_names(tree: ast.Module) -> tuple[frozenset[str], bool]:
    """The names some function declares `global` or `nonlocal` (a call of it may rebind
    them), and whether the file may rebind any global by name (`exec`, `globals()`)."""
    declared = frozenset(name for node in ast.walk(tree)
                         if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names)
    dynamic = any(isinstance(node, ast.Call) and call_name(node) in DYNAMIC_BINDERS
                  for node in ast.walk(tree))
    return declared, dynamic


def saved_input(context: Context, call: ast.Call) -> ast.expr | None:
    """The input of an operation that saves its output for backward, called as torch
    accepts it, or None (an in-place form: `inplace=` anything but False, `F.relu(x, True)`;
    `out=`; a softmax without the `dim` its method and torch forms need)."""
    inplace = keyword(call, "inplace", raw=True)
    if any(k.arg not in SAVING_KEYWORDS for k in call.keywords) or (
            inplace is not None and not (isinstance(inplace, ast.Constant)
                                         and inplace.value is False)):
        return None
    name = call_name(call)
    dims = 1 if name.rsplit(".", 1)[-1] in TAKING_DIM else 0
    dim_given = keyword(call, "dim", raw=True) is not None
    if function_in(name, ("torch.",), SAVING_TORCH_FUNCTIONS) or function_in(
            name, FUNCTIONAL_PREFIXES, SAVING_FUNCTIONAL):
        implicit_dim = dim_given or name.startswith(FUNCTIONAL_PREFIXES)
        return call.args[0] if len(call.args) == 1 + dims or (
            dims and len(call.args) == 1 and implicit_dim) else None
    built = constructors(context, call.func, call)
    if built:
        return call.args[0] if len(call.args) == 1 and not call.keywords and all(
            layer_name(c) in SAVING_MODULES and not is_inplace(c) for c in built) else None
    if (isinstance(call.func, ast.Attribute) and call.func.attr in SAVING_METHODS
            and not name.startswith(TORCH_FUNCTION_PREFIXES)
            and (len(call.args) == dims or (dims and not call.args and dim_given))):
        return call.func.value
    return None


def function_in(name: str, prefixes: tuple[str, ...], functions: set[str]) -> bool:
    """`name` is one of `functions` reached through one of `prefixes` (`F.relu`)."""
    return any(name.startswith(prefix) and name[len(prefix):] in functions
               for prefix in prefixes)


# --- the backward ------------------------------------------------------------------------

@dataclass(eq=False)
class Analysis:
    """The file's analysis and what the proof of a backward needs, found once per file."""

    file: File
    events_of: dict[Context, tuple[list[Position], list[ast.AST]]] = field(
        default_factory=dict)
    proven: dict[tuple[FunctionNode, bool], bool] = field(default_factory=dict)

    def certainty(self, context: Context, change: Change, saved: Saved) -> Sure | None:
        """How sure it is that a backward through the saved output follows the change."""
        follows = self.next_event(context, saved.call)
        if follows is None or not self.in_block_after(context, change.node, follows,
                                                      saved.statement):
            return None
        if isinstance(follows, ast.Return):
            return self.certainty_through_return(context, follows, saved)
        return least(origin(context, saved),
                     self.backward_of(context, follows, Source(saved.call)))

    def certainty_through_return(self, context: Context, returned: ast.Return,
                                 saved: Saved) -> Sure | None:
        """A proven call makes the finding certain; a forward never seen back-propagated
        makes it probable."""
        function = context.function
        if returned.value is None or function is None:
            return None
        scalar = certainly_scalar(context, returned.value, returned, Source(saved.call), 0)
        if self.is_proven(function, scalar):
            with grad_on_in(context):
                sure = returned_from(context, returned.value, saved)
            return Sure.HIGH if sure == Sure.HIGH else None
        if self.is_trained_forward(context, function):
            sure = returned_from(context, returned.value, saved)
            return None if sure is None else Sure.MEDIUM
        return None

    def is_proven(self, function: FunctionNode, returns_scalar: bool) -> bool:
        """One call of the function, with grad mode certainly on, is back-propagated."""
        key = function, returns_scalar
        if key not in self.proven:
            self.proven[key] = any(
                grad_mode(site, call) == Sure.HIGH
                and self.backpropagated(site, call, Source(call, returns_scalar))
                for call, site in self.calls_of(function))
        return self.proven[key]

    def backpropagated(self, site: Context, call: ast.Call, result: Source) -> bool:
        follows = self.next_event(site, call)
        statement = site.scope.statement_of.get(call)
        return (follows is not None and statement is not None
                and self.in_block_after(site, call, follows, statement)
                and self.backward_of(site, follows, result) == Sure.HIGH)

    def calls_of(self, function: FunctionNode) -> list[tuple[ast.Call, Context]]:
        """The calls of a module-level function, or of the instances of the file's
        nn.Module class whose `forward` it is; none for a decorated function (`no_grad`
        may turn grad mode off in it whatever its callers do)."""
        if function.decorator_list:
            return []
        owner = next((c for c in self.file.module_classes.values() if function in c.body), None)
        if owner is None:
            return call_sites(self.file, function) or []
        if function.name != "forward" or not self.is_plain_module(owner):
            return []
        return self.instance_calls.get(owner.name, [])

    def is_plain_module(self, owner: ast.ClassDef) -> bool:
        """An nn.Module class of the file whose instances run its `forward` as written: no
        `__call__` of its own, no subclass in the file that may replace its layers."""
        return self.file.module_classes.get(owner.name) is owner and not any(
            isinstance(item, FUNCTIONS) and item.name == "__call__" for item in owner.body
        ) and owner.name not in self.base_names

    @cached_property
    def base_names(self) -> frozenset[str]:
        return frozenset(base.id for node in ast.walk(self.file.tree)
                         if isinstance(node, ast.ClassDef)
                         for base in node.bases if isinstance(base, ast.Name))

    @cached_property
    def instance_calls(self) -> dict[str, list[tuple[ast.Call, Context]]]:
        """Per nn.Module class of the file, the calls of names that certainly hold one of
        its instances (`model = Net()`, `model = Net().to(device)`)."""
        found: dict[str, list[tuple[ast.Call, Context]]] = {}
        for name in self.instance_names:
            for call in self.file.calls_by_name.get(name, []):
                context = self.file.context_of.get(call)
                kind = None if context is None else instance_class(context, name, call, self.file)
                if context is not None and kind is not None:
                    found.setdefault(kind, []).append((call, context))
        return found

    @cached_property
    def instance_names(self) -> frozenset[str]:
        """The names some assignment gives an instance of an nn.Module class of the file."""
        return frozenset(
            target.id for node in ast.walk(self.file.tree) if isinstance(node, ast.Assign)
            and constructed_class(node.value) in self.file.module_classes
            for target in node.targets if isinstance(target, ast.Name))

    def is_trained_forward(self, context: Context, function: FunctionNode) -> bool:
        """The forward of a plain nn.Module class of the file, not seen called only where
        grad mode may be off (an inference script)."""
        owner = context.scope.owner
        if function.name != "forward" or owner is None or not self.is_plain_module(owner):
            return False
        calls = self.instance_calls.get(owner.name, [])
        return not calls or any(grad_mode(site, call) is not None for call, site in calls)

    def backward_of(self, context: Context, call: ast.AST, source: Source) -> Sure | None:
        """How sure it is that `call` is `root.backward()` with `root` one number computed
        from the source in grad mode."""
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "backward" and not call.args and all(
                    k.arg in ("retain_graph", "create_graph") for k in call.keywords)):
            return None
        root = call.func.value
        if expected_to_fail(context, call) or not certainly_scalar(context, root, call,
                                                                   source, 0):
            return None
        return computed_from(context, root, call, source, 0)

    def in_block_after(self, context: Context, node: ast.AST, follows: ast.AST,
                       statement: ast.stmt) -> bool:
        """`follows` runs in the block of `statement`, after `node`."""
        scope = context.scope
        node_statement = scope.statement_of.get(node)
        follows_statement = scope.statement_of.get(follows)
        if node_statement is None or follows_statement is None or not (
                scope.path_of.get(statement) == scope.path_of.get(node_statement)
                == scope.path_of.get(follows_statement)):
            return False
        if follows_statement is not node_statement:
            return start(follows_statement) > start(node_statement)
        inner = follows.value if isinstance(follows, ast.Return) else getattr(
            getattr(follows, "func", None), "value", None)
        return inner is not None and start(inner) <= start(node) and end(node) <= end(inner)

    def next_event(self, context: Context, node: ast.AST) -> ast.AST | None:
        """The first back-propagation or exit, other than `node`, that ends where `node`
        does or later (`return model(x)` returns after the call)."""
        if context not in self.events_of:
            self.events_of[context] = self.events(context)
        ends, events = self.events_of[context]
        index = bisect.bisect_left(ends, end(node))
        while index < len(events) and events[index] is node:
            index += 1
        return events[index] if index < len(events) else None

    def events(self, context: Context) -> tuple[list[Position], list[ast.AST]]:
        found = sorted(((end(node), node) for node in context.scope.statement_of
                        if self.is_event(node)), key=lambda pair: pair[0])
        return [position for position, _ in found], [node for _, node in found]

    def is_event(self, node: ast.AST) -> bool:
        if isinstance(node, EXITS):
            return True
        if not isinstance(node, ast.Call):
            return False
        name = call_name(node)
        return (name in EXIT_CALLS or name.endswith(BACKPROPAGATING_CALLS)
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "backward")
                or name.rsplit(".", 1)[-1] in self.backpropagating_functions)

    @cached_property
    def backpropagating_functions(self) -> frozenset[str]:
        """The file's functions that call backward() themselves."""
        return frozenset(node.name for node in ast.walk(self.file.tree)
                         if isinstance(node, FUNCTIONS)
                         and any(isinstance(n, ast.Attribute) and n.attr == "backward"
                                 for n in own_walk(node)))


def instance_class(context: Context, name: str, use: ast.AST, file: File) -> str | None:
    """The file's nn.Module class every value of `name` is an instance of, or None."""
    values = values_of(context, name, use)
    kinds = {constructed_class(value) for value, _ in values or []}
    kind = kinds.pop() if len(kinds) == 1 else None
    return kind if kind in file.module_classes and file.named_once(kind) else None


def constructed_class(node: ast.expr) -> str | None:
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in SAME_MODULE_METHODS):
        node = node.func.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def origin(context: Context, saved: Saved) -> Sure | None:
    """How sure it is that the saving operation ran on a tensor requiring grad, in grad
    mode, so that autograd saved its output. A built-in layer without parameters of its own
    that matter here (`self.bn(...)`, `nn.Dropout`) passes requires_grad on from its input."""
    source = saved.source
    while (isinstance(source, ast.Call) and len(source.args) == 1 and not source.keywords
           and is_passing_layer(context, source.func, saved.call)):
        source = source.args[0]
    trace = requires_grad(context, source, saved.call, 0)
    return None if trace is None else least(trace.sure, grad_mode(context, saved.call))


def is_passing_layer(context: Context, func: ast.expr, use: ast.AST) -> bool:
    built = constructors(context, func, use)
    return bool(built) and all(layer_name(c) in PASSING_LAYERS for c in built)


# --- values a backward root is computed from -----------------------------------------------

def returned_from(context: Context, value: ast.expr, saved: Saved) -> Sure | None:
    """How sure it is that a function's result is computed from its saved output, which
    required grad."""
    return least(origin(context, saved), computed_from(context, value, value, Source(saved.call),
                                                       0))


def computed_from(context: Context, node: ast.AST, use: ast.AST, source: Source,
                  depth: int) -> Sure | None:
    """How sure it is that `node` is computed from the source through differentiable
    operations run in grad mode, so that a backward from it reaches the source's operation
    (None: not certainly)."""
    if node is source.node:
        return Sure.HIGH
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Name):  # an in-place change keeps the tensor: passed over
        values = values_of(context, node.id, use, through_augmented=True)
        return least(*(computed_from(ctx, value, value, source, depth + 1)
                       for value, ctx in values)) if values else None
    flows = [computed_from(context, operand, use, source, depth + 1)
             for operand in differentiable_operands(context, node, use)]
    known = [sure for sure in flows if sure is not None]
    return least(max(known), grad_mode(context, node)) if known else None


def differentiable_operands(context: Context, node: ast.AST, use: ast.AST) -> list[ast.expr]:
    """The operands of an operation that gradients flow back to."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, KEEPING_OPERATORS):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return [node.operand]
    if isinstance(node, ast.Subscript) or (isinstance(node, ast.Attribute)
                                           and node.attr in ("T", "mT")):
        return [node.value]
    if not isinstance(node, ast.Call):
        return []
    name = call_name(node)
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    if isinstance(node.func, ast.Attribute) and node.func.attr in FOLLOWED_METHODS and not (
            name.startswith(TORCH_FUNCTION_PREFIXES)):
        return [node.func.value]
    if function_in(name, TORCH_FUNCTION_PREFIXES, FOLLOWED_FUNCTIONS):
        return positional
    if function_in(name, FUNCTIONAL_PREFIXES, LOSS_FUNCTIONS) or passes_input(context, node, use):
        return positional[:1]
    return []


def passes_input(context: Context, call: ast.Call, use: ast.AST) -> bool:
    """A built-in layer applied to its input, or a loss module to its input and target."""
    if len(call.args) == 2:
        built = constructors(context, call.func, use)
        return bool(built) and all(layer_name(c) in LOSS_MODULES for c in built)
    kind = module_kind(context, call.func, use) if len(call.args) == 1 else None
    return (kind is not None and kind[1] == Sure.HIGH and kind[0] != "nn.Embedding") or (
        len(call.args) == 1 and is_passing_layer(context, call.func, use))


def certainly_scalar(context: Context, node: ast.AST, use: ast.AST, source: Source,
                     depth: int) -> bool:
    """`node` certainly holds one number: a full `.sum()` or `.mean()`, a loss with a
    reducing `reduction`, arithmetic of such, or the source when it is one."""
    if node is source.node:
        return source.scalar
    if depth > MAX_DEPTH:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):  # not through `loss += x`: x may not be one number
        values = values_of(context, node.id, use)
        return bool(values) and all(certainly_scalar(ctx, value, value, source, depth + 1)
                                    for value, ctx in values or [])
    if isinstance(node, ast.BinOp) and isinstance(node.op, SCALAR_OPERATORS):
        return all(certainly_scalar(context, side, use, source, depth + 1)
                   for side in (node.left, node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return certainly_scalar(context, node.operand, use, source, depth + 1)
    return isinstance(node, ast.Call) and (is_full_reduction(node) or is_reduced_loss(
        context, node, use))


def is_full_reduction(call: ast.Call) -> bool:
    """`t.sum()`, `t.mean()`, `torch.sum(t)`: no dimension given."""
    if any(k.arg != "dtype" for k in call.keywords):
        return False
    name = call_name(call)
    if function_in(name, ("torch.",), REDUCTIONS):
        return len(call.args) == 1
    return (isinstance(call.func, ast.Attribute) and call.func.attr in REDUCTIONS
            and not call.args and not name.startswith(TORCH_FUNCTION_PREFIXES))


def is_reduced_loss(context: Context, call: ast.Call, use: ast.AST) -> bool:
    """`F.mse_loss(a, b)` or `criterion(a, b)` (criterion an nn loss) that reduces to one
    number (`reduction` left as it is, or a constant that reduces)."""
    if function_in(call_name(call), FUNCTIONAL_PREFIXES, LOSS_FUNCTIONS):
        return len(call.args) == 2 and reduces(call)
    if len(call.args) != 2 or call.keywords:
        return False
    built = constructors(context, call.func, use)
    return bool(built) and all(layer_name(c) in LOSS_MODULES and not c.args and reduces(c)
                               for c in built)


def reduces(call: ast.Call) -> bool:
    given = keyword(call, "reduction", raw=True)
    return not any(k.arg in ("reduce", "size_average") for k in call.keywords) and (
        given is None or (isinstance(given, ast.Constant) and given.value in SCALAR_REDUCTIONS))


def start(node: ast.AST) -> Position:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def end(node: ast.AST) -> Position:
    return getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0
