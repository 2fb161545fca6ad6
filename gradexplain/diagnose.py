"""Rank an entry's causes by the evidence in the user's code, and tailor its fixes.

Evidence is looked for in three places: the blamed statement (`code`), the whole file it
came from (`source`) and the exception message. A cause whose evidence is found ranks
first and its evidence is shown; a cause the entry gates out (`when`) is dropped with the
fixes that serve only it. Fixes are tailored by the entry's own `rewrite` regexes, applied
to the user's statement, so `_loss.backward()` becomes `_loss.mean().backward()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gradexplain import antifixes
from gradexplain.frames import read_source_file, without_comments
from gradexplain.matcher import MESSAGE_WINDOW, compiled
from gradexplain.model import Analysis, Cause, Entry, Evidence, Fix
from gradexplain.msgfacts import parse_message

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from gradexplain.codeflow import Line

MAX_CODE_CHARS = 2000
MAX_SOURCE_LINE = 400  # evidence regexes see no longer line of the user's file
LIKELY, POSSIBLE, UNLIKELY = 0, 1, 2


@dataclass(frozen=True)
class Context:
    """The texts evidence is looked for in; None where they are not available. `warning`
    holds the warnings printed before the error ("" when the input shows none); `line` and
    `facts` (parsed from the message) guide the code finders."""

    code: str | None
    source: str | None
    message: str
    file: str | None = None
    warning: str | None = None
    line: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    programs: dict[str, Any] = field(default_factory=dict)  # parsed files, shared by finders

    def text(self, kind: str) -> str | None:
        return {"code": self.code, "source": self.source,
                "message": self.message[:MESSAGE_WINDOW], "warning": self.warning}[kind]


@dataclass(frozen=True)
class RankedCause:
    cause: Cause
    rank: int
    evidence: tuple[str, ...] = ()  # what the entry's evidence regexes found, in words
    lines: tuple[Line, ...] = ()  # the statements of the user's code that show it

    @property
    def likely(self) -> bool:
        return self.rank == LIKELY

    @property
    def shown(self) -> tuple[str, ...]:
        """The evidence in words: the user's lines first, then what the regexes found."""
        return tuple(f"`{line.code}` at {short_name(line.file)}:{line.line}"
                     for line in self.lines) + self.evidence

    @property
    def score(self) -> float:
        """How strongly the evidence points at this cause, for tools."""
        base = {LIKELY: 0.8, POSSIBLE: 0.4, UNLIKELY: 0.1}[self.rank]
        return round(min(1.0, base + 0.1 * bool(self.lines) + 0.05 * len(self.evidence)), 2)


@dataclass(frozen=True)
class TailoredFix:
    fix: Fix
    before: str
    after: str
    tailored: bool


@dataclass(frozen=True)
class Diagnosis:
    causes: tuple[RankedCause, ...]
    fixes: tuple[TailoredFix, ...]
    anti_fixes: tuple[str, ...] = ()  # silencing changes found in the user's file


def context_for(analysis: Analysis) -> Context:
    tb, user_frame = analysis.traceback, analysis.user_frame
    warning = "\n".join(w[:MESSAGE_WINDOW] for w in analysis.warnings)
    facts = parse_message(tb.exception.message)
    if user_frame is None:
        return Context(None, None, tb.exception.message, warning=warning, facts=facts)
    source = read_source_file(user_frame.frame.file) if user_frame.from_disk else None
    if source is not None:
        source = regex_view(without_comments(source))
    code = (user_frame.statement or "")[:MAX_CODE_CHARS] or None
    return Context(code, source, tb.exception.message, user_frame.frame.file, warning,
                   user_frame.frame.line, facts)


def diagnose(entry: Entry, context: Context) -> Diagnosis:
    ranked = [rc for rc in (rank_cause(c, context) for c in entry.causes) if rc is not None]
    ranked.sort(key=lambda rc: rc.rank)  # stable: the entry's order within a rank
    anti_fixes = tuple(antifixes.find(context.source)) if context.source else ()
    return Diagnosis(tuple(ranked), tailor_fixes(entry.fixes, ranked, context.code), anti_fixes)


def rank_cause(cause: Cause, context: Context) -> RankedCause | None:
    if not all(gate_holds(gate, context) for gate in cause.when):
        return None
    lines = tuple(find_lines(cause, context))
    evidence = cause.evidence
    if cause.finder is not None and context.source is not None:
        # the finder read the code that the `source` regexes would only search
        evidence = tuple(e for e in evidence if e.where != "source")
    if not evidence and cause.finder is None:
        return RankedCause(cause, POSSIBLE)
    found = tuple(filter(None, (describe(e, context) for e in evidence)))
    return RankedCause(cause, LIKELY if found or lines else UNLIKELY, found, lines)


def find_lines(cause: Cause, context: Context) -> list[Line]:
    if cause.finder is None or context.source is None or not context.file or not context.line:
        return []
    from gradexplain.codeflow import find  # ast and its analyses: only for causes with a finder

    return find(cause.finder, context.file, context.line, context.facts, context.programs)


def gate_holds(gate: Evidence, context: Context) -> bool:
    """A gate on a text we do not have cannot rule a cause out."""
    negated = gate.where.startswith("not_")
    text = context.text(gate.where.removeprefix("not_"))
    if text is None:
        return True
    return bool(compiled(gate.regex).search(text)) != negated


def describe(evidence: Evidence, context: Context) -> str | None:
    """A short human description of where the evidence was found, or None."""
    text = context.text(evidence.where)
    if not text:
        return None
    match = compiled(evidence.regex).search(text)
    if not match:
        return None
    found = " ".join(match.group(0).split())[:80]
    if evidence.where == "code":
        return f"`{found}` in the failing line"
    if evidence.where == "source":
        line = text.count("\n", 0, match.start()) + 1
        return f"`{found}` at line {line} of {short_name(context.file)}"
    if evidence.where == "warning":
        return f"a warning printed before the error says `{found}`"
    return f"the message says `{found}`"


def regex_view(source: str) -> str:
    """The file as evidence regexes see it: lines cut to MAX_SOURCE_LINE characters (code
    that long is data), so that a pattern slow on one long line stays bounded; line
    numbers are unchanged."""
    lines = source.split("\n")
    if all(len(line) <= MAX_SOURCE_LINE for line in lines):
        return source
    return "\n".join(line[:MAX_SOURCE_LINE] for line in lines)


def short_name(path: str | None) -> str:
    return re.split(r"[/\\]", path)[-1] if path else "the file"


def tailor_fixes(fixes: tuple[Fix, ...], ranked: list[RankedCause],
                 code: str | None) -> tuple[TailoredFix, ...]:
    """Fixes for the surviving causes, ordered by their best cause; general fixes last."""
    rank_of = {rc.cause.id: position for position, rc in enumerate(ranked)}
    kept = []
    for order, fix in enumerate(fixes):
        positions = [rank_of[c] for c in fix.causes if c in rank_of]
        if fix.causes and not positions:
            continue
        kept.append((min(positions, default=len(ranked)), order, tailor(fix, code)))
    return tuple(fix for _, _, fix in sorted(kept, key=lambda k: (k[0], k[1])))


def tailor(fix: Fix, code: str | None) -> TailoredFix:
    if not code:
        return TailoredFix(fix, fix.before, fix.after, tailored=False)
    for rewrite in fix.rewrites:
        match = compiled(rewrite.find).search(code)
        if match is not None:
            after = code[: match.start()] + match.expand(rewrite.replace) + code[match.end():]
            return TailoredFix(fix, code, after, tailored=True)
    return TailoredFix(fix, fix.before, fix.after, tailored=False)


def auto_candidates(diagnosis: Diagnosis, fix_id: str | None = None) -> list[Fix]:
    """Fixes with a transformer that may be applied: the one asked for by id, or else those
    serving the first-ranked cause (a fix for a less likely cause could change code that is
    not wrong: wrapping `v -= v.mean()` in no_grad silences the error and the gradient)."""
    top = diagnosis.causes[0].cause.id if diagnosis.causes else None
    return [tailored.fix for tailored in diagnosis.fixes if tailored.fix.auto is not None
            and (tailored.fix.id == fix_id if fix_id is not None
                 else not tailored.fix.causes or top in tailored.fix.causes)]
