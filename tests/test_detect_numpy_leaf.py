"""numpy-without-detach and leaf-update-outside-no-grad (`gradexplain check`).

Each buggy snippet is flagged on the line marked `# <- here`, with the confidence given, and
really raises its entry's error under torch; each near miss gives no finding and really runs
(or, for a slice of a leaf, raises another entry's error). The lists of operations the
detectors trust (in-place methods, operations that keep requires_grad) are checked against
torch too. The entries' case scripts are flagged where the detectors cover them, the fixes
re-parse and make the case scripts run, and the idiomatic scripts give no finding."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, ROOT, child_env, marked_line, matches_entry, run_in_torch

from gradexplain import check, knowledge
from gradexplain.detectors import Module, leaf_update, numpy_without_detach
from gradexplain.model import Entry

NUMPY = "numpy-requires-grad"
LEAF = "leaf-inplace"
CLEAN = ROOT / "tests" / "data" / "clean"


def snippet(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# id -> (entry, source, confidence, code run after the source to reach the bug at runtime)
BUGGY: dict[str, tuple[str, str, str, str]] = {
    "numpy-leaf-script": (NUMPY, snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        print(w.numpy())  # <- here
        """), "high", ""),
    "numpy-leaf-in-function-with-known-calls": (NUMPY, snippet("""
        import torch
        def as_array(t):
            return t.numpy()  # <- here
        weights = torch.randn(3, requires_grad=True)
        as_array(weights)
        """), "high", ""),
    "numpy-model-output-cpu": (NUMPY, snippet("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        x = torch.randn(2, 4)
        probs = model(x).softmax(dim=1).cpu().numpy()  # <- here
        """), "high", ""),
    "numpy-loss-in-loop": (NUMPY, snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        history = []
        for step in range(3):
            loss = ((model(torch.randn(8, 4)) - 1.0) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.numpy())  # <- here
        """), "high", ""),
    "numpy-function-with-known-calls": (NUMPY, snippet("""
        import torch
        from torch import nn
        def scores(net, inputs):
            return net(inputs).numpy()  # <- here
        model = nn.Linear(4, 2)
        print(scores(model, torch.randn(3, 4)))
        """), "high", ""),
    "numpy-parameter": (NUMPY, snippet("""
        import torch
        from torch import nn
        bias = nn.Parameter(torch.zeros(3))
        total = (bias * 2).sum().numpy()  # <- here
        """), "high", ""),
    "numpy-layer-weight": (NUMPY, snippet("""
        import torch
        from torch import nn
        layer = nn.Linear(3, 2)
        print(layer.weight.T.numpy())  # <- here
        """), "high", ""),
    "numpy-cpu-copy-in-gpu-ready-code": (NUMPY, snippet("""
        import torch
        from torch import nn
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = nn.Linear(4, 2).to(device)
        out = model(torch.randn(3, 4, device=device))
        print(out.cpu().numpy())  # <- here
        """), "high", ""),
    "numpy-function-never-called": (NUMPY, snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 2)
        def logits_of(inputs):
            return model(inputs).numpy()  # <- here
        """), "medium", "logits_of(torch.randn(1, 4))"),
    "numpy-method": (NUMPY, snippet("""
        import torch
        from torch import nn
        class Scorer:
            def __init__(self):
                self.net = nn.Linear(4, 1)
            def score(self, inputs):
                return self.net(inputs).squeeze(1).numpy()  # <- here
        """), "medium", "Scorer().score(torch.randn(2, 4))"),
    "numpy-own-module-class": (NUMPY, snippet("""
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 1)
            def forward(self, x):
                return torch.sigmoid(self.fc(x))
        net = Net()
        out = net(torch.randn(2, 4)).numpy()  # <- here
        """), "medium", ""),
    "leaf-manual-step-in-loop": (LEAF, snippet("""
        import torch
        x = torch.randn(16, 3)
        y = x.sum(dim=1, keepdim=True)
        w = torch.zeros(3, 1, requires_grad=True)
        for step in range(3):
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            w -= 0.1 * w.grad  # <- here
            w.grad = None
        """), "high", ""),
    "leaf-manual-step-in-function": (LEAF, snippet("""
        import torch
        def fit(x, y, steps=3):
            w = torch.zeros(3, requires_grad=True)
            for _ in range(steps):
                loss = ((x @ w - y) ** 2).mean()
                loss.backward()
                w.sub_(0.1 * w.grad)  # <- here
                w.grad.zero_()
            return w
        """), "high", "fit(torch.randn(8, 3), torch.randn(8))"),
    "leaf-layer-weight-init": (LEAF, snippet("""
        import torch
        from torch import nn
        layer = nn.Linear(3, 2)
        layer.weight.normal_(0.0, 0.01)  # <- here
        """), "high", ""),
    "leaf-conv-bias-zero": (LEAF, snippet("""
        import torch
        import torch.nn as nn
        conv = nn.Conv2d(1, 4, 3)
        conv.bias.zero_()  # <- here
        """), "high", ""),
    "leaf-parameter-in-init": (LEAF, snippet("""
        import torch
        from torch import nn
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.gain = nn.Parameter(torch.empty(4))
                self.gain.fill_(1.0)  # <- here
            def forward(self, x):
                return x * self.gain
        scale = Scale()
        """), "high", ""),
    "leaf-parameter-in-init-never-built": (LEAF, snippet("""
        import torch
        from torch import nn
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.gain = nn.Parameter(torch.empty(4))
                self.gain.fill_(1.0)  # <- here
        """), "medium", "Scale()"),
    "leaf-embedding-copy": (LEAF, snippet("""
        import torch
        from torch import nn
        pretrained = torch.randn(10, 4)
        emb = nn.Embedding(10, 4)
        emb.weight.copy_(pretrained)  # <- here
        """), "high", ""),
    "leaf-input-in-helper": (LEAF, snippet("""
        import torch
        def centre(v):
            v -= v.mean()  # <- here
            return v
        signal = torch.randn(5, requires_grad=True)
        centre(signal).pow(2).sum().backward()
        """), "high", ""),
    "leaf-requires-grad-method": (LEAF, snippet("""
        import torch
        w = torch.randn(3, 3).requires_grad_()
        w *= 0.01  # <- here
        """), "high", ""),
}
# which buggy snippets come with the no_grad fix: updates and initialisations, not a change
# that is part of the computation (`v -= v.mean()`, `w *= 0.01` on a plain tensor)
UNFIXED = {"leaf-input-in-helper", "leaf-requires-grad-method"}

# id -> source that is correct: no finding, and it runs
NEAR_MISSES: dict[str, str] = {
    "numpy-leaf-under-no-grad": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        with torch.no_grad():
            values = w.numpy()  # torch allows it: grad mode is off
        """),
    "numpy-detached-or-read": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        a = w.detach().numpy()
        b = w.data.numpy()
        c = w.numpy(force=True)
        d = (w * 2).sum().item()
        e = w.tolist()
        f = w.cpu().detach().numpy()
        """),
    "numpy-under-no-grad": snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 2)
        x = torch.randn(3, 4)
        with torch.no_grad():
            out = model(x)
            probs = out.softmax(dim=1)
        print(out.numpy(), probs.numpy())
        with torch.inference_mode():
            print(model(x).numpy())
        """),
    "numpy-function-run-without-grad": snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 2)
        @torch.no_grad()
        def predict(inputs):
            return model(inputs).numpy()
        def scores(net, inputs):
            return net(inputs).numpy()
        with torch.no_grad():
            print(scores(model, torch.randn(1, 4)))
        print(predict(torch.randn(1, 4)))
        """),
    "numpy-operations-without-grad": snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 3)
        out = model(torch.randn(5, 4))
        labels = out.argmax(dim=1).numpy()
        positive = (out > 0).numpy()
        rounded = out.long().numpy()
        plain = torch.randn(3).numpy()
        """),
    "numpy-frozen-model": snippet("""
        import torch
        from torch import nn
        backbone = nn.Linear(4, 2)
        backbone.requires_grad_(False)
        features = backbone(torch.randn(3, 4)).numpy()
        """),
    "numpy-frozen-parameters": snippet("""
        import torch
        from torch import nn
        backbone = nn.Sequential(nn.Linear(4, 2), nn.ReLU())
        for p in backbone.parameters():
            p.requires_grad = False
        features = backbone(torch.randn(3, 4)).numpy()
        """),
    "numpy-evaluation-and-plain-data": snippet("""
        import torch
        from torch import nn
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = nn.Linear(4, 2)
            def forward(self, x):
                return self.head(x)
            def validation_step(self, batch):
                return self.head(batch).numpy()
        def to_array(t):
            return t.numpy()
        model = Classifier()
        with torch.no_grad():
            model.validation_step(torch.randn(2, 4))
        to_array(torch.randn(2))
        """),
    "numpy-grad-mode-off-globally": snippet("""
        import torch
        from torch import nn
        torch.set_grad_enabled(False)
        model = nn.Linear(4, 2)
        print(model(torch.randn(1, 4)).numpy())
        """),
    "numpy-assigned-in-a-branch": snippet("""
        import random
        import torch
        from torch import nn
        model = nn.Linear(2, 2)
        out = torch.zeros(2)
        if random.random() > 2:
            out = model(torch.randn(2))
        print(out.numpy())
        """),
    "numpy-error-expected": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        try:
            values = w.numpy()
        except RuntimeError:
            values = w.detach().numpy()
        def to_array(t):
            return t.numpy()
        try:
            to_array(w)
        except Exception:
            pass
        """),
    "numpy-frozen-embedding": snippet("""
        import torch
        from torch import nn
        emb = nn.Embedding.from_pretrained(torch.randn(3, 2))
        print(emb(torch.tensor([0])).numpy())
        """),
    "leaf-under-no-grad-or-data": snippet("""
        import torch
        w = torch.zeros(3, requires_grad=True)
        (w * 2).sum().backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            w.add_(1.0)
        w.data -= 0.1 * w.grad
        w.data.zero_()
        w.grad.zero_()
        w.grad = None
        """),
    "leaf-init-and-optimizer": snippet("""
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        nn.init.xavier_uniform_(model[0].weight)
        nn.init.zeros_(model[0].bias)
        layer = nn.Linear(2, 2)
        nn.init.normal_(layer.weight, std=0.02)
        for p in model.parameters():
            p.data.mul_(0.5)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model(torch.randn(2, 3)).sum().backward()
        optimizer.step()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        """),
    "leaf-not-a-leaf-or-no-grad": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        u = w * 2
        u += 1
        c = w.clone()
        c.add_(1)
        z = torch.zeros(3)
        z += 1
        q = torch.zeros(3, requires_grad=False)
        q.mul_(2)
        frozen = torch.nn.Parameter(torch.zeros(3), requires_grad=False)
        frozen.add_(1)
        """),
    "leaf-function-run-without-grad": snippet("""
        import torch
        @torch.no_grad()
        def init_weights(w):
            w.uniform_(-0.1, 0.1)
        def reset(w):
            w.zero_()
        weights = torch.empty(4, requires_grad=True)
        init_weights(weights)
        with torch.no_grad():
            reset(weights)
        """),
    "leaf-replaced-or-unknown-flag": snippet("""
        import torch
        from torch import nn
        layer = nn.Linear(3, 2)
        layer.weight = nn.Parameter(torch.ones(2, 3), requires_grad=False)
        layer.weight.zero_()
        trainable = False
        p = nn.Parameter(torch.zeros(3), requires_grad=trainable)
        p.add_(1)
        """),
    "leaf-detached-in-place": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        w.detach_()
        w.add_(1)
        print(w.numpy())
        """),
    "leaf-switched-off": snippet("""
        import torch
        w = torch.randn(3, requires_grad=True)
        w.requires_grad_(False)
        w.add_(1)
        """),
}
# a slice of a leaf raises view-inplace's message, which leaf-inplace's patterns exclude
VIEW_OF_LEAF = snippet("""
    import torch
    w = torch.zeros(3, requires_grad=True)
    w[0] = 1.0
    """)

# arguments that make each in-place method run on a 2x2 float leaf
INPLACE_ARGUMENTS = {
    "add_": "1.0", "sub_": "1.0", "mul_": "2.0", "div_": "2.0", "pow_": "2", "neg_": "",
    "zero_": "", "fill_": "1.0", "copy_": "torch.ones(2, 2)", "uniform_": "", "normal_": "",
    "clamp_": "0.0, 1.0", "clamp_min_": "0.0", "clamp_max_": "1.0", "abs_": "", "exp_": "",
    "log_": "", "sqrt_": "", "sign_": "", "relu_": "", "sigmoid_": "", "tanh_": "",
    "addcmul_": "torch.ones(2, 2), torch.ones(2, 2)",
    "addcdiv_": "torch.ones(2, 2), torch.ones(2, 2)", "lerp_": "torch.ones(2, 2), 0.5",
    "masked_fill_": "torch.ones(2, 2, dtype=torch.bool), 0.0",
    "index_fill_": "0, torch.tensor([0]), 0.0",
    "index_add_": "0, torch.tensor([0]), torch.ones(1, 2)",
    "scatter_": "0, torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2)",
    "bernoulli_": "", "exponential_": "", "random_": "",
    "round_": "", "floor_": "", "ceil_": "", "reciprocal_": "",
}
# arguments that make each trusted operation run on a 2x2 float leaf `x`
KEEPING_ARGUMENTS = {
    "sum": "", "mean": "", "softmax": "0", "log_softmax": "0", "sigmoid": "", "tanh": "",
    "relu": "", "exp": "", "log": "", "abs": "", "sqrt": "", "pow": "2", "cpu": "",
    "float": "", "double": "", "half": "", "squeeze": "", "unsqueeze": "0", "view": "-1",
    "reshape": "-1", "flatten": "", "t": "", "transpose": "0, 1", "permute": "1, 0",
    "clone": "", "contiguous": "", "clamp": "0.0, 1.0", "norm": "", "std": "", "var": "",
    "cumsum": "0", "matmul": "x", "mm": "x", "neg": "", "square": "", "sin": "", "cos": "",
    "mul": "2.0", "add": "1.0", "sub": "1.0", "div": "2.0", "expand": "2, 2",
    "expand_as": "x", "repeat": "1, 1", "view_as": "x", "reshape_as": "x", "log1p": "",
    "expm1": "", "prod": "", "logsumexp": "0", "gelu": "", "normalize": "", "silu": "",
    "leaky_relu": "",
}

# what the runtime harness runs: each snippet in a fresh namespace, then the trusted lists
HARNESS = r'''
import io, json, sys, torch
import torch.nn.functional as F
job = json.load(sys.stdin)
report, sys.stdout = sys.stdout, io.StringIO()  # what the snippets print
out = {"snippets": {}, "inplace": {}, "keeping": {}}
for name, source in job["snippets"].items():
    torch.set_grad_enabled(True)  # a snippet may have turned it off
    try:
        exec(compile(source, name, "exec"), {"__name__": "__main__"})
        out["snippets"][name] = "ok"
    except Exception as error:
        out["snippets"][name] = f"{type(error).__name__}: {error}"
def leaf():
    return (torch.rand(2, 2) + 0.5).requires_grad_()
for statement in job["inplace"]:
    try:
        w = leaf()
        exec(statement, {"torch": torch, "w": w})
        out["inplace"][statement] = "ok"
    except Exception as error:
        out["inplace"][statement] = f"{type(error).__name__}: {error}"
x = leaf()
for name, args in job["keeping"].items():
    for owner in ("x", "torch", "F"):
        given = args if owner == "x" else ", ".join(a for a in ("x", args) if a)
        call = f"{owner}.{name}({given})"
        try:
            kept = eval(call, {"torch": torch, "F": F, "x": x}).requires_grad
        except (AttributeError, TypeError):
            continue
        out["keeping"].setdefault(name, {})[owner] = kept
json.dump(out, report)
'''


def entries() -> tuple[Entry, ...]:
    """The two entries these detectors serve (others' findings and fixes left out)."""
    return tuple(e for e in knowledge.load(knowledge.search_dirs()).entries
                 if e.id in (NUMPY, LEAF))


def entry(entry_id: str) -> Entry:
    return next(e for e in entries() if e.id == entry_id)


def findings(source: str, show_all: bool = True) -> list[check.Finding]:
    detecting = [(e, d) for e in entries() for d in e.detects
                 if show_all or d.confidence == "high"]
    return check.check_module(Module("snippet.py", source, ast.parse(source)), detecting)


@pytest.fixture(scope="module")
def runtime() -> dict[str, dict[str, object]]:
    """One torch process: every snippet run, and the trusted operations tried."""
    inplace = [f"w.{m}({a})" for m, a in INPLACE_ARGUMENTS.items()]
    inplace += [f"w {op} 2.0" for op in ("+=", "-=", "*=", "/=", "**=")]
    job = {"snippets": {**{k: v[1] + v[3] for k, v in BUGGY.items()}, **NEAR_MISSES,
                        "view-of-leaf": VIEW_OF_LEAF},
           "inplace": inplace, "keeping": KEEPING_ARGUMENTS}
    return run_in_torch(HARNESS, job)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_is_flagged_on_its_line(name: str) -> None:
    entry_id, source, confidence, _ = BUGGY[name]
    found = [(f.id, f.line, f.confidence) for f in findings(source)]
    assert found == [(entry_id, marked_line(source), confidence)]
    shown_by_default = findings(source, show_all=False)
    assert len(shown_by_default) == (1 if confidence == "high" else 0)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_raises_the_entrys_error(name: str,
                                               runtime: dict[str, dict[str, object]]) -> None:
    message = str(runtime["snippets"][name])
    assert message.startswith("RuntimeError: ") and matches_entry(message, entry(BUGGY[name][0])), (
        message)


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_is_silent_and_runs(name: str, runtime: dict[str, dict[str, object]]) -> None:
    assert findings(NEAR_MISSES[name]) == []
    assert runtime["snippets"][name] == "ok"


def test_gpu_ready_code_is_flagged_only_after_cpu() -> None:
    """Where a tensor may be on a GPU, `t.numpy()` fails on the device first
    (numpy-cuda-tensor's error); only `t.cpu().numpy()` certainly fails on requires_grad."""
    source = snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 2)
        if torch.cuda.is_available():
            model.cuda()
        out = model(torch.randn(3, 4))
        print(out.numpy())
        print(out.cpu().numpy())  # <- here
        """)
    assert [f.line for f in findings(source)] == [marked_line(source)]


def test_slice_of_a_leaf_is_left_to_view_inplace(runtime: dict[str, dict[str, object]]) -> None:
    """`w[0] = 1.0` fails, but with view-inplace's message: leaf-inplace must not claim it."""
    message = str(runtime["snippets"]["view-of-leaf"])
    assert findings(VIEW_OF_LEAF) == []
    assert "a view of a leaf Variable" in message and not matches_entry(message, entry(LEAF))


def test_every_inplace_method_trusted_raises_on_a_leaf(
        runtime: dict[str, dict[str, object]]) -> None:
    assert set(INPLACE_ARGUMENTS) == leaf_update.INPLACE_METHODS
    assert set(leaf_update.INPLACE_OPERATORS.values()) == {"+=", "-=", "*=", "/=", "**="}
    wrong = {k: v for k, v in runtime["inplace"].items()
             if not (isinstance(v, str) and v.startswith("RuntimeError: ")
                     and matches_entry(v, entry(LEAF)))}
    assert not wrong


def test_every_operation_trusted_keeps_requires_grad(
        runtime: dict[str, dict[str, object]]) -> None:
    trusted = numpy_without_detach.KEEPING_METHODS | numpy_without_detach.KEEPING_FUNCTIONS
    assert set(KEEPING_ARGUMENTS) == trusted
    kept = runtime["keeping"]
    for name in numpy_without_detach.KEEPING_METHODS:
        assert kept[name]["x"] is True, name  # type: ignore[index]
    for name in numpy_without_detach.KEEPING_FUNCTIONS:
        owners = kept[name]
        assert isinstance(owners, dict) and set(owners) & {"torch", "F"}, name
        assert all(owners[o] is True for o in owners if o != "x"), name


@pytest.mark.parametrize("name", sorted(set(BUGGY) - UNFIXED))
def test_fix_reparses_and_converges(name: str, tmp_path: Path) -> None:
    _, source, _, _ = BUGGY[name]
    path = tmp_path / "snippet.py"
    path.write_text(source, encoding="utf-8")
    result = check.check_paths([str(path)], entries(), check.Options(show_all=True))
    assert [f.fix is not None for f in result.findings] == [True]
    fixed = check.fixed_sources(result, unsafe=False)[str(path)]
    ast.parse(fixed)
    assert findings(fixed) == []


@pytest.mark.parametrize("name", sorted(UNFIXED))
def test_no_fix_for_a_change_that_may_be_computation(name: str) -> None:
    assert [f.fix for f in findings(BUGGY[name][1])] == [None]


# case script -> confidence of its finding, on its `# expect:` line
COVERED = {
    "inplace/leaf-inplace.case.py": "high",
    "inplace/leaf-inplace.case-input.py": "high",
    "inplace/leaf-inplace.case-load-weights.py": "high",
    "requires-grad/numpy-requires-grad.case.py": "high",
}
NOT_COVERED = {
    # the change is inside a custom Function's forward (mark_dirty), reached by .apply(bias)
    "inplace/leaf-inplace.case-custom-function.py",
    # `w` is an input of a function given to torch.func.grad: only the transform tracks it
    "requires-grad/numpy-requires-grad.case-func-transform.py",
    # np.asarray(tensor) converts implicitly; the detector looks for .numpy() calls
    "requires-grad/numpy-requires-grad.case-np-function.py",
}


def test_every_case_script_is_listed() -> None:
    cases = {str(p.relative_to(KNOWLEDGE)) for p in KNOWLEDGE.rglob("*.case*.py")
             if p.name.split(".")[0] in (NUMPY, LEAF) and not p.name.endswith(".fixed.py")}
    assert cases == set(COVERED) | NOT_COVERED


@pytest.mark.parametrize("case", sorted(COVERED))
def test_case_script_is_flagged_on_its_expect_line(case: str) -> None:
    path = KNOWLEDGE / case
    source = path.read_text(encoding="utf-8")
    expect = [i for i, line in enumerate(source.splitlines(), 1) if "# expect:" in line]
    entry_id = path.name.split(".")[0]
    assert [(f.id, f.line, f.confidence) for f in findings(source)] == [
        (entry_id, expect[0], COVERED[case])]


@pytest.mark.parametrize("case", sorted(NOT_COVERED))
def test_case_script_not_claimed(case: str) -> None:
    assert findings((KNOWLEDGE / case).read_text(encoding="utf-8")) == []


FIXED_CASES = [c for c in sorted(COVERED) if (KNOWLEDGE / c.replace(".py", ".fixed.py")).exists()]


@pytest.mark.parametrize("case", FIXED_CASES)
def test_case_fix_gives_the_golden_and_runs(case: str, tmp_path: Path) -> None:
    """--fix on the case gives the hand-checked `.fixed.py`, which runs without the error."""
    path = KNOWLEDGE / case
    result = check.check_paths([str(path)], entries(), check.Options(show_all=True))
    fixed = check.fixed_sources(result, unsafe=False)[str(path)]
    ast.parse(fixed)
    assert fixed == path.with_name(path.name.replace(".py", ".fixed.py")).read_text(
        encoding="utf-8")
    script = tmp_path / path.name
    script.write_text(fixed, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=child_env(), timeout=300)
    assert done.returncode == 0, done.stderr


def test_idiomatic_scripts_give_no_finding() -> None:
    everything = knowledge.load(knowledge.search_dirs()).entries
    result = check.check_paths(sorted(str(p) for p in CLEAN.glob("*.py")), everything,
                               check.Options(show_all=True))
    assert len(result.sources) >= 5
    assert [f for f in result.findings if f.id in (NUMPY, LEAF)] == []


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_message_is_filled_and_says_what_to_do(name: str) -> None:
    entry_id, source, _, _ = BUGGY[name]
    (finding,) = findings(source)
    advice = ".detach().numpy()" if entry_id == NUMPY else "with torch.no_grad():"
    assert "{" not in finding.message and advice in finding.message
    assert finding.message.count(". ") == 1  # what is wrong; what to do
