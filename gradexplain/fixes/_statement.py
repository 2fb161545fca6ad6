"""Shared plumbing: find the statement at a line, replace only it, re-parse the result."""

from __future__ import annotations

from collections.abc import Callable

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
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as error:
        return FixOutcome(None, f"the file does not parse: {error.message}")
    positions = wrapper.resolve(PositionProvider)
    target = next((node for node, span in positions.items()
                   if isinstance(node, cst.SimpleStatementLine)
                   and span.start.line <= line <= span.end.line), None)
    if target is None:
        return FixOutcome(None, f"no simple statement at line {line}")
    try:
        replacement = edit(target)
    except Refusal as refusal:
        return FixOutcome(None, str(refusal))
    if not isinstance(replacement, (cst.BaseStatement, cst.FlattenSentinel)):
        return FixOutcome(None, "the change is not a statement")  # a transformer bug
    new_source = wrapper.module.visit(Replace(target, replacement)).code
    if new_source == source:
        return FixOutcome(None, "the statement is already in the fixed form")
    try:
        cst.parse_module(new_source)
    except cst.ParserSyntaxError as error:  # pragma: no cover - a transformer bug
        return FixOutcome(None, f"the change would not parse: {error.message}")
    return FixOutcome(new_source)


class Replace(cst.CSTTransformer):
    """Put `replacement` (one node, or several statements) where `target` was."""

    def __init__(self, target: cst.SimpleStatementLine,
                 replacement: cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]
                 ) -> None:
        self.target = target
        self.replacement = replacement

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
