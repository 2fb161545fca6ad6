"""In the user's process, after an uncaught exception: write the report for the parent,
or explain right here when there is no parent (plain `gradexplain run`)."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, TextIO

from gradexplain import facts
from gradexplain.model import Report


def report_failure(error: BaseException, report_path: str, explain_here: bool,
                   json_out: str = "") -> None:
    from gradexplain import warnlog

    text = warnlog.text() + "".join(
        traceback.format_exception(type(error), error, error.__traceback__))
    live = facts.collect(error)
    if report_path:
        anomaly = sys.modules.get("gradexplain.anomaly")
        traces = list(getattr(anomaly, "forward_traces", []))
        write_report(report_path, {"traceback": text, "facts": live, "forward_traces": traces})
    if explain_here:
        explain_text(text, live, json_out)


def write_report(path: str, data: dict[str, Any]) -> None:
    """Merge into the report (the gradient tracker may write to it too)."""
    try:
        with open(path, encoding="utf-8") as handle:
            existing = json.load(handle)
    except (OSError, ValueError):
        existing = {}
    existing.update(data)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(existing, handle)


def explain_text(text: str, live: dict[str, Any], json_out: str = "") -> None:
    """Explain on stderr, after the traceback (silent for errors the knowledge base lacks);
    with `json_out`, write the JSON explanation there instead."""
    report = attach_facts(explained(text), live)
    if json_out:
        write_json(report, json_out)
    else:
        show(report, "")


def explain_warnings(text: str, json_out: str = "") -> None:
    """The script succeeded: explain a warning it printed that the knowledge base knows."""
    report = explained(text)
    if json_out:
        write_json(report, json_out)
    else:
        show(report, "gradexplain: the run succeeded, but one of its warnings is a known problem:")


def write_json(report: Report, path: str) -> None:
    from gradexplain.render import render_json

    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_json(report))


def explained(text: str) -> Report:
    from gradexplain import app
    from gradexplain.explain import explain

    return explain(text, app.load_knowledge([], sys.stderr))


def show(report: Report, heading: str, stream: TextIO | None = None) -> None:
    """The explanation on `stream` (stderr), after a blank line and the heading; nothing
    when the knowledge base explains nothing."""
    if report.primary is None:
        return
    from gradexplain import app
    from gradexplain.document import build_document

    out = stream or sys.stderr
    print("\n" + heading if heading else "", file=out)
    app.emit(build_document(report), app.Output("text", "auto", None, out))


def attach_facts(report: Report, live: dict[str, Any]) -> Report:
    """The live facts belong to the last traceback: the uncaught one."""
    from dataclasses import replace

    if not live or not report.analyses:
        return report
    analyses = list(report.analyses)
    analyses[-1] = replace(analyses[-1], facts=live)
    return replace(report, analyses=tuple(analyses))
