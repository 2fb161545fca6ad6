"""The code finders name the statement that caused the error, wherever it is.

Each scenario is a small project written to a temporary folder. `# <- fails` marks the
statement in the traceback; `# <- cause` marks every line the finder must report (and no
other). The cause sits in the same function, in a helper, or in another module; the
near-misses hold look-alike code that is not on the path and must produce nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradexplain.codeflow import FINDERS, find

FAILS, CAUSE = "# <- fails", "# <- cause"

SCENARIOS: list[tuple[str, str, dict[str, str], dict[str, object]]] = [
    # ---- no-grad-fn: grad mode off on the path ------------------------------------------
    ("no-grad block, same function", "no-grad-block", {"train.py": """
        import torch
        def step(model, x, y):
            with torch.no_grad():  # <- cause
                pred = model(x)  # <- cause
            loss = ((pred - y) ** 2).mean()
            loss.backward()  # <- fails
        """}, {}),
    ("decorated helper", "no-grad-block", {"train.py": """
        import torch
        @torch.inference_mode()  # <- cause
        def predict(model, x):
            return model(x)  # <- cause
        for x, y in batches:
            out = predict(model, x)
            loss = crit(out, y)
            loss.backward()  # <- fails
        """}, {}),
    ("no-grad helper in another module", "no-grad-block", {
        "train.py": """
            from helpers import features
            emb = features(encoder, batch)
            loss = head(emb).sum()
            loss.backward()  # <- fails
            """,
        "helpers.py": """
            import torch
            def features(encoder, batch):
                with torch.set_grad_enabled(False):  # <- cause
                    out = encoder(batch)  # <- cause
                return out
            """}, {}),
    ("near miss: no_grad only around evaluation", "no-grad-block", {"train.py": """
        import torch
        with torch.no_grad():
            val = model(val_x)
        print(val.mean())
        pred = model(x)
        loss = crit(pred, y)
        loss.backward()  # <- fails
        """}, {}),
    ("near miss: set_grad_enabled(True)", "no-grad-block", {"train.py": """
        import torch
        with torch.set_grad_enabled(True):
            pred = model(x)
        loss = crit(pred, y)
        loss.backward()  # <- fails
        """}, {}),
    # ---- no-grad-fn: a cut on the path ------------------------------------------------
    ("detach in a helper", "detach-on-path", {"train.py": """
        def embed(x):
            h = encoder(x)
            return h.detach()  # <- cause
        z = embed(batch)
        loss = (z ** 2).mean()
        loss.backward()  # <- fails
        """}, {}),
    ("near miss: detach used only for logging", "detach-on-path", {"train.py": """
        pred = model(x)
        history.append(pred.detach().cpu())
        loss = crit(pred, y)
        loss.backward()  # <- fails
        """}, {}),
    ("item then tensor, same function", "python-number-on-path", {"train.py": """
        import torch
        parts = [crit(model(x), y).item() for x, y in data]  # <- cause
        total = torch.tensor(sum(parts))  # <- cause
        total.backward()  # <- fails
        """}, {}),
    ("near miss: .item() for printing", "python-number-on-path", {"train.py": """
        pred = model(x)
        loss = crit(pred, y)
        print(loss.item())
        loss.backward()  # <- fails
        """}, {}),
    ("model forward in another module detaches", "detach-on-path", {
        "train.py": """
            from model import Net
            net = Net()
            out = net(batch)
            out.sum().backward()  # <- fails
            """,
        "model.py": """
            class Net:
                def forward(self, x):
                    h = self.body(x)
                    return h.data  # <- cause
            """}, {}),
    ("frozen parameters in another module", "frozen-parameters", {
        "train.py": """
            import setup
            loss = model(x).sum()
            loss.backward()  # <- fails
            """,
        "setup.py": """
            for p in model.parameters():
                p.requires_grad = False  # <- cause
            """}, {}),
    ("argmax on the way to the loss", "non-differentiable-on-path", {"train.py": """
        logits = model(x)
        pred = logits.argmax(dim=1)  # <- cause
        loss = (pred.float() - y).abs().mean()
        loss.backward()  # <- fails
        """}, {}),
    ("near miss: argmax for accuracy only", "non-differentiable-on-path", {"train.py": """
        logits = model(x)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        loss = crit(logits, y)
        loss.backward()  # <- fails
        """}, {}),
    # ---- backward-twice ---------------------------------------------------------------
    ("hidden state carried across iterations", "carried-state", {"train.py": """
        hidden = None
        for x, y in batches:
            out, hidden = rnn(x, hidden)  # <- cause
            loss = crit(out, y)
            loss.backward()  # <- fails
        """}, {}),
    ("running total", "carried-state", {"train.py": """
        total = 0
        for x, y in batches:
            loss = crit(model(x), y)
            total = total + loss  # <- cause
            total.backward()  # <- fails
        """}, {}),
    ("carried state inside a helper's loop", "carried-state", {"train.py": """
        def train(model, batches):
            state = model.init_state()
            for x in batches:
                state = model.cell(x, state)  # <- cause
                loss = state.pow(2).mean()
                loss.backward()  # <- fails
        """}, {}),
    ("near miss: state detached every iteration", "carried-state", {"train.py": """
        hidden = None
        for x, y in batches:
            out, hidden = rnn(x, hidden)
            hidden = hidden.detach()
            loss = crit(out, y)
            loss.backward()  # <- fails
        """}, {}),
    ("near miss: loss reassigned each iteration", "carried-state", {"train.py": """
        for x, y in batches:
            loss = crit(model(x), y)
            loss.backward()  # <- fails
        """}, {}),
    ("two losses on a shared encoder", "earlier-backward", {"train.py": """
        h = encoder(x)
        loss_a = head_a(h).mean()
        loss_b = head_b(h).mean()
        loss_a.backward()  # <- cause
        loss_b.backward()  # <- fails
        """}, {}),
    ("near miss: separate graphs", "earlier-backward", {"train.py": """
        loss_a = model_a(x).mean()
        loss_a.backward()
        loss_b = model_b(x).mean()
        loss_b.backward()  # <- fails
        """}, {}),
    ("features computed once before the loop", "computed-before-loop", {"train.py": """
        import torch
        features = encoder(inputs)  # <- cause
        for step in range(10):
            opt.zero_grad()
            loss = head(features).mean()
            loss.backward()  # <- fails
        """}, {}),
    ("near miss: data made before the loop", "computed-before-loop", {"train.py": """
        import torch
        inputs = torch.randn(8, 3)
        for step in range(10):
            loss = head(inputs).mean()
            loss.backward()  # <- fails
        """}, {}),
    # ---- in-place ---------------------------------------------------------------------
    ("in-place on the op the message names", "inplace-on-saved", {"train.py": """
        import torch
        def forward(x):
            a = torch.sigmoid(x)
            b = a * 2
            b += 1
            a.mul_(0.5)  # <- cause
            return a.sum() + b.sum()
        forward(w).backward()  # <- fails
        """}, {"op": "Sigmoid"}),
    ("in-place add in another module's forward", "inplace-on-saved", {
        "train.py": """
            from blocks import Block
            net = Block()
            net(x).sum().backward()  # <- fails
            """,
        "blocks.py": """
            import torch.nn.functional as F
            class Block:
                def forward(self, x):
                    out = F.relu(self.conv(x))
                    out += x  # <- cause
                    return out
            """}, {"op": "Relu"}),
    ("near miss: in-place optimizer update under no_grad", "inplace-on-saved", {"train.py": """
        import torch
        y = torch.exp(w)
        loss = y.sum()
        with torch.no_grad():
            w -= 0.1 * w.grad
        loss.backward()  # <- fails
        """}, {"op": "Exp"}),
    ("view of a chunk modified in place", "view-source", {"train.py": """
        mu, logvar = net(x).chunk(2, dim=-1)  # <- cause
        logvar.clamp_(-20, 2)  # <- fails # <- cause
        """}, {}),
]


def write(tmp_path: Path, files: dict[str, str]) -> dict[str, list[str]]:
    texts = {}
    for name, text in files.items():
        source = textwrap.dedent(text).lstrip("\n")
        (tmp_path / name).write_text(source, encoding="utf-8")
        texts[name] = source.splitlines()
    return texts


def marked(texts: dict[str, list[str]], mark: str) -> set[tuple[str, int]]:
    return {(name, number) for name, lines in texts.items()
            for number, line in enumerate(lines, start=1) if mark in line}


@pytest.mark.parametrize(("title", "finder", "files", "facts"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_finder_names_exactly_the_cause_lines(tmp_path: Path, title: str, finder: str,
                                              files: dict[str, str],
                                              facts: dict[str, object]) -> None:
    texts = write(tmp_path, files)
    ((main, line),) = marked(texts, FAILS)
    found = find(finder, str(tmp_path / main), line, facts)
    assert {(Path(f.file).name, f.line) for f in found} == marked(texts, CAUSE), title
    for evidence in found:  # the code shown is the statement, without its comment
        assert "#" not in evidence.code


def test_every_finder_has_a_scenario_and_a_near_miss() -> None:
    for name in FINDERS:
        covered = [s for s in SCENARIOS if s[1] == name]
        assert covered, name
    assert sum(s[0].startswith("near miss") for s in SCENARIOS) >= 8


def test_unreadable_or_broken_files_give_no_evidence(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    loss.backward()\n", encoding="utf-8")
    assert find("no-grad-block", str(broken), 2, {}) == []
    assert find("no-grad-block", str(tmp_path / "missing.py"), 2, {}) == []
    assert find("carried-state", str(broken), 99, {}) == []
