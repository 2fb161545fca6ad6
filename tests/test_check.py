"""`gradexplain check`: the output formats (flake8 lines, JSON, SARIF 2.1.0), exit statuses,
suppression comments, pyproject configuration, --diff and --fix, a file that does not
parse, the pre-commit hook, zero findings on idiomatic scripts, and the runtime case
scripts flagged at the lines their `# <- check` marks name."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import jsonschema
import pytest
from conftest import GRADEXPLAIN, KNOWLEDGE, ROOT, case_files, child_env

from gradexplain import check, knowledge

SEED = ROOT / "examples" / "seed.py"
CLEAN = ROOT / "tests" / "data" / "clean"
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-2.1.0-subset.schema.json"
LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<id>[a-z0-9-]+) (?P<msg>.+)$")
CHECK_MARK = "# <- check"
BUGGY = """\
import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x ** 2
y.backward()
"""


def gx(*args: str, cwd: Path | None = None, stdin: bytes = b""
       ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([GRADEXPLAIN, "check", *args], input=stdin, capture_output=True,
                            env=child_env(), cwd=cwd, timeout=120)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(),
                                       result.stderr.decode())


@pytest.fixture
def buggy(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(BUGGY, encoding="utf-8")
    return path


def test_the_seed_is_flagged_in_the_flake8_format() -> None:
    result = gx(str(SEED))
    assert result.returncode == 1, result.stderr
    first = result.stdout.splitlines()[0]
    match = LINE_RE.match(first)
    assert match is not None, first
    assert (match["file"], match["line"], match["col"], match["id"]) == (
        str(SEED), "10", "1", "nonscalar-backward")
    assert "A.sum().backward()" in match["msg"]
    assert result.stdout.splitlines()[-1].startswith("Found 1 finding")


def test_idiomatic_scripts_give_no_finding() -> None:
    """Every detector, medium confidence included, is silent on correct code written in
    several styles (plain loops, manual SGD, truncated BPTT, a Lightning-style module, a
    GAN with mixed precision)."""
    entries = knowledge.load(knowledge.search_dirs()).entries
    result = check.check_paths([str(CLEAN)], entries, check.Options(show_all=True))
    assert len(result.sources) >= 5
    assert result.findings == () and result.problems == ()
    cli = gx("--all", str(CLEAN))
    assert cli.returncode == 0 and cli.stdout == "No findings.\n"


def test_json_format(buggy: Path) -> None:
    result = gx("--format", "json", str(buggy))
    data = json.loads(result.stdout)
    assert data["schema"] == 1 and data["problems"] == []
    finding, = data["findings"]
    assert set(finding) == {"id", "file", "line", "col", "message", "confidence", "fix"}
    assert (finding["id"], finding["line"], finding["col"]) == ("nonscalar-backward", 5, 1)
    assert finding["confidence"] == "high"
    assert finding["fix"]["applicability"] == "safe"
    assert "-y.backward()\n+y.sum().backward()\n" in finding["fix"]["diff"]


def test_sarif_is_valid_2_1_0(buggy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n", encoding="utf-8")
    result = gx("--format", "sarif", str(buggy), str(broken))
    assert result.returncode == 2
    data = json.loads(result.stdout)
    sarif_validator().validate(data)
    run, = data["runs"]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"nonscalar-backward",
                                                                "syntax-error"}
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"nonscalar-backward": "error", "syntax-error": "error"}
    region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 5, "startColumn": 1}


def sarif_validator() -> jsonschema.Draft7Validator:
    """The subset schema with its formats checked (`uri-reference` needs a URI library,
    without which jsonschema skips the check silently)."""
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    assert "uri-reference" in checker.checkers
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def test_sarif_names_odd_files_and_counts_characters(tmp_path: Path) -> None:
    """Paths become URI references (spaces, `%`, `#`, non-ASCII escaped; absolute ones
    file:// URIs) that decode back to the path; columns count characters, not bytes."""
    folder = tmp_path / "dir with spaces"
    folder.mkdir()
    odd = folder / "ünï #1 %20[x].py"
    odd.write_text("import torch\n"
                   "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                   "é = x * 2; é.backward()\n", encoding="utf-8")
    relative = gx("--format", "sarif", "dir with spaces", cwd=tmp_path)
    absolute = gx("--format", "sarif", str(odd))
    stdin = gx("--format", "sarif", "-", stdin=odd.read_bytes())
    for result, path in ((relative, f"dir with spaces/{odd.name}"), (absolute, str(odd)),
                         (stdin, "<stdin>")):
        assert result.returncode == 1, result.stderr
        data = json.loads(result.stdout)
        sarif_validator().validate(data)
        location, = [r["locations"][0]["physicalLocation"] for r in data["runs"][0]["results"]]
        uri = location["artifactLocation"]["uri"]
        decoded = urllib.parse.unquote(uri.removeprefix("file://"))
        assert decoded == path, uri
        assert location["region"] == {"startLine": 3, "startColumn": 12}
        assert data["runs"][0]["columnKind"] == "unicodeCodePoints"
    assert gx("-", stdin=odd.read_bytes()).stdout.startswith("<stdin>:3:12: nonscalar-backward")


def test_schema_catches_a_misspelt_property() -> None:
    """The schema subset is strict enough to fail: a `line` instead of `startLine`."""
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"message": {"text": "m"}, "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "a.py"}, "region": {"line": 3}}}]}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_a_syntax_error_is_reported_and_the_rest_checked(buggy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("x = (1,\n", encoding="utf-8")
    result = gx(str(tmp_path))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{broken}:1:") and " syntax-error " in line for line in lines)
    assert any(line.startswith(f"{buggy}:5:1: nonscalar-backward ") for line in lines)


@pytest.mark.parametrize("comment, silenced", [
    ("  # gradexplain: ignore[nonscalar-backward]", True),
    ("  # gradexplain: ignore", True),
    ("  # gradexplain: ignore[no-grad-fn, nonscalar-backward]", True),
    ("  # gradexplain: ignore[no-grad-fn]", False),
])
def test_suppression_comments(tmp_path: Path, comment: str, silenced: bool) -> None:
    path = tmp_path / "train.py"
    path.write_text(BUGGY.replace("y.backward()", "y.backward()" + comment), encoding="utf-8")
    assert gx(str(path)).returncode == (0 if silenced else 1)


@pytest.mark.parametrize("table, status", [
    ('ignore = ["nonscalar-backward"]', 0),
    ('select = ["no-grad-fn"]', 0),
    ('select = ["nonscalar-backward"]', 1),
])
def test_pyproject_configuration(buggy: Path, table: str, status: int) -> None:
    (buggy.parent / "pyproject.toml").write_text(f"[tool.gradexplain]\n{table}\n",
                                                 encoding="utf-8")
    assert gx("train.py", cwd=buggy.parent).returncode == status


def test_bad_configuration_is_one_line(buggy: Path) -> None:
    (buggy.parent / "pyproject.toml").write_text("[tool.gradexplain]\nselec = []\n",
                                                 encoding="utf-8")
    result = gx("train.py", cwd=buggy.parent)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gradexplain: error: {buggy.parent / 'pyproject.toml'}: [tool.gradexplain] selec: "
        "unknown key (known: select, ignore, knowledge)"]


def test_diff_changes_nothing_and_fix_writes_a_working_script(buggy: Path) -> None:
    before = buggy.read_bytes()
    diff = gx("--diff", str(buggy))
    assert diff.returncode == 1 and "+y.sum().backward()" in diff.stdout
    assert buggy.read_bytes() == before
    fixed = gx("--fix", str(buggy))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"fixed {buggy}" in fixed.stderr
    assert (buggy.parent / "train.py.bak").read_bytes() == before
    run = subprocess.run([sys.executable, str(buggy)], capture_output=True, text=True,
                         env=child_env(), timeout=120)
    assert run.returncode == 0, run.stderr


def test_stdin(buggy: Path) -> None:
    result = gx("-", stdin=buggy.read_bytes())
    assert result.returncode == 1 and result.stdout.startswith("<stdin>:5:1: nonscalar-backward")


def test_diff_applies_with_patch_to_a_file_without_final_newline(tmp_path: Path) -> None:
    """The diff marks a last line without a newline as diff does, so `patch` gives back
    exactly what --fix writes."""
    source = BUGGY.rstrip("\n")
    (tmp_path / "train.py").write_text(source, encoding="utf-8")
    diff = gx("--diff", "train.py", cwd=tmp_path).stdout
    assert diff.endswith("+y.sum().backward()\n\\ No newline at end of file\n")
    patched = subprocess.run(["patch", "-p1", "-s"], input=diff, text=True, cwd=tmp_path,
                             capture_output=True, timeout=60)
    assert patched.returncode == 0, patched.stderr
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == source.replace(
        "y.backward()", "y.sum().backward()")


def test_fix_of_stdin_prints_the_fixed_source(buggy: Path) -> None:
    """As editors call a formatter: the fixed source on stdout, in the input's line
    endings; what is left on stderr."""
    crlf = buggy.read_bytes().replace(b"\n", b"\r\n")
    result = subprocess.run([GRADEXPLAIN, "check", "--fix", "-"], input=crlf,
                            capture_output=True, env=child_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == crlf.replace(b"y.backward()", b"y.sum().backward()")
    assert b"No findings" in result.stderr


def test_fix_of_stdin_reports_what_is_left(tmp_path: Path) -> None:
    unfixable = ("import torch\nx = torch.randn(3, requires_grad=True)\n"
                 "loss = (x * 2).sum().detach()\nloss.requires_grad = True\nloss.backward()\n")
    result = gx("--fix", "-", stdin=unfixable.encode())
    assert result.returncode == 1
    assert result.stdout == unfixable
    assert result.stderr.startswith("<stdin>:4:1: no-grad-fn")
    mixed = gx("--fix", "-", str(tmp_path), stdin=unfixable.encode())
    assert mixed.returncode == 2 and "must be the only path" in mixed.stderr


def test_files_too_deep_for_the_analysis(tmp_path: Path) -> None:
    """A chain of 400 calls (Python runs it) is checked without an internal error; an
    expression Python itself cannot parse for its depth is reported like a syntax error."""
    chain = tmp_path / "chain.py"
    chain.write_text("import torch\nx = torch.randn(3, requires_grad=True)\n"
                     "for i in range(3):\n    y = x" + ".clone()" * 400
                     + "\n    y.sum().backward()\n", encoding="utf-8")
    wide = tmp_path / "wide.py"
    wide.write_text("x = 1\ny = " + "+".join(["x"] * 3000) + "\n", encoding="utf-8")
    result = gx(str(chain), str(wide))
    assert result.returncode == 2 and "internal error" not in result.stderr
    assert result.stdout.splitlines()[0] == f"{wide}:1:1: syntax-error too deeply nested to parse"


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = gx(str(tmp_path / "nope.py"))
    assert result.returncode == 2 and result.stderr.startswith("gradexplain: error: ")


def test_pre_commit_runs_the_hook(buggy: Path, tmp_path: Path) -> None:
    """pre-commit itself installs this repository's hook (its working tree, as
    `try-repo` does) in a fresh environment and runs it on the files given: the buggy
    script fails the hook, the clean one and a non-Python file are not reported."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(BUGGY, encoding="utf-8")
    (project / "clean.py").write_text((CLEAN / "plain_loop.py").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    (project / "notes.txt").write_text("y.backward()\n", encoding="utf-8")
    env = {**child_env(), "PRE_COMMIT_HOME": str(tmp_path / "cache"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=env)
    pre_commit = Path(sys.executable).parent / "pre-commit"
    hook = subprocess.run([str(pre_commit), "try-repo", str(ROOT), "gradexplain-check",
                           "--files", "train.py", "clean.py", "notes.txt"], cwd=project,
                          capture_output=True, text=True, env=env, timeout=600)
    assert hook.returncode == 1, hook.stdout + hook.stderr
    assert "gradexplain check" in hook.stdout and "Failed" in hook.stdout
    assert "train.py:5:1: nonscalar-backward" in hook.stdout
    assert "clean.py" not in hook.stdout and "notes.txt" not in hook.stdout


def check_marked_cases() -> list[Path]:
    detected = {e.id for e in knowledge.load([KNOWLEDGE]).entries if e.detects}
    return [p for p in case_files() if p.name.split(".")[0] in detected]


@pytest.mark.parametrize("case", check_marked_cases(), ids=lambda p: p.name)
def test_case_scripts_are_flagged_where_marked(case: Path) -> None:
    """A case script of an entry with detectors is flagged on exactly the lines marked
    `# <- check` (none: the detectors do not claim that pattern)."""
    entry_id = case.name.split(".")[0]
    entries = knowledge.load(knowledge.search_dirs()).entries
    result = check.check_paths([str(case)], entries, check.Options(show_all=True))
    flagged = sorted(f.line for f in result.findings if f.id == entry_id)
    marked = [i for i, line in enumerate(case.read_text(encoding="utf-8").splitlines(), 1)
              if CHECK_MARK in line]
    assert flagged == marked, (flagged, marked)


def test_some_cases_are_marked() -> None:
    assert sum(CHECK_MARK in p.read_text(encoding="utf-8") for p in check_marked_cases()) >= 2
    assert os.path.exists(KNOWLEDGE / "backward" / "nonscalar-backward.case.py")
