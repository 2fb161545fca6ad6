"""The Python API, for code that catches errors itself (a training loop, a test, a hook).

Both functions return the same data as `gradexplain explain --format json` (a dict with
`schema`, `primary` and `tracebacks`) and never raise for a bad input: explaining must not
become a second failure. `explain_exception` adds the live facts of the failing line
(shapes, requires_grad, grad_fn of the tensors on it) when torch is already imported.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Any

from gradexplain.model import Report


def explain_text(text: str | bytes, kb_dirs: Sequence[str] = ()) -> dict[str, Any]:
    """Explain the tracebacks (and warnings) in `text`, as the JSON output would."""
    from gradexplain.render import report_dict

    return report_dict(report_for_text(text, kb_dirs))


def explain_exception(error: BaseException, kb_dirs: Sequence[str] = ()) -> dict[str, Any]:
    """Explain a caught exception, with its chained causes and the live tensor facts."""
    from gradexplain.render import report_dict

    return report_dict(report_for_exception(error, kb_dirs))


def report_for_text(text: str | bytes, kb_dirs: Sequence[str] = ()) -> Report:
    from gradexplain import knowledge
    from gradexplain.explain import explain

    kb = knowledge.load(knowledge.search_dirs(kb_dirs))
    return explain(text, kb)


def report_for_exception(error: BaseException, kb_dirs: Sequence[str] = ()) -> Report:
    from gradexplain.runreport import attach_facts

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return attach_facts(report_for_text(text, kb_dirs), live_facts(error))


def live_facts(error: BaseException) -> dict[str, Any]:
    """Facts about the tensors on the failing line; none when torch is not in use (it is
    never imported for an error that did not need it) or when collecting them fails."""
    if "torch" not in sys.modules:
        return {}
    from gradexplain import facts

    try:
        return facts.collect(error)
    except Exception:  # noqa: BLE001 - facts are a bonus, the explanation must not fail
        return {}


def install(kb_dirs: Sequence[str] = ()) -> None:
    """Explain autograd errors on an uncaught exception, after Python's own traceback (see
    gradexplain.autohook); `GRADEXPLAIN=0` turns it off."""
    from gradexplain.autohook import install as install_hook

    install_hook(kb_dirs)
