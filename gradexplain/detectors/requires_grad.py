"""What certainly requires grad, and where autograd certainly records: the reasoning shared by
the numpy-without-detach and leaf-update-outside-no-grad detectors.

A tensor requires grad when it is a leaf made to (`requires_grad=True`, `nn.Parameter`), in
any grad mode, or when it is computed from one, or by a module with parameters, while grad
mode is on. Grad mode is on in module-level code outside `with` blocks that could turn it
off. In a function it is what it is where the function is called: when every call in the
file is known, the function takes the least sure of them; when it is not (a method, a
function passed around), it is only probable (`MEDIUM`), and off for names that evaluation
code uses (`evaluate`, `validation_step`), which frameworks run under no_grad.

A parameter of a module-level function holds what every call passes. Anything not followed
(a `set_grad_enabled` call, `requires_grad` switched anywhere in the file, a name bound by an
import) leaves the answer unknown, and the detectors silent.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from gradexplain.detectors.scopes import (
    NESTED,
    Scope,
    assigned_attributes,
    attribute_values,
    call_name,
    keyword,
    scopes,
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
WITHS = (ast.With, ast.AsyncWith)
TRYS = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
CATCHING = {"RuntimeError", "Exception", "BaseException"}
Value = tuple[ast.expr, "Context"]  # an expression and the scope it is read in

FACTORIES = {"tensor", "randn", "rand", "zeros", "ones", "empty", "full", "arange", "linspace",
             "logspace", "eye", "randn_like", "rand_like", "zeros_like", "ones_like",
             "empty_like", "full_like"}
# built-in layers with a weight, whose output is one tensor; the index of `bias` (None: none)
PARAMETER_LAYERS = {"Linear": 2, "Bilinear": 3, "Conv1d": 7, "Conv2d": 7, "Conv3d": 7,
                    "ConvTranspose1d": 7, "ConvTranspose2d": 7, "ConvTranspose3d": 7,
                    "Embedding": None}
PASSING_LAYERS = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
                  "Mish", "Tanh", "Sigmoid", "Softplus", "Softmax", "LogSoftmax", "Dropout",
                  "Dropout1d", "Dropout2d", "Dropout3d", "Flatten", "Unflatten", "Identity",
                  "LayerNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm",
                  "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
                  "AdaptiveAvgPool2d", "MaxPool1d", "MaxPool2d", "MaxPool3d"}
SAME_MODULE_METHODS = {"to", "cuda", "cpu", "train", "eval", "float", "double", "half"}
NEUTRAL_CONTEXTS = {"torch.enable_grad", "torch.autocast", "torch.amp.autocast",
                    "torch.cuda.amp.autocast", "torch.cpu.amp.autocast",
                    "torch.autograd.detect_anomaly", "torch.autograd.set_detect_anomaly", "open"}
GRAD_SWITCHES = {"set_grad_enabled", "_set_grad_enabled", "no_grad", "inference_mode",
                 "__enter__"}
DEVICE_MOVES = {"cuda", "to", "set_default_device", "set_default_tensor_type"}
EVALUATION_WORDS = ("valid", "test", "predict", "eval", "infer")
MAX_DEPTH = 12


class Sure(enum.IntEnum):
    MEDIUM = 1
    HIGH = 2

    @property
    def confidence(self) -> str:
        """The finding's confidence, as `detect:` items name it."""
        return self.name.lower()


def least(*values: Sure | None) -> Sure | None:
    """The least sure of several conditions that must all hold (None: one is unknown)."""
    if any(value is None for value in values):
        return None
    return min(value for value in values if value is not None)


@dataclass(eq=False)
class File:
    """Facts about the whole file, and the context of each scope."""

    tree: ast.Module
    contexts: list[Context] = field(default_factory=list)
    modes: dict[ast.AST, Sure | None] = field(default_factory=dict)  # per function

    @cached_property
    def module(self) -> Context:
        return self.contexts[0]

    @cached_property
    def context_of(self) -> dict[ast.AST, Context]:
        """The context each call is read in."""
        return {call: context for context in self.contexts for call in context.scope.calls()}

    @cached_property
    def grad_untracked(self) -> bool:
        """Grad mode switched by a call this analysis does not follow."""
        managed = {id(item.context_expr) for node in ast.walk(self.tree)
                   if isinstance(node, WITHS) for item in node.items}
        managed |= {id(d) for node in ast.walk(self.tree) if isinstance(node, FUNCTIONS)
                    for d in node.decorator_list}
        return any(isinstance(node, ast.Call) and id(node) not in managed
                   and call_name(node).rsplit(".", 1)[-1] in GRAD_SWITCHES
                   for node in ast.walk(self.tree))

    @cached_property
    def requires_grad_changed(self) -> bool:
        """`x.requires_grad = ...`, `requires_grad_(False)`, `detach_()` or a setattr of
        requires_grad anywhere: then no tensor's or parameter's requires_grad is certain."""
        for node in ast.walk(self.tree):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            if any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in targets):
                return True
            if isinstance(node, ast.Call) and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_"
                     and not switches_on(node))
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "detach_")
                    or (call_name(node) == "setattr" and len(node.args) > 1
                        and isinstance(node.args[1], ast.Constant)
                        and node.args[1].value == "requires_grad")):
                return True
        return False

    @cached_property
    def may_use_a_gpu(self) -> bool:
        """Tensors or modules may be moved off the CPU (`.cuda()`, `.to(...)`, `device=`);
        `.numpy()` of a GPU tensor fails on its device before its requires_grad is looked at."""
        return any((isinstance(node, ast.Attribute) and node.attr in DEVICE_MOVES)
                   or (isinstance(node, ast.keyword) and node.arg == "device" and not (
                       isinstance(node.value, ast.Constant) and node.value.value == "cpu"))
                   for node in ast.walk(self.tree))

    @cached_property
    def replaced_attributes(self) -> frozenset[str]:
        """Attributes assigned or deleted on something else than `self` (`layer.weight =
        ...`): a layer's parameter may then have been swapped for any tensor."""
        targets = [t for node in ast.walk(self.tree) if isinstance(node, (ast.Assign, ast.Delete))
                   for t in node.targets]
        targets += [node.target for node in ast.walk(self.tree)
                    if isinstance(node, ast.AnnAssign)]
        return frozenset(t.attr for t in targets if isinstance(t, ast.Attribute) and not (
            isinstance(t.value, ast.Name) and t.value.id == "self"))

    @cached_property
    def unsure_names(self) -> frozenset[str]:
        """Names bound by an import, a def, a class or an except clause, which scopes do not
        count as bindings."""
        names = {getattr(node, "rest" if isinstance(node, ast.MatchMapping) else "name", None)
                 for node in ast.walk(self.tree) if isinstance(node, (
                     *FUNCTIONS, ast.ClassDef, ast.ExceptHandler, ast.MatchAs, ast.MatchStar,
                     ast.MatchMapping))}
        return frozenset(name for name in names | self.imported if isinstance(name, str))

    @cached_property
    def class_attributes(self) -> dict[ast.ClassDef, dict[str, list[ast.expr]]]:
        """Per class, the values assigned to each `self.<attr>` in it, found once: asking
        `attribute_values` about every `self.<attr>(...)` call walks a long class each time."""
        return {node: assigned_attributes(node) for node in ast.walk(self.tree)
                if isinstance(node, ast.ClassDef)}

    @cached_property
    def parameter_class(self) -> frozenset[str]:
        """How the file names nn.Parameter."""
        names = {"nn.Parameter", "torch.nn.Parameter", "nn.parameter.Parameter",
                 "torch.nn.parameter.Parameter"}
        if any(isinstance(node, ast.ImportFrom) and node.module in ("torch.nn",
                                                                     "torch.nn.parameter")
               and any(a.name == "Parameter" and a.asname is None for a in node.names)
               for node in ast.walk(self.tree)):
            names.add("Parameter")
        return frozenset(names)

    @cached_property
    def top_functions(self) -> dict[str, FunctionNode]:
        """Module-level functions whose name is bound by nothing else in the file."""
        return {node.name: node for node in self.tree.body if isinstance(node, FUNCTIONS)
                and self.named_once(node.name)}

    @cached_property
    def callee_names(self) -> dict[FunctionNode, str]:
        """The name that calls each function: a module-level function's own, and the class
        name for the `__init__` of a module-level class (both bound by nothing else)."""
        names: dict[FunctionNode, str] = {f: f.name for f in self.top_functions.values()}
        for node in self.tree.body:
            if isinstance(node, ast.ClassDef) and self.named_once(node.name):
                names.update({item: node.name for item in node.body
                              if isinstance(item, FUNCTIONS) and item.name == "__init__"})
        return names

    def named_once(self, name: str) -> bool:
        return (self.definitions.get(name) == 1 and name not in self.imported
                and not self.module.scope.bindings(name))

    @cached_property
    def definitions(self) -> dict[str, int]:
        """How many `def` and `class` statements give each name."""
        count: dict[str, int] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
                count[node.name] = count.get(node.name, 0) + 1
        return count

    @cached_property
    def calls_by_name(self) -> dict[str, list[ast.Call]]:
        """The calls of each plain name (`f(x)`, `Net()`)."""
        calls: dict[str, list[ast.Call]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls.setdefault(node.func.id, []).append(node)
        return calls

    @cached_property
    def name_uses(self) -> dict[str, int]:
        """How often each name is read or written, as a call or otherwise."""
        count: dict[str, int] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name):
                count[node.id] = count.get(node.id, 0) + 1
        return count

    @cached_property
    def imported(self) -> frozenset[str]:
        return frozenset((a.asname or a.name).split(".")[0] for node in ast.walk(self.tree)
                         if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names)

    @cached_property
    def nested(self) -> frozenset[ast.AST]:
        """Functions defined inside other functions: their free names are not globals."""
        return frozenset(inner for outer in ast.walk(self.tree) if isinstance(outer, FUNCTIONS)
                         for inner in ast.walk(outer)
                         if inner is not outer and isinstance(inner, FUNCTIONS))

    @cached_property
    def module_classes(self) -> dict[str, ast.ClassDef]:
        """nn.Module subclasses of the file that hold a parameter and return one tensor."""
        return {node.name: node for node in self.tree.body if isinstance(node, ast.ClassDef)
                and is_learning_module(node, self)}


@dataclass(eq=False)
class Context:
    """A scope, the function that owns it (None: the module body) and the file."""

    scope: Scope
    function: FunctionNode | None
    file: File = field(repr=False)

    @cached_property
    def blocks_around(self) -> dict[ast.stmt, tuple[tuple[ast.stmt, str], ...]]:
        """The compound statements around each statement of the scope, each with the part
        (`body`, `handlers`...) that holds it."""
        found: dict[ast.stmt, tuple[tuple[ast.stmt, str], ...]] = {}

        def visit(body: list[ast.stmt], around: tuple[tuple[ast.stmt, str], ...]) -> None:
            for statement in body:
                found[statement] = around
                if isinstance(statement, NESTED):
                    continue
                for part in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for block in blocks(getattr(statement, part, None)):
                        visit(block, (*around, (statement, part)))

        visit(self.scope.body, ())
        return found


def blocks(part: object) -> list[list[ast.stmt]]:
    """The statement lists of a compound statement's part: itself, or its handlers' and
    cases' bodies."""
    if not isinstance(part, list) or not part:
        return []
    if isinstance(part[0], ast.stmt):
        return [part]
    return [item.body for item in part if isinstance(item, (ast.ExceptHandler, ast.match_case))]


@lru_cache(maxsize=2)  # the four detectors that read it run one after the other on a file
def analyse(tree: ast.Module) -> File:
    file = File(tree)
    functions = {id(node.body): node for node in ast.walk(tree) if isinstance(node, FUNCTIONS)}
    file.contexts = [Context(scope, functions.get(id(scope.body)), file)
                     for scope in scopes(tree)]
    return file


@contextmanager
def grad_on_in(context: Context) -> Iterator[None]:
    """While it lasts, the function of `context` runs with grad mode certainly on (a caller
    of it proved it). The file's memo of grad modes is put back afterwards, so that nothing
    worked out under that assumption reaches the other detectors; do not yield a finding
    inside it."""
    assert context.function is not None
    modes = context.file.modes
    before = dict(modes)
    modes[context.function] = Sure.HIGH
    try:
        yield
    finally:
        modes.clear()
        modes.update(before)


def switches_on(call: ast.Call) -> bool:
    """`requires_grad_()` or `requires_grad_(True)`."""
    if call.keywords or len(call.args) > 1:
        return keyword(call, "requires_grad") is True and not call.args
    return not call.args or (isinstance(call.args[0], ast.Constant) and call.args[0].value is True)


# --- values ------------------------------------------------------------------------------

def values_of(context: Context, name: str, use: ast.AST,
              through_augmented: bool = False) -> list[Value] | None:
    """Every value `name` may hold at `use` (one, or one per call of the function for a
    parameter), each with the context to read it in; None when that is not certain."""
    if name in context.file.unsure_names:
        return None
    own = [b for b in context.scope.bindings(name)
           if not (through_augmented and isinstance(b, ast.AugAssign))]
    if own:
        value = context.scope.value_before(name, use, through_augmented)
        return None if value is None else [(value, context)]
    function = context.function
    if function is not None and name in parameters(function):
        return argument_values(context, function, name)
    if context.scope.bindings(name) or function in context.file.nested:
        return None  # only augmented here (an unbound local), or a closure's name
    value = context.file.module.scope.only_value(name)
    return None if value is None else [(value, context.file.module)]


def parameters(function: FunctionNode) -> list[str]:
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)] + [
        a.arg for a in (args.vararg, args.kwarg) if a is not None]


def argument_values(context: Context, function: FunctionNode, name: str) -> list[Value] | None:
    """What every call of a module-level function passes for its parameter `name`."""
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    sites = call_sites(context.file, function)
    if (name not in positional or not sites
            or context.file.top_functions.get(function.name) is not function):
        return None
    index = positional.index(name)
    values: list[Value] = []
    for call, site in sites:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords):
            return None
        value = call.args[index] if index < len(call.args) else keyword(call, name, raw=True)
        if not isinstance(value, ast.expr):
            return None
        values.append((value, site))
    return values


def call_sites(file: File, function: FunctionNode) -> list[tuple[ast.Call, Context]] | None:
    """Every call of a module-level function (or class, for its `__init__`), or None when
    it is also used otherwise (passed to `grad`, `map`, a hook; a base class) or called
    where no scope reads it."""
    callee = file.callee_names.get(function)
    if callee is None:
        return None
    calls = file.calls_by_name.get(callee, [])
    if file.name_uses.get(callee, 0) != len(calls) or any(
            call not in file.context_of for call in calls):
        return None
    return [(call, file.context_of[call]) for call in calls]


# --- grad mode ---------------------------------------------------------------------------

def grad_mode(context: Context, node: ast.AST) -> Sure | None:
    """How sure it is that grad mode is on where `node` runs (None: maybe off)."""
    if context.file.grad_untracked or not outside_disabling_with(context, node):
        return None
    if context.function is None:
        return Sure.HIGH
    return function_mode(context, context.function)


def outside_disabling_with(context: Context, node: ast.AST) -> bool:
    """Not inside a `with` block that may turn grad mode off (anything but the few context
    managers known to leave it alone)."""
    around = enclosing(context, node)
    return around is not None and all(
        isinstance(item.context_expr, ast.Call)
        and call_name(item.context_expr) in NEUTRAL_CONTEXTS
        for block, _ in around if isinstance(block, WITHS) for item in block.items)


def enclosing(context: Context, node: ast.AST) -> tuple[tuple[ast.stmt, str], ...] | None:
    """The compound statements around the statement of `node` (None: not in this scope)."""
    statement = context.scope.statement_of.get(node, node)
    return context.blocks_around.get(statement) if isinstance(statement, ast.stmt) else None


def expected_to_fail(context: Context, node: ast.AST) -> bool:
    """Inside a `try` that catches RuntimeError: the code may rely on the error (a fallback
    to `.detach()`, a test that the error is raised)."""
    around = enclosing(context, node)
    return around is None or any(
        isinstance(block, TRYS) and part == "body" and any(
            catches_runtime_error(handler.type) for handler in block.handlers)
        for block, part in around)


def catches_runtime_error(kind: ast.expr | None) -> bool:
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(catches_runtime_error(item) for item in kind.elts)
    return isinstance(kind, (ast.Name, ast.Attribute)) and (
        ast.unparse(kind).rsplit(".", 1)[-1] in CATCHING)


def function_mode(context: Context, function: FunctionNode) -> Sure | None:
    modes = context.file.modes
    if function not in modes:
        modes[function] = Sure.MEDIUM  # a recursive call: probable at most
        modes[function] = called_mode(context, function)
    return modes[function]


def called_mode(context: Context, function: FunctionNode) -> Sure | None:
    decorators = [ast.unparse(d) for d in function.decorator_list]
    if any(word in d for d in decorators for word in ("no_grad", "inference_mode",
                                                       "set_grad_enabled")):
        return None
    sites = call_sites(context.file, function)
    if sites is None or not sites:
        if any(word in function.name.lower() for word in EVALUATION_WORDS):
            return None
        return Sure.MEDIUM
    if any(expected_to_fail(site, call) for call, site in sites):
        return None
    mode = least(*(grad_mode(site, call) for call, site in sites))
    return least(mode, Sure.MEDIUM) if decorators else mode


# --- leaves and modules ------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    """A leaf that requires grad: how it was made, and whether it is a module's parameter
    (which is trained, never differentiated through as an input)."""

    why: str
    parameter: bool = False


def leaf_made(call: ast.Call, file: File) -> Leaf | None:
    """The leaf that requires grad the call certainly makes, or None."""
    name = call_name(call)
    if (name.startswith("torch.") and name.count(".") == 1 and name[6:] in FACTORIES
            and keyword(call, "requires_grad") is True):
        return Leaf("a leaf created with requires_grad=True")
    if name in file.parameter_class and all(
            flag is None or (isinstance(flag, ast.Constant) and flag.value is True)
            for flag in (keyword(call, "requires_grad", raw=True), *call.args[1:2])):
        return Leaf("an nn.Parameter", parameter=True)
    if (isinstance(call.func, ast.Attribute) and call.func.attr == "requires_grad_"
            and switches_on(call) and is_fresh(call.func.value)):
        return Leaf("a leaf made to require grad by requires_grad_()")
    return None


def is_fresh(node: ast.expr) -> bool:
    """A new tensor that does not require grad: a torch factory call without requires_grad,
    `x.detach()`, `torch.from_numpy(a)`."""
    if not isinstance(node, ast.Call):
        return False
    name = call_name(node)
    if name.startswith("torch.") and name.count(".") == 1 and name[6:] in FACTORIES:
        return keyword(node, "requires_grad", raw=True) is None
    return name == "torch.from_numpy" or (isinstance(node.func, ast.Attribute)
                                          and node.func.attr == "detach" and not node.args)


def leaf_origin(context: Context, node: ast.expr, use: ast.AST, depth: int = 0) -> Leaf | None:
    """The leaf that requires grad `node` certainly holds, or None."""
    if depth > MAX_DEPTH or context.file.requires_grad_changed:
        return None
    if isinstance(node, ast.Call):
        return leaf_made(node, context.file)
    if isinstance(node, ast.Name):
        values = values_of(context, node.id, use, through_augmented=True)
        leaves = [leaf_origin(ctx, value, value, depth + 1) for value, ctx in values or []]
        return leaves[0] if leaves and None not in leaves else None
    if isinstance(node, ast.Attribute):
        return attribute_leaf(context, node, use, depth)
    return None


def attribute_leaf(context: Context, node: ast.Attribute, use: ast.AST,
                   depth: int) -> Leaf | None:
    """`layer.weight` / `layer.bias` of a built-in layer, or `self.w` always assigned a leaf."""
    owner = context.scope.owner
    if (owner is not None and isinstance(node.value, ast.Name) and node.value.id == "self"):
        values = attribute_values(owner, node.attr)
        leaves = [leaf_made(v, context.file) if isinstance(v, ast.Call) else None
                  for v in values]
        return leaves[0] if leaves and None not in leaves else None
    if node.attr not in ("weight", "bias") or node.attr in context.file.replaced_attributes:
        return None
    layers = layer_calls(context, node.value, use, depth + 1)
    if not layers or not all(has_parameter(call, node.attr) for call in layers):
        return None
    return Leaf(f"the {node.attr} of an nn.{layer_name(layers[0])}", parameter=True)


def layer_calls(context: Context | None, node: ast.expr, use: ast.AST,
                depth: int) -> list[ast.Call] | None:
    """The built-in layer constructions `node` certainly holds one of (`nn.Linear(...)`,
    through `.to(device)` and the like); `context` None follows no names."""
    if depth > MAX_DEPTH:
        return None
    held = followed(context, node, use)
    if held is not None:
        found = [layer_calls(ctx, value, value, depth + 1) for value, ctx in held]
        return None if not found or None in found else [c for f in found for c in f or []]
    if not isinstance(node, ast.Call):
        return None
    if layer_name(node) in PARAMETER_LAYERS:
        return [node]
    if isinstance(node.func, ast.Attribute) and node.func.attr in SAME_MODULE_METHODS:
        return layer_calls(context, node.func.value, use, depth + 1)
    return None


def layer_name(call: ast.Call) -> str:
    """`Linear` for `nn.Linear(...)` or `torch.nn.Linear(...)`, else ''."""
    name = call_name(call)
    for prefix in ("nn.", "torch.nn."):
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return name[len(prefix):]
    return ""


def has_parameter(call: ast.Call, attr: str) -> bool:
    """The layer certainly has a trainable `weight` / `bias`."""
    if any(k.arg in ("_weight", "_freeze") or k.arg is None for k in call.keywords):
        return False
    if attr == "weight":
        return True
    index = PARAMETER_LAYERS.get(layer_name(call))
    given = keyword(call, "bias", raw=True)
    if index is None or any(isinstance(a, ast.Starred) for a in call.args):
        return False
    if given is None and index < len(call.args):
        given = call.args[index]
    return given is None or (isinstance(given, ast.Constant) and given.value is True)


def module_kind(context: Context | None, node: ast.expr, use: ast.AST,
                depth: int = 0) -> tuple[str, Sure] | None:
    """What module with parameters `node` holds (its name), and how sure its output requires
    grad in grad mode: HIGH for built-in layers, MEDIUM for the file's own classes."""
    if depth > MAX_DEPTH or (context is not None and context.file.requires_grad_changed):
        return None
    held = followed(context, node, use)
    if held is not None:
        kinds = [module_kind(ctx, value, value, depth + 1) for value, ctx in held]
        return None if not kinds or None in kinds else weakest(kinds)
    return constructed_kind(context, node, use, depth) if isinstance(node, ast.Call) else None


def followed(context: Context | None, node: ast.expr,
             use: ast.AST) -> list[tuple[ast.expr, Context | None]] | None:
    """For a name or `self.<attr>`: the values it may hold, each with the context to read it
    in (None for an attribute's, assigned in another method: no names followed there);
    empty when unknown. None for any other expression."""
    if isinstance(node, ast.Name):
        values = values_of(context, node.id, use) if context is not None else None
        return list(values or [])
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
            node.value.id == "self"):
        owner = context.scope.owner if context is not None else None
        return [(value, None) for value in attribute_values(owner, node.attr)] if owner else []
    return None


def constructed_kind(context: Context | None, call: ast.Call, use: ast.AST,
                     depth: int) -> tuple[str, Sure] | None:
    name = layer_name(call)
    if name in PARAMETER_LAYERS and has_parameter(call, "weight"):
        return f"nn.{name}", Sure.HIGH
    if name == "Sequential" and is_learning_sequential(call):
        return "nn.Sequential", Sure.HIGH
    if isinstance(call.func, ast.Attribute) and call.func.attr in SAME_MODULE_METHODS:
        return module_kind(context, call.func.value, use, depth + 1)
    if call_name(call) == "torch.compile" and len(call.args) == 1:
        return module_kind(context, call.args[0], use, depth + 1)
    if (context is not None and isinstance(call.func, ast.Name)
            and call.func.id in context.file.module_classes):
        return call.func.id, Sure.MEDIUM
    return None


def weakest(kinds: list[tuple[str, Sure] | None]) -> tuple[str, Sure]:
    known = [kind for kind in kinds if kind is not None]
    return min(known, key=lambda kind: kind[1])


def is_learning_sequential(call: ast.Call) -> bool:
    """nn.Sequential of built-in layers, one at least with a weight, none that returns
    anything but one tensor."""
    if call.keywords or not call.args or not all(isinstance(a, ast.Call) for a in call.args):
        return False
    learning = False
    for layer in call.args:
        assert isinstance(layer, ast.Call)
        name = layer_name(layer)
        if (name in PARAMETER_LAYERS and has_parameter(layer, "weight")) or (
                name == "Sequential" and is_learning_sequential(layer)):
            learning = True
        elif name not in PASSING_LAYERS or keyword(layer, "return_indices") is not None:
            return False
    return learning


def is_learning_module(node: ast.ClassDef, file: File) -> bool:
    """An nn.Module subclass with a built-in layer or a Parameter among its attributes and
    a forward that returns neither a literal nor a container."""
    if not any(ast.unparse(base) in ("nn.Module", "torch.nn.Module") for base in node.bases):
        return False
    forward = next((item for item in node.body if isinstance(item, FUNCTIONS)
                    and item.name == "forward"), None)
    if forward is None:
        return False
    returns = [n for n in own_walk(forward) if isinstance(n, ast.Return)]
    containers = (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Constant, ast.JoinedStr)
    if not returns or any(r.value is None or isinstance(r.value, containers) for r in returns):
        return False
    assigned = [n.value for n in ast.walk(node) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id == "self" for t in n.targets)]
    return any(isinstance(v, ast.Call) and (constructed_kind(None, v, v, 0) is not None
                                            or leaf_made(v, file) is not None)
               for v in assigned)


def own_walk(function: FunctionNode) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions nested in it."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, (*FUNCTIONS, ast.Lambda)))
