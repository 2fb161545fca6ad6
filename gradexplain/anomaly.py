"""Anomaly mode for a fix re-run: torch records, for the operation whose backward failed,
where its forward call was made. For "modified by an inplace operation" that forward call
saved the tensor that was later changed in place, which is how a fix finds the change."""

from __future__ import annotations

import warnings
from typing import Any

forward_traces: list[str] = []
MARKER = "Traceback of forward call that caused the error:"


def install() -> None:
    import torch

    torch.autograd.set_detect_anomaly(True)
    shown = warnings.showwarning

    def record(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
               line: Any = None) -> None:
        text = str(message)
        if MARKER in text:
            forward_traces.append(text)
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = record
    # the script's own warning filters (PYTHONWARNINGS=ignore, say) must not hide it from us
    warnings.filterwarnings("always", message="(?s).*" + MARKER)
