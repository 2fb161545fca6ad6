"""Remember the warnings a wrapped script prints, as the warnings module prints them.

Some errors are only explained by a warning printed before them (the `.grad` of a
non-leaf tensor is None, so `w.grad.zero_()` fails later), and some bugs show only as a
warning (a loss broadcasting its target). The explanation reads these lines as if they
had been pasted with the traceback. Recording costs nothing until a warning is issued.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections import deque
from types import FrameType
from typing import Any

MAX_KEPT = 32
OWN_FILES = ("warnlog.py", "bootstrap.py", "runpy.py", "<frozen runpy>")
recorded: deque[str] = deque(maxlen=MAX_KEPT)


def install() -> None:
    """Wrap `warnings._showwarnmsg`, through which every printed warning passes (the public
    `showwarning` loses the ResourceWarning's source, which changes what Python prints)."""
    shown = getattr(warnings, "_showwarnmsg", None)
    if shown is None:
        return

    def record(message: Any) -> None:
        with contextlib.suppress(Exception):  # never break the script's own warning output
            place = user_caller(message.filename, message.lineno)
            recorded.append(warnings.formatwarning(message.message, message.category, *place,
                                                   line=None))
        shown(message)

    warnings._showwarnmsg = record  # type: ignore[attr-defined]


def user_caller(filename: str, lineno: int) -> tuple[str, int]:
    """Where the user's code made the call that warned: a warning issued inside a library
    (`nn.MSELoss` warns from torch's loss.py) is about the user's line that called it."""
    from gradexplain.frames import is_user_file

    if is_user_file(filename):
        return filename, lineno
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code_file = frame.f_code.co_filename
        if is_user_file(code_file) and not code_file.endswith(OWN_FILES):
            return code_file, frame.f_lineno
        frame = frame.f_back
    return filename, lineno


def text() -> str:
    return "".join(recorded)
