"""pytest plugin: explain a test's autograd error in its failure report.

Loaded in every pytest run of an environment where gradexplain is installed (entry point
`pytest11`), so importing it costs nothing but pytest itself; it acts only with
`--gradexplain` or the ini option `gradexplain = true`, and only for a failed test. The
explanation becomes a section of the failure's traceback (`longrepr`), which puts it in
the terminal summary, in `--junitxml` and in reports sent back by pytest-xdist workers.
An error the knowledge base does not know adds nothing; an explanation that fails adds
one line and never changes the test's outcome.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

SECTION = "gradexplain"
WIDTH = 88
ENABLED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradexplain", "explain PyTorch autograd errors")
    group.addoption(
        "--gradexplain", action="store_true", default=False,
        help="explain a failing test's autograd error in its failure report",
    )
    parser.addini(
        "gradexplain", type="bool", default=False,
        help="explain failing tests' autograd errors, as --gradexplain does",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ENABLED] = enabled(config)


def enabled(config: pytest.Config) -> bool:
    """Decided once, at start; a bad ini value is a warning that leaves the plugin off,
    not a usage error that stops the run."""
    if os.environ.get("GRADEXPLAIN", "1") == "0":
        return False
    if config.getoption("gradexplain"):
        return True
    try:
        return bool(config.getini("gradexplain"))
    except (ValueError, pytest.UsageError) as error:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(f"gradexplain is off: ini option gradexplain: {error}"),
            stacklevel=2,
        )
        return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None and item.config.stash.get(ENABLED, False):
        text = explanation_or_note(call.excinfo.value)
        if text:
            add_section(report, text)
    return report


def explanation_or_note(error: BaseException) -> str:
    """The plain-text explanation, "" for an error the knowledge base does not know, or a
    one-line note when explaining failed: the test's own failure must stay the report."""
    try:
        return explanation(error)
    except Exception as problem:  # noqa: BLE001 - never let the plugin break a test run
        return f"gradexplain could not explain this failure: {type(problem).__name__}: {problem}"


def explanation(error: BaseException) -> str:
    from gradexplain import api
    from gradexplain.document import build_document
    from gradexplain.render import render_text

    report = api.report_for_exception(error)
    if report.primary is None:
        return ""
    return render_text(build_document(report), WIDTH).rstrip("\n")


def add_section(report: pytest.TestReport, text: str) -> None:
    """Into the traceback's own sections when it has them (shown with the traceback, kept
    by --junitxml and xdist); otherwise among the captured-output sections."""
    addsection = getattr(report.longrepr, "addsection", None)  # pytest's ExceptionRepr
    if callable(addsection):
        addsection(SECTION, text)
    else:
        report.sections.append((SECTION, text))
