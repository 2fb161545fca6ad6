"""integer-requires-grad: `requires_grad` asked of a tensor that is certainly integer or
boolean, which torch refuses ("Only Tensors of floating point and complex dtype can require
gradients").

Certainly means the dtype can be read off the code: a torch factory given an integer
`dtype=`, `torch.tensor` / `torch.as_tensor` of a literal holding only ints or bools,
`torch.arange` of int literals, `torch.full` with an int fill, `torch.randint` or
`torch.randperm` without a dtype, `.long()` and its kin, `torch.from_numpy` of an
`.astype(<integer type>)` array; a name is followed back only through the assignments of
its scope that certainly reach the line. A dtype held in a variable, a function's argument
or anything computed by arithmetic gives no finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from gradexplain.detectors import Hit, Module
from gradexplain.detectors.scopes import Scope, call_name, dotted_name, keyword, scopes

TORCH_DTYPES = {"long": "int64", "int": "int32", "short": "int16", "bool": "bool",
                "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
                "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64"}
NUMPY_DTYPES = {**{name: name for name in ("int8", "int16", "int32", "int64", "uint8",
                                            "uint16", "uint32", "uint64", "bool")},
                "int_": "int64", "int": "int64", "intc": "int32", "longlong": "int64",
                "short": "int16", "byte": "int8", "ubyte": "uint8", "bool_": "bool"}
CAST_METHODS = {"long": "int64", "int": "int32", "short": "int16", "char": "int8",
                "byte": "uint8", "bool": "bool"}
KEEP_DTYPE_METHODS = {"clone", "detach", "contiguous", "cpu", "cuda", "squeeze", "unsqueeze",
                      "flatten", "view", "reshape", "t", "permute", "transpose"}
# torch functions that take requires_grad= (torch.as_tensor does not: a TypeError) and
# honour an integer dtype= (torch.randn does not: a NotImplementedError)
FACTORIES = {f"torch.{name}" for name in (
    "tensor", "arange", "zeros", "ones", "full", "empty", "eye", "linspace", "logspace",
    "zeros_like", "ones_like", "full_like", "empty_like", "randint", "randperm",
    "empty_strided")}
# written numbers that read as weights: making them float is the fix; random integers and
# permutations are indices, where the fix is to drop requires_grad
FLOAT_FIXABLE = {"torch.tensor", "torch.as_tensor", "torch.arange", "torch.full"}
PARAMETERS = {"nn.Parameter", "torch.nn.Parameter", "nn.parameter.Parameter",
              "torch.nn.parameter.Parameter"}
MAX_DEPTH = 8


@dataclass(frozen=True)
class Integer:
    """Why a value is certainly an integer tensor, and which dtype it has."""

    dtype: str
    why: str

    def names(self, what: str, todo: str) -> dict[str, str]:
        """The message's names; `kind` reads "an int64 tensor", "a bool tensor"."""
        article = "an" if self.dtype.startswith("int") else "a"
        return {"what": what, "kind": f"{article} {self.dtype} tensor", "why": self.why,
                "todo": todo}


def integer_requires_grad(module: Module) -> Iterator[Hit]:
    parameter_names = PARAMETERS | imported_parameter(module.tree)
    for scope in scopes(module.tree):
        redtyped = names_given_new_data(scope)
        for node in scope.nodes():
            if isinstance(node, ast.Call):
                yield from call_hits(node, scope, parameter_names, redtyped)
            elif isinstance(node, ast.Assign):
                yield from setter_hits(node, scope, redtyped)


def call_hits(call: ast.Call, scope: Scope, parameter_names: set[str],
              redtyped: set[str]) -> Iterator[Hit]:
    """A factory with requires_grad=True, nn.Parameter(...) or `x.requires_grad_()`."""
    name = call_name(call)
    if keyword(call, "requires_grad") is True and dotted_name(call) in FACTORIES:
        found = integer_call(call, scope, 0, redtyped)
        if found is not None:
            yield factory_hit(call, name, found)
    elif name in parameter_names and call.args and asks_grad(call):
        found = integer_value(call.args[0], scope, call, 0, redtyped)
        if found is not None:
            yield Hit(call.lineno, call.col_offset, found.names(
                "nn.Parameter(...)",
                "Keep integer state in a buffer (`self.register_buffer(name, value)`), "
                "or make the value floating point if it is a learned weight."))
    elif (isinstance(call.func, ast.Attribute) and call.func.attr == "requires_grad_"
          and asks_grad(call, position=0)):
        yield from marked_hit(call.func.value, call, scope, redtyped)


def setter_hits(assign: ast.Assign, scope: Scope, redtyped: set[str]) -> Iterator[Hit]:
    """`x.requires_grad = True`."""
    if not (isinstance(assign.value, ast.Constant) and assign.value.value is True):
        return
    for target in assign.targets:
        if isinstance(target, ast.Attribute) and target.attr == "requires_grad":
            yield from marked_hit(target.value, assign, scope, redtyped)


def marked_hit(tensor: ast.expr, at: ast.Call | ast.Assign, scope: Scope,
               redtyped: set[str]) -> Iterator[Hit]:
    found = integer_value(tensor, scope, at, 0, redtyped)
    if found is None:
        return
    text = ast.unparse(tensor)
    todo = (f"Convert it to floating point first (`{text} = {text}.float().requires_grad_()`), "
            "or do not ask for gradients of indices or labels."
            if isinstance(tensor, ast.Name) else
            "Convert it to floating point first (`.float()`), or do not ask for gradients "
            "of indices or labels.")
    yield Hit(at.lineno, at.col_offset, found.names(text, todo))


def factory_hit(call: ast.Call, name: str, found: Integer) -> Hit:
    fixable = name in FLOAT_FIXABLE and keyword(call, "dtype", raw=True) is None
    todo = ("Create it as floating point (`dtype=torch.float32`, or float literals), or drop "
            "requires_grad if it holds indices or labels." if fixable else
            "Drop requires_grad if it holds indices or labels, or create it with a "
            "floating-point dtype if it is a weight.")
    return Hit(call.lineno, call.col_offset,
               found.names(f"{name}(...)", todo),
               "float-dtype" if fixable else None)


def asks_grad(call: ast.Call, position: int = 1) -> bool:
    """requires_grad left to its default True, or given as the constant True."""
    given = keyword(call, "requires_grad", raw=True)
    if given is None and len(call.args) > position:
        given = call.args[position]
    return given is None or (isinstance(given, ast.Constant) and given.value is True)


def integer_value(node: ast.expr, scope: Scope, use: ast.AST, depth: int,
                  redtyped: set[str]) -> Integer | None:
    """Why `node` certainly holds an integer tensor where `use` is, or None."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Name):
        if node.id in redtyped:
            return None
        value = scope.value_before(node.id, use)
        if value is None or value not in scope.statement_of:  # a global: not followed
            return None
        return integer_value(value, scope, value, depth + 1, redtyped)
    if isinstance(node, ast.Subscript):
        return integer_value(node.value, scope, use, depth + 1, redtyped)
    if not isinstance(node, ast.Call):
        return None
    if keyword(node, "requires_grad", raw=True) is not None:
        return None  # reported where it is created
    if isinstance(node.func, ast.Attribute) and not dotted_name(node).startswith("torch."):
        return method_integer(node, scope, use, depth, redtyped)
    return integer_call(node, scope, depth, redtyped)


def method_integer(call: ast.Call, scope: Scope, use: ast.AST, depth: int,
                   redtyped: set[str]) -> Integer | None:
    """`x.long()`, `x.to(torch.long)`, or a method that keeps the dtype of an integer `x`."""
    assert isinstance(call.func, ast.Attribute)
    method = call.func.attr
    if method in CAST_METHODS and not call.args and not call.keywords:
        return Integer(CAST_METHODS[method], f"`.{method}()` gives {CAST_METHODS[method]}")
    if method == "to":
        given = keyword(call, "dtype", raw=True) or next(
            (a for a in call.args if torch_dtype(a) is not None), None)
        dtype = torch_dtype(given) if isinstance(given, ast.expr) else None
        return None if dtype is None else Integer(dtype, f"`.to({dtype})` gives {dtype}")
    if method in KEEP_DTYPE_METHODS and not call.keywords and all(
            isinstance(a, ast.Constant) for a in call.args):
        return integer_value(call.func.value, scope, use, depth + 1, redtyped)
    return None


def integer_call(call: ast.Call, scope: Scope, depth: int, redtyped: set[str]
                 ) -> Integer | None:
    """A torch function whose result is certainly integer, from its arguments alone."""
    name = dotted_name(call)
    given = keyword(call, "dtype", raw=True)
    if isinstance(given, ast.expr) and name in FACTORIES | {"torch.as_tensor"}:
        dtype = torch_dtype(given)
        return Integer(dtype, f"dtype={ast.unparse(given)}") if dtype else None
    if name in ("torch.tensor", "torch.as_tensor") and call.args:
        return literal_integer(call.args[0])
    if name == "torch.arange" and (call.args or call.keywords) and all(
            is_int(a) for a in (*call.args, *(k.value for k in call.keywords
                                               if k.arg in ("start", "end", "step")))):
        return Integer("int64", "torch.arange of integers gives int64")
    if name in ("torch.randint", "torch.randperm"):
        return Integer("int64", f"{name} gives int64 unless given a dtype")
    if name == "torch.full":
        fill = call.args[1] if len(call.args) > 1 else keyword(call, "fill_value", raw=True)
        return literal_integer(fill) if isinstance(fill, ast.expr) else None
    if name == "torch.from_numpy" and len(call.args) == 1:
        return numpy_integer(call.args[0], scope, call, depth + 1)
    return None


def literal_integer(node: ast.expr) -> Integer | None:
    """A literal (nested lists or tuples) of ints and bools only, with at least one number."""
    numbers = literal_numbers(node)
    if not numbers or not all(type(n) in (int, bool) for n in numbers):
        return None
    if all(type(n) is bool for n in numbers):
        return Integer("bool", "a literal of booleans gives bool")
    return Integer("int64", "a literal of integers gives int64")


def literal_numbers(node: ast.expr) -> list[object] | None:
    if isinstance(node, (ast.List, ast.Tuple)):
        numbers: list[object] = []
        for item in node.elts:
            inner = literal_numbers(item)
            if inner is None:
                return None
            numbers += inner
        return numbers
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return literal_numbers(node.operand)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)):
        return [node.value]
    return None


def is_int(node: ast.expr) -> bool:
    numbers = literal_numbers(node)
    return numbers is not None and len(numbers) == 1 and type(numbers[0]) is int \
        and not isinstance(node, (ast.List, ast.Tuple))


def numpy_integer(node: ast.expr, scope: Scope, use: ast.AST, depth: int) -> Integer | None:
    """`torch.from_numpy(a)` where `a` is certainly `<...>.astype(<integer type>)`."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Name):
        value = scope.value_before(node.id, use)
        if value is None or value not in scope.statement_of:
            return None
        return numpy_integer(value, scope, value, depth + 1)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "astype" and len(node.args) == 1):
        return None
    given = node.args[0]
    dtype = given.value if isinstance(given, ast.Constant) else (
        given.attr if isinstance(given, ast.Attribute) else getattr(given, "id", None))
    if not isinstance(dtype, str) or dtype not in NUMPY_DTYPES:
        return None
    dtype = NUMPY_DTYPES[dtype]
    return Integer(dtype, f"torch.from_numpy of an array cast with `.astype({ast.unparse(given)})`")


def torch_dtype(node: ast.expr | None) -> str | None:
    """The integer dtype `torch.long` & co. name, or None (a float dtype, a variable)."""
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "torch"):
        return TORCH_DTYPES.get(node.attr)
    return None


def names_given_new_data(scope: Scope) -> set[str]:
    """Names whose tensor may change dtype in place: `x.data = ...` or `x.set_(...)`."""
    names = set()
    for node in scope.nodes():
        if isinstance(node, ast.Assign):
            names |= {t.value.id for t in node.targets if isinstance(t, ast.Attribute)
                      and t.attr == "data" and isinstance(t.value, ast.Name)}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "set_" and isinstance(node.func.value, ast.Name)):
            names.add(node.func.value.id)
    return names


def imported_parameter(tree: ast.Module) -> set[str]:
    """`Parameter` when the module imports it from torch.nn."""
    return {alias.asname or alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module in ("torch.nn", "torch.nn.parameter")
            for alias in node.names if alias.name == "Parameter"}
