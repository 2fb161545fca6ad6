"""The excepthook. `gradexplain.install()` chains it for one process; the .pth file of
`gradexplain hook enable` installs a stub at every start of the environment's Python that
imports this module only when an uncaught exception happens.

The hook prints Python's own traceback first and unchanged, then the explanation when the
knowledge base knows the error (nothing otherwise). `GRADEXPLAIN=0` turns it off; a
failure inside the explanation is swallowed: the user's traceback is already out.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: this module must not import typing at start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

MARK = "gradexplain"


def install(kb_dirs: Sequence[str] = ()) -> None:
    """Chain the explanation after the current `sys.excepthook` (once)."""
    previous = sys.excepthook
    if getattr(previous, MARK, False):
        return

    def hook(kind: type[BaseException], error: BaseException,
             tb: TracebackType | None) -> None:
        after_traceback(previous, kind, error, tb, kb_dirs)

    setattr(hook, MARK, True)
    sys.excepthook = hook


def after_traceback(previous: Callable[..., object], kind: type[BaseException],
                    error: BaseException, tb: TracebackType | None,
                    kb_dirs: Sequence[str] = ()) -> None:
    """Python's traceback (by the hook that was there before), then the explanation."""
    previous(kind, error, tb)
    if os.environ.get("GRADEXPLAIN", "1") == "0" or not isinstance(error, Exception):
        return
    try:
        from gradexplain.api import report_for_exception
        from gradexplain.runreport import show

        sys.stderr.flush()
        show(report_for_exception(error.with_traceback(tb), kb_dirs), "")
    except Exception:  # noqa: BLE001, S110 - never a second traceback from the hook
        pass
