"""Facts parsed from real torch messages, and what the explanation and JSON make of them."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import GRADEXPLAIN, child_env

from gradexplain.msgfacts import describe, parse_message

MESSAGES = [
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.FloatTensor [4, 3]], which is output 0 of ReluBackward0, is at version "
     "2; expected version 0 instead.",
     {"tensor_type": "torch.FloatTensor", "shape": [4, 3], "node": "ReluBackward0",
      "op": "Relu", "output_index": 0, "version": 2, "expected_version": 0}),
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.cuda.FloatTensor [64, 1]], which is output 0 of AsStrided, is at "
     "version 3; expected version 2 instead.",
     {"tensor_type": "torch.cuda.FloatTensor", "shape": [64, 1], "node": "AsStrided",
      "op": "AsStrided", "output_index": 0, "version": 3, "expected_version": 2,
      "devices": ["cuda"]}),
    ("Using a target size (torch.Size([16])) that is different to the input size "
     "(torch.Size([16, 1])).", {"shapes": [[16], [16, 1]]}),
    ("Expected all tensors to be on the same device, but found at least two devices, cuda:0 "
     "and cpu!", {"devices": ["cuda:0", "cpu"]}),
    ("expected scalar type Float but found Double",
     {"expected_dtype": "Float", "found_dtype": "Double"}),
    ("Found dtype Double but expected Float", {"expected_dtype": "Float", "found_dtype": "Double"}),
    ("element 0 of tensors does not require grad and does not have a grad_fn", {"element": 0}),
    ("a Tensor with 10 elements cannot be converted to Scalar", {"numel": 10}),
    ("Function 'SqrtBackward0' returned nan values in its 0th output.",
     {"node": "SqrtBackward0", "op": "Sqrt", "output_index": 0}),
    ("grad can be implicitly created only for scalar outputs", {}),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES)
def test_facts_parsed_from_messages(message: str, expected: dict[str, object]) -> None:
    assert parse_message(message) == expected


def test_facts_in_words() -> None:
    words = " ".join(describe(MESSAGES[0][1]))
    assert ("The tensor of shape [4, 3] produced by Relu (output 0) was saved for the backward "
            "pass at version 0 and then changed in place 2 times") in words
    assert describe({}) == []


def test_hostile_message_is_cheap() -> None:
    assert parse_message("[torch.FloatTensor [" + "1, " * 100_000) == {}


def test_json_names_the_cause_line_in_another_module(tmp_path: Path) -> None:
    """A real run: the in-place `+=` is in model.py's forward; the backward() in train.py."""
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import torch
        from torch import nn


        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(4, 4)

            def forward(self, x):
                out = torch.relu(self.linear(x))
                out += x
                return out
        """), encoding="utf-8")
    (tmp_path / "train.py").write_text(textwrap.dedent("""\
        import torch
        from model import Block

        net = Block()
        loss = net(torch.randn(2, 4)).sum()
        loss.backward()
        """), encoding="utf-8")
    out = tmp_path / "out.json"
    done = subprocess.run([GRADEXPLAIN, "run", "--format", "json", "--json-out", str(out),
                           "train.py"], capture_output=True, text=True, cwd=tmp_path,
                          env=child_env(), timeout=300)
    assert done.returncode == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["primary"]["id"] == "inplace-modified-saved"
    traceback = data["tracebacks"][data["primary"]["traceback_index"]]
    assert traceback["message_facts"]["op"] == "Relu"
    top = traceback["causes"][0]
    assert top["id"] == "inplace-op-on-saved" and top["likely"]
    assert [(Path(e["file"]).name, e["line"], e["code"]) for e in top["evidence"]] == [
        ("model.py", 12, "out += x")]
