"""IPython and Jupyter: `%load_ext gradexplain`, and `%gradexplain` for the last error.

The explanation comes from a `post_run_cell` callback, after IPython has shown the cell's
traceback its own way; `set_custom_exc` would replace that traceback. The callback runs
after every cell, so it returns at once when the cell succeeded and never raises: IPython
would print a second traceback (and overwrite `sys.last_value`) for a failing callback.

In a notebook (a kernel) the explanation is a display output carrying both Markdown and
plain text, so the notebook file stays readable in tools that show only text; in a
terminal it is the same text as `gradexplain run` prints (coloured on a terminal).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from gradexplain.model import Report

MAGIC = "gradexplain"
FORMATS = ("text", "markdown", "json")
NO_ERROR = ("gradexplain: no error in this session yet; run the failing cell, "
            "then %gradexplain.")


@dataclass
class LastExplained:
    """The report made when the last failing cell failed: its facts describe the tensors
    at that moment, which later cells may have changed by the time `%gradexplain` runs."""
    error: BaseException | None = None
    report: Report | None = None

    def forget(self) -> None:
        """Let the failed cell's frames (and their tensors) go once a newer error is out."""
        self.error = self.report = None


LAST = LastExplained()


def load(ipython: Any) -> None:
    """Register the callback and the magic; loading twice (`%reload_ext`) replaces them."""
    unload(ipython)

    def explain_cell(result: Any) -> None:
        explain_failed_cell(ipython, result)

    explain_cell.gradexplain = True  # type: ignore[attr-defined]
    ipython.events.register("post_run_cell", explain_cell)

    def gradexplain(line: str) -> None:
        """Explain the last error of this session.

        Usage: %gradexplain [--format text|markdown|json]

        Without --format: as after a failing cell (Markdown in a notebook, text in a
        terminal). Errors the knowledge base does not know are reported as such."""
        explain_last_error(ipython, line)

    ipython.register_magic_function(gradexplain, "line", MAGIC)


def unload(ipython: Any) -> None:
    """`%unload_ext gradexplain`: remove the callback and the magic."""
    for callback in list(ipython.events.callbacks["post_run_cell"]):
        if getattr(callback, "gradexplain", False):
            ipython.events.unregister("post_run_cell", callback)
    ipython.magics_manager.magics["line"].pop(MAGIC, None)


def explain_failed_cell(ipython: Any, result: Any) -> None:
    error = getattr(result, "error_in_exec", None)
    if error is None and getattr(result, "error_before_exec", None) is None:
        return  # the cell succeeded
    LAST.forget()
    if not isinstance(error, Exception) or os.environ.get("GRADEXPLAIN", "1") == "0":
        return  # a syntax error, Ctrl-C, SystemExit; or turned off
    try:
        report = remember(error)
        if report.primary is not None:
            display(ipython, report)
    except Exception:  # noqa: BLE001 - the traceback is already shown; add nothing
        pass


def remember(error: BaseException) -> Report:
    """The report of `error`, made while its frames still hold the failing tensors."""
    from gradexplain.api import report_for_exception

    LAST.forget()
    LAST.error = error
    LAST.report = report_for_exception(error)
    return LAST.report


def display(ipython: Any, report: Report) -> None:
    from gradexplain.document import build_document
    from gradexplain.render import render_markdown, render_text

    document = build_document(report)
    if in_notebook(ipython):
        bundle = {"text/markdown": render_markdown(document), "text/plain": render_text(document)}
        ipython.display_pub.publish(data=bundle, metadata={})
        return
    from gradexplain import app

    sys.stderr.flush()
    print(file=sys.stdout)  # IPython prints the traceback on stdout: follow it there
    app.emit(document, app.Output("text", "auto", None, sys.stdout))


def in_notebook(ipython: Any) -> bool:
    """A kernel (Jupyter, VS Code, Colab) shows rich output; a terminal shell has no kernel."""
    return getattr(ipython, "kernel", None) is not None


def explain_last_error(ipython: Any, line: str) -> None:
    format = parse_format(line)
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if error is None:
        print(NO_ERROR)
        return
    report = LAST.report if error is LAST.error and LAST.report else remember(error)
    if format is None:
        display(ipython, report)
    elif format == "json":
        from gradexplain.render import render_json

        print(render_json(report), end="")
    else:
        from gradexplain.document import build_document
        from gradexplain.render import render_markdown, render_text

        document = build_document(report)
        print(render_markdown(document) if format == "markdown" else render_text(document),
              end="")


def parse_format(line: str) -> str | None:
    """`--format X` or `--format=X`; anything else is a usage error, shown by IPython as one
    line rather than a traceback."""
    from IPython.core.error import UsageError

    words = line.replace("=", " ").split()
    if not words:
        return None
    if len(words) == 2 and words[0] in ("--format", "-f") and words[1] in FORMATS:
        return words[1]
    raise UsageError(f"%gradexplain [--format {'|'.join(FORMATS)}], not: %gradexplain {line}")
