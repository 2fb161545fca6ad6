"""state-carried-into-backward (`gradexplain check`): a state carried across loop iterations
into backward() without `.detach()`.

Each buggy snippet is flagged on the line marked `# <- here`, with the confidence given, and
really raises backward-twice's error under torch; each near miss gives no finding and really
runs. The operations the detector trusts to save a tensor for backward are checked against
torch too; the entry's case script is flagged, and its fix gives the golden `.fixed.py`."""

from __future__ import annotations

import ast
import itertools
import re
import textwrap
import time
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, ROOT, marked_line, matches_entry, run_in_torch

from gradexplain import check, knowledge
from gradexplain.detectors import Module, carried_state
from gradexplain.detectors.requires_grad import analyse
from gradexplain.model import Entry

ENTRY = "backward-twice"
DETECTOR = "state-carried-into-backward"
CLEAN = ROOT / "tests" / "data" / "clean"
CASE = KNOWLEDGE / "backward" / "backward-twice.case.py"


def snippet(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# id -> (source, confidence, code run after the source to reach the bug at runtime)
BUGGY: dict[str, tuple[str, str, str]] = {
    "lstm-state-script": (snippet("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(4, 8, batch_first=True)
        head = nn.Linear(8, 1)
        state = None
        for step in range(3):
            out, state = lstm(torch.randn(2, 5, 4), state)
            loss = nn.functional.mse_loss(head(out), torch.randn(2, 5, 1))
            loss.backward()  # <- here
        """), "high", ""),
    "gru-state-in-a-function-with-known-calls": (snippet("""
        import torch
        from torch import nn
        def train(rnn, batches, optimizer):
            hidden = torch.zeros(1, 2, 6)
            for x in batches:
                output, hidden = rnn(x, hidden)
                loss = output.pow(2).mean()
                optimizer.zero_grad()
                loss.backward()  # <- here
                optimizer.step()
        gru = nn.GRU(3, 6)
        train(gru, [torch.randn(4, 2, 3) for _ in range(3)],
              torch.optim.SGD(gru.parameters(), lr=0.01))
        """), "high", ""),
    "rnn-cell-in-a-while-loop": (snippet("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 5)
        h = torch.zeros(2, 5)
        step = 0
        while step < 3:
            h = cell(torch.randn(2, 3), h)
            h.pow(2).sum().backward()  # <- here
            step += 1
        """), "high", ""),
    "loss-accumulated-and-back-propagated-each-step": (snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 1)
        criterion = nn.MSELoss()
        total = 0
        for step in range(3):
            loss = criterion(model(torch.randn(4, 3)), torch.randn(4, 1))
            total = total + loss
            total.backward()  # <- here
        """), "high", ""),
    "loss-accumulated-in-place-unknown-model": (snippet("""
        import torch
        import torch.nn.functional as F
        def fit(model, batches):
            running_loss = 0.0
            for x, y in batches:
                running_loss += F.mse_loss(model(x), y)
                (running_loss / len(batches)).backward()  # <- here
        """), "high",
        "fit(torch.nn.Linear(3, 1), [(torch.randn(4, 3), torch.randn(4, 1))] * 3)"),
    "ema-of-model-output": (snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 3)
        ema = torch.zeros(2, 3)
        for step in range(3):
            ema = 0.9 * ema + 0.1 * model(torch.randn(2, 3))
            loss = (ema - 1).pow(2).mean()
            loss.backward()  # <- here
        """), "high", ""),
    "trainer-class-state-on-self": (snippet("""
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.rnn = nn.GRU(3, 6, batch_first=True)
                self.head = nn.Linear(6, 1)
                self.hidden = None
            def fit(self, batches):
                for x, y in batches:
                    out, self.hidden = self.rnn(x, self.hidden)
                    loss = nn.functional.mse_loss(self.head(out[:, -1]), y)
                    loss.backward()  # <- here
        """), "high",
        "Trainer().fit([(torch.randn(2, 4, 3), torch.randn(2, 1)) for _ in range(3)])"),
    "own-module-returning-its-state": (snippet("""
        import torch
        from torch import nn
        class CharRNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(20, 8)
                self.rnn = nn.GRU(8, 16, batch_first=True)
                self.out = nn.Linear(16, 20)
            def forward(self, tokens, hidden=None):
                output, hidden = self.rnn(self.embed(tokens), hidden)
                return self.out(output), hidden
        model = CharRNN()
        hidden = None
        for tokens in torch.randint(0, 20, (3, 2, 6)):
            logits, hidden = model(tokens[:, :-1], hidden)
            loss = nn.functional.cross_entropy(logits.transpose(1, 2), tokens[:, 1:])
            loss.backward()  # <- here
        """), "high", ""),
    "epochs-reset-the-state-batches-carry-it": (snippet("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(3, 4)
        optimizer = torch.optim.Adam(lstm.parameters())
        for epoch in range(2):
            state = None
            for batch in torch.randn(3, 5, 2, 3):
                out, state = lstm(batch, state)
                optimizer.zero_grad()
                out.pow(2).mean().backward()  # <- here
                optimizer.step()
        """), "high", ""),
    "epochs-detach-the-state-batches-carry-it": (snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        h = torch.zeros(2, 4)
        for epoch in range(2):
            h = h.detach()
            for x in torch.randn(3, 2, 3):
                h = cell(x, h)
                loss = h.sum()
                loss.backward()  # <- here
        """), "high", ""),
    "rnn-by-hand-with-leaf-weights": (snippet("""
        import torch
        W_x = torch.randn(3, 4, requires_grad=True)
        W_h = torch.randn(4, 4, requires_grad=True)
        h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            h = torch.tanh(x @ W_x + h @ W_h)
            loss = h.pow(2).mean()
            loss.backward()  # <- here
        """), "high", ""),
    "state-updated-after-the-backward": (snippet("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 3)
        head = nn.Linear(3, 1)
        h = torch.zeros(1, 3)
        for x in torch.randn(3, 1, 3):
            loss = head(h + x).sum()
            loss.backward()  # <- here
            h = cell(x, h)
        """), "high", ""),
    "state-initialised-in-the-loop": (snippet("""
        import torch
        import torch.nn as nn
        rnn = nn.RNN(3, 4)
        hidden = None
        for x in torch.randn(3, 5, 2, 3):
            if hidden is None:
                hidden = torch.zeros(1, 2, 4)
            out, hidden = rnn(x, hidden)
            loss = out.mean()
            loss.backward()  # <- here
        """), "high", ""),
    "memory-through-an-intermediate": (snippet("""
        import torch
        from torch import nn
        class Mixer(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(6, 3)
            def forward(self, x, memory):
                return torch.tanh(self.proj(torch.cat([x, memory], dim=1)))
        mixer = Mixer()
        memory = torch.zeros(2, 3)
        for x in torch.randn(3, 2, 3):
            y = mixer(x, memory)
            memory = y * 0.5
            loss = y.pow(2).mean()
            loss.backward()  # <- here
        """), "high", ""),
    "autograd-grad-each-step": (snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(2, 2)
        h = torch.zeros(1, 2)
        for x in torch.randn(3, 1, 2):
            h = cell(x, h)
            grads = torch.autograd.grad(h.sum(), list(cell.parameters()))  # <- here
        """), "high", ""),
    "amp-scaled-loss": (snippet("""
        import torch
        from torch import nn
        gru = nn.GRU(3, 4)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        hidden = torch.zeros(1, 2, 4)
        for x in torch.randn(3, 5, 2, 3):
            with torch.autocast("cpu", enabled=False):
                out, hidden = gru(x, hidden)
                loss = out.pow(2).mean()
            scaler.scale(loss).backward()  # <- here
        """), "high", ""),
    "lightning-style-manual-backward-over-chunks": (snippet("""
        import torch
        from torch import nn
        class LitLanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(3, 4, batch_first=True)
                self.head = nn.Linear(4, 1)
            def manual_backward(self, loss):
                loss.backward()
            def training_step(self, batch):
                hiddens = None
                for chunk in batch.split(2, dim=1):
                    out, hiddens = self.rnn(chunk, hiddens)
                    loss = self.head(out).pow(2).mean()
                    self.manual_backward(loss)  # <- here
        """), "high", "LitLanguageModel().training_step(torch.randn(2, 6, 3))"),
    "unknown-criterion-on-the-way-to-the-loss": (snippet("""
        import torch
        from torch import nn
        lstm = nn.LSTM(3, 4)
        def train(criterion, batches):
            state = None
            for x, y in batches:
                out, state = lstm(x, state)
                loss = criterion(out, y)
                loss.backward()  # <- here
        """), "medium", "train(nn.MSELoss(), [(torch.randn(5, 2, 3), torch.randn(5, 2, 4))] * 3)"),
    "previous-output-fed-back-as-input": (snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(6, 3)
        previous = torch.zeros(2, 3)
        for x in torch.randn(3, 2, 3):
            out = model(torch.cat([x, previous], 1))
            loss = out.pow(2).mean()
            loss.backward()  # <- here
            previous = out
        """), "high", ""),
    "unknown-model-takes-and-returns-the-state": (snippet("""
        import torch
        def train(model, loader, optimizer):
            hidden = None
            for x, y in loader:
                out, hidden = model(x, hidden)
                loss = torch.nn.functional.mse_loss(out, y)
                optimizer.zero_grad()
                loss.backward()  # <- here
                optimizer.step()
        """), "medium", snippet("""
        gru = torch.nn.GRU(3, 1)
        train(gru, [(torch.randn(4, 2, 3), torch.randn(4, 2, 1))] * 3,
              torch.optim.SGD(gru.parameters(), lr=0.1))
        """)),
    "unknown-recurrent-attribute-in-a-method": (snippet("""
        import torch
        class Runner:
            def __init__(self, rnn):
                self.rnn = rnn
            def run(self, chunks):
                state = None
                for chunk in chunks:
                    out, state = self.rnn(chunk, state)
                    out.sum().backward()  # <- here
        """), "medium", "Runner(torch.nn.LSTM(2, 3)).run(torch.randn(3, 4, 1, 2))"),
}

NEAR_MISSES: dict[str, str] = {
    "state-detached-at-the-top": snippet("""
        import torch
        import torch.nn as nn
        rnn = nn.GRU(3, 4)
        h = torch.zeros(1, 2, 4)
        for x in torch.randn(3, 5, 2, 3):
            h = h.detach()
            out, h = rnn(x, h)
            out.pow(2).mean().backward()
        """),
    "lstm-state-repackaged-under-an-if": snippet("""
        import torch
        import torch.nn as nn
        def repackage_hidden(h):
            return tuple(t.detach() for t in h)
        lstm = nn.LSTM(3, 4)
        hidden = None
        for step, x in enumerate(torch.randn(3, 5, 2, 3)):
            if hidden is not None:
                hidden = repackage_hidden(hidden)
            out, hidden = lstm(x, hidden)
            out.mean().backward()
        """),
    "state-detached-where-it-is-passed": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        state = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            state = cell(x, state.detach())
            state.pow(2).mean().backward()
        """),
    "state-reset-each-iteration": snippet("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(3, 4, batch_first=True)
        for x in torch.randn(3, 2, 5, 3):
            state = None
            out, state = lstm(x, state)
            out.mean().backward()
        """),
    "state-zeroed-each-iteration": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 4)
        for x in torch.randn(3, 2, 3):
            with torch.autocast("cpu", enabled=False):
                h = torch.zeros(2, 4)
                h = cell(x, h)
            h.sum().backward()
        """),
    "state-updated-under-no-grad": snippet("""
        import torch
        import torch.nn as nn
        encoder, head = nn.Linear(6, 3), nn.Linear(3, 1)
        memory = torch.zeros(2, 3)
        for x in torch.randn(3, 2, 3):
            with torch.no_grad():
                memory = encoder(torch.cat([x, memory], dim=1))
            loss = head(memory + x).pow(2).mean()
            loss.backward()
        """),
    "loss-accumulated-back-propagated-after-the-loop": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 1)
        total = 0
        for x in torch.randn(3, 4, 3):
            total = total + model(x).pow(2).mean()
        total.backward()
        """),
    "plain-training-loop": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in torch.randn(3, 4, 3):
            optimizer.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            optimizer.step()
        """),
    "running-loss-as-a-number": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 1)
        total_loss = 0.0
        for x in torch.randn(3, 4, 3):
            loss = model(x).pow(2).mean()
            loss.backward()
            total_loss += loss.item()
        """),
    "losses-stacked-after-the-loop": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        h = torch.zeros(2, 4)
        losses = []
        for x in torch.randn(3, 2, 3):
            h = cell(x, h)
            losses.append(h.pow(2).mean())
        torch.stack(losses).sum().backward()
        """),
    "state-of-plain-data": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(4, 1)
        h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 4):
            h = torch.tanh(h + x)
            loss = model(h).pow(2).mean()
            loss.backward()
        """),
    "leaf-added-keeps-no-tensor": snippet("""
        import torch
        bias = torch.randn(3, requires_grad=True)
        h = torch.zeros(3)
        for step in range(3):
            h = h + bias
            h.sum().backward()
        """),
    "backward-every-other-step-then-reset": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        h = torch.zeros(2, 4)
        for step, x in enumerate(torch.randn(6, 2, 3)):
            h = cell(x, h)
            if step % 2 == 1:
                h.pow(2).mean().backward()
                h = torch.zeros(2, 4)
        """),
    "full-bptt-at-the-end-of-the-sequence": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 4)
        h = torch.zeros(2, 4)
        for t, x in enumerate(torch.randn(4, 2, 3)):
            h = cell(x, h)
            if t == 3:
                h.sum().backward()
        """),
    "carried-state-not-in-the-loss": snippet("""
        import torch
        import torch.nn as nn
        cell, head = nn.GRUCell(3, 4), nn.Linear(3, 1)
        h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            h = cell(x, h)
            loss = head(x).pow(2).mean()
            loss.backward()
        """),
    "state-read-only-through-a-comparison": snippet("""
        import torch
        import torch.nn as nn
        cell, model = nn.GRUCell(3, 4), nn.Linear(3, 4)
        h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            h = cell(x, h)
            mask = (h > 0).float()
            loss = (model(x) * mask).sum()
            loss.backward()
        """),
    "policy-gradient-state-from-the-environment": snippet("""
        import torch
        import torch.nn as nn
        class Env:
            def reset(self):
                return torch.zeros(4)
            def step(self, action):
                return torch.randn(4), 1.0
        policy = nn.Linear(4, 2)
        env = Env()
        state = env.reset()
        for t in range(3):
            dist = torch.distributions.Categorical(logits=policy(state))
            action = dist.sample()
            state, reward = env.step(action)
            loss = -dist.log_prob(action) * reward
            loss.backward()
        """),
    "state-reset-from-its-own-shape": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            h = h.new_zeros(2, 4)
            h = cell(x, h)
            h.sum().backward()
        """),
    "greedy-decoding-feeds-back-an-argmax": snippet("""
        import torch
        import torch.nn as nn
        embed, decoder, out = nn.Embedding(5, 4), nn.GRU(4, 4), nn.Linear(4, 5)
        token = torch.zeros(1, 1, dtype=torch.long)
        hidden = None
        for step in range(3):
            if hidden is not None:
                hidden = hidden.detach()
            output, hidden = decoder(embed(token), hidden)
            logits = out(output)
            loss = logits.logsumexp(-1).mean()
            loss.backward()
            token = logits.argmax(-1)
        """),
    "state-reset-after-its-use": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.RNNCell(3, 3)
        h = torch.zeros(1, 3)
        for x in torch.randn(3, 1, 3):
            h = cell(x, h)
            loss = h.sum()
            h = torch.zeros(1, 3)
            loss.backward()
        """),
    "retain-graph-left-to-the-anti-fix": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(2, 2)
        h = torch.zeros(1, 2)
        for x in torch.randn(3, 1, 2):
            h = cell(x, h)
            h.sum().backward(retain_graph=True)
        """),
    "trainer-class-repackages-in-a-method": snippet("""
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.rnn = nn.LSTM(3, 4)
                self.hidden = None
            def detached(self, state):
                return None if state is None else tuple(s.detach() for s in state)
            def fit(self, chunks):
                for chunk in chunks:
                    self.hidden = self.detached(self.hidden)
                    out, self.hidden = self.rnn(chunk, self.hidden)
                    out.mean().backward()
        Trainer().fit(torch.randn(3, 5, 2, 3))
        """),
    "lightning-style-steps-with-no-loop": snippet("""
        import torch
        from torch import nn
        class LanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(3, 4, batch_first=True)
            def training_step(self, batch, hiddens):
                out, hiddens = self.rnn(batch, hiddens)
                return {"loss": out.pow(2).mean(), "hiddens": hiddens.detach()}
        model = LanguageModel()
        hiddens = None
        for batch in torch.randn(3, 2, 5, 3):
            result = model.training_step(batch, hiddens)
            result["loss"].backward()
            hiddens = result["hiddens"]
        """),
    "frozen-encoder-carries-no-graph": snippet("""
        import torch
        import torch.nn as nn
        rnn, head = nn.GRU(3, 4), nn.Linear(4, 1)
        for p in rnn.parameters():
            p.requires_grad = False
        h = torch.zeros(1, 2, 4)
        for x in torch.randn(3, 5, 2, 3):
            out, h = rnn(x, h)
            head(out).mean().backward()
        """),
    "error-expected-and-caught": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(2, 2)
        h = torch.zeros(1, 2)
        try:
            for x in torch.randn(3, 1, 2):
                h = cell(x, h)
                h.sum().backward()
        except RuntimeError:
            h = h.detach()
        """),
    "state-reset-per-batch-carried-through-time-steps": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.LSTMCell(3, 4)
        for batch in torch.randn(2, 5, 2, 3):
            h, c = torch.zeros(2, 4), torch.zeros(2, 4)
            for x in batch:
                h, c = cell(x, (h, c))
            loss = h.pow(2).mean()
            loss.backward()
        """),
    "ema-of-detached-outputs": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 3)
        ema = torch.zeros(2, 3)
        for x in torch.randn(3, 2, 3):
            out = model(x)
            ema = 0.9 * ema + 0.1 * out.detach()
            loss = (out - ema).pow(2).mean()
            loss.backward()
        """),
    "gradient-accumulation-every-k-steps": snippet("""
        import torch
        import torch.nn as nn
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step, x in enumerate(torch.randn(4, 2, 3)):
            loss = model(x).pow(2).mean() / 2
            loss.backward()
            if (step + 1) % 2 == 0:
                optimizer.step()
                optimizer.zero_grad()
        """),
    "hidden-from-init-hidden-each-batch": snippet("""
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(3, 4)
            def init_hidden(self, batch_size):
                return torch.zeros(1, batch_size, 4)
            def forward(self, x, hidden):
                return self.rnn(x, hidden)
        net = Net()
        for x in torch.randn(3, 5, 2, 3):
            hidden = net.init_hidden(2)
            out, hidden = net(x, hidden)
            out.pow(2).mean().backward()
        """),
    "state-bound-afresh-by-the-loop-header": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        for x, h in zip(torch.randn(3, 2, 3), torch.randn(3, 2, 4)):
            h = cell(x, h)
            h.sum().backward()
        """),
    "state-reset-by-a-method": snippet("""
        import torch
        import torch.nn as nn
        class Trainer:
            def __init__(self):
                self.rnn = nn.GRU(3, 4)
                self.h = None
            def reset(self):
                self.h = None
            def fit(self, chunks):
                for x in chunks:
                    out, self.h = self.rnn(x, self.h)
                    out.mean().backward()
                    self.reset()
        Trainer().fit(torch.randn(3, 5, 2, 3))
        """),
    "state-reset-by-a-function-through-global": snippet("""
        import torch
        import torch.nn as nn
        cell = nn.GRUCell(3, 4)
        h = torch.zeros(2, 4)
        def reset():
            global h
            h = torch.zeros(2, 4)
        for x in torch.randn(3, 2, 3):
            h = cell(x, h)
            h.sum().backward()
            reset()
        """),
    "lstm-state-detached-by-map": snippet("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(3, 4)
        hidden = (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
        for x in torch.randn(3, 5, 2, 3):
            hidden = tuple(map(torch.Tensor.detach, hidden))
            out, hidden = lstm(x, hidden)
            out.mean().backward()
        """),
    "state-through-a-no-grad-function": snippet("""
        import torch
        import torch.nn as nn
        rnn = nn.GRU(3, 4)
        head = nn.Linear(4, 1)
        @torch.no_grad()
        def encode(x, h):
            return rnn(x, h)
        h = None
        for x in torch.randn(3, 5, 2, 3):
            out, h = encode(x, h)
            loss = head(out).mean()
            loss.backward()
        """),
    "state-detached-by-the-step-function": snippet("""
        import torch
        import torch.nn as nn
        rnn = nn.GRU(3, 4)
        def step(x, h):
            out, h = rnn(x, h)
            return out, h.detach()
        h = torch.zeros(1, 2, 4)
        for x in torch.randn(3, 5, 2, 3):
            out, h = step(x, h)
            out.mean().backward()
        """),
}

# operation -> an expression of the leaf `w` (3 x 3) that saves a tensor for backward
SAVING = {
    **{name: f"torch.{name}(w)" for name in (
        "tanh", "sigmoid", "relu", "exp", "log", "sqrt", "sin", "cos", "abs", "square",
        "rsqrt", "reciprocal", "norm", "prod")},
    "softmax": "torch.softmax(w, 0)", "log_softmax": "torch.log_softmax(w, 0)",
    "matmul": "torch.matmul(w, w)", "mm": "torch.mm(w, w)", "bmm": "torch.bmm(w[None], w[None])",
    "mv": "torch.mv(w, w[0])", "mul": "torch.mul(w, 2.0)", "div": "torch.div(w, 2.0)",
    "pow": "torch.pow(w, 2)", "clamp": "torch.clamp(w, 0.1, 0.9)",
    "einsum": "torch.einsum('ij,jk->ik', w, w)",
    **{name: f"F.{name}(w)" for name in ("gelu", "silu", "elu", "leaky_relu", "softplus")},
    "linear": "F.linear(w, w)", "layer_norm": "F.layer_norm(w, (3,))",
    "conv1d": "F.conv1d(w[None], w[:, :, None])",
    "conv2d": "F.conv2d(w[None, None], w[None, None])",
    "*": "w * 2.0", "@": "w @ w", "/": "w / 2.0", "**": "w ** 2",
}

HARNESS = r'''
import io, json, sys, torch
import torch.nn.functional as F
job = json.load(sys.stdin)
report, sys.stdout = sys.stdout, io.StringIO()  # what the snippets print
out = {"snippets": {}, "saving": {}}
for name, source in job["snippets"].items():
    torch.manual_seed(0)
    try:
        exec(compile(source, name, "exec"), {"__name__": "__main__"})
        out["snippets"][name] = "ok"
    except Exception as error:
        out["snippets"][name] = f"{type(error).__name__}: {error}"
for name, expression in job["saving"].items():
    w = (torch.rand(3, 3) + 0.5).requires_grad_()
    value = eval(expression, {"torch": torch, "F": F, "w": w})
    value.sum().backward()
    try:
        value.sum().backward()
        out["saving"][name] = "ok"
    except RuntimeError as error:
        out["saving"][name] = str(error)
report.write(json.dumps(out))
'''


@pytest.fixture(scope="module")
def runtime() -> dict[str, dict[str, str]]:
    """One torch process: every snippet run (the buggy ones also as --fix leaves them), and
    every operation trusted to save tried."""
    fixed = {f"fixed {name}": patched + after for name, (source, _, after) in BUGGY.items()
             if (patched := fixed_source(source)) is not None}
    job = {"snippets": {**{k: v[0] + v[2] for k, v in BUGGY.items()}, **NEAR_MISSES, **fixed},
           "saving": SAVING}
    return run_in_torch(HARNESS, job)


def entry() -> Entry:
    return next(e for e in knowledge.load(knowledge.search_dirs()).entries if e.id == ENTRY)


def findings(source: str, show_all: bool = True) -> list[check.Finding]:
    detecting = [(entry(), d) for d in entry().detects if d.detector == DETECTOR
                 and (show_all or d.confidence == "high")]
    return check.check_module(Module("snippet.py", source, ast.parse(source)), detecting)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_is_flagged_on_its_line(name: str) -> None:
    source, confidence, _ = BUGGY[name]
    found = [(f.line, f.confidence) for f in findings(source)]
    assert found == [(marked_line(source), confidence)]
    assert len(findings(source, show_all=False)) == (1 if confidence == "high" else 0)


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_snippet_raises_the_entrys_error(name: str,
                                               runtime: dict[str, dict[str, str]]) -> None:
    message = runtime["snippets"][name]
    assert message.startswith("RuntimeError: ") and matches_entry(message, entry()), message


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_is_silent_and_runs(name: str, runtime: dict[str, dict[str, str]]) -> None:
    assert findings(NEAR_MISSES[name]) == []
    assert runtime["snippets"][name] == "ok"


def test_every_operation_trusted_saves_a_tensor(runtime: dict[str, dict[str, str]]) -> None:
    """A second backward() through each operation the detector trusts to save a tensor fails
    with the entry's error: its graph keeps something that the first one freed."""
    operators = {"*": ast.Mult, "@": ast.MatMult, "/": ast.Div, "**": ast.Pow}
    assert set(SAVING) == carried_state.SAVING_FUNCTIONS | set(operators)
    assert set(operators.values()) == set(carried_state.SAVING_OPERATORS)
    wrong = {k: v for k, v in runtime["saving"].items() if not matches_entry(v, entry())}
    assert not wrong


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_message_names_the_variable_and_the_way_out(name: str) -> None:
    (finding,) = findings(BUGGY[name][0])
    assert "{" not in finding.message and "Trying to backward through the graph" in (
        finding.message)
    assert re.search(r"`[\w.]+` (?:where each iteration starts|after the loop)",
                     finding.message), finding.message


def test_accumulated_loss_is_told_to_back_propagate_once() -> None:
    (finding,) = findings(BUGGY["loss-accumulated-and-back-propagated-each-step"][0])
    assert "once on `total` after the loop" in finding.message
    (finding,) = findings(BUGGY["lstm-state-script"][0])
    assert "detach `state` where each iteration starts" in finding.message
    (finding,) = findings(BUGGY["rnn-cell-in-a-while-loop"][0])  # backward from the state
    assert "detach `h` where each iteration starts" in finding.message


@pytest.mark.parametrize(("name", "unknown"), [
    ("unknown-recurrent-attribute-in-a-method", "self.rnn"),
    ("unknown-model-takes-and-returns-the-state", "model"),
    ("unknown-criterion-on-the-way-to-the-loss", "criterion")])
def test_medium_finding_names_what_is_unknown(name: str, unknown: str) -> None:
    (finding,) = findings(BUGGY[name][0])
    assert f"(`{unknown}` is not known here)" in finding.message


def fixed_source(source: str) -> str | None:
    """The snippet as `check --fix` leaves it, or None when no fix is offered."""
    result = check.Result(tuple(findings(source)), (), {"snippet.py": source})
    return check.fixed_sources(result, unsafe=False).get("snippet.py")


def test_fix_is_offered_for_a_built_in_recurrent_layer_and_works(
        runtime: dict[str, dict[str, str]]) -> None:
    """detach-carried-state knows the state of an nn.LSTM, GRU or RNN assigned in the file:
    its fix leaves no finding and the fixed snippet runs."""
    offered = {name for name, (source, _, _) in BUGGY.items()
               if [f.fix is not None for f in findings(source)] == [True]}
    assert offered == {"lstm-state-script", "epochs-reset-the-state-batches-carry-it",
                       "state-initialised-in-the-loop", "amp-scaled-loss",
                       "unknown-criterion-on-the-way-to-the-loss",
                       "lightning-style-manual-backward-over-chunks"}
    for name in sorted(offered):
        fixed = fixed_source(BUGGY[name][0])
        assert fixed is not None and findings(fixed) == [], fixed
        assert runtime["snippets"][f"fixed {name}"] == "ok"


def test_case_script_is_flagged_and_its_fix_gives_the_golden(tmp_path: Path) -> None:
    """--fix on the case gives the hand-checked `.fixed.py` (which test_fixes runs)."""
    source = CASE.read_text(encoding="utf-8")
    assert [(f.line, f.confidence) for f in findings(source)] == [
        (i, "high") for i, line in enumerate(source.splitlines(), 1) if "# <- check" in line]
    result = check.check_paths([str(CASE)], [entry()], check.Options(show_all=True))
    fixed = check.fixed_sources(result, unsafe=False)[str(CASE)]
    assert fixed == CASE.with_name("backward-twice.case.fixed.py").read_text(encoding="utf-8")


def test_idiomatic_scripts_give_no_finding() -> None:
    result = check.check_paths(sorted(str(p) for p in CLEAN.glob("*.py")), [entry()],
                               check.Options(show_all=True))
    assert len(result.sources) >= 5
    assert [f for f in result.findings if f.detector == DETECTOR] == []


def test_long_file_is_not_pathologically_slow() -> None:
    """2,000 lines of the snippets (taken in turn, however many the tables hold), then a loop
    whose 1,000 statements each read the one before (followed MAX_CHAIN deep, not to the
    recursion limit). The file analysis that the detectors share (requires_grad.analyse) is
    done once per file, before. The bound is ten times what this takes on the 2-core
    development machine, to catch a blow-up, not to time it: scripts/bench/run does that."""
    pieces = itertools.cycle([v[0] + v[2] for v in BUGGY.values()] + list(NEAR_MISSES.values()))
    parts: list[str] = []
    while sum(part.count("\n") + 1 for part in parts) < 2000:
        parts.append(next(pieces))
    snippets = "\n".join(parts) + "\n"
    chain = "".join(f"    x{i} = torch.tanh(x{i - 1} @ w)\n" for i in range(1, 1000))
    source = (snippets + "w = torch.randn(3, 3)\n"
              + "for step in range(3):\n    x0 = x999\n" + chain + "    x999.sum().backward()\n")
    tree = ast.parse(source)
    analyse(tree)
    start = time.perf_counter()
    hits = list(carried_state.state_carried_into_backward(Module("long.py", source, tree)))
    assert time.perf_counter() - start < 5
    chain_start = source[:source.index("x0 = x999")].count("\n")
    assert hits and all(hit.line < chain_start for hit in hits)
