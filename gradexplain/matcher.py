"""Match a parsed traceback against the knowledge base.

The exception type and each pattern's required literal are cheap pre-filters, looked up
in the knowledge base's index, so only the entries that could match are built and their
regexes compiled; then the entry's patterns are searched in a bounded window of the
message (never the whole log); frame conditions add to the score.
A traceback with no exception type (a bare pasted message) can still match, at a lower
score, since the message alone is weaker evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from gradexplain.frames import is_user_file
from gradexplain.knowledge import KnowledgeBase
from gradexplain.model import Entry, Frame, Match, Pattern, RaisedIn, Traceback

MESSAGE_WINDOW = 8 * 1024
TYPED_SCORE = 1.0
SUBCLASS_SCORE = 0.9
UNTYPED_SCORE = 0.6
WRAP_RE = re.compile(r"\n[ \t]*")
ANY_EXCEPTION = "*"
ANY_MESSAGE = Pattern("", "any (the entry is matched by where the error was raised)")


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


def match_traceback(tb: Traceback, entries: KnowledgeBase | Sequence[Entry],
                    earlier_warnings: tuple[str, ...] = ()) -> tuple[Match, ...]:
    """All entries that explain `tb`, best first. `earlier_warnings` are the messages of the
    warnings printed before it, for patterns gated on one."""
    short_type = tb.exception.short_type
    forms = message_forms(tb.exception.message)
    base = entries if isinstance(entries, KnowledgeBase) else KnowledgeBase.of(entries)
    functions = [f.function for f in tb.frames if f.function]
    gates = Gates(tb.frames[-1].code if tb.frames else None,
                  tuple(" ".join(w[:MESSAGE_WINDOW].split()) for w in earlier_warnings))
    matches = []
    for entry in candidates(base, short_type, forms):
        score = type_score(short_type, entry.exceptions)
        if score is None:
            continue
        if entry.raised_in is not None and not raised_in(tb.frames, entry.raised_in):
            continue
        pattern = first_pattern(entry, forms, gates)
        if pattern is None:
            continue
        for condition in entry.conditions:
            regex = compiled(condition.frame_function)
            if any(regex.search(name) for name in functions):
                score += condition.weight
        matches.append(Match(entry, round(score, 3), pattern))
    # a warning printed before the error names its cause more precisely than the message
    # (checkpointing warns that no input requires grad; backward() then finds no grad_fn)
    warned = [m for m in matches if m.pattern.after_warning is not None]
    specific = [m for m in matches if not m.entry.fallback]
    return tuple(sorted(warned or specific or matches, key=lambda m: (-m.score, m.entry.id)))


def candidates(base: KnowledgeBase, short_type: str | None,
               forms: tuple[str, ...]) -> list[Entry]:
    """The entries that are not ruled out by their refs alone: those of a fitting exception
    type, with some pattern's required literal in a message form (or no literal known).
    Only these are built and have their regexes compiled."""
    found = []
    for ref in base.raising(lambda name: type_score(short_type, (name,)) is not None):
        if could_match(ref.literals, forms):
            found.append(ref.entry())
    return found


def could_match(literals: Sequence[str | None], forms: tuple[str, ...]) -> bool:
    if not literals:  # matched by where it was raised, not by a message
        return True
    for literal in literals:
        if literal is None:
            return True
        for form in forms:
            if literal in form:
                return True
    return False


def type_score(short_type: str | None, exceptions: tuple[str, ...]) -> float | None:
    """How well the exception type fits; None rules the entry out. A class named after the
    one expected is taken as its subclass (torch.compile's TorchRuntimeError wraps eager
    RuntimeErrors)."""
    if short_type is None:
        return UNTYPED_SCORE
    if ANY_EXCEPTION in exceptions:
        return SUBCLASS_SCORE
    if short_type in exceptions:
        return TYPED_SCORE
    if any(short_type.endswith(name) for name in exceptions):
        return SUBCLASS_SCORE
    return None


@dataclass(frozen=True)
class Gates:
    """What gated patterns look at: the raising statement and the earlier warnings."""

    code: str | None = None
    warnings: tuple[str, ...] = ()

    def allow(self, pattern: Pattern) -> bool:
        if pattern.code is not None and not (
                self.code and compiled(pattern.code).search(self.code[:MESSAGE_WINDOW])):
            return False
        if pattern.after_warning is not None:
            regex = compiled(pattern.after_warning)
            return any(regex.search(warning) for warning in self.warnings)
        return True


def first_pattern(entry: Entry, forms: tuple[str, ...], gates: Gates = Gates()) -> Pattern | None:
    for form in forms:
        if any(compiled(regex).search(form) for regex in entry.not_patterns):
            return None
    for pattern in entry.patterns:
        regex = compiled(pattern.regex)
        if any(regex.search(form) for form in forms) and gates.allow(pattern):
            return pattern
    return ANY_MESSAGE if not entry.patterns and entry.raised_in is not None else None


def raised_in(frames: tuple[Frame, ...], rule: RaisedIn) -> bool:
    """The deepest engine frame has a user frame below it, called from `called_from`."""
    engine = compiled(rule.engine)
    entered = [i for i, frame in enumerate(frames) if engine.search(frame.file)]
    if not entered:
        return False
    below = range(entered[-1] + 1, len(frames))
    first_user = next((i for i in below if is_user_file(frames[i].file)), None)
    if first_user is None:
        return False
    return bool(compiled(rule.called_from).search(frames[first_user - 1].file))
