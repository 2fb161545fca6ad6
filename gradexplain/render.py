"""Plain text, Markdown and JSON output. Rich terminal output lives in render_rich.py,
so that piped output never imports rich."""

from __future__ import annotations

import json
import textwrap

from gradexplain.diagnose import context_for, diagnose
from gradexplain.document import Block, Bullets, Change, Code, Document, Para, Table
from gradexplain.model import Analysis, Frame, Report, UserFrame
from gradexplain.msgfacts import parse_message

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

JSON_SCHEMA = 1


def render_text(document: Document, width: int = 88) -> str:
    out = wrap(document.heading, width, "", "  ")
    out.append("=" * max(map(len, out)))
    for section in document.sections:
        out.append("")
        out.append(section.title)
        for block in section.blocks:
            out.extend(text_block(block, width))
    return "\n".join(out) + "\n"


def wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Wrap prose; never at a hyphen (`in-place`, `requires-grad` stay whole)."""
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def text_block(block: Block, width: int) -> list[str]:
    indent = "  "
    if isinstance(block, Para):
        return wrap(block.text, width, indent, indent)
    if isinstance(block, Bullets):
        return [line for item in block.items
                for line in wrap(item, width, indent + "- ", indent + "  ")]
    if isinstance(block, Code) and block.wrap:
        return wrap(block.text, width, indent + "  ", indent + "  ")
    if isinstance(block, Code):
        return numbered(block, indent + "  ")
    if isinstance(block, Table):
        return table_lines(block, indent)
    return change_lines(block, width, indent)


def table_lines(table: Table, indent: str) -> list[str]:
    rows = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.header))]

    def line(row: tuple[str, ...]) -> str:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        return (indent + "  ".join(cells)).rstrip()

    return [line(table.header), line(tuple("-" * w for w in widths)),
            *(line(row) for row in table.rows)]


def numbered(block: Code, indent: str) -> list[str]:
    lines = block.text.splitlines() or [""]
    if block.first_line is None:
        return [indent + line for line in lines]
    digits = len(str(block.first_line + len(lines) - 1))
    return [f"{indent}{block.first_line + i:>{digits}} | {line}" for i, line in enumerate(lines)]


def change_lines(change: Change, width: int, indent: str) -> list[str]:
    title = f"{change.number}. {change.title}"
    lines = wrap(title, width, indent, indent + "   ")
    label = "in your code:" if change.tailored else "for example:"
    lines.append(f"{indent}   {label}")
    lines.extend(f"{indent}   {line}" for line in change.diff())
    return lines


def render_markdown(document: Document) -> str:
    out = [f"# {document.heading}"]
    for section in document.sections:
        out.append(f"\n## {section.title}\n")
        for block in section.blocks:
            out.append(markdown_block(block))
    return "\n".join(out) + "\n"


def markdown_block(block: Block) -> str:
    if isinstance(block, Para):
        return block.text + "\n"
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items) + "\n"
    if isinstance(block, Code):
        return f"```\n{block.text}\n```\n"
    if isinstance(block, Table):
        rows = [block.header, tuple("---" for _ in block.header), *block.rows]
        return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"
    label = "In your code" if block.tailored else "For example"
    diff = "\n".join(block.diff())
    return f"{block.number}. {block.title}\n\n   {label}:\n\n```diff\n{diff}\n```\n"


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def report_dict(report: Report) -> dict[str, Any]:
    primary = None
    if report.primary is not None:
        analysis = report.analyses[report.primary]
        top = analysis.matches[0].entry
        primary = {
            "id": top.id,
            "title": top.title,
            "traceback_index": report.primary,
            "user_frame": user_frame_dict(analysis.user_frame),
        }
    return {
        "schema": JSON_SCHEMA,
        "primary": primary,
        "tracebacks": [traceback_dict(a) for a in report.analyses],
    }


def traceback_dict(analysis: Analysis) -> dict[str, Any]:
    tb = analysis.traceback
    return {
        "kind": tb.kind,
        "exception": {"type": tb.exception.type, "message": tb.exception.message},
        "frames": [frame_dict(frame, user)
                   for frame, user in zip(tb.frames, analysis.user_frames, strict=True)],
        "user_frame": user_frame_dict(analysis.user_frame),
        "matches": [{"id": m.entry.id, "title": m.entry.title, "score": m.score}
                    for m in analysis.matches],
        "chained_from": tb.parent,
        "relation": tb.relation,
        "stream": tb.stream,
        "ranks": list(analysis.ranks),
        "complete": tb.complete,
        "facts": analysis.facts or None,
        "message_facts": parse_message(tb.exception.message),
        "causes": causes_list(analysis),
    }


def causes_list(analysis: Analysis) -> list[dict[str, Any]]:
    """The top entry's causes, ranked, each with the lines of the user's code that show it."""
    if not analysis.matches:
        return []
    diagnosis = diagnose(analysis.matches[0].entry, context_for(analysis))
    return [{"id": ranked.cause.id, "score": ranked.score, "likely": ranked.likely,
             "evidence": [{"file": line.file, "line": line.line, "code": line.code}
                          for line in ranked.lines],
             "notes": list(ranked.evidence)}
            for ranked in diagnosis.causes]


def frame_dict(frame: Frame, user: bool) -> dict[str, Any]:
    return {"file": frame.file, "line": frame.line, "function": frame.function,
            "code": frame.code, "user": user}


def user_frame_dict(user_frame: UserFrame | None) -> dict[str, Any] | None:
    if user_frame is None:
        return None
    result = frame_dict(user_frame.frame, True)
    result["statement"] = user_frame.statement
    return result
