"""Live facts from a failed run: what the tensors named on the failing line really were.

A pasted traceback only has text; inside the run we can look at the objects. For the
deepest user frame we read the names used on the failing statement and describe every
tensor among them (shape, dtype, device, requires_grad, is_leaf, grad_fn, version).
Runs in the user's process after the failure, so it must never raise and never change
anything it looks at.
"""

from __future__ import annotations

import io
import linecache
import sys
import tokenize
from types import FrameType, TracebackType

from gradexplain.frames import is_user_file, statement_span

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

MAX_NAMES = 12
MAX_GRAPH_NODES = 2000
FREED = "backward through the graph a second time"


def failing_user_frame(tb: TracebackType | None) -> tuple[FrameType, int] | None:
    """The deepest frame of the user's own code, and its line."""
    found = None
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename):
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


def statement_at(filename: str, line: int) -> str:
    source = "".join(linecache.getlines(filename))
    if not source:
        return ""
    first, last = statement_span(source, line)
    return "".join(linecache.getline(filename, n) for n in range(first, last + 1))


def dotted_names(statement: str) -> list[str]:
    """`a`, `self`, `self.fc`, `self.fc.weight`, ... (each dotted name and its prefixes) in
    order of appearance, without keywords or duplicates."""
    import keyword

    names: list[str] = []
    chain: list[str] = []
    expect_name = True
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(statement).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return names
    for token in tokens + [tokenize.TokenInfo(tokenize.ENDMARKER, "", (0, 0), (0, 0), "")]:
        if token.type == tokenize.NAME and expect_name and not keyword.iskeyword(token.string):
            chain.append(token.string)
            expect_name = False
        elif token.type == tokenize.OP and token.string == "." and chain:
            expect_name = True
        else:
            for end in range(1, len(chain) + 1):
                if ".".join(chain[:end]) not in names:
                    names.append(".".join(chain[:end]))
            chain, expect_name = [], True
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                chain, expect_name = [token.string], False
    return names[:MAX_NAMES]


def resolve(name: str, frame: FrameType) -> Any:
    parts = name.split(".")
    scopes = (frame.f_locals, frame.f_globals, frame.f_builtins)
    value = next((scope[parts[0]] for scope in scopes if parts[0] in scope), None)
    for part in parts[1:]:
        if value is None:
            return None
        try:
            value = getattr(value, part)
        except Exception:  # noqa: BLE001 - a property may raise; then there is no fact
            return None
    return value


def tensor_facts(value: Any) -> dict[str, Any] | None:
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    try:
        grad_fn = value.grad_fn
        return {
            "shape": list(value.shape),
            "numel": value.numel(),
            "dtype": str(value.dtype).removeprefix("torch."),
            "device": str(value.device),
            "requires_grad": bool(value.requires_grad),
            "is_leaf": bool(value.is_leaf),
            "grad_fn": type(grad_fn).__name__ if grad_fn is not None else None,
            "version": int(value._version),
        }
    except Exception:  # noqa: BLE001 - exotic tensor subclasses
        return None


GRAD_OFF = ("no_grad", "inference_mode", "set_grad_enabled")


def grad_off_context(filename: str, line: int) -> int | None:
    """The line of a `with torch.no_grad():` (inference_mode, set_grad_enabled) block or a
    function decorated with one, that encloses `line`: grad mode was off when it ran."""
    import ast

    try:
        tree = ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError, RecursionError):
        return None
    found = None
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            managers = [item.context_expr for item in node.items]
        elif isinstance(node, ast.FunctionDef):
            managers = list(node.decorator_list)
        else:
            continue
        if not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        for manager in managers:
            called = manager.func if isinstance(manager, ast.Call) else manager
            if ast.unparse(called).rsplit(".", 1)[-1] in GRAD_OFF and not (
                    isinstance(manager, ast.Call) and manager.args
                    and ast.unparse(manager.args[0]) == "True"):
                found = max(found or 0, node.lineno)  # the innermost
    return found


def collect(error: BaseException) -> dict[str, Any]:
    """Facts for the failing user line: {"file", "line", "tensors": {name: {...}},
    "grad_mode": {...}}."""
    found = failing_user_frame(error.__traceback__)
    if found is None:
        return {}
    frame, line = found
    filename = frame.f_code.co_filename
    tensors = {}
    for name in dotted_names(statement_at(filename, line)):
        facts = tensor_facts(resolve(name, frame))
        if facts is not None:
            tensors[name] = facts
    torch = sys.modules.get("torch")
    grad_mode = {
        # after the exception unwound: True unless torch.set_grad_enabled(False) is global
        "enabled_after_failure": bool(torch.is_grad_enabled()) if torch else None,
        "off_block_line": grad_off_context(filename, line),
    }
    result = {"file": filename, "line": line, "tensors": tensors, "grad_mode": grad_mode}
    if FREED in str(error):
        result["freed_graph"] = tensors_on_freed_graphs(frame)
    return result


def tensors_on_freed_graphs(frame: FrameType) -> list[str]:
    """Names in the failing frame whose graph holds a node an earlier backward() freed:
    for "backward through the graph a second time", the tensor carried too far."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    found = []
    for name, value in list(frame.f_locals.items()):
        values = value if isinstance(value, (tuple, list)) else (value,)
        if any(isinstance(v, torch.Tensor) and v.grad_fn is not None and graph_was_freed(v.grad_fn)
               for v in values[:8]):
            found.append(name)
    return found[:MAX_NAMES]


def graph_was_freed(root: Any) -> bool:
    """True when some node of the graph lost its saved tensors to an earlier backward()."""
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack and len(seen) < MAX_GRAPH_NODES:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for attribute in dir(node):
            if attribute.startswith("_saved_"):
                try:
                    getattr(node, attribute)
                except RuntimeError as error:
                    if FREED in str(error):
                        return True
                except Exception:  # noqa: BLE001, S112 - other saved values: not our question
                    continue
        stack.extend(child for child, _ in getattr(node, "next_functions", ()) if child)
    return False


def describe_freed(names: list[str]) -> str | None:
    if not names:
        return None
    listed = ", ".join(f"`{name}`" for name in names)
    subject = (f"The graph of {listed} reaches" if len(names) == 1
               else f"The graphs of {listed} reach")
    return (f"{subject} operations whose saved tensors an earlier backward() freed: "
            "something computed in an earlier step (a carried state, a cached tensor) is "
            "used again without .detach().")


def describe_grad_mode(grad_mode: dict[str, Any]) -> str | None:
    if grad_mode.get("off_block_line"):
        return (f"The failing line ran with grad mode off: it is inside a no_grad / "
                f"inference_mode block or function starting at line {grad_mode['off_block_line']}.")
    if grad_mode.get("enabled_after_failure") is False:
        return "Grad mode is off for the whole program (torch.set_grad_enabled(False))."
    return None


def describe(name: str, facts: dict[str, Any]) -> str:
    """One line for a person: `A` is a tensor of shape (2,) with 2 elements, ..."""
    shape = "(" + ", ".join(map(str, facts["shape"])) + ("," if len(facts["shape"]) == 1 else "")
    shape += ")"
    elements = facts["numel"]
    parts = [f"`{name}` is a {facts['dtype']} tensor of shape {shape} with {elements} "
             f"element{'s' if elements != 1 else ''} on {facts['device']}"]
    if facts["requires_grad"]:
        origin = "a leaf" if facts["is_leaf"] else f"made by {facts['grad_fn']}"
        parts.append(f"requires grad ({origin})")
    else:
        parts.append("does not require grad" + ("" if facts["is_leaf"] else
                                                f" (made by {facts['grad_fn']})"))
    if facts["version"]:
        parts.append(f"changed in place {facts['version']} time"
                     f"{'s' if facts['version'] != 1 else ''}")
    return ", ".join(parts)
