"""The anti-fix detectors: `loss.requires_grad = True` (no-grad-fn) and
`backward(retain_graph=True)` closing a loop that carries a graph (backward-twice).

Each buggy snippet marks the line to flag with `# flagged`; each correct one must give no
finding at all. The case scripts of the knowledge base that contain these idioms and the
clean example scripts are checked too.
"""

from __future__ import annotations

import ast
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, KNOWLEDGE, ROOT, child_env

from gradexplain import check, knowledge
from gradexplain.detectors import Module, get

PREAMBLE = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable
"""


def hits(detector: str, source: str) -> list[int]:
    source = PREAMBLE + textwrap.dedent(source)
    return [hit.line for hit in get(detector)(Module("snippet.py", source, ast.parse(source)))]


def flagged_lines(source: str) -> list[int]:
    lines = (PREAMBLE + textwrap.dedent(source)).splitlines()
    return [number for number, line in enumerate(lines, 1) if line.endswith("# flagged")]


REQUIRES_GRAD_BUGGY = {
    "script, attribute": """
        model = nn.Linear(3, 1)
        x, y = torch.randn(4, 3), torch.randn(4, 1)
        with torch.no_grad():
            pred = model(x)
        loss = F.mse_loss(pred, y)
        loss.requires_grad = True  # flagged
        loss.backward()
        """,
    "function, method form, back-propagated": """
        def step(model, batch):
            out = model(batch).sum()
            out.requires_grad_()  # flagged
            out.backward()
        """,
    "method, requires_grad_(True), scaled": """
        class Trainer:
            def step(self, x, y):
                total_loss = self.criterion(self.model(x), y) + 0.1 * self.penalty()
                total_loss.requires_grad_(True)  # flagged
                self.scaler.scale(total_loss).backward()
        """,
    "loop, detached loss": """
        for x, y in loader:
            loss = criterion(model(x), y).detach()
            loss.requires_grad = True  # flagged
            optimizer.zero_grad()
            (loss / 4).backward()
            optimizer.step()
        """,
    "rebuilt from Python numbers": """
        losses = [criterion(model(x), y) for x, y in batches]
        loss = torch.tensor(sum(l.item() for l in losses), requires_grad=True)  # flagged
        loss.backward()
        """,
    "old Variable wrapper": """
        def train(batch, target):
            value = criterion(model(batch), target).item()
            loss = Variable(torch.tensor(value), requires_grad=True)  # flagged
            loss.backward()
        """,
    "marked while assigned": """
        def train(x, y):
            loss = criterion(model(x), y).requires_grad_()  # flagged
            loss.backward()
        """,
    "model output's loss": """
        outputs = model(**batch)
        loss = outputs.loss
        loss.requires_grad_()  # flagged
        accelerator.backward(loss)
        """,
    "named like a loss, returned": """
        def compute_loss(logits, labels):
            d_loss = F.cross_entropy(logits.argmax(1).float(), labels.float())
            d_loss.requires_grad = True  # flagged
            return d_loss
        """,
    "unknown value, named like a loss and back-propagated": """
        def backprop(loss):
            loss.requires_grad = True  # flagged
            loss.backward()
        """,
    "autograd.backward": """
        objective = model(x).pow(2).mean()
        objective.requires_grad_()  # flagged
        torch.autograd.backward(objective)
        """,
}

REQUIRES_GRAD_CORRECT = {
    "unfreezing parameters": """
        for p in model.parameters():
            p.requires_grad = True
        loss = criterion(model(x), y)
        loss.backward()
        """,
    "unfreezing by name": """
        for name, p in model.named_parameters():
            if "head" in name:
                p.requires_grad_(True)
        """,
    "module attribute": """
        model.fc.weight.requires_grad = True
        """,
    "leaf moved to the device": """
        w = torch.randn(3, 1).to(device)
        w.requires_grad = True
        loss = (x @ w).pow(2).mean()
        loss.backward()
        """,
    "literal leaf back-propagated": """
        x = torch.tensor([1.0, 2.0])
        x.requires_grad_()
        (x ** 2).sum().backward()
        """,
    "leaf accumulator named loss": """
        loss = torch.zeros(()).to(device)
        loss.requires_grad = True
        for x, y in batches:
            loss = loss + criterion(model(x), y)
        loss.backward()
        """,
    "saliency input": """
        def saliency(model, image, label):
            image = image.float() / 255
            image.requires_grad_()
            score = model(image)[0, label]
            score.backward()
            return image.grad
        """,
    "computed prototypes to fine-tune": """
        with torch.inference_mode():
            prototypes = encoder(support).mean(1)
        prototypes = prototypes.clone()
        prototypes.requires_grad_(True)
        """,
    "gradient penalty on an interpolated input": """
        def gradient_penalty(real, fake):
            alpha = torch.rand(real.size(0), 1).expand(real.shape)
            mixed = alpha * real + (1 - alpha) * fake
            mixed.requires_grad = True
            out = critic(mixed)
            grads = torch.autograd.grad(outputs=out, inputs=mixed, create_graph=True)[0]
            return ((grads.norm(2, dim=1) - 1) ** 2).mean()
        """,
    "loss module unfrozen": """
        perceptual_loss = PerceptualLoss(vgg).to(device)
        perceptual_loss.requires_grad_(True)
        """,
    "learnable loss weights": """
        loss_weights = torch.ones(3).to(device)
        loss_weights.requires_grad = True
        log_vars = nn.Parameter(torch.zeros(2))
        """,
    "turned off": """
        loss = criterion(model(x), y)
        loss.requires_grad_(False)
        loss.requires_grad = False
        """,
    "rebound before backward": """
        out = model(x)
        out.requires_grad_()
        out = out.sum()
        out.backward()
        """,
    "unknown value, loss name, no backward": """
        def mark(loss):
            loss.requires_grad = True
            return loss
        """,
    "flag from a variable": """
        loss = criterion(model(x), y)
        loss.requires_grad_(train)
        """,
    "input back-propagated through the model": """
        x = preprocess(raw)
        x.requires_grad = True
        y = model(x).sum()
        y.backward()
        """,
}

RETAIN_BUGGY = {
    "script, GRU state": """
        rnn = nn.GRU(3, 6)
        h = torch.zeros(1, 2, 6)
        for step in range(3):
            out, h = rnn(torch.randn(4, 2, 3), h)
            loss = out.pow(2).mean()
            optimizer.zero_grad()
            loss.backward(retain_graph=True)  # flagged
            optimizer.step()
        """,
    "function, LSTM tuple state": """
        def train(lstm, head, loader, optimizer):
            state = None
            for x, y in loader:
                out, state = lstm(x, state)
                loss = F.mse_loss(head(out), y)
                optimizer.zero_grad()
                loss.backward(retain_graph=True)  # flagged
                optimizer.step()
        """,
    "method, state on self": """
        class Trainer:
            def fit(self, batches):
                for x, y in batches:
                    out, self.hidden = self.rnn(x, self.hidden)
                    loss = self.criterion(out, y)
                    self.optimizer.zero_grad()
                    loss.backward(retain_graph=True)  # flagged
                    self.optimizer.step()
        """,
    "while loop, cell state, inline loss": """
        h = torch.zeros(4, 16)
        while step < 100:
            h = cell(next(stream), h)
            (h ** 2).mean().backward(retain_graph=True)  # flagged
            step += 1
        """,
    "state through an intermediate": """
        for x in chunks:
            y = model(x, memory)
            memory = y[:, -1]
            loss = y.pow(2).mean()
            scaler.scale(loss).backward(retain_graph=True)  # flagged
        """,
    "accumulated loss": """
        total = 0
        for x, y in loader:
            total = total + criterion(model(x), y)
            total.backward(retain_graph=True)  # flagged
        """,
    "accumulated in place, autograd.backward": """
        running = torch.zeros(())
        for x, y in loader:
            running += criterion(model(x), y)
            torch.autograd.backward(running, retain_graph=True)  # flagged
        """,
    "last of two backward calls": """
        for x, y in loader:
            out, h = rnn(x, h)
            aux_loss = aux(out).mean()
            aux_loss.backward(retain_graph=True)
            loss = criterion(head(out), y)
            loss.backward(retain_graph=True)  # flagged
        """,
}

RETAIN_CORRECT = {
    "first of two backward calls": """
        for x, y in loader:
            out, h = rnn(x, h)
            age_loss = F.mse_loss(age_head(out), y)
            score_loss = F.l1_loss(score_head(out), y)
            age_loss.backward(retain_graph=True)
            score_loss.backward()
        """,
    "followed by autograd.grad": """
        for x, y in loader:
            h = cell(x, h)
            loss = h.pow(2).mean()
            loss.backward(retain_graph=True)
            penalty = torch.autograd.grad(loss, h)
        """,
    "outside a loop": """
        out, h = rnn(x, h)
        loss = out.pow(2).mean()
        loss.backward(retain_graph=True)
        """,
    "retain_graph=False or from a variable": """
        for x in chunks:
            h = cell(x, h)
            h.sum().backward(retain_graph=False)
            h.sum().backward(retain_graph=keep)
        """,
    "higher order": """
        for x in chunks:
            h = cell(x, h)
            h.sum().backward(retain_graph=True, create_graph=True)
        """,
    "Jacobian row by row": """
        y = f(x)
        rows = []
        for i in range(3):
            y[i].backward(retain_graph=True)
            rows.append(x.grad.clone())
            x.grad.zero_()
        """,
    "only an argmax or a comparison carried": """
        for x, y in loader:
            out = model(x, prev, mask)
            prev = out.argmax(dim=1)
            mask = out > 0
            criterion(out, y).backward(retain_graph=True)
        """,
    "state detached first": """
        for x, y in loader:
            h = h.detach()
            out, h = rnn(x, h)
            criterion(out, y).backward(retain_graph=True)
        """,
    "LSTM state detached in a comprehension": """
        for x, y in loader:
            if state is not None:
                state = tuple(s.detach() for s in state)
            out, state = lstm(x, state)
            criterion(out, y).backward(retain_graph=True)
        """,
    "state detached where it is passed": """
        for x in chunks:
            h = cell(x, h.detach())
            h.pow(2).mean().backward(retain_graph=True)
        """,
    "state reset every iteration": """
        for x, y in loader:
            hidden = model.init_hidden(x.size(0))
            out, hidden = model(x, hidden)
            criterion(out, y).backward(retain_graph=True)
        """,
    "state reset inside a with block": """
        for x, y in loader:
            with torch.autocast("cpu"):
                h = torch.zeros(4, 16)
                h = cell(x, h)
            h.sum().backward(retain_graph=True)
        """,
    "state updated under no_grad": """
        for x, y in loader:
            with torch.no_grad():
                memory = encoder(x, memory)
            loss = criterion(head(x, memory), y)
            loss.backward(retain_graph=True)
        """,
    "nothing carried (left alone: may be legitimate or only wasteful)": """
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward(retain_graph=True)
        """,
    "accumulated loss reset after each backward": """
        for k, word in enumerate(words):
            output, hidden = model(word, hidden)
            loss += criterion(output, targets[k])
            if (k + 1) % bptt == 0:
                loss.backward(retain_graph=True)
                optimizer.step()
                loss = 0
                hidden = hidden.detach()
        """,
    "carried number": """
        for x, y in loader:
            lam = max(lam * 0.99, 0.1)
            running = running + criterion(model(x), y).item()
            loss = criterion(model(x), y) * lam
            loss.backward(retain_graph=True)
        """,
    "heads over features from the outer loop": """
        for x in loader:
            feats, h = encoder(x, h.detach())
            for head in heads:
                head(feats).mean().backward(retain_graph=True)
        """,
    "autograd.grad in a loop": """
        for task_loss in task_losses:
            h = mix(task_loss, h)
            grads = torch.autograd.grad(h, shared, retain_graph=True)
        """,
    "state bound afresh by the loop header": """
        for x, h in zip(inputs, states):
            h = cell(x, h)
            h.sum().backward(retain_graph=True)
        """,
    "state reset by a method": """
        class Trainer:
            def reset(self):
                self.h = None
            def fit(self, batches):
                for x in batches:
                    out, self.h = self.rnn(x, self.h)
                    out.mean().backward(retain_graph=True)
                    self.reset()
        """,
    "state reset by a function through global": """
        def reset():
            global h
            h = torch.zeros(2, 4)
        for x in chunks:
            h = cell(x, h)
            h.sum().backward(retain_graph=True)
            reset()
        """,
    "LSTM state detached by map": """
        for x in chunks:
            hidden = tuple(map(torch.Tensor.detach, hidden))
            out, hidden = lstm(x, hidden)
            out.mean().backward(retain_graph=True)
        """,
    "state detached by the step function": """
        def step(x, h):
            out, h = rnn(x, h)
            return out, h.detach()
        for x in chunks:
            out, h = step(x, h)
            out.mean().backward(retain_graph=True)
        """,
}


@pytest.mark.parametrize("source", REQUIRES_GRAD_BUGGY.values(), ids=list(REQUIRES_GRAD_BUGGY))
def test_requires_grad_on_loss_flags(source: str) -> None:
    assert hits("requires-grad-on-loss", source) == flagged_lines(source)


@pytest.mark.parametrize("source", REQUIRES_GRAD_CORRECT.values(),
                         ids=list(REQUIRES_GRAD_CORRECT))
def test_requires_grad_on_loss_silent(source: str) -> None:
    assert hits("requires-grad-on-loss", source) == []


@pytest.mark.parametrize("source", RETAIN_BUGGY.values(), ids=list(RETAIN_BUGGY))
def test_retain_graph_in_loop_flags(source: str) -> None:
    assert hits("retain-graph-in-loop", source) == flagged_lines(source)


@pytest.mark.parametrize("source", RETAIN_CORRECT.values(), ids=list(RETAIN_CORRECT))
def test_retain_graph_in_loop_silent(source: str) -> None:
    assert hits("retain-graph-in-loop", source) == []


MINE = ("requires-grad-on-loss", "retain-graph-in-loop")


def entries() -> list[knowledge.Entry]:
    return list(knowledge.load(knowledge.search_dirs()).entries)


def findings(paths: list[str]) -> list[tuple[str, int]]:
    """These detectors' findings, medium ones included, as (entry id, line)."""
    result = check.check_paths(paths, entries(), check.Options(show_all=True))
    assert result.problems == ()
    return [(f.id, f.line) for f in result.findings if f.detector in MINE]


def test_messages_name_the_value_and_the_way_out() -> None:
    source = PREAMBLE + textwrap.dedent(RETAIN_BUGGY["accumulated loss"])
    found = check.check_module(Module("loop.py", source, ast.parse(source)),
                               [(e, d) for e in entries() for d in e.detects
                                if d.detector in MINE])
    assert [f.id for f in found] == ["backward-twice"]
    assert "via `total`" in found[0].message
    assert "once on `total` after the loop" in found[0].message
    assert found[0].confidence == "high" and found[0].fix is None


ANTI_FIX_IDIOM = ("requires_grad = True", "requires_grad_(", "retain_graph=True")
EXPECTED_IN_CASES = {"inplace/inplace-modified-saved.case-retain-graph.py": [
    ("backward-twice", 16)]}


def idiom_cases() -> list[Path]:
    return sorted(path for path in KNOWLEDGE.glob("*/*.case*.py")
                  if any(idiom in path.read_text(encoding="utf-8") for idiom in ANTI_FIX_IDIOM))


@pytest.mark.parametrize("path", idiom_cases(), ids=lambda p: p.name)
def test_case_scripts(path: Path) -> None:
    """Only the case where retain_graph=True was added to a carried GRU state is the
    anti-fix; unfreezing, marking inputs and two losses over one graph are not."""
    expected = EXPECTED_IN_CASES.get(path.relative_to(KNOWLEDGE).as_posix(), [])
    assert findings([str(path)]) == expected


def test_clean_scripts_give_no_finding() -> None:
    clean = sorted(str(p) for p in (ROOT / "tests" / "data" / "clean").glob("*.py"))
    assert findings(clean) == []


def test_cli_reports_the_line(tmp_path: Path) -> None:
    source = REQUIRES_GRAD_BUGGY["script, attribute"]
    script = tmp_path / "train.py"
    script.write_text(PREAMBLE + textwrap.dedent(source))
    done = subprocess.run([GRADEXPLAIN, "check", str(script)], capture_output=True, text=True,
                          env=child_env(), timeout=120)
    line, = flagged_lines(source)
    assert done.returncode == 1
    assert f"{script}:{line}:1: no-grad-fn `loss.requires_grad = True`" in done.stdout
