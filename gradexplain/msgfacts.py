"""Facts that torch prints inside its messages: shapes, versions, operations, devices, dtypes.

"[torch.FloatTensor [4, 3]], which is output 0 of ReluBackward0, is at version 1; expected
version 0" says which tensor was changed (its shape, the operation that produced it) and how
many times; the explanation states that in words, and the code finders use the operation's
name to pick the in-place statement that changed it. Every regex is linear and runs on the
bounded message window only.
"""

from __future__ import annotations

import re

from gradexplain.matcher import message_forms

TYPE_CHECKING = False  # importing typing costs 10 ms; annotations are strings
if TYPE_CHECKING:
    from typing import Any

TENSOR_RE = re.compile(
    r"\[(?P<type>torch\.(?:cuda\.)?\w{1,40}Tensor) \[(?P<shape>[\d, ]{0,200})\]\]")
OUTPUT_OF_RE = re.compile(r"\b[Oo]utput (?P<index>\d{1,4}) of (?P<node>[A-Za-z_]\w{0,100})")
VERSION_RE = re.compile(
    r"is at version (?P<version>\d{1,9}); expected version (?P<expected>\d{1,9})")
SIZE_RE = re.compile(r"torch\.Size\(\[(?P<shape>[\d, ]{0,200})\]\)")
NAN_NODE_RE = re.compile(
    r"Function '(?P<node>\w{1,100})' returned nan values in its (?P<index>\d{1,4})")
ELEMENT_RE = re.compile(r"\belement (?P<element>\d{1,9}) of (?:tensors|variables)")
INDEX_RE = re.compile(r"\bat index (?P<index>\d{1,9})")
NUMEL_RE = re.compile(r"a Tensor with (?P<numel>\d{1,12}) elements")
DEVICE_RE = re.compile(r"\b(?P<device>cuda:\d{1,3}|cuda|cpu|mps|meta|xpu:\d{1,3}|xla:\d{1,3})\b")
EXPECTED_FOUND_RE = re.compile(
    r"expected (?:scalar type|dtype) (?P<expected>\w{1,30}) but found (?P<found>\w{1,30})"
    r"|Found dtype (?P<found2>\w{1,30}) but expected (?P<expected2>\w{1,30})")
BACKWARD_SUFFIX_RE = re.compile(r"Backward\d*$")


def parse_message(message: str) -> dict[str, Any]:
    """The facts a message states, as plain data (only the keys it states)."""
    text = message_forms(message)[0]
    facts: dict[str, Any] = {}
    tensor = TENSOR_RE.search(text)
    if tensor:
        facts["tensor_type"] = tensor.group("type")
        facts["shape"] = shape_of(tensor.group("shape"))
    output = OUTPUT_OF_RE.search(text) or NAN_NODE_RE.search(text)
    if output:
        node = output.group("node")
        facts["node"] = node
        facts["op"] = BACKWARD_SUFFIX_RE.sub("", node) or node
        facts["output_index"] = int(output.group("index"))
    version = VERSION_RE.search(text)
    if version:
        facts["version"] = int(version.group("version"))
        facts["expected_version"] = int(version.group("expected"))
    sizes = [shape_of(m.group("shape")) for m in SIZE_RE.finditer(text)]
    if sizes:
        facts["shapes"] = sizes[:4]
    for regex, key in ((ELEMENT_RE, "element"), (INDEX_RE, "index"), (NUMEL_RE, "numel")):
        found = regex.search(text)
        if found:
            facts[key] = int(found.group(key))
    devices = list(dict.fromkeys(m.group("device") for m in DEVICE_RE.finditer(text)))
    if devices:
        facts["devices"] = devices[:4]
    dtypes = EXPECTED_FOUND_RE.search(text)
    if dtypes:
        facts["expected_dtype"] = dtypes.group("expected") or dtypes.group("expected2")
        facts["found_dtype"] = dtypes.group("found") or dtypes.group("found2")
    return facts


def shape_of(text: str) -> list[int]:
    return [int(part) for part in text.replace(" ", "").split(",") if part]


def describe(facts: dict[str, Any]) -> list[str]:
    """The facts in plain words, one sentence each."""
    sentences = []
    if "version" in facts:
        sentences.append(changed_in_place(facts))
    elif "op" in facts:
        sentences.append(f"The operation involved: {facts['op']} "
                         f"(output {facts['output_index']} of {facts['node']}).")
    if "shapes" in facts and len(facts["shapes"]) > 1:
        shapes = " and ".join(shape_text(s) for s in facts["shapes"])
        sentences.append(f"The message compares tensors of shapes {shapes}.")
    if "numel" in facts:
        sentences.append(f"The tensor has {facts['numel']} elements, not 1.")
    if "expected_dtype" in facts:
        sentences.append(f"Expected dtype {facts['expected_dtype']}, "
                         f"got {facts['found_dtype']}.")
    if len(facts.get("devices", ())) > 1:
        sentences.append("Devices involved: " + ", ".join(facts["devices"]) + ".")
    return sentences


def changed_in_place(facts: dict[str, Any]) -> str:
    changes = facts["version"] - facts["expected_version"]
    what = "The tensor"
    if "shape" in facts:
        what += f" of shape {shape_text(facts['shape'])}"
    if "op" in facts:
        what += f" produced by {facts['op']} (output {facts['output_index']})"
    times = "once" if changes == 1 else f"{changes} times"
    return (f"{what} was saved for the backward pass at version {facts['expected_version']} "
            f"and then changed in place {times} (it is now at version {facts['version']}).")


def shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"
