"""Table rows as the parsers write them ("label | cell | cell") and as text quotes them
(pipes, tabs or wide gaps)."""

from __future__ import annotations

import re

# Parsed pages write each table row on one line with its cells joined by this.
TABLE_CELL_SEPARATOR = " | "

_WIDE_GAP = re.compile(r"\s{2,}")
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")
_FIGURE = re.compile(r"\d")


def is_table_row(line: str) -> bool:
    """Whether a parsed line is a table row."""
    return TABLE_CELL_SEPARATOR in line


def row_label(line: str) -> str:
    """The first cell of a parsed table row (the whole line when it is not one)."""
    return line.split(TABLE_CELL_SEPARATOR, 1)[0]


def row_cells(line: str) -> list[str]:
    """The cells of a table row (pipes, tabs or wide gaps), or [] when the line is not one.

    A line split only by wide gaps counts as a row when it has three cells and a figure after
    the label: prose justified with double spaces is not a table.
    """
    if "|" in line:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    elif "\t" in line:
        cells = [cell.strip() for cell in line.split("\t")]
    else:
        cells = [cell.strip() for cell in _WIDE_GAP.split(line.strip())]
        if len(cells) < 3 or not any(_FIGURE.search(cell) for cell in cells[1:]):
            return []
    cells = [cell for cell in cells if cell]
    return cells if len(cells) >= 2 else []


def is_separator_row(cells: list[str]) -> bool:
    """Whether a row's cells are the rule under a Markdown table's header ("---", ":--:")."""
    return all(_SEPARATOR_CELL.match(cell) for cell in cells)
