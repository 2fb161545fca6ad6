"""The explain pipeline: text -> tracebacks -> user frames -> matches -> one primary choice."""

from __future__ import annotations

from collections.abc import Sequence

from gradexplain.frames import pick_user_frame, user_flags
from gradexplain.matcher import match_traceback
from gradexplain.model import Analysis, Entry, Report, Traceback
from gradexplain.parser import Source, parse


def explain(source: Source, entries: tuple[Entry, ...], read_source: bool = True) -> Report:
    return analyse(parse(source), entries, read_source)


def analyse(tracebacks: Sequence[Traceback], entries: tuple[Entry, ...],
            read_source: bool = True) -> Report:
    analyses = []
    for tb in tracebacks:
        flags = user_flags(tb.frames)
        matches = match_traceback(tb, entries)
        # reading the disk only pays for tracebacks we will explain
        user_frame = pick_user_frame(tb.frames, flags, read_source and bool(matches))
        analyses.append(Analysis(tb, flags, user_frame, matches))
    return Report(tuple(analyses), choose_primary(analyses))


def choose_primary(analyses: Sequence[Analysis]) -> int | None:
    """The traceback that best explains the failure: the best-scoring match, and among
    equals the latest one, since the error that ended the run is printed last (a worker's
    original traceback follows the exception that re-raised it)."""
    best: tuple[float, int] | None = None
    for index, analysis in enumerate(analyses):
        if analysis.matches:
            key = (analysis.matches[0].score, index)
            if best is None or key >= best:
                best = key
    return best[1] if best else None
