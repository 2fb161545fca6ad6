"""Automatic fixes, proven on the real cases: the fix of the first-ranked cause equals the
hand-checked golden `<case>.fixed.py`, applying it again changes nothing, and the fixed
run through `gradexplain run --fix` prints the same numbers as the golden run by python.
GRADEXPLAIN_REGEN_GOLDEN=1 writes missing goldens (review them before committing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, case_files, child_env, fixed_golden, read_case

from gradexplain import fixes
from gradexplain.diagnose import auto_candidates, context_for, diagnose
from gradexplain.explain import explain
from gradexplain.knowledge import KnowledgeBase
from gradexplain.model import Fix
from gradexplain.runfix import forward_call

CASES = case_files()
GOLDEN_CASES = [p for p in CASES if fixed_golden(p).exists()]


def first_safe_fix(path: Path, kb: KnowledgeBase,
                   outputs: dict[Path, subprocess.CompletedProcess[str]]) -> Fix | None:
    report = explain(outputs[path].stderr, kb.entries)
    assert report.primary is not None
    analysis = report.analyses[report.primary]
    diagnosis = diagnose(analysis.matches[0].entry,
                         context_for(analysis))
    return next((fix for fix in auto_candidates(diagnosis)
                 if fix.auto and fix.auto.applicability == "safe"), None)


def apply(fix: Fix, source: str, line: int) -> fixes.FixOutcome:
    assert fix.auto is not None
    return fixes.get(fix.auto.transformer)(fixes.FixRequest(source, line, dict(fix.auto.args)))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_auto_fix_equals_golden_and_converges(
    path: Path, kb: KnowledgeBase, case_outputs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    fix = first_safe_fix(path, kb, case_outputs)
    golden = fixed_golden(path)
    if fix is None:
        assert not golden.exists(), "a golden without a safe automatic fix"
        return
    case = read_case(path)
    line = case.line
    if fix.auto is not None and dict(fix.auto.args).get("locate") == "anomaly":
        forward = forward_call([str(path)], {})
        assert forward is not None and Path(forward[0]) == path
        line = forward[1]
    outcome = apply(fix, path.read_text(encoding="utf-8"), line)
    if outcome.source is None:
        assert not golden.exists(), outcome.reason
        return
    if os.environ.get("GRADEXPLAIN_REGEN_GOLDEN") == "1" and not golden.exists():
        golden.write_text(outcome.source, encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}; GRADEXPLAIN_REGEN_GOLDEN=1 writes it"
    assert outcome.source == golden.read_text(encoding="utf-8")
    again = apply(fix, outcome.source, line)
    assert again.source is None or again.source == outcome.source


@pytest.mark.parametrize("path", GOLDEN_CASES, ids=[p.name for p in GOLDEN_CASES])
def test_fixed_run_prints_the_reference_numbers(path: Path, tmp_path: Path) -> None:
    work = tmp_path / path.name
    work.write_bytes(path.read_bytes())
    reference = subprocess.run([sys.executable, str(fixed_golden(path))], capture_output=True,
                               text=True, env=child_env(), timeout=300)
    assert reference.returncode == 0, reference.stderr
    failing = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                             env=child_env(), timeout=300)
    fixed = subprocess.run([GRADEXPLAIN, "run", "--fix", "--yes", str(work)],
                           capture_output=True, text=True, env=child_env(), cwd=tmp_path,
                           timeout=300)
    assert fixed.returncode == 0, fixed.stderr
    # what the failing run printed before it failed, then what the fixed run printed
    assert fixed.stdout == failing.stdout + reference.stdout
    assert "the fixed run succeeded" in fixed.stderr
    assert work.read_bytes() == path.read_bytes(), "the file on disk must stay untouched"


TRANSFORMS = [
    # (transformer, args, source, line, facts, expected source or None for a refusal)
    ("reduce-backward", {"reduction": "mean"}, "accelerator.backward(loss)\n", 1, {},
     "accelerator.backward(loss.mean())\n"),
    ("reduce-backward", {"reduction": "sum"}, "loss.backward(retain_graph=True)  # c\n", 1, {},
     "loss.sum().backward(retain_graph=True)  # c\n"),
    ("reduce-backward", {"reduction": "sum"}, "loss.backward(g)\n", 1, {}, None),
    ("reduce-backward", {"reduction": "sum"}, "loss.mean().backward()\n", 1, {}, None),
    ("reduce-backward", {"reduction": "sum"}, "a.backward(); b.backward()\n", 1, {}, None),
    ("detach-before-numpy", {}, "p = logits.softmax(dim=1).numpy()\n", 1, {},
     "p = logits.softmax(dim=1).detach().numpy()\n"),
    ("detach-before-numpy", {}, "a = x.numpy() + y.numpy()\n", 1,
     {"x": {"requires_grad": False}, "y": {"requires_grad": True}},
     "a = x.numpy() + y.detach().numpy()\n"),
    ("detach-before-numpy", {}, "a = x.numpy() + y.numpy()\n", 1, {}, None),
    ("detach-before-numpy", {}, "a = x.detach().numpy()\n", 1, {}, None),
    ("no-grad-update", {}, "import torch\nfor _ in r:\n    w -= lr * w.grad  # step\n", 3, {},
     "import torch\nfor _ in r:\n    with torch.no_grad():\n        w -= lr * w.grad  # step\n"),
    ("no-grad-update", {}, "import torch\nw = w - 1\n", 2, {}, None),
    ("no-grad-update", {}, "import numpy\nw -= 1\n", 2, {}, None),
    ("float-dtype", {}, "c = torch.tensor([1, 2], requires_grad=True)\n", 1, {},
     "c = torch.tensor([1, 2], dtype=torch.float32, requires_grad=True)\n"),
    ("float-dtype", {}, "c = torch.tensor([1], dtype=torch.long, requires_grad=True)\n", 1, {},
     None),
    ("float-dtype", {}, "x = 1\n", 1, {}, None),
    ("reduce-backward", {"reduction": "sum"}, "def broken(:\n", 1, {}, None),
    ("scalar-reduce", {"reduction": "mean"}, "total += crit(out, y).item()\n", 1, {},
     "total += crit(out, y).mean().item()\n"),
    ("scalar-reduce", {"reduction": "mean"}, "log.append(float(loss))\n", 1, {},
     "log.append(float(loss.mean()))\n"),
    ("scalar-reduce", {"reduction": "tolist"}, "print(pred.item())\n", 1, {},
     "print(pred.tolist())\n"),
    ("scalar-reduce", {"reduction": "mean"}, "a = x.item() + float(y)\n", 1, {}, None),
    ("out-of-place", {}, "def f(w):\n    e = w.exp()\n    e += 1\n    return e\n", 2, {},
     "def f(w):\n    e = w.exp()\n    e = e + 1\n    return e\n"),
    ("out-of-place", {}, "y = torch.sigmoid(x)\ny.mul_(2)\n", 1, {},
     "y = torch.sigmoid(x)\ny = y.mul(2)\n"),
    ("out-of-place", {}, "out = torch.relu(h)\nout *= a + b\n", 1, {},
     "out = torch.relu(h)\nout = out * (a + b)\n"),
    ("out-of-place", {}, "class G:\n    def __init__(self):\n        self.act = nn.ReLU("
     "inplace=True)\n\n    def forward(self, x):\n        g = torch.sigmoid(x)\n"
     "        return self.act(g)\n", 6, {},
     "class G:\n    def __init__(self):\n        self.act = nn.ReLU(inplace=False)\n\n"
     "    def forward(self, x):\n        g = torch.sigmoid(x)\n        return self.act(g)\n"),
    ("out-of-place", {}, "y = torch.sigmoid(x)\ny[y > 0.5] = 0\n", 1, {},
     "y = torch.sigmoid(x)\ny = y.clone()\ny[y > 0.5] = 0\n"),
    ("out-of-place", {}, "y = torch.sigmoid(x)\ny = y * 2\ny += 1\n", 1, {}, None),
    ("detach-carried-state", {}, "rnn = nn.GRU(3, 4)\nfor x in data:\n    out, h = rnn(x, h)"
     "\n    out.sum().backward()\n", 4, {},
     "rnn = nn.GRU(3, 4)\nfor x in data:\n    out, h = rnn(x, h)\n    h = h.detach()\n"
     "    out.sum().backward()\n"),
    ("detach-carried-state", {}, "for x in d:\n    out, h = model(x, h)\n    out.backward()\n",
     3, {}, None),
    ("detach-carried-state", {}, "loss.backward()\n", 1, {}, None),
    ("grad-mode-on", {}, "@torch.no_grad()\ndef f(b):\n    return m(b)\n\nloss = c(f(x))\n"
     "loss.backward()\n", 6, {}, "def f(b):\n    return m(b)\n\nloss = c(f(x))\n"
     "loss.backward()\n"),
    ("grad-mode-on", {}, "with torch.no_grad():\n    loss = c(m(x))\nloss.backward()\n", 3, {},
     None),
    ("grad-mode-on", {"form": "block"}, "for b in d:\n    # fwd\n    with torch.no_grad():\n"
     "        p = m(b)\n    loss = c(p)\n    loss.backward()\n", 6, {},
     "for b in d:\n    # fwd\n    p = m(b)\n    loss = c(p)\n    loss.backward()\n"),
    ("retain-first-backward", {}, "a.backward()\nb.backward()\n", 2, {},
     "a.backward(retain_graph=True)\nb.backward()\n"),
    ("retain-first-backward", {}, "a.backward(inputs=[w])\nb.backward()\n", 2, {},
     "a.backward(inputs=[w], retain_graph=True)\nb.backward()\n"),
    ("retain-first-backward", {}, "a.backward()\nopt.step()\nb.backward()\n", 3, {}, None),
    ("retain-first-backward", {}, "a.backward()\na.backward()\n", 2, {}, None),
    ("grad-mode-on", {"form": "block"}, "with torch.no_grad():\n    p = m(x)\n    a = acc(p)\n"
     "loss = c(p)\nloss.backward()\n", 5, {}, None),
]


@pytest.mark.parametrize(("name", "args", "source", "line", "facts", "expected"), TRANSFORMS)
def test_transformer_table(name: str, args: dict[str, str], source: str, line: int,
                           facts: dict[str, dict[str, bool]], expected: str | None) -> None:
    outcome = fixes.get(name)(fixes.FixRequest(source, line, args, facts))
    assert outcome.source == expected
    assert (outcome.reason == "") == (expected is not None)


def test_every_transformer_is_used_and_tested(kb: KnowledgeBase) -> None:
    used = {f.auto.transformer for e in kb.entries for f in e.fixes if f.auto}
    tested = {name for name, *_ in TRANSFORMS}
    assert used == tested == set(fixes.REGISTRY)
