"""Shared plumbing: find the statement at a line, replace only it, re-parse the result."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
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
        module, statements = parsed(source)
    except cst.ParserSyntaxError as error:
        return FixOutcome(None, f"the file does not parse: {error.message}")
    target = next((node for start, end, node in statements if start <= line <= end), None)
    if target is None:
        return FixOutcome(None, f"no simple statement at line {line}")
    try:
        replacement = edit(target)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    if not isinstance(replacement, (cst.BaseStatement, cst.FlattenSentinel)):
        return FixOutcome(None, "the change is not a statement")  # a transformer bug
    new_source = module.visit(Replace(target, replacement)).code
    if new_source == source:
        return FixOutcome(None, "the statement is already in the fixed form")
    try:
        with warnings.catch_warnings():  # the user's own SyntaxWarnings are not ours to show
            warnings.simplefilter("ignore")
            ast.parse(new_source)
    except SyntaxError as error:  # pragma: no cover - a transformer bug
        return FixOutcome(None, f"the change would not parse: {error.msg}")
    return FixOutcome(new_source)


@lru_cache(maxsize=4)
def parsed(source: str) -> tuple[cst.Module, tuple[tuple[int, int, cst.SimpleStatementLine], ...]]:
    """The module and the line span of each simple statement, worked out once per source:
    `check` asks for a fix per finding, and the positions cost more than the edit. The tree
    is immutable, so edits never change what is cached."""
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    return wrapper.module, tuple((span.start.line, span.end.line, node)
                                 for node, span in positions.items()
                                 if isinstance(node, cst.SimpleStatementLine))


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
