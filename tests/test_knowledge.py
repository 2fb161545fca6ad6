"""The knowledge base itself: valid entries, helpful errors for broken ones, user entries
that replace built-in ones, and patterns that are all exercised and never overlap."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURED, GRADEXPLAIN, KNOWLEDGE, MINIMAL_ENTRY

from gradexplain import knowledge
from gradexplain.knowledge import EntryError, KnowledgeBase, load, load_entry
from gradexplain.matcher import match_traceback, message_forms
from gradexplain.model import ExceptionInfo, Frame, Traceback

ROOT = KNOWLEDGE.parent
MINIMAL = MINIMAL_ENTRY.format(id="my-error", pattern="my special failure")


def detect(*items: str) -> str:
    """A `detect:` section of flow-style items, put before `fixes:`."""
    return "detect:\n" + "".join(f"  - {{{item}, message: m}}\n" for item in items) + "fixes:"


def write_entry(directory: Path, text: str, name: str = "my-error") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_builtin_entries_load(kb: KnowledgeBase) -> None:
    assert len(kb.entries) >= 10
    assert len({e.id for e in kb.entries}) == len(kb.entries)
    for entry in kb.entries:
        assert Path(entry.path).parent.name == entry.family
        assert entry.verified_on, entry.id
        assert entry.references, entry.id


@pytest.mark.parametrize(("change", "field", "problem"), [
    (("id: my-error", "id: My_Error"), "id", "kebab-case"),
    (("id: my-error", "id: other-name"), "id", "must equal the file name"),
    (("  - regex: 'my special failure'", "  - regex: 'my (special'"), "patterns[0].regex",
     "invalid regex"),
    (("summary: It failed.\n", ""), "summary", "required field is missing"),
    (("title: A test entry", "title: A test entry\ncolour: red"), "colour", "unknown field"),
    (("    after: b", "    after: b\n    causes: [nope]"), "fixes[0].causes", "no cause"),
    (("    text: The only cause.", "    text: x\n    evidence: [{cod: 'x'}]"),
     "causes[0].evidence[0]", "unknown kind"),
    (("    after: b", "    after: b\n    rewrite: {find: 'a', replace: '\\g<t>'}"),
     "fixes[0].rewrite.replace", "names group 't'"),
    (("fixes:", "fixes: 3\nx:"), "x", "unknown field"),
    (("fixes:", detect("detector: nope, confidence: high")), "detect[0].detector",
     "unknown detector"),
    (("fixes:", detect("detector: non-scalar-backward, confidence: low")),
     "detect[0].confidence", "must be one of high, medium"),
    (("fixes:", detect("detector: non-scalar-backward, confidence: high, fix: fix-it")),
     "detect[0].fix", "no fix 'fix-it' with `auto`"),
    (("fixes:", detect(*["detector: non-scalar-backward, confidence: high"] * 2)),
     "detect[1]", "a second high item for 'non-scalar-backward'"),
])
def test_broken_entry_names_file_field_and_problem(
    tmp_path: Path, change: tuple[str, str], field: str, problem: str
) -> None:
    path = write_entry(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(EntryError) as error:
        load_entry(path)
    assert str(error.value).startswith(f"{path}: {field}: ")
    assert problem in str(error.value)


def test_yaml_errors_and_unsafe_tags_are_reported(tmp_path: Path) -> None:
    bad = write_entry(tmp_path, "id: [unclosed\n", "bad")
    unsafe = write_entry(tmp_path, "!!python/object/apply:os.system ['echo hi']\n", "unsafe")
    problems = load([tmp_path]).problems
    assert any(p.startswith(f"{bad}: not valid YAML") for p in problems)
    assert any(p.startswith(f"{unsafe}: not valid YAML") for p in problems)


def test_user_entry_replaces_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    override = MINIMAL.replace("my-error", "nonscalar-backward").replace(
        "A test entry", "My own nonscalar entry")
    write_entry(tmp_path, override, "nonscalar-backward")
    monkeypatch.setenv(knowledge.ENV_VAR, str(tmp_path))
    base = load(knowledge.search_dirs())
    entry = base.get("nonscalar-backward")
    assert entry is not None and entry.title == "My own nonscalar entry"
    assert base.get("backward-twice") is not None
    extra = tmp_path / "extra"
    extra.mkdir()
    write_entry(extra, MINIMAL)
    assert load(knowledge.search_dirs([str(extra)])).get("my-error") is not None


def test_shipped_entries_pass_kb_check() -> None:
    result = subprocess.run([GRADEXPLAIN, "kb", "check", str(KNOWLEDGE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_kb_check_reports_broken_entry(tmp_path: Path) -> None:
    write_entry(tmp_path, MINIMAL.replace("why: Because.\n", ""))
    result = subprocess.run([GRADEXPLAIN, "kb", "check", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{tmp_path / 'my-error.yaml'}: why: required field is missing" in result.stdout


def matching_ids(message: str, exception: str | None, kb: KnowledgeBase) -> list[str]:
    tb = Traceback(ExceptionInfo(exception, message))
    return [m.entry.id for m in match_traceback(tb, kb.entries)]


def test_examples_match_only_their_entry(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        for example in entry.examples:
            assert matching_ids(example, None, kb) == [entry.id], (entry.id, example)


def test_every_pattern_is_exercised(
    kb: KnowledgeBase, case_outputs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    """A pattern that no case output, captured traceback or example matches is untested."""
    from gradexplain.explain import explain
    from gradexplain.matcher import compiled

    texts: dict[str, list[str]] = {e.id: list(e.examples) for e in kb.entries}
    captured = [p.read_text(encoding="utf-8") for p in CAPTURED.glob("*.txt")]
    for output in [run.stderr for run in case_outputs.values()] + captured:
        report = explain(output, kb.entries, read_source=False)
        for analysis in report.analyses:
            for match in analysis.matches:
                texts[match.entry.id].append(analysis.traceback.exception.message)
    for entry in kb.entries:
        forms = [form for text in texts[entry.id] for form in message_forms(text)]
        for pattern in entry.patterns:
            assert any(compiled(pattern.regex).search(f) for f in forms), (entry.id, pattern)


@pytest.mark.parametrize("message", [
    "mat1 and mat2 shapes cannot be multiplied (8x131072 and 32768x512)",
    "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 10.76 GiB total capacity)",
    "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0",
    "Given groups=1, weight of size [16, 3, 3, 3], expected input[1, 1, 28, 28] to have 3 "
    "channels, but got 1 channels instead",
    "CUDA error: device-side assert triggered",
    "Sizes of tensors must match except in dimension 1. Expected size 3 but got size 4 for "
    "tensor number 1 in the list.",
    "DataLoader worker (pid 4242) is killed by signal: Killed.",
    "No module named 'torch'",
])
def test_non_autograd_errors_match_nothing(message: str, kb: KnowledgeBase) -> None:
    assert matching_ids(message, "RuntimeError", kb) == []
    assert matching_ids(message, None, kb) == []


def test_readme_table_is_generated_and_current(kb: KnowledgeBase) -> None:
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-docs"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert listed == {e.id for e in kb.entries}


def test_contributing_explains_entries() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for word in ("expect:", "patterns", "examples", "kb check", "scripts/new-entry"):
        assert word in text, word


def test_new_entry_scaffold_loads(tmp_path: Path) -> None:
    import sys

    script = ROOT / "scripts" / "new-entry"
    result = subprocess.run([sys.executable, str(script), "custom", "my-problem", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    entry = load_entry(tmp_path / "custom" / "my-problem.yaml", "custom")
    assert entry.id == "my-problem" and entry.fixes[0].causes == ("todo-cause",)
    assert "# expect: my-problem" in (tmp_path / "custom" / "my-problem.case.py").read_text()
    again = subprocess.run([sys.executable, str(script), "custom", "my-problem", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already exists" in again.stderr


ENGINE = "/venv/lib/python3.11/site-packages/torch/autograd/graph.py"
FUNCTION = "/venv/lib/python3.11/site-packages/torch/autograd/function.py"
CHECKPOINT = "/venv/lib/python3.11/site-packages/torch/utils/checkpoint.py"


def backward_traceback(message: str, *below: tuple[str, int, str]) -> Traceback:
    """loss.backward() in train.py, into the engine, then the frames `below`."""
    frames = (Frame("/home/me/train.py", 30, "<module>", "loss.backward()"),
              Frame(ENGINE, 829, "_engine_run_backward", "return Variable..."),
              *(Frame(file, line, "backward", code) for file, line, code in below))
    return Traceback(ExceptionInfo("RuntimeError", message), frames)


@pytest.mark.parametrize(("below", "message", "expected"), [
    ([(FUNCTION, 307, "return user_fn(self, *args)"), ("/home/me/ops.py", 12, "grad @ w")],
     "mat1 and mat2 shapes cannot be multiplied (4x3 and 4x3)",
     ["custom-function-backward-exception"]),
    ([("/home/me/hooks.py", 5, "return g / g.norm(dim=1)")],  # a tensor hook: engine calls it
     "The size of tensor a (4) must match the size of tensor b (8) at non-singleton dimension 1",
     ["custom-function-backward-exception"]),
    ([(CHECKPOINT, 320, "outputs = ctx.run_function(*inputs)"),  # forward re-run: not backward
      ("/home/me/model.py", 40, "x = self.block(x)")],
     "The size of tensor a (4) must match the size of tensor b (8) at non-singleton dimension 1",
     []),
    ([(FUNCTION, 307, "return user_fn(self, *args)"), ("/home/me/ops.py", 12, "a, = ctx.saved")],
     "one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected "
     "version 0 instead.",
     ["inplace-modified-saved"]),  # the precise entry wins over the fallback
    ([], "The size of tensor a (4) must match the size of tensor b (8)", []),  # no user code below
])
def test_errors_raised_in_user_backward_code(kb: KnowledgeBase, below: list[tuple[str, int, str]],
                                             message: str, expected: list[str]) -> None:
    tb = backward_traceback(message, *below)
    assert [m.entry.id for m in match_traceback(tb, kb.entries)] == expected


def test_rewrite_keeps_the_edges_of_its_template(tmp_path: Path) -> None:
    """A replacement that ends in a space (`GradScaler("cuda", `) must keep it."""
    text = MINIMAL + ("    rewrite:\n      find: 'GradScaler\\('\n"
                      "      replace: 'torch.amp.GradScaler(\"cuda\", '\n")
    entry = load_entry(write_entry(tmp_path, text))
    (rewrite,) = entry.fixes[0].rewrites
    assert rewrite.replace == 'torch.amp.GradScaler("cuda", '
