"""An installed wheel carries the knowledge base and finds it without the checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import KNOWLEDGE, child_env

ROOT = KNOWLEDGE.parent


def test_wheel_ships_and_finds_knowledge(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, timeout=300, env=child_env())
    wheel = next((tmp_path / "dist").glob("gradexplain-*.whl"))
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300, env=child_env())
    probe = ("import sys; sys.path.insert(0, sys.argv[1])\n"
             "import gradexplain.knowledge as k\n"
             "base = k.load([k.builtin_dir()])\n"
             "print(k.builtin_dir()); print(len(base.entries), len(base.problems))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60, check=True)
    location, counts = result.stdout.splitlines()
    assert Path(location) == target / "gradexplain" / "knowledge"
    expected = len(list(KNOWLEDGE.rglob("*.yaml")))
    assert counts == f"{expected} 0"
