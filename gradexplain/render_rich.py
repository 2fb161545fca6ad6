"""Rich terminal output of a Document; imported only when writing to a colour terminal."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table as RichTable
from rich.text import Text

from gradexplain.document import Block, Bullets, Change, Code, Document, Para, Table


def print_rich(document: Document, force_color: bool, width: int | None = None,
               file: TextIO | None = None) -> None:
    """On `file` (stdout by default): `run` and the excepthook explain on stderr."""
    console = Console(file=file, force_terminal=force_color or None,
                      no_color=False if force_color else None, width=width, highlight=False)
    style = "bold green" if document.explained else "bold yellow"
    console.print(Rule(Text(document.heading, style=style), align="left"))
    for section in document.sections:
        console.print()
        console.print(Text(section.title, style="bold cyan"))
        for block in section.blocks:
            console.print(Padding(renderable(block), (0, 0, 0, 2)))


def renderable(block: Block) -> RenderableType:
    if isinstance(block, Para):
        return Text(block.text)
    if isinstance(block, Bullets):
        return Group(*(Text("• ") + Text(item) for item in block.items))
    if isinstance(block, Code):
        return code(block)
    if isinstance(block, Table):
        table = RichTable(*block.header, header_style="bold")
        for row in block.rows:
            table.add_row(*row)
        return table
    return change(block)


def code(block: Code) -> RenderableType:
    return Syntax(block.text, "python", theme="ansi_dark", background_color="default",
                  line_numbers=block.first_line is not None,
                  start_line=block.first_line or 1, word_wrap=True)


def change(block: Change) -> RenderableType:
    title = Text(f"{block.number}. ", style="bold") + Text(block.title)
    label = Text("in your code:" if block.tailored else "for example:", style="dim")
    styles = {"-": "red", "+": "green"}
    lines = [Text(line, style=styles.get(line[:1], "")) for line in block.diff()]
    return Group(title, Padding(Group(label, *lines), (0, 0, 0, 3)))
