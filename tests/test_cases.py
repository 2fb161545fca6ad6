"""Every knowledge entry is proven by case scripts that really raise its error under torch.

For each case: the real output is parsed and matched; exactly the entry the case names
must match, the located line must be the marked one, and where the case says so, the
first-ranked cause and the tailored fixes must be the expected ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import case_files, child_env, read_case

from gradexplain.diagnose import context_for, diagnose
from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.model import Report

CASES = case_files()


def strip_comment(code: str) -> str:
    return code.split("  #", 1)[0].strip()


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_case_is_explained_by_its_entry(
    path: Path, kb: KnowledgeBase, case_outputs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    case = read_case(path)
    run = case_outputs[path]
    failed = run.returncode != 0
    assert failed != case.succeeds, f"{case.name}: exit {run.returncode}\n{run.stdout}{run.stderr}"
    report = explained_case(path, run.stderr, kb)
    assert report.primary is not None, f"{case.name}: nothing matched:\n{run.stderr[-2000:]}"
    analysis = report.analyses[report.primary]
    assert [m.entry.id for m in analysis.matches] == [case.entry_id], run.stderr[-2000:]
    assert analysis.user_frame is not None
    assert Path(analysis.user_frame.frame.file).name == case.name
    assert analysis.user_frame.frame.line == case.line


def explained_case(path: Path, stderr: str, kb: KnowledgeBase) -> Report:
    """The explanation of a case's output. A warning that torch issues from its own code
    names no line of the user's (nn.MSELoss warns from loss.py): `gradexplain run` records
    where the user's code made the call, so such a case is explained from that record."""
    report = explain(stderr, kb.entries)
    if report.primary is None:
        return report
    analysis = report.analyses[report.primary]
    if not analysis.traceback.is_warning or analysis.user_frame is not None:
        return report
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "report.json"
        subprocess.run([sys.executable, "-m", "gradexplain.bootstrap", str(path)],
                       capture_output=True, text=True, cwd=path.parent, timeout=300,
                       env={**child_env(), "GRADEXPLAIN_REPORT": str(record)})
        data = json.loads(record.read_text(encoding="utf-8"))
    return explain(data.get("warnings") or data.get("traceback", ""), kb.entries)


DIAGNOSED = [p for p in CASES
             if read_case(p).cause or read_case(p).fixes or read_case(p).cause_lines]


@pytest.mark.parametrize("path", DIAGNOSED, ids=[p.name for p in DIAGNOSED])
def test_case_diagnosis(
    path: Path, kb: KnowledgeBase, case_outputs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    case = read_case(path)
    report = explained_case(path, case_outputs[path].stderr, kb)
    assert report.primary is not None
    analysis = report.analyses[report.primary]
    diagnosis = diagnose(analysis.matches[0].entry, context_for(analysis))
    if case.cause is not None:
        assert diagnosis.causes[0].cause.id == case.cause
    if case.cause_lines:  # the lines of the user's code that show the cause
        found = {(Path(line.file).name, line.line) for line in diagnosis.causes[0].lines}
        assert found == {(case.name, number) for number in case.cause_lines}
    tailored = [strip_comment(f.after) for f in diagnosis.fixes if f.tailored]
    assert tailored[: len(case.fixes)] == list(case.fixes)


def test_every_entry_is_proven(kb: KnowledgeBase) -> None:
    """Each entry has a case that raises it for real (GPU-only ones: a captured traceback)."""
    import yaml
    from conftest import CAPTURED

    proven = {read_case(p).entry_id for p in CASES}
    captured = yaml.safe_load((CAPTURED / "SOURCES.yaml").read_text(encoding="utf-8"))
    proven_by_capture = {item["expected_entry"] for item in captured}
    missing = [e.id for e in kb.entries if e.id not in proven and e.id not in proven_by_capture]
    assert not missing
    assert {e.id for e in kb.entries} >= proven, "a case names an entry that does not exist"
