"""Which frame is the user's: library paths on every platform, and the statement read from
disk only while the file still matches the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradexplain.frames import is_user_file, pick_user_frame, user_flags
from gradexplain.model import Frame

USER = [
    "/home/me/proj/train.py", "train.py", "./train.py", "/home/me/proj/bin/train.py",
    "/home/me/proj/models/transformers/block.py",  # a folder named like a library
    "/home/me/transformers/examples/pytorch/run_glue.py",  # a cloned library's example
    "/home/spp/OICR-pytorch/lib/model/oicr/oicr.py",  # a project folder named lib
    "C:\\Users\\me\\proj\\lib\\data.py", "Cell In[3]", "<ipython-input-3-abc>", "<stdin>",
    "<string>",
]
LIBRARY = [
    "/opt/venv/lib/python3.11/site-packages/torch/_tensor.py", "/usr/lib/python3.11/runpy.py",
    "/usr/lib/python3/dist-packages/numpy/core/x.py", "C:\\Python311\\lib\\runpy.py",
    "C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python311\\Lib\\runpy.py",
    "E:\\anaconda\\envs\\t\\lib\\site-packages\\torch\\tensor.py",
    "/home/me/pytorch/torch/autograd/__init__.py", "/opt/venv/bin/torchrun",
    "<eval_with_key>.3", "<frozen runpy>",
    "/home/me/.conda/envs/x/lib/python3.10/site-packages/lightning/pytorch/trainer.py",
]


@pytest.mark.parametrize("path", USER)
def test_user_paths(path: str) -> None:
    assert is_user_file(path)


@pytest.mark.parametrize("path", LIBRARY)
def test_library_paths(path: str) -> None:
    assert not is_user_file(path)


def test_statement_read_from_disk_when_unchanged(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("import torch\nloss = criterion(\n    out,\n    target)\nloss.backward()\n")
    frames = (Frame(str(script), 3, "<module>", "out,"),
              Frame("/opt/venv/lib/python3.11/site-packages/torch/_tensor.py", 1, "f", "x"))
    user = pick_user_frame(frames, user_flags(frames))
    assert user is not None and user.from_disk
    assert user.statement == "loss = criterion(\n    out,\n    target)"
    changed = (Frame(str(script), 3, "<module>", "something else"),)
    stale = pick_user_frame(changed, user_flags(changed))
    assert stale is not None and not stale.from_disk and stale.statement == "something else"
