"""Automatic fixes: small LibCST transformers, one per module, named in an explicit registry.

Knowledge entries refer to them by name (`fixes[].auto.transformer`). The registry maps
names to modules so that validating entries never imports libcst; a transformer is only
imported when a fix is applied.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

REGISTRY = {
    "reduce-backward": "gradexplain.fixes.reduce_backward",
    "detach-before-numpy": "gradexplain.fixes.detach_before_numpy",
    "no-grad-update": "gradexplain.fixes.no_grad_update",
    "float-dtype": "gradexplain.fixes.float_dtype",
    "scalar-reduce": "gradexplain.fixes.scalar_reduce",
    "out-of-place": "gradexplain.fixes.out_of_place",
    "detach-carried-state": "gradexplain.fixes.detach_carried_state",
    "grad-mode-on": "gradexplain.fixes.grad_mode_on",
    "retain-first-backward": "gradexplain.fixes.retain_first_backward",
}
APPLICABILITY = ("safe", "unsafe", "display-only")


@dataclass(frozen=True)
class FixRequest:
    """What a transformer gets: the file's source, the blamed line, the entry's arguments
    and the live facts of the run (tensors on the line), if any."""

    source: str
    line: int
    args: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FixOutcome:
    """The new source, or None and the reason the transformer refused."""

    source: str | None
    reason: str = ""


Transformer = Callable[[FixRequest], FixOutcome]


def get(name: str) -> Transformer:
    module = importlib.import_module(REGISTRY[name])
    transformer: Transformer = module.apply
    return transformer
