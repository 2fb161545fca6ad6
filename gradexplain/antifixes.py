"""Known anti-fixes: changes that silence an autograd error while breaking training.

Found in the user's file (comments excluded), they are named in the explanation, since
they are often what someone tried before asking, and they are never offered as fixes.
"""

from __future__ import annotations

import re

ANTI_FIXES = (
    (re.compile(r"\b(?P<name>\w+)\s*\.\s*(?:requires_grad\s*=\s*True|requires_grad_\(\s*"
                r"(?:True)?\s*\))"),
     "`{name}.requires_grad = True` silences 'does not require grad' but trains nothing: "
     "backward() stops at the loss and no parameter receives a gradient"),
    (re.compile(r"retain_graph\s*=\s*True"),
     "`retain_graph=True` silences 'backward through the graph a second time'; when a state "
     "carried across batches (an RNN hidden state) is the cause, the gradients are silently "
     "wrong and memory grows with every step: detach the state instead"),
    (re.compile(r"\b(?P<name>\w+)\s*\.\s*detach\(\)\s*(?:\.\s*requires_grad_|\.\s*backward)"),
     "`{name}.detach()` before backward cuts the loss off the model: no parameter learns"),
)


def find(source: str) -> list[str]:
    """One warning per anti-fix found: 'line N: ...'. A named value must be a loss (its
    name holds "loss"); that test is made on the name, not in the regex, where "loss"
    between two word-character repeats backtracked quadratically over a long word."""
    found = []
    for pattern, text in ANTI_FIXES:
        match = next((m for m in pattern.finditer(source)
                      if "loss" in (m.groupdict().get("name") or "loss").lower()), None)
        if match:
            line = source.count("\n", 0, match.start()) + 1
            name = match.groupdict().get("name") or ""
            found.append(f"line {line}: " + text.format(name=name))
    return found
