"""`gradexplain kb verify` runs entries' cases under real torch and reports drift."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import GRADEXPLAIN, MINIMAL_ENTRY, child_env

CASE = "import torch\nraise RuntimeError({message!r})  # expect: {id}\n"


def test_verify_reports_ok_and_drift(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for entry_id, pattern, message in (
            ("still-matching", "checkpoint shard is corrupt", "checkpoint shard is corrupt"),
            ("drifted", "old wording of the error", "new wording of the error")):
        (folder / f"{entry_id}.yaml").write_text(MINIMAL_ENTRY.format(id=entry_id, pattern=pattern))
        (folder / f"{entry_id}.case.py").write_text(CASE.format(message=message, id=entry_id))
    result = subprocess.run([GRADEXPLAIN, "kb", "verify", str(folder)], capture_output=True,
                            text=True, env=child_env(), timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "ok    still-matching: still-matching.case.py: ok" in lines
    assert any(line.startswith("DRIFT drifted: drifted.case.py: no entry matches what torch "
                               "printed: RuntimeError: new wording") for line in lines)
    assert lines[-1] == "1 of 2 cases still match their entry"
