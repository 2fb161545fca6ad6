"""inplace-on-saved-output (`gradexplain check`).

Each buggy snippet is flagged on the line marked `# <- here`, with the confidence given, and
really raises inplace-modified-saved's error under torch; each near miss gives no finding and
really runs. The operations the detector trusts to save their output, and the in-place forms
it trusts to change a tensor, are each checked against torch: changing the output of every
such operation with every such form makes backward() raise the entry's error."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import marked_line, matches_entry, run_in_torch
from test_detect_numpy_leaf import INPLACE_ARGUMENTS, snippet

from gradexplain import check, knowledge
from gradexplain.detectors import Module, leaf_update, saved_output
from gradexplain.model import Entry

ENTRY = "inplace-modified-saved"
# the seeded case's shape: an in-place ReLU applied to what sigmoid saved
GATE = snippet("""
    import torch
    from torch import nn
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU(inplace=True)
        def forward(self, x):
            gate = torch.sigmoid(self.fc(x))
            return self.act(gate)  # <- here
    """)
# id -> (source, confidence, code run after the source to reach the bug at runtime)
BUGGY: dict[str, tuple[str, str, str]] = {
    "sigmoid-augmented-at-module-level": (snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        y += 1  # <- here
        loss = y.sum()
        loss.backward()
        """), "high", ""),
    "softmax-masked-fill-then-loss-function": (snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        head = nn.Linear(6, 3)
        probs = F.softmax(head(torch.randn(5, 6)), dim=1)
        probs.masked_fill_(probs < 0.2, 0.0)  # <- here
        loss = F.mse_loss(probs, torch.full((5, 3), 1 / 3))
        loss.backward()
        """), "high", ""),
    "exp-index-assignment": (snippet("""
        import torch
        w = torch.zeros(5, requires_grad=True)
        weights = w.exp()
        weights[0] = 0.0  # <- here
        (weights / weights.sum()).pow(2).mean().backward()
        """), "high", ""),
    "loss-computed-before-the-change": (snippet("""
        import torch
        from torch import nn
        layer = nn.Linear(3, 3)
        h = torch.tanh(layer(torch.randn(2, 3)))
        loss = h.pow(2).mean()
        h.mul_(0.5)  # <- here
        loss.backward()
        """), "high", ""),
    "inplace-activation-after-tanh": (snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        encoder = nn.Linear(4, 4)
        h = torch.tanh(encoder(torch.randn(3, 4)))
        h = F.relu(h, inplace=True)  # <- here
        h.sum().backward()
        """), "high", ""),
    "change-under-no-grad-still-counts": (snippet("""
        import torch
        from torch import nn
        layer = nn.Linear(4, 2)
        p = layer(torch.randn(3, 4)).sigmoid()
        with torch.no_grad():
            p.clamp_(0.05, 0.95)  # <- here
        nn.BCELoss()(p, torch.ones(3, 2)).backward()
        """), "high", ""),
    "label-smoothing-in-a-training-loop": (snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        model = nn.Linear(8, 4)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(3):
            logp = F.log_softmax(model(torch.randn(16, 8)), dim=1)
            logp *= 0.9  # <- here
            loss = F.nll_loss(logp, torch.randint(0, 4, (16,)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        """), "high", ""),
    "norm-epsilon-added-in-place": (snippet("""
        import torch
        w = torch.randn(4, requires_grad=True)
        norm = w.pow(2).sum().sqrt()
        norm += 1e-8  # <- here
        (w / norm).sum().backward()
        """), "high", ""),
    "function-with-known-calls": (snippet("""
        import torch
        from torch import nn
        def train_step(net, inputs):
            scores = torch.softmax(net(inputs), dim=1)
            scores[:, 0] = 0.0  # <- here
            loss = scores.sum()
            loss.backward()
        train_step(nn.Linear(4, 3), torch.randn(2, 4))
        """), "high", ""),
    "function-returning-into-a-backward": (snippet("""
        import torch
        def gate(h):
            g = h.sigmoid()
            g.mul_(2.0)  # <- here
            return g
        w = torch.randn(3, requires_grad=True)
        out = gate(w)
        out.sum().backward()
        """), "high", ""),
    "forward-with-inplace-relu-module": (GATE + snippet("""
        model = Gate()
        model(torch.randn(2, 4)).sum().backward()
        """), "high", ""),
    "forward-trained-in-a-function": (snippet("""
        import torch
        from torch import nn
        class Scorer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 1)
                self.squash = nn.Sigmoid()
            def forward(self, x, mask):
                score = self.squash(self.fc(x))
                score *= mask  # <- here
                return score
        model = Scorer()
        criterion = nn.BCELoss()
        def train(batches):
            for x, mask in batches:
                loss = criterion(model(x, mask), torch.ones(x.shape[0], 1))
                loss.backward()
        train([(torch.randn(3, 4), torch.ones(3, 1))])
        """), "high", ""),
    "residual-added-to-relu-output-in-forward": (snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        class Block(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.conv = nn.Conv2d(width, width, 3, padding=1)
                self.bn = nn.BatchNorm2d(width)
            def forward(self, x):
                out = F.relu(self.bn(self.conv(x)))
                out += x  # <- here
                return out
        """), "medium",
        "nn.Sequential(Block(2))(torch.randn(1, 2, 4, 4)).sum().backward()"),
    "backward-in-a-method": (snippet("""
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.net = nn.Linear(4, 2)
            def step(self, x):
                p = self.net(x).softmax(dim=1)
                p[:, 0] = 0.0  # <- here
                p.mean().backward()
        """), "medium", "Trainer().step(torch.randn(3, 4))"),
}

# id -> source that is correct: no finding, and it runs
NEAR_MISSES: dict[str, str] = {
    "saved-under-no-grad": snippet("""
        import torch
        from torch import nn
        model = nn.Linear(4, 3)
        with torch.no_grad():
            probs = torch.softmax(model(torch.randn(2, 4)), dim=1)
            probs[probs < 0.1] = 0.0
        model(torch.randn(2, 4)).sum().backward()
        """),
    "changed-copy": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x).clone()
        y += 1
        z = torch.tanh(x)
        z = z.clone()
        z[0] = 0.0
        (y.sum() + z.sum()).backward()
        """),
    "out-of-place": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.exp(x)
        y = y + 1
        y = y.mul(2)
        y.sum().backward()
        """),
    "input-needs-no-grad": snippet("""
        import torch
        from torch import nn
        data = torch.randn(8, 3)
        weights = torch.softmax(data, dim=1)
        weights[:, 0] = 0.0
        scale = data.exp()
        scale += 1
        model = nn.Linear(3, 1)
        loss = (model(data * weights) * scale.mean()).mean()
        loss.backward()
        """),
    "operations-that-save-their-input": snippet("""
        import torch
        import torch.nn.functional as F
        x = torch.randn(4, requires_grad=True)
        a = x * 2
        a += 1
        b = x.pow(2)
        b += 1
        c = F.gelu(x)
        c.mul_(2)
        d = F.leaky_relu(x)
        d[0] = 0.0
        e = F.relu6(x)
        e += 1
        (a.sum() + b.sum() + c.sum() + d.sum() + e.sum()).backward()
        """),
    "change-after-the-backward": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        loss = y.sum()
        loss.backward()
        y += 1
        """),
    "rebound-before-the-change": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.relu(x)
        y = y * 2
        y += 1
        y.sum().backward()
        """),
    "change-in-a-branch-or-loop": snippet("""
        import random
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        if random.random() > 2:
            y += 1
        for _ in range(0):
            y.mul_(2)
        y.sum().backward()
        """),
    "inplace-relu-after-linear-or-batch-norm": snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.bn = nn.BatchNorm1d(4)
                self.act = nn.ReLU(inplace=True)
            def forward(self, x):
                h = self.act(self.fc(x))
                h = self.bn(h)
                h = F.relu(h, inplace=True)
                return h
        model = Net()
        model(torch.randn(3, 4)).sum().backward()
        """),
    "resnet-order-adds-before-the-relu": snippet("""
        import torch
        import torch.nn.functional as F
        from torch import nn
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 2, 3, padding=1)
                self.bn = nn.BatchNorm2d(2)
            def forward(self, x):
                out = self.bn(self.conv(x))
                out += x
                out = F.relu(out)
                return out
        block = Block()
        block(torch.randn(1, 2, 4, 4)).sum().backward()
        """),
    "backward-not-through-the-output": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        y += 1
        loss = (x * y.detach()).sum() + y.sum().item()
        loss.backward()
        """),
    "graph-freed-by-an-earlier-backward": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.tanh(x)
        y.sum().backward(retain_graph=True)
        y += 1
        """),
    "error-expected": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        y += 1
        try:
            y.sum().backward()
        except RuntimeError:
            pass
        """),
    "saved-tensors-hidden": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        with torch.autograd.graph.allow_mutation_on_saved_tensors():
            y = torch.sigmoid(x)
            y += 1
            y.sum().backward()
        """),
    "returned-but-never-back-propagated": snippet("""
        import torch
        def gate(h):
            g = h.sigmoid()
            g.mul_(2.0)
            return g
        w = torch.randn(3, requires_grad=True)
        print(gate(w).detach())
        """),
    "function-run-without-grad": snippet("""
        import torch
        @torch.no_grad()
        def gate(h):
            g = h.sigmoid()
            g.mul_(2.0)
            return g
        w = torch.randn(3, requires_grad=True)
        out = gate(w) * w
        out.sum().backward()
        """),
    "early-return-before-the-backward": snippet("""
        import torch
        def step(w, dry_run):
            y = torch.exp(w)
            y += 1
            if dry_run:
                return
            y.sum().backward()
        step(torch.randn(3, requires_grad=True), True)
        """),
    "subclass-replaces-the-inplace-layer": GATE + snippet("""
        class SafeGate(Gate):
            def __init__(self):
                super().__init__()
                self.act = nn.ReLU()
        model = SafeGate()
        model(torch.randn(2, 4)).sum().backward()
        """),
    "module-used-for-inference-only": snippet("""
        import torch
        from torch import nn
        class Thresholded(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                p = torch.sigmoid(self.fc(x))
                p[p < 0.5] = 0.0
                return p
        model = Thresholded()
        with torch.no_grad():
            print(model(torch.randn(2, 4)))
        """),
    "checkpointed-forward": snippet("""
        import torch
        from torch import nn
        from torch.utils.checkpoint import checkpoint
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                h = torch.tanh(self.fc(x))
                h += 1
                return h
        block = Block()
        checkpoint(block, torch.randn(2, 4), use_reentrant=False).sum().backward()
        """),
    "rebound-by-with-as": snippet("""
        import contextlib
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        with contextlib.nullcontext(y.clone()) as y:
            pass
        y += 1
        y.sum().backward()
        """),
    "rebound-by-a-function-declaring-it-global": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        def fresh():
            global y
            y = y.clone()
        fresh()
        y[0] = 0.0
        y.sum().backward()
        """),
    "rebound-by-a-nested-function-declaring-it-nonlocal": snippet("""
        import torch
        def step(x):
            y = torch.exp(x)
            def fresh():
                nonlocal y
                y = y.clone()
            fresh()
            y += 1
            y.sum().backward()
        step(torch.randn(4, requires_grad=True))
        """),
    "rebound-through-globals": snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.tanh(x)
        globals()["y"] = y.clone()
        y.mul_(2)
        y.sum().backward()
        """),
    "functional-name-is-a-class-of-the-file": snippet("""
        import torch
        class F:
            @staticmethod
            def relu(v):
                return v.clone()
        x = torch.randn(4, requires_grad=True)
        y = F.relu(x)
        y += 1
        y.sum().backward()
        """),
    "functional-name-is-a-parameter": snippet("""
        import torch
        import torch.nn.functional as F
        class Clipped:
            @staticmethod
            def relu(v):
                return v.clamp(min=0)
        def step(x, F=F):
            y = F.relu(x)
            y += 1
            y.sum().backward()
        step(torch.randn(4, requires_grad=True), Clipped)
        """),
}
# snippets that fail first with another error, which the detector leaves to its entry
OTHER_ERRORS: dict[str, tuple[str, str]] = {
    "non-scalar-root": (snippet("""
        import torch
        import torch.nn.functional as F
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        y += 1
        per_sample = F.mse_loss(y, torch.zeros(4), reduction="none")
        per_sample.backward()
        """), "grad can be implicitly created only for scalar outputs"),
    "root-computed-under-no-grad": (snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.exp(x)
        y += 1
        with torch.no_grad():
            loss = y.sum()
        loss.backward()
        """), "does not require grad and does not have a grad_fn"),
    "softmax-method-without-dim": (snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = x.softmax()
        y += 1
        y.sum().backward()
        """), "TypeError: softmax() missing 1 required positional argument"),
}


# how each trusted saving operation is called on a 2x2 leaf `x`
SAVING_CALLS = [f"x.{m}({'1' if 'softmax' in m else ''})" for m in
                sorted(saved_output.SAVING_METHODS)]
SAVING_CALLS += [f"torch.{f}(x{', 1' if 'softmax' in f else ''})" for f in
                 sorted(saved_output.SAVING_TORCH_FUNCTIONS)]
SAVING_CALLS += [f"F.{f}(x{', 1' if 'soft' in f else ''})" for f in
                 sorted(saved_output.SAVING_FUNCTIONAL)]
SAVING_CALLS += [f"nn.{m}({'dim=1' if 'Soft' in m else ''})(x)" for m in
                 sorted(saved_output.SAVING_MODULES)]
# each trusted in-place form, changing `y`
CHANGES = [f"y.{m}({a})" for m, a in INPLACE_ARGUMENTS.items()]
CHANGES += [f"y {op} 2.0" for op in leaf_update.INPLACE_OPERATORS.values()]
CHANGES += ["y[0] = 0.0", "y[y > 0.5] = 0.0", "y[0] += 1.0"]
CHANGES += [f"torch.{f}(y)" for f in sorted(saved_output.INPLACE_TORCH_FUNCTIONS)]
CHANGES += [f"F.{f}(y)" for f in sorted(saved_output.INPLACE_FUNCTIONAL)]
CHANGES += [f"F.{f}(y, inplace=True)" for f in sorted(saved_output.INPLACE_ACTIVATIONS)]
CHANGES += [f"nn.{m}(inplace=True)(y)" for m in sorted(saved_output.INPLACE_MODULES)]
CHANGES += ["nn.ReLU(True)(y)"]

# a trusted operation and a trusted change, as the detector sees them
PAIR = snippet("""
    import torch
    import torch.nn.functional as F
    from torch import nn
    x = torch.rand(2, 2, requires_grad=True)
    y = {operation}
    {change}
    y.sum().backward()
    """)
ADVICE_RE = re.compile(r"Keep the saved output intact: (?P<verb>write|run|call|create) "
                       r"(?:the nn\.\w+ with )?`(?P<code>[^`]+)`")


def advised(change: str) -> str:
    """What the finding on `change` says to run instead of it."""
    (finding,) = findings(PAIR.format(operation="torch.sigmoid(x)", change=change))
    match = ADVICE_RE.search(finding.message)
    assert match is not None, finding.message
    verb, code = match["verb"], match["code"]
    if verb == "run":
        return f"{code}\n{change}"
    if verb == "create":
        return "y = " + change.replace("inplace=True", code).replace("(True)", "(False)")
    return code if verb == "write" else f"y = {code}"


def complete_advice() -> set[str]:
    """The advice on every trusted change, but for the few cut short in the message."""
    advice = {advised(change) for change in CHANGES}
    complete = {a for a in advice if "..." not in a}
    assert len(complete) >= len(advice) - 3
    return complete


# what the runtime harness runs: each snippet in a fresh namespace, then every trusted
# operation with one change, every trusted change after one operation, and the advice
HARNESS = r'''
import io, json, sys, torch
import torch.nn.functional as F
from torch import nn
job = json.load(sys.stdin)
report, sys.stdout = sys.stdout, io.StringIO()  # what the snippets print
out = {"snippets": {}, "saving": {}, "changes": {}, "advice": {}}
def outcome(run):
    try:
        run()
        return "ok"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
for name, source in job["snippets"].items():
    torch.set_grad_enabled(True)
    out["snippets"][name] = outcome(
        lambda: exec(compile(source, name, "exec"), {"__name__": "__main__"}))
def change_then_backward(operation, change):
    names = {"torch": torch, "F": F, "nn": nn, "x": (torch.rand(2, 2) + 0.5).requires_grad_()}
    names["y"] = eval(operation, names)
    exec(change, names)
    names["y"].sum().backward()
for operation in job["saving"]:
    out["saving"][operation] = outcome(lambda: change_then_backward(operation, "y.add_(1.0)"))
for key in ("changes", "advice"):
    for change in job[key]:
        out[key][change] = outcome(lambda: change_then_backward("torch.sigmoid(x)", change))
json.dump(out, report)
'''


def entry() -> Entry:
    return next(e for e in knowledge.load(knowledge.search_dirs()).entries if e.id == ENTRY)


def findings(source: str, show_all: bool = True) -> list[check.Finding]:
    found = entry()
    detecting = [(found, d) for d in found.detects if show_all or d.confidence == "high"]
    return check.check_module(Module("snippet.py", source, ast.parse(source)), detecting)


def raises_the_entrys_error(outcome: object) -> bool:
    return isinstance(outcome, str) and outcome.startswith("RuntimeError: ") and (
        matches_entry(outcome, entry()))


@pytest.fixture(scope="module")
def runtime() -> dict[str, dict[str, object]]:
    """One torch process: every snippet run, and the trusted operations and changes tried."""
    job = {"snippets": {**{k: v[0] + v[2] for k, v in BUGGY.items()}, **NEAR_MISSES,
                        **{k: v[0] for k, v in OTHER_ERRORS.items()}},
           "saving": SAVING_CALLS, "changes": CHANGES,
           "advice": sorted(complete_advice())}
    return run_in_torch(HARNESS, job)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_is_flagged_on_its_line(name: str) -> None:
    source, confidence, _ = BUGGY[name]
    found = [(f.id, f.line, f.confidence) for f in findings(source)]
    assert found == [(ENTRY, marked_line(source), confidence)]
    shown_by_default = findings(source, show_all=False)
    assert len(shown_by_default) == (1 if confidence == "high" else 0)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_raises_the_entrys_error(name: str,
                                               runtime: dict[str, dict[str, object]]) -> None:
    outcome = runtime["snippets"][name]
    assert raises_the_entrys_error(outcome), outcome


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_is_silent_and_runs(name: str, runtime: dict[str, dict[str, object]]) -> None:
    assert findings(NEAR_MISSES[name]) == []
    assert runtime["snippets"][name] == "ok"


def test_every_saving_operation_trusted_raises(runtime: dict[str, dict[str, object]]) -> None:
    assert len(runtime["saving"]) == len(SAVING_CALLS)
    wrong = {k: v for k, v in runtime["saving"].items() if not raises_the_entrys_error(v)}
    assert not wrong


def test_every_inplace_change_trusted_raises(runtime: dict[str, dict[str, object]]) -> None:
    assert set(INPLACE_ARGUMENTS) == leaf_update.INPLACE_METHODS
    wrong = {k: v for k, v in runtime["changes"].items() if not raises_the_entrys_error(v)}
    assert not wrong


@pytest.mark.parametrize("operation", SAVING_CALLS)
def test_every_saving_operation_trusted_is_recognised(operation: str) -> None:
    source = PAIR.format(operation=operation, change="y.add_(1.0)")
    assert [(f.line, f.confidence) for f in findings(source)] == [(6, "high")]


@pytest.mark.parametrize("change", CHANGES)
def test_every_inplace_change_trusted_is_recognised(change: str) -> None:
    source = PAIR.format(operation="torch.sigmoid(x)", change=change)
    assert [(f.line, f.confidence) for f in findings(source)] == [(6, "high")]


def test_the_advice_on_every_change_keeps_the_saved_output(
        runtime: dict[str, dict[str, object]]) -> None:
    """Run instead of the change, what the message advises lets backward() run."""
    assert set(runtime["advice"]) == complete_advice()
    assert {k: v for k, v in runtime["advice"].items() if v != "ok"} == {}


@pytest.mark.parametrize("name", sorted(OTHER_ERRORS))
def test_another_error_first_is_left_to_its_entry(
        name: str, runtime: dict[str, dict[str, object]]) -> None:
    source, error = OTHER_ERRORS[name]
    assert findings(source) == []
    assert error in str(runtime["snippets"][name])


def test_only_the_first_change_of_a_saved_output_is_flagged() -> None:
    source = snippet("""
        import torch
        x = torch.randn(4, requires_grad=True)
        y = torch.sigmoid(x)
        y.mul_(2)  # <- here
        y.add_(1)
        y += 1
        y.sum().backward()
        """)
    assert [f.line for f in findings(source)] == [marked_line(source)]


def test_a_variable_named_checkpoint_hides_nothing() -> None:
    """A loaded training state is no activation checkpointing."""
    source = BUGGY["sigmoid-augmented-at-module-level"][0] + snippet("""
        checkpoint = {"step": 1}
        """)
    assert [f.line for f in findings(source)] == [marked_line(source)]


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_message_is_filled_and_says_what_to_do(name: str) -> None:
    (finding,) = findings(BUGGY[name][0])
    assert "{" not in finding.message
    assert "modified by an inplace operation" in finding.message
    assert "Keep the saved output intact: " in finding.message
