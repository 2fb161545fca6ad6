"""gradexplain: explain PyTorch autograd errors and how to fix them.

`import gradexplain` stays cheap (the .pth excepthook stub imports it in every Python
process of an environment): the API is loaded on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would cost every process
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
API = ("explain_text", "explain_exception", "install")


def __getattr__(name: str) -> Any:
    """`gradexplain.explain_text`, `.explain_exception`, `.install`: see gradexplain.api."""
    if name in API:
        from gradexplain import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradexplain' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext gradexplain`: see gradexplain.ipython."""
    from gradexplain.ipython import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext gradexplain`: see gradexplain.ipython."""
    from gradexplain.ipython import unload

    unload(ipython)
