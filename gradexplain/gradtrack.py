"""Evidence that a fixed run changed the maths as intended, not only that the error went
away: how many backward passes completed, and how many leaf tensors (parameters, inputs
with requires_grad) ended the run with a gradient, and a finite one."""

from __future__ import annotations

import atexit
import contextlib
import functools
from typing import Any

calls = {"backward": 0}


def install(report_path: str) -> None:
    """Wrap torch.autograd.backward (Tensor.backward goes through it) and report at exit."""
    import torch

    original = torch.autograd.backward

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        calls["backward"] += 1
        return result

    torch.autograd.backward = counted
    if report_path:
        atexit.register(write_evidence, report_path)


def gradient_evidence() -> dict[str, int]:
    import gc
    import warnings

    import torch

    leaves = with_grad = finite = 0
    with warnings.catch_warnings():  # looking at deprecated module objects warns
        warnings.simplefilter("ignore")
        objects = [obj for obj in gc.get_objects() if isinstance(obj, torch.Tensor)]
    for obj in objects:
        if obj.requires_grad and obj.is_leaf:
            leaves += 1
            if obj.grad is not None:
                with_grad += 1
                finite += bool(torch.isfinite(obj.grad).all())
    return {"backward_calls": calls["backward"], "leaf_tensors": leaves,
            "with_grad": with_grad, "finite_grad": finite}


def write_evidence(report_path: str) -> None:
    from gradexplain.runreport import write_report

    with contextlib.suppress(Exception):  # evidence is optional; never fail the user's exit
        write_report(report_path, {"grads": gradient_evidence()})
