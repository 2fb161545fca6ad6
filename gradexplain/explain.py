"""The explain pipeline: text -> tracebacks -> user frames -> matches -> one primary choice."""

from __future__ import annotations

from collections.abc import Sequence

from gradexplain.frames import pick_user_frame, user_flags
from gradexplain.knowledge import KnowledgeBase
from gradexplain.matcher import match_traceback
from gradexplain.model import Analysis, Entry, Report, Traceback
from gradexplain.parser import scan
from gradexplain.ranks import elastic_tracebacks, first_of_group, group_ranks

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from gradexplain.parser import Source

MAX_EARLIER_WARNINGS = 32  # a gated pattern looks this far back


def explain(source: Source, entries: KnowledgeBase | Sequence[Entry],
            read_source: bool = True) -> Report:
    """Explain the tracebacks in `source`; when none of them is explained, lone error lines
    (`RuntimeError: ...` printed by a logger) are tried instead."""
    if not isinstance(entries, KnowledgeBase):
        entries = KnowledgeBase.of(entries)
    found = scan(source)
    tracebacks = found.tracebacks + elastic_tracebacks(found.error_files, found.tracebacks)
    fallback = found.fallback
    report = analyse(tracebacks, entries, read_source, found.root_rank)
    if report.primary is None and fallback:
        with_fallback = analyse([*tracebacks, *fallback], entries, read_source, found.root_rank)
        if with_fallback.primary is not None or not tracebacks:
            return with_fallback
    return report


def analyse(tracebacks: Sequence[Traceback], entries: KnowledgeBase,
            read_source: bool = True, root_rank: str | None = None) -> Report:
    analyses = []
    warnings: list[str] = []
    for tb in tracebacks:
        flags = user_flags(tb.frames)
        earlier = tuple(warnings[-MAX_EARLIER_WARNINGS:])
        matches = match_traceback(tb, entries, earlier)
        if tb.is_warning:
            warnings.append(tb.exception.message)
        # reading the disk only pays for tracebacks we will explain
        user_frame = pick_user_frame(tb.frames, flags, read_source and bool(matches))
        analyses.append(Analysis(tb, flags, user_frame, matches, warnings=earlier))
    grouped = group_ranks(analyses)
    primary = choose_primary(grouped)
    if primary is not None and grouped[primary].ranks:
        primary = first_of_group(grouped, primary, root_rank)
    return Report(tuple(grouped), primary)


def choose_primary(analyses: Sequence[Analysis]) -> int | None:
    """The last explained error: the error that ended the run is printed last (an error
    handled and logged earlier is not what stopped it), and a worker's original traceback
    follows the exception that re-raised it. A warning is chosen only when no error is
    explained: it may be the only sign of a silent bug."""
    explained = [index for index, analysis in enumerate(analyses) if analysis.matches]
    errors = [index for index in explained if not analyses[index].traceback.is_warning]
    chosen = errors or explained
    return chosen[-1] if chosen else None
