"""fixes/_statement.py: a fix regenerates only the top-level statement that holds the line
and splices its code into the source; the result must be what regenerating the whole module
gives, whatever the file's layout."""

from __future__ import annotations

import libcst as cst
import pytest
from conftest import case_files

from gradexplain.fixes._statement import Replace, parsed

LAYOUTS = {
    "plain": "import torch\n\nx = 1\ny = x * 2\n",
    "no-final-newline": "import torch\nx = 1\ny = x * 2",
    "crlf": "import torch\r\nx = 1\r\ndef f():\r\n    y = x * 2\r\n    return y\r\n",
    "header-and-footer-comments": "# header\n\n#!x\nx = 1\n\n# footer\n",
    "nested": ("class A:\n    def f(self):\n        if x:\n            y = 1  # c\n"
               "        return y\n"),
    "semicolons-and-continuation": "x = 1; y = 2\nz = (x +\n     y)\nw = x \\\n    + 1\n",
    "tabs": "def f():\n\tif x:\n\t\ty = 1\n\treturn y\n",
}


def sources() -> dict[str, str]:
    cases = {p.name: p.read_text(encoding="utf-8") for p in case_files()[::7]}
    return {**LAYOUTS, **cases}


@pytest.mark.parametrize("name", sorted(sources()))
def test_spliced_fix_equals_the_regenerated_module(name: str) -> None:
    source = sources()[name]
    tree = parsed(source)
    assert (tree.offsets is None) == (name == "no-final-newline")
    for _, _, target, top in tree.statements:
        replacement = cst.FlattenSentinel([cst.parse_statement("pass\n"),
                                           target.with_changes(leading_lines=())])
        spliced = tree.replaced(top, Replace(target, replacement))
        assert spliced == tree.module.visit(Replace(target, replacement)).code
        assert spliced != source
