"""Static detectors for `gradexplain check`: small functions over a module's syntax tree,
one per module, named in an explicit registry (as the fixes are) and referred to by the
knowledge entries' `detect:` sections.

A detector yields the places where the code certainly (or, in a `medium` hit, probably)
holds the bug its entry explains; the entry supplies, per confidence, the message and the
fix. A detector must stay silent on correct code: a wrong finding costs the user's
trust in all the others.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

REGISTRY = {
    "numpy-without-detach": "gradexplain.detectors.numpy_without_detach",
    "leaf-update-outside-no-grad": "gradexplain.detectors.leaf_update",
    "non-scalar-backward": "gradexplain.detectors.non_scalar_backward",
    "integer-requires-grad": "gradexplain.detectors.integer_requires_grad",
    "no-grad-around-loss": "gradexplain.detectors.no_grad_around_loss",
    "requires-grad-on-loss": "gradexplain.detectors.anti_fixes",
    "retain-graph-in-loop": "gradexplain.detectors.anti_fixes",
    "inplace-on-saved-output": "gradexplain.detectors.saved_output",
    "state-carried-into-backward": "gradexplain.detectors.carried_state",
}
CONFIDENCE = ("high", "medium")


@dataclass(frozen=True)
class Module:
    """What a detector reads: the parsed file and its text."""

    path: str
    source: str
    tree: ast.Module


@dataclass(frozen=True)
class Hit:
    """A place that shows the bug; `names` fill the entry's message template; `fix` names
    the entry's fix to offer instead of the detect section's (a per-sample loss is better
    averaged than summed); `confidence` picks the entry's detect item of that confidence,
    whose message says how sure the finding is."""

    line: int
    col: int  # 0-based, as ast counts
    names: dict[str, str] = field(default_factory=dict)
    fix: str | None = None
    confidence: str = "high"


Detector = Callable[[Module], Iterator[Hit]]


def get(name: str) -> Detector:
    module = importlib.import_module(REGISTRY[name])
    detector: Detector = getattr(module, name.replace("-", "_"))
    return detector
