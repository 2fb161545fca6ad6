"""state-carried-into-backward: `loss.backward()` in every iteration of a loop, where the loss
depends on a variable carried over from the previous iteration with its graph (an RNN state
passed back in, `total = total + loss`, an EMA of a model's output). Each backward() frees
the graph it runs through; the next iteration's backward() runs back through the carried
variable into that freed graph and raises "Trying to backward through the graph a second
time", at the second iteration or, when the variable is updated after the backward(), at
the third.

The loop body is read as every iteration runs it: its simple statements in order (`with`
blocks that leave grad mode alone opened); a variable assigned anywhere else in the body (a
branch, an inner loop, a no_grad block) is not followed, except an `if h is None:`
initialisation. Three things must hold for a variable `h` of the loop:
- the loss at the backward() depends on the previous iteration's `h` through operations that
  pass gradients (`.detach()`, `.item()`, `argmax`, comparisons, `zeros_like`... cut it);
- the value `h` has at the end of the body depends on its previous value the same way;
- that value certainly holds a graph with saved tensors even when the previous one holds
  none (as at the start): it goes through a module with parameters (a built-in layer, an
  nn.LSTM/GRU/RNN or cell, made in the file or set on `self` in the class; an instance of
  the file's nn.Module class that holds one and never detaches or turns grad off), or
  through an operation that saves a tensor (`@`, `*`, tanh...: SAVING_FUNCTIONS, each
  checked against torch) applied to a leaf that requires grad. `h = h + w` keeps no tensor
  and may be back-propagated again. A method of something without a graph is not taken as a
  tensor's (`state, reward = env.step(action)` makes no graph), GradScaler's `scale` aside.
The backward() must be the loop's only backward pass, run on every iteration (not under an
`if`: `if t == T - 1:` back-propagates once, and with the state reset there every k steps
nothing is freed twice), without retain_graph or create_graph (retain-graph-in-loop reports
retain_graph=True), and not inside a `try` that catches the error. `h` must not be detached
anywhere in the loop (`h = h.detach()`, `repackage_hidden(h)`, even under an `if`) nor
assigned under no_grad; a statement in the loop that mentions it and detaches anything is
taken as doing so. In nested loops the innermost loop around the backward() is read: a state
reset or detached per epoch is still carried from batch to batch.

Confidence. An unknown callable (`model` from a parameter, an import, an attribute set from
an argument) that takes the state and gives it back (`out, h = model(x, h)`) makes the
finding medium: in a training loop it is almost always a recurrent model, but it might
detach the state itself, be frozen, or have no parameters; so does an unknown callable on
the way from the state to the loss (`criterion(out, y)` with `criterion` a parameter). When
the backward() starts from the carried variable itself (`total.backward()` after `total =
total + loss`), the first iteration's backward() succeeding proves it requires grad, so a
loss function or an unknown model on its way makes the finding certain. An unknown function
of the state alone (`h = reset(h)`) may be a repackaging helper, an unknown object's method
(`model.training_step(batch, hiddens)`) may detach: neither is followed. Files that switch
requires_grad anywhere may freeze any module: their modules make no certain graph.
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.anti_fixes import unwrapped
from gradexplain.detectors.loop_carry import (
    DETACHING,
    GRAPH_CUTS,
    NO_GRAPH_FUNCTIONS,
    NUMBER_BUILTINS,
    PASS_THROUGH,
    advice,
    backward_calls,
    backward_target,
    detached,
    innermost_loop,
    key_of,
    loop_body,
    loop_targets,
    straight_line,
    target_keys,
)
from gradexplain.detectors.requires_grad import (
    MAX_DEPTH,
    NEUTRAL_CONTEXTS,
    SAME_MODULE_METHODS,
    Context,
    File,
    Sure,
    analyse,
    constructed_kind,
    expected_to_fail,
    followed,
    layer_name,
    leaf_made,
    leaf_origin,
    module_kind,
)
from gradexplain.detectors.scopes import bound_names, call_name, keyword, own_nodes

RECURRENT_LAYERS = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}
FIXABLE_LAYERS = {"RNN", "LSTM", "GRU"}  # whose state the detach-carried-state fix knows
# operations that save a tensor for backward, whatever their input (checked against torch)
SAVING_FUNCTIONS = {"tanh", "sigmoid", "relu", "exp", "log", "softmax", "log_softmax", "matmul",
                    "mm", "bmm", "mv", "mul", "div", "pow", "sqrt", "sin", "cos", "linear",
                    "gelu", "silu", "elu", "leaky_relu", "softplus", "abs", "square", "rsqrt",
                    "reciprocal", "norm", "prod", "clamp", "einsum", "layer_norm", "conv1d",
                    "conv2d"}
SAVING_OPERATORS = (ast.Mult, ast.MatMult, ast.Div, ast.Pow)
RECEIVER_ONLY = {"to", "type", "type_as", "view_as", "reshape_as", "expand_as"}  # `x.to(h)`
PASSING_METHODS = {"scale"}  # GradScaler.scale(loss)
NO_GRAPH_ATTRIBUTES = {"data", "shape", "grad", "grad_fn", "device", "dtype", "requires_grad"}
LOSS_FUNCTION = re.compile(r"\w*_loss|cross_entropy|binary_cross_entropy(?:_with_logits)?|"
                           r"kl_div")
BINDING = (ast.For, ast.AsyncFor, ast.withitem, ast.NamedExpr, ast.comprehension, ast.Delete,
           ast.Global, ast.Nonlocal)  # what else binds a name (bound_names)
MAX_CHAIN = 60  # assignments followed back from one value
CLASS_CUTS = re.compile(r"detach|no_grad|inference_mode|set_grad_enabled|requires_grad|\.data\b")


def state_carried_into_backward(module: Module) -> Iterator[Hit]:
    file = analyse(module.tree)
    bodies: dict[int, Body] = {}
    for context in file.contexts:
        for call in context.scope.calls():
            target = plain_backward(call)
            loop = None if target is None else innermost_loop(context.scope.loops, call)
            if target is None or loop is None or expected_to_fail(context, call):
                continue
            if id(loop) not in bodies:
                bodies[id(loop)] = read_body(context, loop)
            hit = carried_hit(bodies[id(loop)], call, target)
            if hit is not None:
                yield hit


def plain_backward(call: ast.Call) -> ast.expr | None:
    """The target of a backward pass that frees its graph: no retain_graph or create_graph
    (unless False), none passed positionally or through `**kwargs`."""
    target = backward_target(call)
    flags = [keyword(call, name, raw=True) for name in ("retain_graph", "create_graph")]
    is_grad = isinstance(call.func, ast.Attribute) and call.func.attr == "grad"
    if (target is None or any(k.arg is None for k in call.keywords)
            or len(call.args) > (2 if is_grad else 1)):
        return None
    keeps = any(flag is not None and not (isinstance(flag, ast.Constant)
                                          and flag.value in (False, None)) for flag in flags)
    return None if keeps else target


# --- the loop body as every iteration runs it ---------------------------------------------

@dataclass
class Body:
    """A loop's body: the simple statements every iteration runs, in order, and where each
    variable is assigned among them. `unsure` variables are also assigned elsewhere in the
    body, where they may or may not be (a branch, an inner loop, a no_grad block); `carried`
    ones are read before they are assigned, so their value comes from the last iteration."""

    context: Context
    loop: ast.AST
    statements: list[ast.stmt]
    positions: dict[str, list[int]]
    bound: frozenset[str]
    unsure: frozenset[str]
    carried: frozenset[str]
    stops_early: bool  # a `break`, `continue`, `return` or `raise` on the way
    callees: dict[int, Callee] = field(default_factory=dict)
    leaves: dict[str, Graph | None] = field(default_factory=dict)

    def binding_before(self, key: str, at: int) -> int | None:
        earlier = [p for p in self.positions.get(key, ()) if p < at]
        return max(earlier) if earlier else None

    def position(self, node: ast.AST) -> int | None:
        statement = self.context.scope.statement_of.get(node)
        return next((i for i, s in enumerate(self.statements) if s is statement), None)

    def callee(self, call: ast.Call) -> Callee:
        if id(call) not in self.callees:
            self.callees[id(call)] = classify(self.context, call)
        return self.callees[id(call)]

    def leaf(self, node: ast.expr, key: str) -> Graph | None:
        """A leaf that requires grad, assigned before the loop (the same for every read)."""
        if key not in self.leaves:
            leaf = leaf_origin(self.context, node, self.statements[0])
            self.leaves[key] = None if leaf is None else Graph(Sure.HIGH, False, key)
        return self.leaves[key]


def read_body(context: Context, loop: ast.AST) -> Body:
    statements: list[ast.stmt] = []
    positions: dict[str, list[int]] = {}
    elsewhere: set[str] = set()
    read_first: set[str] = set()
    for statement in straight_line(loop_body(loop), opens=leaves_grad_alone):
        if hasattr(statement, "body"):
            elsewhere |= keys_bound_in(statement) - initialised(statement)
            continue
        nodes = list(own_nodes(statement))  # the statement itself first
        read_first |= keys_read(statement, nodes) - set(positions)
        for key in keys_bound(statement):
            positions.setdefault(key, []).append(len(statements))
        elsewhere |= {key for node in nodes[1:] for key in keys_bound(node)}
        statements.append(statement)
    stops = any(isinstance(s, (ast.Break, ast.Continue, ast.Return, ast.Raise))
                for s in statements)
    carried = (read_first & set(positions)) - elsewhere - loop_targets(loop)
    return Body(context, loop, statements, positions, frozenset(positions) | elsewhere,
                frozenset(elsewhere), frozenset(carried), stops)


def keys_read(statement: ast.stmt, nodes: list[ast.AST]) -> set[str]:
    read = {key_of(node) for node in nodes if isinstance(getattr(node, "ctx", None), ast.Load)}
    if isinstance(statement, ast.AugAssign):
        read.add(key_of(statement.target))
    return {key for key in read if key is not None}


def leaves_grad_alone(block: ast.With | ast.AsyncWith) -> bool:
    return all(isinstance(item.context_expr, ast.Call)
               and call_name(item.context_expr) in NEUTRAL_CONTEXTS for item in block.items)


def keys_bound(node: ast.AST) -> set[str]:
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {key for target in targets for key in target_keys(target)}
    return set(bound_names(node)) if isinstance(node, BINDING) else set()


def keys_bound_in(statement: ast.stmt) -> set[str]:
    return {key for node in own_nodes(statement) for key in keys_bound(node)}


def initialised(statement: ast.stmt) -> set[str]:
    """`h` of `if h is None: h = ...` (with no else), which only the first iteration runs."""
    test = getattr(statement, "test", None)
    if not (isinstance(statement, ast.If) and not statement.orelse
            and isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Is) and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None):
        return set()
    key = key_of(test.left)
    return {key} if key is not None else set()


# --- what the callee of a call does to the graph ----------------------------------------

class Kind(enum.Enum):
    CUT = "gives no graph"
    KEEPING = "passes its inputs' graph on"
    METHOD = "a method: a tensor's passes the graph on, another object's is unknown"
    SAVING = "passes its inputs' graph on and saves a tensor"
    LOSS = "a loss function: saves its inputs"
    LEARNING = "a module with parameters"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Callee:
    kind: Kind
    sure: Sure = Sure.HIGH
    layer: str = ""  # the built-in layer or class a LEARNING callee is made from


def classify(context: Context, call: ast.Call) -> Callee:
    func = call.func
    if isinstance(func, ast.Attribute) and not is_self(func.value):
        operation = operation_kind(func.attr)
        if operation.kind is Kind.CUT or root_name(func) in torch_names(context.file.tree):
            return operation
        return Callee(Kind.METHOD)
    if isinstance(func, ast.Name) and func.id in torch_names(context.file.tree):
        return operation_kind(func.id)
    if isinstance(func, ast.Name) and (func.id in NUMBER_BUILTINS or DETACHING.search(func.id)
                                       or func.id[:1].isupper()):
        return Callee(Kind.CUT)  # a number, a repackaging helper, an object built from a class
    if isinstance(func, ast.Name) and func.id in PASS_THROUGH:
        return Callee(Kind.KEEPING)
    if isinstance(func, ast.Name) or (isinstance(func, ast.Attribute) and is_self(func.value)):
        module = held_module(context.file, context, func, call)
        if module is not None:
            return module
    return Callee(Kind.UNKNOWN)


def operation_kind(name: str) -> Callee:
    if name in GRAPH_CUTS or name in NO_GRAPH_FUNCTIONS or DETACHING.search(name):
        return Callee(Kind.CUT)
    if name[:1].isupper():
        return Callee(Kind.CUT)  # nn.Linear(...): a module, not a tensor
    if LOSS_FUNCTION.fullmatch(name):
        return Callee(Kind.LOSS)
    return Callee(Kind.SAVING if name in SAVING_FUNCTIONS else Kind.KEEPING)


def is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def root_name(node: ast.expr) -> str:
    """`torch` of `torch.nn.functional.relu`; '' for a method of a computed value."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


@lru_cache(maxsize=2)
def torch_names(tree: ast.Module) -> frozenset[str]:
    """What the module's own imports of torch bind: `torch`, `nn`, `F`, `relu`..."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names
                      if alias.name.split(".")[0] == "torch"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names |= {alias.asname or alias.name for alias in node.names}
    return frozenset(names)


def held_module(file: File, context: Context | None, node: ast.expr, use: ast.AST,
                depth: int = 0) -> Callee | None:
    """The module a name or `self.<attr>` certainly holds: one with parameters (LEARNING) or
    a loss (nn.MSELoss()...); None when unknown. Where requires_grad is switched in the file,
    any module may be frozen: it passes its inputs' graph on but makes none for certain."""
    if depth > MAX_DEPTH:
        return None
    held = followed(context, node, use)
    if held is not None:
        found = [held_module(file, ctx, value, value, depth + 1) for value, ctx in held]
        known = [callee for callee in found if callee is not None]
        if not known or len(known) < len(found) or len({c.kind for c in known}) > 1:
            return None
        return min(known, key=lambda c: c.sure)
    if not isinstance(node, ast.Call):
        return None
    if file.requires_grad_changed and call_name(node).rsplit(".", 1)[-1][:1].isupper():
        return Callee(Kind.KEEPING)
    return built_module(file, context, node, use, depth)


def built_module(file: File, context: Context | None, call: ast.Call, use: ast.AST,
                 depth: int) -> Callee | None:
    name = layer_name(call)
    if name in RECURRENT_LAYERS:
        return Callee(Kind.LEARNING, Sure.HIGH, name)
    if name.endswith("Loss"):
        return Callee(Kind.LOSS)
    if isinstance(call.func, ast.Name) and call.func.id in own_learning_classes(file.tree):
        return Callee(Kind.LEARNING, Sure.HIGH, call.func.id)
    if isinstance(call.func, ast.Attribute) and call.func.attr in SAME_MODULE_METHODS:
        return held_module(file, context, call.func.value, use, depth + 1)
    if call_name(call) == "torch.compile" and len(call.args) == 1:
        return held_module(file, context, call.args[0], use, depth + 1)
    kind = module_kind(context, call, use, depth)
    if kind is None or kind[1] is not Sure.HIGH:
        return None
    return Callee(Kind.LEARNING, Sure.HIGH, kind[0])


@lru_cache(maxsize=2)
def own_learning_classes(tree: ast.Module) -> frozenset[str]:
    """The file's nn.Module classes (named once) that hold a layer with parameters or a
    Parameter and never detach, turn grad off or switch requires_grad: what their forward
    returns from their input carries a graph. Their forward may return a tuple (output,
    state), unlike the classes module_kind knows."""
    file = analyse(tree)
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef)
                     and file.named_once(node.name) and holds_parameters(node, file)
                     and not CLASS_CUTS.search(ast.unparse(node)))


def holds_parameters(node: ast.ClassDef, file: File) -> bool:
    if not any(ast.unparse(base) in ("nn.Module", "torch.nn.Module") for base in node.bases):
        return False
    if not any(isinstance(item, ast.FunctionDef) and item.name == "forward" for item in node.body):
        return False
    values = [n.value for n in ast.walk(node) if isinstance(n, ast.Assign)
              and any((key_of(t) or "").startswith("self.") for t in n.targets)]
    return any(isinstance(v, ast.Call) and (layer_name(v) in RECURRENT_LAYERS
                                            or constructed_kind(None, v, v, 0) is not None
                                            or leaf_made(v, file) is not None)
               for v in values)


# --- following values through the body ---------------------------------------------------

@dataclass(frozen=True)
class Graph:
    """A value that certainly (HIGH) or probably (MEDIUM) requires grad; `saves`: its graph
    holds saved tensors, which backward() frees; `via`: what made it."""

    sure: Sure
    saves: bool = True
    via: str = ""


def strongest(graphs: Iterable[Graph | None]) -> Graph | None:
    known = [graph for graph in graphs if graph is not None]
    return max(known, key=lambda g: (g.saves, g.sure), default=None)


def weakest(*graphs: Graph | None) -> Graph | None:
    """The least sure of values that must all have a graph (the first of equals)."""
    if any(graph is None for graph in graphs):
        return None
    return min((g for g in graphs if g is not None), key=lambda g: g.sure)


def capped(graph: Graph | None, unknown: str) -> Graph | None:
    """Through something unknown, a graph is only probable; `via` then names the unknown."""
    if graph is None or graph.sure is Sure.MEDIUM:
        return graph
    return replace(graph, sure=Sure.MEDIUM, via=unknown)


class Walk:
    """Follows a value back through the body's statements in the order they run, for one
    carried variable `key`. Subclasses say what the previous iteration's values, the values
    from before the loop and the callees give."""

    def __init__(self, body: Body, key: str) -> None:
        self.body = body
        self.key = key
        self.memo: dict[tuple[str, int], Graph | None] = {}
        self.depth = 0

    def value(self, node: ast.AST, at: int) -> Graph | None:
        key = key_of(node)
        if key is not None and isinstance(node, ast.expr):
            return self.variable(key, node, at)
        if isinstance(node, ast.Call):
            return self.call(node, at)
        if isinstance(node, ast.BinOp):
            return self.operation([self.value(node.left, at), self.value(node.right, at)],
                                  isinstance(node.op, SAVING_OPERATORS))
        if isinstance(node, ast.Attribute):
            return None if node.attr in NO_GRAPH_ATTRIBUTES else self.value(node.value, at)
        if isinstance(node, ast.UnaryOp):
            return None if isinstance(node.op, ast.Not) else self.value(node.operand, at)
        if isinstance(node, (ast.Subscript, ast.Starred)):
            return self.value(node.value, at)
        if isinstance(node, (ast.Tuple, ast.List)):
            return strongest(self.value(item, at) for item in node.elts)
        if isinstance(node, ast.IfExp):
            return weakest(self.value(node.body, at), self.value(node.orelse, at))
        return None

    def variable(self, key: str, node: ast.expr, at: int) -> Graph | None:
        if key in self.body.unsure:
            return None
        position = self.body.binding_before(key, at)
        if position is not None:
            return self.assigned(key, position)
        return self.previous(key) if key in self.body.bound else self.outside(node, at)

    def assigned(self, key: str, position: int) -> Graph | None:
        """What the statement at `position` gives `key` (memoised: the body is read once per
        question, however many reads lead to a statement; a chain longer than MAX_CHAIN is
        left unknown rather than followed to the recursion limit)."""
        if (key, position) not in self.memo:
            if self.depth >= MAX_CHAIN:
                return None
            self.depth += 1
            self.memo[key, position] = self.gives(key, self.body.statements[position], position)
            self.depth -= 1
        return self.memo[key, position]

    def gives(self, key: str, statement: ast.stmt, position: int) -> Graph | None:
        if isinstance(statement, ast.AugAssign):
            return self.operation([self.variable(key, statement.target, position),
                                   self.value(statement.value, position)],
                                  isinstance(statement.op, SAVING_OPERATORS))
        value = assigned_value(statement, key)
        return None if value is None else self.value(value, position)

    def call(self, call: ast.Call, at: int) -> Graph | None:
        callee = self.body.callee(call)
        if callee.kind is Kind.CUT:
            return None
        if callee.kind is Kind.METHOD:
            return self.method(call, at)
        inputs = [self.value(node, at) for node in call_inputs(call)]
        if callee.kind is Kind.LEARNING:
            return self.learning(call, callee, inputs)
        if callee.kind is Kind.LOSS:
            return self.loss(inputs)
        if callee.kind is Kind.UNKNOWN:
            return None if of_the_key_alone(call, self.key) else self.unknown(call, inputs)
        return self.operation(inputs, callee.kind is Kind.SAVING)

    def method(self, call: ast.Call, at: int) -> Graph | None:
        """A tensor's method passes its receiver's graph on, and its arguments'
        (`out.view(-1)`, `h.mul(w)`); `x.to(h)`, `x.view_as(h)` only the receiver's."""
        assert isinstance(call.func, ast.Attribute)
        receiver = self.value(call.func.value, at)
        if call.func.attr in RECEIVER_ONLY:
            return receiver
        inputs = [receiver, *(self.value(node, at) for node in call_inputs(call))]
        return self.operation(inputs, call.func.attr in SAVING_FUNCTIONS)

    @staticmethod
    def operation(inputs: list[Graph | None], saving: bool) -> Graph | None:
        found = strongest(inputs)
        return replace(found, saves=True) if found is not None and saving else found

    def previous(self, key: str) -> Graph | None:
        raise NotImplementedError

    def outside(self, node: ast.expr, at: int) -> Graph | None:
        raise NotImplementedError

    def learning(self, call: ast.Call, callee: Callee, inputs: list[Graph | None]
                 ) -> Graph | None:
        raise NotImplementedError

    def loss(self, inputs: list[Graph | None]) -> Graph | None:
        raise NotImplementedError

    def unknown(self, call: ast.Call, inputs: list[Graph | None]) -> Graph | None:
        raise NotImplementedError


class Reach(Walk):
    """Does the value depend on the previous iteration's `key` through operations that pass
    gradients back? Modules and loss functions pass them to their inputs."""

    def previous(self, key: str) -> Graph | None:
        return Graph(Sure.HIGH) if key == self.key else None

    def outside(self, node: ast.expr, at: int) -> Graph | None:
        return None

    def learning(self, call: ast.Call, callee: Callee, inputs: list[Graph | None]
                 ) -> Graph | None:
        return strongest(inputs)

    def loss(self, inputs: list[Graph | None]) -> Graph | None:
        return strongest(inputs)

    def unknown(self, call: ast.Call, inputs: list[Graph | None]) -> Graph | None:
        return capped(strongest(inputs), ast.unparse(call.func))


class Source(Walk):
    """Does the value certainly hold a graph with saved tensors, even when the previous
    iteration's `key` holds none (as before the first iteration)? `backed`: the backward()
    starts from `key` itself, so the first one succeeding proves it requires grad."""

    def __init__(self, body: Body, key: str, backed: bool) -> None:
        super().__init__(body, key)
        self.backed = backed

    def previous(self, key: str) -> Graph | None:
        return None

    def outside(self, node: ast.expr, at: int) -> Graph | None:
        key = key_of(node)
        return None if key is None else self.body.leaf(node, key)

    def learning(self, call: ast.Call, callee: Callee, inputs: list[Graph | None]
                 ) -> Graph | None:
        return Graph(callee.sure, via=ast.unparse(call.func))

    def loss(self, inputs: list[Graph | None]) -> Graph | None:
        return Graph(Sure.HIGH, via="the loss") if self.backed else self.operation(inputs, True)

    def method(self, call: ast.Call, at: int) -> Graph | None:
        """A method of something without a graph is not a tensor's (`env.step(action)`,
        `model.init_hidden(n)`, `model.training_step(batch, hiddens)`), except GradScaler's
        `scale(loss)`: it is followed only where the backward() proves the graph."""
        assert isinstance(call.func, ast.Attribute)
        if (self.value(call.func.value, at) is None and call.func.attr not in PASSING_METHODS
                and call.func.attr not in RECEIVER_ONLY):
            return Graph(Sure.HIGH, via=ast.unparse(call.func)) if self.backed else None
        return super().method(call, at)

    def unknown(self, call: ast.Call, inputs: list[Graph | None]) -> Graph | None:
        """Certain where the backward() proves the graph; probable for a callee that takes
        the state and gives it back (`out, h = model(x, h)`); otherwise not followed."""
        via = ast.unparse(call.func)
        if self.backed:
            return Graph(Sure.HIGH, via=via)
        return Graph(Sure.MEDIUM, via=via) if takes(call, self.key) else None


def call_inputs(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def takes(call: ast.Call, key: str) -> bool:
    """`model(x, h)`, `model(x, (h, c))`, `model(x, hidden=h)`."""
    return any(key_of(item) == key for node in call_inputs(call)
               for item in [node, *getattr(node, "elts", [])])


def of_the_key_alone(call: ast.Call, key: str) -> bool:
    """`reset(h)`: an unknown function of the state alone may be a repackaging helper."""
    return len(call.args) == 1 and not call.keywords and key_of(call.args[0]) == key


def assigned_value(statement: ast.stmt, key: str) -> ast.expr | None:
    """What an assignment gives `key`: its value, or its own item of `a, key = v1, v2`
    (`out, h = rnn(x, h)` gives both the call)."""
    if isinstance(statement, ast.AnnAssign):
        return statement.value
    if not isinstance(statement, ast.Assign):
        return None
    for target in statement.targets:
        value = item_for(target, statement.value, key)
        if value is not None:
            return value
    return None


def item_for(target: ast.expr, value: ast.expr, key: str) -> ast.expr | None:
    if key_of(target) == key:
        return value
    if not isinstance(target, (ast.Tuple, ast.List)) or key not in set(target_keys(target)):
        return None
    if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
        return next((v for t, v in zip(target.elts, value.elts, strict=True)
                     if item_for(t, v, key) is not None), None)
    return value


# --- the finding -----------------------------------------------------------------------

def carried_hit(body: Body, call: ast.Call, target: ast.expr) -> Hit | None:
    at = body.position(call)
    if (at is None or not body.carried or body.stops_early
            or backward_calls(body.loop) != [call]):
        return None
    found: list[tuple[Sure, str, Graph, bool]] = []
    for key in sorted(body.carried):
        backed = backs(body, target, key, at)
        graph = carried_graph(body, key, target, at, backed)
        if graph is not None and not detached(key, body.loop, body.context.file.tree):
            found.append((graph.sure, key, graph, backed))
    if not found:
        return None
    sure, key, graph, backed = max(found, key=lambda f: f[0])
    return Hit(call.lineno, call.col_offset,
               {"name": ast.unparse(target), "carried": key, "via": graph.via,
                "advice": advice(key, body.loop)},
               fix=fix_for(body, key), confidence=sure.confidence)


def carried_graph(body: Body, key: str, target: ast.expr, at: int,
                  backed: bool) -> Graph | None:
    """The loss reaches the previous `key`, whose new value reaches it too (so each
    iteration's graph hangs on the last one's) and certainly holds saved tensors. The least
    sure of the three is the finding's; when that is medium, `via` names what is unknown."""
    last = body.positions[key][-1]
    reach = Reach(body, key)
    made = Source(body, key, backed).assigned(key, last)
    if made is None or not made.saves:
        return None
    least = weakest(made, reach.value(target, at), reach.assigned(key, last))
    return made if least is not None and least.sure is Sure.HIGH else least


def backs(body: Body, target: ast.expr, key: str, at: int) -> bool:
    """The backward() starts from `key` itself: `total.backward()`, `(total / n).backward()`,
    `(total / len(loader)).backward()`, or through a name plainly assigned from it."""
    node: ast.expr | None = target
    for _ in range(MAX_DEPTH):
        name = key_of(node) if node is not None else None
        if name == key:
            return True
        if node is None or name in body.unsure:
            return False
        if name is None:
            node = scaled_value(node) or unwrapped(node)
            continue
        position = body.binding_before(name, at)
        if position is None:
            return False
        at = position
        node = assigned_value(body.statements[position], name)
    return False


def scaled_value(node: ast.expr) -> ast.expr | None:
    """`total` of `total / len(loader)` or `total * float(scale)`."""
    if (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult))
            and isinstance(node.right, ast.Call) and isinstance(node.right.func, ast.Name)
            and node.right.func.id in NUMBER_BUILTINS):
        return node.left
    return None


def fix_for(body: Body, key: str) -> str | None:
    """detach-carried-state, for `out, h = rnn(x, h)` with a built-in nn.LSTM, GRU or RNN:
    the one form its transformer knows."""
    statement = body.statements[body.positions[key][-1]]
    call = getattr(statement, "value", None)
    if ("." in key or not isinstance(statement, ast.Assign) or not isinstance(call, ast.Call)
            or not any(key_of(arg) == key for arg in call.args)):
        return None
    return "detach-carried-state" if body.callee(call).layer in FIXABLE_LAYERS else None
