"""`gradexplain check` output: the flake8/ruff line format, JSON, SARIF 2.1.0 for code
scanning, and a rich view with the code and the fix on a terminal."""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from urllib.parse import quote

from gradexplain import __version__
from gradexplain.check import Finding, Result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SYNTAX_ID = "syntax-error"
SARIF_LEVEL = {"high": "error", "medium": "warning"}


def render_text(result: Result) -> str:
    """`path:line:col: ID message`, one per line, then a count."""
    lines = [f"{p.file}:{p.line}:{p.col}: {SYNTAX_ID} {p.message}" for p in result.problems]
    lines += [f"{f.file}:{f.line}:{f.col}: {f.id} {f.message}" for f in result.findings]
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def summary(result: Result) -> str:
    count = len(result.findings)
    fixable = sum(f.fix is not None for f in result.findings)
    text = f"Found {count} finding{'s' if count != 1 else ''}" if count else "No findings"
    if fixable:
        text += f" ({fixable} with a fix: --diff shows it, --fix applies it)"
    if result.problems:
        text += f"; {len(result.problems)} file(s) could not be checked"
    return text + "."


def finding_dict(finding: Finding) -> dict[str, Any]:
    fix = finding.fix
    return {"id": finding.id, "file": finding.file, "line": finding.line, "col": finding.col,
            "message": finding.message, "confidence": finding.confidence,
            "fix": {"applicability": fix.applicability, "diff": fix.diff} if fix else None}


def render_json(result: Result) -> str:
    data = {"schema": 1, "findings": [finding_dict(f) for f in result.findings],
            "problems": [{"file": p.file, "line": p.line, "col": p.col, "message": p.message}
                         for p in result.problems]}
    return json.dumps(data, indent=2) + "\n"


def render_sarif(result: Result, rules: dict[str, str]) -> str:
    """SARIF 2.1.0: one run, a rule per entry id found (`rules` gives each its title)."""
    ids = sorted({f.id for f in result.findings} | ({SYNTAX_ID} if result.problems else set()))
    titles = dict(rules, **{SYNTAX_ID: "The file is not valid Python"})
    results = [sarif_result(f.id, f.message, SARIF_LEVEL[f.confidence], f.file, f.line, f.col)
               for f in result.findings]
    results += [sarif_result(SYNTAX_ID, p.message, "error", p.file, p.line, p.col)
                for p in result.problems]
    run = {
        "tool": {"driver": {
            "name": "gradexplain", "version": __version__,
            "informationUri": "https://github.com/gradexplain/gradexplain",
            "rules": [{"id": rule_id, "shortDescription": {"text": titles.get(rule_id, rule_id)},
                       "helpUri": "https://github.com/gradexplain/gradexplain#known-errors"}
                      for rule_id in ids]}},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]},
                      indent=2) + "\n"


def sarif_result(rule_id: str, message: str, level: str, file: str, line: int,
                 col: int) -> dict[str, Any]:
    return {"ruleId": rule_id, "level": level, "message": {"text": message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": sarif_uri(file)},
                "region": {"startLine": line, "startColumn": col}}}]}


def print_rich(result: Result, stream: TextIO, force_color: bool = False) -> None:
    """On a terminal: each finding with its line of code and, when there is one, its fix."""
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console(file=stream, force_terminal=force_color or None, highlight=False)
    for problem in result.problems:
        console.print(f"[bold]{problem.file}:{problem.line}:{problem.col}:[/] "
                      f"[red]{SYNTAX_ID}[/] {problem.message}")
    for finding in result.findings:
        console.print(f"[bold]{finding.file}:{finding.line}:{finding.col}:[/] "
                      f"[red]{finding.id}[/] {finding.message}"
                      + (" [dim](medium confidence)[/]" if finding.confidence != "high" else ""))
        code = result.sources.get(finding.file, "").splitlines()
        if 1 <= finding.line <= len(code):
            console.print(Syntax(code[finding.line - 1].strip(), "python",
                                 line_numbers=False), style="dim")
        if finding.fix is not None:
            console.print(f"  [green]fix ({finding.fix.applicability}):[/]")
            console.print(Syntax(finding.fix.diff, "diff"))
    console.print(summary(result))


def sarif_uri(file: str) -> str:
    """A URI reference for the file: `file:///...` for an absolute path, else the relative
    path with what a URI gives a meaning to (space, `%`, `#`, `?`, `:`, non-ASCII) escaped."""
    path = PurePath(file)
    if path.is_absolute():
        return Path(file).as_uri()
    return quote(path.as_posix(), safe="/")
