"""The grad-mode detectors: integer-requires-grad (non-float-requires-grad) and
no-grad-around-loss, high and medium (no-grad-fn).

Snippets are tables, as semgrep's rule tests are: a line ending in `# ruleid` must be
flagged, every other line must not; the near misses are correct code that looks alike.
Then the entries' runtime case scripts, the fixes (they re-parse, match the golden file,
and the fixed script runs), and zero findings on the idiomatic scripts in tests/data/clean.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, ROOT, child_env

from gradexplain import check, knowledge
from gradexplain.detectors import Module, get

CLEAN = ROOT / "tests" / "data" / "clean"
MARK = "# ruleid"
PRELUDE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def flagged(detector: str, snippet: str, confidence: str = "high"
            ) -> tuple[list[int], list[int]]:
    """(lines flagged with that confidence, lines marked `# ruleid`) of the snippet after
    the imports."""
    source = PRELUDE + textwrap.dedent(snippet)
    hits = get(detector)(Module("<snippet>", source, ast.parse(source)))
    marked = [i for i, line in enumerate(source.splitlines(), 1) if line.endswith(MARK)]
    return sorted(hit.line for hit in hits if hit.confidence == confidence), marked


INTEGER_FLAGGED = {
    "literal": "w = torch.tensor([1, 2, 3], requires_grad=True)  # ruleid\n",
    "nested-literal": "w = torch.tensor([[1, 2], [-3, 4]], requires_grad=True)  # ruleid\n",
    "bool-literal": "flag = torch.tensor(True, requires_grad=True)  # ruleid\n",
    "arange": "steps = torch.arange(0, 10, 2, requires_grad=True)  # ruleid\n",
    "randint": "ids = torch.randint(0, 10, (3,), requires_grad=True)  # ruleid\n",
    "randperm": "order = torch.randperm(5, requires_grad=True)  # ruleid\n",
    "dtype-long": "z = torch.zeros(3, dtype=torch.long, requires_grad=True)  # ruleid\n",
    "dtype-bool": "m = torch.ones(2, 2, dtype=torch.bool, requires_grad=True)  # ruleid\n",
    "full-int": "f = torch.full((2,), 7, requires_grad=True)  # ruleid\n",
    "like-dtype": "z = torch.zeros_like(x, dtype=torch.uint8, requires_grad=True)  # ruleid\n",
    "as-tensor-marked": "t = torch.as_tensor([1, 2])\nt.requires_grad_()  # ruleid\n",
    "marked-later": "x = torch.arange(5)\nx.requires_grad_()  # ruleid\n",
    "setter": "x = torch.tensor([1, 2])\nx.requires_grad = True  # ruleid\n",
    "cast": "x = torch.randn(3).long()\nx.requires_grad_(True)  # ruleid\n",
    "to-dtype": "x = torch.randn(3).to(torch.int32)\nx.requires_grad = True  # ruleid\n",
    "chained": "torch.arange(5).requires_grad_()  # ruleid\n",
    "unpacked": """\
        a, b = torch.arange(3), torch.randn(3)
        a.requires_grad_()  # ruleid
        b.requires_grad_()
        """,
    "from-numpy": """\
        import numpy as np
        pixels = np.zeros((8, 8)).astype(np.uint8)
        image = torch.from_numpy(pixels)
        image.requires_grad_()  # ruleid
        """,
    "function": """\
        def sample():
            ids = torch.randint(0, 5, (4,))
            ids.requires_grad_(True)  # ruleid
            return ids
        """,
    "method-parameter": """\
        class Counter(nn.Module):
            def __init__(self):
                super().__init__()
                self.steps = nn.Parameter(torch.tensor(0))  # ruleid
        """,
    "imported-parameter": """\
        from torch.nn import Parameter
        table = Parameter(torch.zeros(3, dtype=torch.int64))  # ruleid
        """,
    "nested-blocks": """\
        for i in range(3):
            with torch.no_grad():
                if i:
                    x = torch.arange(3)
                    x.requires_grad_()  # ruleid
        """,
}

INTEGER_NEAR_MISSES = {
    "float-literal": "w = torch.tensor([1.0, 2, 3], requires_grad=True)\n",
    "float-dtype": "w = torch.tensor([1, 2], dtype=torch.float32, requires_grad=True)\n",
    "float-arange": "t = torch.arange(0, 1, 0.1, requires_grad=True)\n",
    "unknown-arange": "t = torch.arange(n, requires_grad=True)\n",
    "float-randint": "r = torch.randint(0, 9, (3,), dtype=torch.float32, requires_grad=True)\n",
    "default-float": "z = torch.zeros(3, requires_grad=True)\n",
    "empty-literal": "e = torch.tensor([], requires_grad=True)\n",
    "unknown-values": "v = torch.tensor(values, requires_grad=True)\n",
    "unknown-dtype": "z = torch.zeros(3, dtype=dtype, requires_grad=True)\n",
    "float-full": "f = torch.full((2,), 1.5, requires_grad=True)\n",
    # other errors first: as_tensor takes no requires_grad, randn no integer dtype
    "as-tensor-keyword": "t = torch.as_tensor([1, 2], requires_grad=True)\n",
    "randn-long": "t = torch.randn(2, dtype=torch.long, requires_grad=True)\n",
    "converted": "x = torch.arange(5)\nx = x.float()\nx.requires_grad_()\n",
    "converted-in-branch": """\
        x = torch.arange(5)
        if flag:
            x = x.float()
        x.requires_grad_()
        """,
    "converted-later-in-loop": """\
        x = torch.arange(3)
        for _ in range(2):
            x.requires_grad_()
            x = x.float()
        """,
    "arithmetic": "x = torch.arange(5) * 0.5\nx.requires_grad_()\n",
    "off": "x = torch.tensor([1, 2])\nx.requires_grad_(False)\nx.requires_grad = False\n",
    "buffer-parameter": "p = nn.Parameter(torch.tensor(0), requires_grad=False)\n",
    "new-data": "x = torch.arange(5)\nx.data = x.data.float()\nx.requires_grad_()\n",
    "float-then-marked": "torch.randint(0, 5, (3,)).float().requires_grad_()\n",
    "argument-shadows-global": """\
        image = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
        def saliency(image):
            image.requires_grad = True
        """,
}


@pytest.mark.parametrize("snippet", INTEGER_FLAGGED.values(), ids=INTEGER_FLAGGED.keys())
def test_integer_requires_grad_flags(snippet: str) -> None:
    lines, marked = flagged("integer-requires-grad", snippet)
    assert marked and lines == marked


@pytest.mark.parametrize("snippet", INTEGER_NEAR_MISSES.values(),
                         ids=INTEGER_NEAR_MISSES.keys())
def test_integer_requires_grad_near_misses(snippet: str) -> None:
    assert flagged("integer-requires-grad", snippet) == ([], [])


NO_GRAD_FLAGGED = {
    "loss-in-block": """\
        with torch.no_grad():
            out = model(x)
            loss = criterion(out, y)
        loss.backward()  # ruleid
        """,
    "derived-after-block": """\
        with torch.no_grad():
            pred = model(x)
        loss = ((pred - torch.ones(3)) ** 2).mean()
        loss.backward()  # ruleid
        """,
    "functional-loss-of-block-and-data": """\
        inputs, targets = torch.randn(16, 3), torch.randn(16, 1)
        for step in range(3):
            with torch.no_grad():
                pred = model(inputs)
            loss = F.mse_loss(pred, targets)
            loss.backward()  # ruleid
        """,
    "function-inference-mode": """\
        def step(model, x):
            with torch.inference_mode():
                loss = model(x).sum()
            loss.backward()  # ruleid
        """,
    "method-set-grad-enabled-false": """\
        class Trainer:
            def __init__(self):
                self.criterion = nn.MSELoss()

            def step(self, x):
                with torch.set_grad_enabled(False):
                    pred = self.model(x)
                target = torch.zeros(4, 1)
                loss = self.criterion(pred, target)
                loss.backward()  # ruleid
        """,
    "nested-autocast-scaler": """\
        labels = torch.zeros(8, dtype=torch.long)
        for batch in loader:
            with torch.no_grad():
                with torch.autocast("cpu"):
                    logits = model(batch)
            loss = F.cross_entropy(logits, labels)
            scaler.scale(loss).backward()  # ruleid
        """,
    "autograd-backward": """\
        with torch.no_grad():
            loss = model(x).mean()
        torch.autograd.backward(loss)  # ruleid
        """,
    "decorated-scope": """\
        @torch.no_grad()
        def train_step(x):
            loss = model(x).sum()
            loss.backward()  # ruleid
        """,
    "model-output-loss": """\
        with torch.no_grad():
            outputs = model(**batch)
        outputs.loss.backward()  # ruleid
        """,
    "bare-no-grad": """\
        from torch import no_grad
        with no_grad():
            total = model(x).sum() * 2
        total.backward()  # ruleid
        """,
}

NO_GRAD_NEAR_MISSES = {
    "evaluation-only": """\
        with torch.no_grad():
            out = model(x)
            val_loss = criterion(out, y)
        print(val_loss.item(), out.mean().item())
        """,
    "target-from-block": """\
        with torch.no_grad():
            target = teacher(x)
        loss = criterion(student(x), target)
        loss.backward()
        """,
    "target-from-block-functional": """\
        with torch.no_grad():
            target = teacher(x)
        loss = F.mse_loss(model(x), target)
        loss.backward()
        """,
    "unknown-argument": """\
        def step(y):
            with torch.no_grad():
                pred = model(x)
            loss = F.mse_loss(pred, y)
            loss.backward()
        """,
    "weighted-criterion": """\
        criterion = nn.CrossEntropyLoss(weight=class_weights)
        with torch.no_grad():
            logits = model(x)
        loss = criterion(logits, labels)
        loss.backward()
        """,
    "gan-generator-frozen": """\
        with torch.no_grad():
            fake = generator(z)
        d_loss = bce(critic(fake), torch.zeros(8, 1))
        d_loss.backward()
        """,
    "marked-afterwards": """\
        with torch.no_grad():
            z = model(x)
        z.requires_grad_()
        z.sum().backward()
        """,
    "connected-in-place": """\
        with torch.no_grad():
            buffer = torch.zeros(3)
        buffer.add_(weight)
        buffer.sum().backward()
        """,
    "connected-by-item-assignment": """\
        with torch.no_grad():
            buffer = torch.zeros(3)
        buffer[0] = weight[0]
        buffer.sum().backward()
        """,
    "view-of-parameter": """\
        with torch.no_grad():
            flat = layer.weight.view(-1)
        flat.sum().backward()
        """,
    "same-tensor-to": """\
        with torch.no_grad():
            moved = weight.to("cpu")
        moved.sum().backward()
        """,
    "leaf-made-in-block": """\
        with torch.no_grad():
            t = torch.randn(3, requires_grad=True)
        t.sum().backward()
        """,
    "parameters-listed": """\
        with torch.no_grad():
            params = list(model.parameters())
        params[0].sum().backward()
        """,
    "enable-grad-inside": """\
        with torch.no_grad():
            with torch.enable_grad():
                loss = model(x).sum()
        loss.backward()
        """,
    "switched-back-on": """\
        with torch.no_grad():
            torch.set_grad_enabled(True)
            loss = model(x).sum()
        loss.backward()
        """,
    "grad-mode-from-flag": """\
        with torch.set_grad_enabled(training):
            loss = model(x).sum()
        loss.backward()
        """,
    "inference-mode-false": """\
        with torch.inference_mode(False):
            loss = model(x).sum()
        loss.backward()
        """,
    "block-in-one-branch": """\
        if fast:
            with torch.no_grad():
                loss = model(x).sum()
        else:
            loss = model(x).sum()
        loss.backward()
        """,
    "block-in-other-scope": """\
        with torch.no_grad():
            loss = model(x).sum()

        def later():
            loss.backward()
        """,
    "regularised": """\
        with torch.no_grad():
            loss = criterion(model(x), y)
        loss = loss + sum(p.norm() for p in model.parameters())
        loss.backward()
        """,
    "loaded-tensor": """\
        with torch.no_grad():
            pred = model(x)
        loss = F.mse_loss(pred, torch.load("target.pt"))
        loss.backward()
        """,
    "undecorated-helper": """\
        def predict(batch):
            return model(batch)
        loss = F.mse_loss(predict(x), torch.zeros(4, 1))
        loss.backward()
        """,
}

HELPER_FLAGGED = {
    "decorated-helper": """\
        @torch.no_grad()
        def predict(batch):
            return model(batch)

        criterion = nn.MSELoss()
        loss = criterion(predict(x), torch.zeros(4, 1))
        loss.backward()  # ruleid
        """,
    "inference-helper-in-function": """\
        @torch.inference_mode()
        def embed(batch):
            features = encoder(batch)
            return features.mean(0)

        def train(x):
            embedding = embed(x)
            embedding.sum().backward()  # ruleid
        """,
}

HELPER_NEAR_MISSES = {
    "helper-returns-its-argument": """\
        @torch.no_grad()
        def same(t):
            return t
        same(weight).sum().backward()
        """,
    "helper-rebound": """\
        @torch.no_grad()
        def predict(batch):
            return model(batch)
        predict = torch.compile(predict)
        predict(x).sum().backward()
        """,
    "helper-shadowed-by-argument": """\
        @torch.no_grad()
        def predict(batch):
            return model(batch)
        def train(predict, x):
            predict(x).sum().backward()
        """,
    "helper-generator": """\
        @torch.no_grad()
        def predict(batch):
            yield model(batch)
        next(predict(x)).sum().backward()
        """,
}


@pytest.mark.parametrize("snippet", NO_GRAD_FLAGGED.values(), ids=NO_GRAD_FLAGGED.keys())
def test_no_grad_around_loss_flags(snippet: str) -> None:
    lines, marked = flagged("no-grad-around-loss", snippet)
    assert marked and lines == marked
    assert flagged("no-grad-around-loss", snippet, "medium")[0] == []


@pytest.mark.parametrize("snippet", NO_GRAD_NEAR_MISSES.values(),
                         ids=NO_GRAD_NEAR_MISSES.keys())
def test_no_grad_around_loss_near_misses(snippet: str) -> None:
    assert flagged("no-grad-around-loss", snippet) == ([], [])
    assert flagged("no-grad-around-loss", snippet, "medium") == ([], [])


@pytest.mark.parametrize("snippet", HELPER_FLAGGED.values(), ids=HELPER_FLAGGED.keys())
def test_no_grad_helper_loss_flags(snippet: str) -> None:
    lines, marked = flagged("no-grad-around-loss", snippet, "medium")
    assert marked and lines == marked
    assert flagged("no-grad-around-loss", snippet)[0] == []


@pytest.mark.parametrize("snippet", HELPER_NEAR_MISSES.values(), ids=HELPER_NEAR_MISSES.keys())
def test_no_grad_helper_loss_near_misses(snippet: str) -> None:
    assert flagged("no-grad-around-loss", snippet, "medium") == ([], [])


def test_messages_say_what_and_what_to_do(tmp_path: Path) -> None:
    source = PRELUDE + textwrap.dedent(NO_GRAD_FLAGGED["derived-after-block"])
    result = checked(write(tmp_path / "loss.py", source), "no-grad-fn")
    assert len(result.findings) == 1
    message = result.findings[0].message
    assert "`loss`" in message and "block at line 4" in message
    assert message.count(". ") == 1  # what is wrong, then what to do
    source = PRELUDE + "w = torch.tensor([1, 2, 3], requires_grad=True)\n"
    result = checked(write(tmp_path / "weights.py", source), "non-float-requires-grad")
    message = result.findings[0].message
    assert "an int64 tensor" in message and "dtype=torch.float32" in message
    assert message.count(". ") == 1


def checked(path: str, entry_id: str | None = None) -> check.Result:
    """`gradexplain check --all` on one file, for one entry when given."""
    entries = knowledge.load(knowledge.search_dirs()).entries
    selected = frozenset({entry_id} if entry_id else ())
    return check.check_paths([path], entries, check.Options(show_all=True, select=selected))


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# Which case scripts the detectors claim: (entry, case) -> the detector's entry id, or None
# when the pattern is not claimed, with the reason.
CASES = {
    "non-float-requires-grad.case.py": True,
    "non-float-requires-grad.case-method.py": True,
    "non-float-requires-grad.case-parameter.py": True,
    # the image is the function's argument: what a caller passes is not known here
    "non-float-requires-grad.case-setter.py": False,
    # `.data = ...` of integer values: not a requires_grad request, and the array is an argument
    "non-float-requires-grad.case-set-data.py": False,
    "no-grad-fn.case-with-block.py": True,
    "no-grad-fn.case.py": True,  # medium: the decorated helper
    # the other causes of no-grad-fn are not grad mode: argmax, a missing create_graph,
    # frozen parameters, a trip through Python numbers
    "no-grad-fn.case-argmax.py": False,
    "no-grad-fn.case-create-graph.py": False,
    "no-grad-fn.case-frozen.py": False,
    "no-grad-fn.case-python-number.py": False,
}


def case_path(name: str) -> Path:
    family = "requires-grad" if name.startswith("non-float") else "backward"
    return KNOWLEDGE / family / name


@pytest.mark.parametrize("name", CASES, ids=CASES.keys())
def test_case_scripts(name: str) -> None:
    """Claimed cases are flagged on their `# expect:` line, the others not at all."""
    case = case_path(name)
    entry_id = name.split(".")[0]
    result = checked(str(case), entry_id)
    expected = [i for i, line in enumerate(case.read_text(encoding="utf-8").splitlines(), 1)
                if f"# expect: {entry_id}" in line]
    assert [f.line for f in result.findings] == (expected if CASES[name] else [])


@pytest.mark.parametrize("name, golden", [
    ("non-float-requires-grad.case.py", "non-float-requires-grad.case.fixed.py"),
    ("no-grad-fn.case-with-block.py", "no-grad-fn.case-with-block.fixed.py"),
    ("no-grad-fn.case.py", None),
])
def test_fixed_case_parses_matches_its_golden_and_runs(name: str, golden: str | None,
                                                        tmp_path: Path) -> None:
    case = case_path(name)
    result = checked(str(case), name.split(".")[0])
    assert result.findings and all(f.fix is not None for f in result.findings)
    fixed = check.fixed_sources(result, unsafe=True)[str(case)]
    ast.parse(fixed)
    again = checked(write(tmp_path / name, fixed))  # converged: nothing left to fix
    assert check.fixed_sources(again, unsafe=True) == {}
    if golden is not None:
        assert fixed == case_path(golden).read_text(encoding="utf-8")
    run = subprocess.run([sys.executable, str(tmp_path / name)], capture_output=True,
                         text=True, env=child_env(), timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_clean_scripts_have_no_findings() -> None:
    result = check.check_paths(sorted(str(p) for p in CLEAN.glob("*.py")),
                               knowledge.load(knowledge.search_dirs()).entries,
                               check.Options(show_all=True))
    assert result.findings == () and result.problems == ()
