"""Turn a Report into a renderer-neutral document: sections of paragraphs, code and changes.

Plain text, Markdown and rich all render this one structure, so the three formats
cannot drift apart in what they say.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from gradexplain.diagnose import (
    Diagnosis,
    RankedCause,
    TailoredFix,
    context_for,
    diagnose,
    short_name,
)
from gradexplain.model import Analysis, Entry, Report, Traceback
from gradexplain.msgfacts import describe as describe_message
from gradexplain.msgfacts import parse_message
from gradexplain.ranks import describe_ranks, signature

MAX_MESSAGE_SHOWN = 600
MAX_NOTES = 6


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    """Source lines; `first_line` numbers them when known."""

    text: str
    first_line: int | None = None
    wrap: bool = False  # messages wrap like prose; source code never does


@dataclass(frozen=True)
class Change:
    number: int
    title: str
    before: str
    after: str
    tailored: bool

    def diff(self) -> list[str]:
        """Diff lines marked '- ', '+ ' or '  ' (unchanged); a replaced block of as many
        lines pairs each old line with its new one, so several small edits read in order."""
        old, new = self.before.splitlines(), self.after.splitlines()
        lines = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes():
            if tag == "equal":
                lines += ["  " + line for line in old[i1:i2]]
            elif tag == "replace" and i2 - i1 == j2 - j1:
                for removed, added in zip(old[i1:i2], new[j1:j2], strict=True):
                    lines += ["- " + removed, "+ " + added]
            else:
                lines += ["- " + line for line in old[i1:i2]]
                lines += ["+ " + line for line in new[j1:j2]]
        return lines


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Para | Bullets | Code | Change | Table


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    heading: str
    sections: tuple[Section, ...]
    explained: bool


def build_document(report: Report) -> Document:
    if report.primary is None:
        return unexplained(report)
    analysis = report.analyses[report.primary]
    entry = analysis.matches[0].entry
    diagnosis = diagnose(entry, context_for(analysis))
    sections = [
        Section("What happened", what_happened(entry, analysis.traceback)),
        Section("Where", where(analysis)),
        *live_facts(analysis, entry),
        Section("Why", why(entry, diagnosis)),
        Section("How to fix", how_to_fix(diagnosis)),
    ]
    watch_out = tuple(f"In {short_file(analysis)}, {warning}" for warning in diagnosis.anti_fixes)
    if watch_out or entry.known_problems:
        sections.append(Section("Watch out", (Bullets(watch_out + entry.known_problems),)))
    others = other_notes(report, report.primary)
    if others:
        sections.append(Section("Also found", (Bullets(tuple(others)),)))
    if entry.references:
        sections.append(Section("References", (Bullets(entry.references),)))
    return Document(f"{entry.id}: {entry.title}", tuple(sections), explained=True)


def exception_line(tb: Traceback) -> str:
    message = " ".join(tb.exception.message.split())
    if len(message) > MAX_MESSAGE_SHOWN:
        message = message[: MAX_MESSAGE_SHOWN - 1] + "…"
    return f"{tb.exception.type}: {message}" if tb.exception.type else message


def what_happened(entry: Entry, tb: Traceback) -> tuple[Block, ...]:
    blocks: list[Block] = [Para(entry.summary), Code(exception_line(tb), wrap=True)]
    stated = describe_message(parse_message(tb.exception.message))
    if stated:
        blocks.append(Para(" ".join(stated)))
    return tuple(blocks)


def where(analysis: Analysis) -> tuple[Block, ...]:
    user = analysis.user_frame
    if user is None:
        if not analysis.traceback.frames:
            return (Para("The input shows only the message, not the traceback, so the line "
                         "is unknown. Run the script again and paste the whole traceback."),)
        last = analysis.traceback.frames[-1]
        return (Para(f"No frame of your own code is in the traceback; it ends in "
                     f"{location(last.file, last.line, last.function)}."),)
    frame = user.frame
    blocks: list[Block] = [Para(location(frame.file, frame.line, frame.function))]
    if user.statement:
        first = frame.line if frame.line is not None and "\n" not in user.statement else None
        blocks.append(Code(user.statement, first))
    return tuple(blocks)


def live_facts(analysis: Analysis, entry: Entry) -> list[Section]:
    from gradexplain.facts import describe, describe_freed, describe_grad_mode

    tensors = analysis.facts.get("tensors") or {}
    lines = [describe(name, facts) for name, facts in tensors.items()]
    for extra in (describe_grad_mode(analysis.facts.get("grad_mode") or {}),
                  describe_freed(analysis.facts.get("freed_graph") or [])):
        if extra:
            lines.append(extra)
    if not lines:
        return []
    note = (Para(entry.facts_note),) if entry.facts_note and tensors else ()
    return [Section("Facts from the run", (Bullets(tuple(lines)), *note))]


def short_file(analysis: Analysis) -> str:
    return short_name(analysis.user_frame.frame.file) if analysis.user_frame else "your file"


def location(file: str, line: int | None, function: str | None) -> str:
    text = f"{file}:{line}" if line is not None else file
    return f"{text}, in {function}" if function else text


def why(entry: Entry, diagnosis: Diagnosis) -> tuple[Block, ...]:
    blocks: list[Block] = [Para(entry.why)]
    likely = [rc for rc in diagnosis.causes if rc.likely]
    if likely:
        top = likely[0]
        blocks.append(Para(f"Most likely here: {top.cause.text}"))
        blocks.append(Bullets(tuple(f"evidence: {e}" for e in top.shown)))
        rest = [rc for rc in diagnosis.causes if rc is not top]
        label = "Other possible causes:"
    else:
        rest = list(diagnosis.causes)
        label = "Possible causes, most common first:" if len(rest) > 1 else "Cause:"
    if rest:
        blocks.append(Para(label))
        blocks.append(Bullets(tuple(cause_line(rc) for rc in rest)))
    return tuple(blocks)


def cause_line(ranked: RankedCause) -> str:
    if ranked.shown:
        return f"{ranked.cause.text} (evidence: {'; '.join(ranked.shown)})"
    return ranked.cause.text


def how_to_fix(diagnosis: Diagnosis) -> tuple[Block, ...]:
    return tuple(change(i, fix) for i, fix in enumerate(diagnosis.fixes, start=1))


def change(number: int, fix: TailoredFix) -> Change:
    return Change(number, fix.fix.title, fix.before, fix.after, fix.tailored)


def other_notes(report: Report, primary: int) -> list[str]:
    notes = []
    alternatives = [m.entry.id for m in report.analyses[primary].matches[1:]]
    if alternatives:
        notes.append("The message also fits: " + ", ".join(alternatives))
    chosen = report.analyses[primary]
    if len(chosen.ranks) > 1:
        notes.append(f"{describe_ranks(chosen.ranks).capitalize()} failed with this same error; "
                     f"this is the first to fail (rank {chosen.traceback.stream}).")
    errors = len({signature(a.traceback) for a in report.analyses if not a.traceback.is_warning})
    if errors > 1 and not chosen.traceback.is_warning:
        notes.append(f"The input holds {errors} different tracebacks; this one best explains "
                     "the failure.")
    shown = report.analyses[primary].matches[0].entry.id
    for index, analysis in enumerate(report.analyses):
        if (index != primary and analysis.matches and analysis.traceback.is_warning
                and analysis.matches[0].entry.id != shown):
            notes.append(f"A warning at {warning_place(analysis)} is a known problem too: "
                         f"{analysis.matches[0].entry.id} "
                         f"(`gradexplain show {analysis.matches[0].entry.id}`).")
    return notes[:MAX_NOTES]


def warning_place(analysis: Analysis) -> str:
    frame = analysis.traceback.frames[0]
    return location(short_name(frame.file), frame.line, None)


def unexplained(report: Report) -> Document:
    errors = [a for a in report.analyses if not a.traceback.is_warning]
    if not any(a.traceback.frames or a.traceback.exception.type for a in errors):
        text = ("No Python traceback or error message was found in the input. Pass the "
                "whole output of the failed run, e.g. "
                "`python train.py 2>&1 | gradexplain explain`.")
        return Document("No traceback found", (Section("Result", (Para(text),)),), False)
    last = errors[-1].traceback
    blocks: tuple[Block, ...] = (
        Para("This error is not in the knowledge base: gradexplain found no autograd "
             "problem it can explain. `gradexplain list` shows the errors it knows."),
        Code(exception_line(last) or "(the traceback has no exception line)", wrap=True),
    )
    return Document("Not an autograd error gradexplain knows",
                    (Section("Result", blocks),), False)


def entry_table(entries: tuple[Entry, ...]) -> Document:
    rows = tuple((e.id, e.family, "/".join(e.exceptions), e.title)
                 for e in sorted(entries, key=lambda e: (e.family, e.id)))
    table = Table(("id", "family", "exception", "title"), rows)
    return Document(f"{len(rows)} known errors", (Section("Entries", (table,)),), True)


def entry_document(entry: Entry) -> Document:
    """Everything an entry says, for `gradexplain show`."""
    patterns = tuple(f"{p.regex}   (torch {p.torch})" for p in entry.patterns)
    causes = tuple(f"{c.id}: {c.text}" for c in entry.causes)
    fixes = tuple(Change(i, f"{f.title}" + (f" {f.note}" if f.note else ""), f.before, f.after,
                         False) for i, f in enumerate(entry.fixes, start=1))
    sections = [
        Section("Summary", (Para(entry.summary),
                            Para("Raised as: " + ", ".join(entry.exceptions)))),
        Section("Messages", (Bullets(patterns),)),
        Section("Why", (Para(entry.why),)),
        Section("Causes, most common first", (Bullets(causes),)),
        Section("Fixes", fixes),
    ]
    if entry.known_problems:
        sections.append(Section("Watch out", (Bullets(entry.known_problems),)))
    if entry.references:
        sections.append(Section("References", (Bullets(entry.references),)))
    sections.append(Section("Entry", (Bullets((
        f"file: {entry.path}",
        f"family: {entry.family}",
        "verified on torch: " + (", ".join(entry.verified_on) or "not recorded"),
    )),)))
    return Document(f"{entry.id}: {entry.title}", tuple(sections), True)
