"""Shared plumbing: find the statement at a line, replace only it, re-parse the result."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from gradexplain.fixes import FixOutcome

StatementEdit = Callable[[cst.SimpleStatementLine],
                         "cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement]"]


class Refusal(Exception):
    """The transformer is not sure: the code stays as it is, and the reason is shown."""


def edit_statement(source: str, line: int, edit: StatementEdit) -> FixOutcome:
    """Apply `edit` to the simple statement line that covers `line`; refuse on any doubt."""
    try:
        tree = parsed(source)
    except cst.ParserSyntaxError as error:
        return FixOutcome(None, f"the file does not parse: {error.message}")
    found = next(((node, top) for start, end, node, top in tree.statements
                  if start <= line <= end), None)
    if found is None:
        return FixOutcome(None, f"no simple statement at line {line}")
    target, top = found
    try:
        replacement = edit(target)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    if not isinstance(replacement, (cst.BaseStatement, cst.FlattenSentinel)):
        return FixOutcome(None, "the change is not a statement")  # a transformer bug
    new_source = tree.replaced(top, Replace(target, replacement))
    if new_source == source:
        return FixOutcome(None, "the statement is already in the fixed form")
    try:
        with warnings.catch_warnings():  # the user's own SyntaxWarnings are not ours to show
            warnings.simplefilter("ignore")
            ast.parse(new_source)
    except SyntaxError as error:  # pragma: no cover - a transformer bug
        return FixOutcome(None, f"the change would not parse: {error.msg}")
    return FixOutcome(new_source)


@dataclass(frozen=True)
class Parsed:
    """A source's tree, the line span of each simple statement with the index of the
    top-level statement that holds it, and where each top-level statement's code lies in
    the source (None when the pieces do not add up to it)."""

    source: str
    module: cst.Module
    statements: tuple[tuple[int, int, cst.SimpleStatementLine, int], ...]
    offsets: tuple[int, ...] | None

    def replaced(self, top: int, transformer: cst.CSTTransformer) -> str:
        """The source with the transformer applied to top-level statement `top` alone:
        generating the whole module's code again for each fix made `check` slow."""
        if self.offsets is None:
            return self.module.visit(transformer).code
        changed = self.module.body[top].visit(transformer)
        nodes = changed.nodes if isinstance(changed, cst.FlattenSentinel) else (
            [] if isinstance(changed, cst.RemovalSentinel) else [changed])
        code = "".join(self.module.code_for_node(node) for node in nodes)
        return self.source[:self.offsets[top]] + code + self.source[self.offsets[top + 1]:]


@lru_cache(maxsize=4)
def parsed(source: str) -> Parsed:
    """Worked out once per source: `check` asks for a fix per finding, and the positions
    cost more than the edit. The tree is immutable, so edits never change what is cached."""
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    top_lines = [(positions[node].start.line, positions[node].end.line) for node in module.body]
    statements = tuple((span.start.line, span.end.line, node,
                        next((i for i, (a, b) in enumerate(top_lines)
                              if a <= span.start.line <= b), -1))
                       for node, span in positions.items()
                       if isinstance(node, cst.SimpleStatementLine))
    return Parsed(source, module, statements, top_offsets(source, module))


def top_offsets(source: str, module: cst.Module) -> tuple[int, ...] | None:
    """Where each top-level statement's code starts in the source, and where the last one
    ends; None when the header, statements and footer do not give the source back exactly
    (no newline at the end, say)."""
    header = "".join(module.code_for_node(line) for line in module.header)
    codes = [module.code_for_node(statement) for statement in module.body]
    footer = "".join(module.code_for_node(line) for line in module.footer)
    if header + "".join(codes) + footer != source:
        return None
    offsets = [len(header)]
    for code in codes:
        offsets.append(offsets[-1] + len(code))
    return tuple(offsets)


class Replace(cst.CSTTransformer):
    """Put `replacement` (one node, or several statements) where `target` was."""

    def __init__(self, target: cst.SimpleStatementLine,
                 replacement: cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]
                 ) -> None:
        self.target = target
        self.replacement = replacement

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Statements only: the target is one, and never inside an expression (walking
        every expression of a long file for each fix made `check` slow)."""
        return not isinstance(node, (cst.SimpleStatementLine, cst.BaseExpression))

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        return self.replacement if original is self.target else updated


def transformed(statement: cst.SimpleStatementLine, transformer: cst.CSTTransformer) -> cst.CSTNode:
    """Run a transformer over one statement; a transformer that removes it is a bug."""
    result = statement.visit(transformer)
    if not isinstance(result, cst.CSTNode):
        raise Refusal("the change would remove the statement")
    return result


def code_of(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


class OneChange(cst.CSTTransformer):
    """A transformer that must change exactly one thing on the line: with none or several,
    it cannot know which is meant, so it refuses. Subclasses count with `self.changed` and
    name what they look for in `wanted` ("backward() call", ...)."""

    wanted = "change"

    def __init__(self) -> None:
        self.changed = 0

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        if self.changed != 1:
            raise Refusal(f"the line needs exactly one {self.wanted}, found {self.changed}")
        return updated
