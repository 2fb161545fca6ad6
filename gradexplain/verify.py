"""`gradexplain kb verify`: run every entry's case scripts under the installed torch and
report whether what torch prints today is still explained by that entry. When torch changes
a message, this is where the drift shows, for maintainers and for users' own entries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from gradexplain.explain import explain
from gradexplain.model import Entry

CASE_TIMEOUT = 300
EXPECT_SUCCESS_RE = re.compile(r"^#\s*expect-exit:\s*0\s*$", re.M)


@dataclass(frozen=True)
class CaseResult:
    entry_id: str
    case: Path
    ok: bool
    detail: str


def case_scripts(entry: Entry) -> list[Path]:
    folder = Path(entry.path).parent
    return sorted(p for p in folder.glob(f"{entry.id}.case*.py")
                  if not p.name.endswith(".fixed.py"))


def expects_success(case: Path) -> bool:
    """A case marked `# expect-exit: 0` shows its problem only as a warning."""
    return bool(EXPECT_SUCCESS_RE.search(case.read_text(encoding="utf-8", errors="replace")))


def run_case(entry: Entry, case: Path, entries: tuple[Entry, ...]) -> CaseResult:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="default")
    try:
        run = subprocess.run([sys.executable, str(case)], capture_output=True, text=True,
                             cwd=case.parent, env=env, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return CaseResult(entry.id, case, False, f"did not finish in {CASE_TIMEOUT} s")
    if (run.returncode == 0) != expects_success(case):
        problem = "ran without the error" if run.returncode == 0 else "failed"
        return CaseResult(entry.id, case, False, f"{problem} (torch changed?)")
    report = explain(run.stderr, entries, read_source=False)
    last_line = (run.stderr.strip().splitlines() or ["(no output)"])[-1][:200]
    if report.primary is None:
        return CaseResult(entry.id, case, False,
                          f"no entry matches what torch printed: {last_line}")
    found = [m.entry.id for m in report.analyses[report.primary].matches]
    if found != [entry.id]:
        return CaseResult(entry.id, case, False, f"matched {', '.join(found)}: {last_line}")
    return CaseResult(entry.id, case, True, "ok")


def verify(selected: tuple[Entry, ...], entries: tuple[Entry, ...],
           progress: Callable[[CaseResult], None]) -> list[CaseResult]:
    """Run the cases of `selected`, each matched against all `entries`."""
    jobs = [(entry, case) for entry in selected for case in case_scripts(entry)]
    results = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for result in pool.map(lambda job: run_case(job[0], job[1], entries), jobs):
            progress(result)
            results.append(result)
    return results
