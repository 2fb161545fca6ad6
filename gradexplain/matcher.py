"""Match a parsed traceback against the knowledge base.

The exception type is a cheap pre-filter; then the entry's patterns are searched in a
bounded window of the message (never the whole log); frame conditions add to the score.
A traceback with no exception type (a bare pasted message) can still match, at a lower
score, since the message alone is weaker evidence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from gradexplain.model import Entry, Match, Pattern, Traceback

MESSAGE_WINDOW = 8 * 1024
TYPED_SCORE = 1.0
SUBCLASS_SCORE = 0.9
UNTYPED_SCORE = 0.6
WRAP_RE = re.compile(r"\n[ \t]*")


@lru_cache(maxsize=4096)
def compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def message_forms(message: str) -> tuple[str, ...]:
    """The message with whitespace collapsed, and with line breaks removed outright, so
    that a message hard-wrapped mid-word by a terminal still matches."""
    window = message[:MESSAGE_WINDOW]
    collapsed = " ".join(window.split())
    joined = " ".join(WRAP_RE.sub("", window).split())
    return (collapsed,) if joined == collapsed else (collapsed, joined)


def match_traceback(tb: Traceback, entries: tuple[Entry, ...]) -> tuple[Match, ...]:
    """All entries that explain `tb`, best first."""
    short_type = tb.exception.short_type
    forms = message_forms(tb.exception.message)
    functions = [f.function for f in tb.frames if f.function]
    matches = []
    for entry in entries:
        score = type_score(short_type, entry.exceptions)
        if score is None:
            continue
        pattern = first_pattern(entry, forms)
        if pattern is None:
            continue
        for condition in entry.conditions:
            regex = compiled(condition.frame_function)
            if any(regex.search(name) for name in functions):
                score += condition.weight
        matches.append(Match(entry, round(score, 3), pattern))
    return tuple(sorted(matches, key=lambda m: (-m.score, m.entry.id)))


def type_score(short_type: str | None, exceptions: tuple[str, ...]) -> float | None:
    """How well the exception type fits; None rules the entry out. A class named after the
    one expected is taken as its subclass (torch.compile's TorchRuntimeError wraps eager
    RuntimeErrors)."""
    if short_type is None:
        return UNTYPED_SCORE
    if short_type in exceptions:
        return TYPED_SCORE
    if any(short_type.endswith(name) for name in exceptions):
        return SUBCLASS_SCORE
    return None


def first_pattern(entry: Entry, forms: tuple[str, ...]) -> Pattern | None:
    for form in forms:
        if any(compiled(regex).search(form) for regex in entry.not_patterns):
            return None
    for pattern in entry.patterns:
        regex = compiled(pattern.regex)
        if any(regex.search(form) for form in forms):
            return pattern
    return None
