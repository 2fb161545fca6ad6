"""detectors/scopes.py: which value a name certainly holds where it is used."""

from __future__ import annotations

import ast

import pytest

from gradexplain.detectors.scopes import scopes


def value_at_last_use(source: str, name: str) -> str | None:
    """The value `name` holds at its last read in the module body, as source text."""
    tree = ast.parse(source)
    module = next(scopes(tree))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name
            and isinstance(n.ctx, ast.Load)]
    use = max(uses, key=lambda n: (n.lineno, n.col_offset))
    value = module.value_before(name, use)
    return None if value is None else ast.unparse(value)


@pytest.mark.parametrize(("source", "expected"), [
    ("y = 1\ny.f()\n", "1"),
    ("y = 2 * x; y.f()\n", "2 * x"),  # two statements on one line
    ("y = 1\ny = y * 2; y.f()\n", "y * 2"),
    ("y = 1\nz = y * 2\n", "1"),  # the read in an assignment's own value: the old one
    ("y = 1\ny = y + 1\n", "1"),
    ("y = 1\nfor y in ys: y.f()\n", None),  # a loop's binding on the use's line
    ("y = 1\nif c: y = 2\ny.f()\n", None),
    ("y = 1\nwhile c:\n    y.f()\n    y = 2\n", None),
    # other bindings: the value they give is not known, and the earlier one is gone
    ("y = 1\nwith f() as y:\n    pass\ny.f()\n", None),
    ("y = 1\ntry:\n    pass\nexcept E as y:\n    pass\ny.f()\n", None),
    ("y = 1\nimport y\ny.f()\n", None),
    ("y = 1\nfrom m import x as y\ny.f()\n", None),
    ("y = 1\nmatch v:\n    case [y]:\n        pass\ny.f()\n", None),
    ("y = 1\nmatch v:\n    case {**y}:\n        pass\ny.f()\n", None),
])
def test_value_before(source: str, expected: str | None) -> None:
    assert value_at_last_use(source, "y") == expected
