"""Figures the retrieved passages state: each amount with the line item it belongs to, its period
(from a table's column header or the sentence) and its unit (from the table's caption or the
amount itself). The offline provider's answer and its calculation planner both read these.

A passage is read line by line into tables (`offline_tables`) and prose (`offline_prose`); a
passage without table rows may be a statement whose cells were flattened into one run of text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from agents.contracts import ContextPassage
from agents.providers.offline_labels import Figure, FigureSource, entity_terms
from agents.providers.offline_prose import sentence_figures
from agents.providers.offline_tables import flat_figures, table_figures
from fintext.periods import periods_in
from fintext.sentences import split_sentences
from fintext.tables import is_separator_row, row_cells

# A short line without a full stop between table rows ("Cost of revenue:", "Current assets")
# heads the rows below it.
_SECTION_LINE = re.compile(r"^[A-Za-z][^.|]{0,60}:?$")
_QUARTERLY_DOCUMENT = re.compile(r"\b10-?q\b|\bq[1-4]\b|\bquarter", re.IGNORECASE)


@dataclass
class _Reader:
    """A passage read line by line: prose until a table starts, its rows until it ends."""

    passage: ContextPassage
    entity: frozenset[str]
    start: int
    figures: list[Figure] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    block: int = 0

    def next_source(self) -> FigureSource:
        """Where the next table or sentence is: a new block, numbered after the figures so far."""
        self.block += 1
        return FigureSource(
            self.passage.number, self.block, self.entity, self.start + len(self.figures)
        )

    def flush_table(self) -> None:
        # Headings after the last row belong to what follows (the next table's caption).
        trailing: list[str] = []
        while self.rows and len(self.rows[-1]) == 1:
            trailing.insert(0, self.rows.pop()[0])
        if self.rows:
            self.figures.extend(table_figures(self.rows, "\n".join(self.prose), self.next_source()))
            self.rows = []
            self.prose = []
        self.prose.extend(trailing)

    def flush_prose(self) -> None:
        # Line breaks are kept: a line may start a subject under a heading in Title Case.
        for sentence in split_sentences("\n".join(self.prose)):
            self.figures.extend(sentence_figures(sentence, self.next_source()))

    def read(self, line: str) -> None:
        cells = row_cells(line)
        if cells:
            if not self.rows:
                self.flush_prose()
            if not is_separator_row(cells):
                self.rows.append(cells)
            return
        if self.rows and _SECTION_LINE.match(line.strip()):
            self.rows.append([line.strip()])  # a heading inside the table, not its end
            return
        if self.rows and not line.strip():
            return
        self.flush_table()
        if line.strip():
            self.prose.append(line.strip())


def passage_figures(passage: ContextPassage, entity: frozenset[str], start: int) -> list[Figure]:
    """Every figure of a passage, in reading order (`start` numbers the first)."""
    reader = _Reader(passage, entity, start)
    for line in passage.text.splitlines():
        reader.read(line)
    reader.flush_table()
    reader.flush_prose()
    figures = reader.figures
    if "|" not in passage.text:
        flat = " ".join(passage.text.split())
        figures.extend(flat_figures(flat, reader.next_source()))
    if _QUARTERLY_DOCUMENT.search(passage.document):
        # A quarterly report's "2023" column is the quarter's (or the year to date's), never
        # the fiscal year's, unless its header says so.
        figures = [
            replace(f, annual=False, period=f"{f.period} (interim period)")
            if f.annual and not f.period.startswith("fiscal")
            else f
            for f in figures
        ]
    return figures


def figures_of(passages: Sequence[ContextPassage]) -> list[Figure]:
    """The figures of every passage, each tagged with the company its document names."""
    figures: list[Figure] = []
    for passage in passages:
        figures.extend(passage_figures(passage, entity_terms(passage.document), len(figures)))
    return figures


def question_years(question: str) -> list[int]:
    """The years a question names ("2019", "fiscal 2020", "FY21", "Q3 2023"), earliest first."""
    return sorted(set(periods_in(question, today=None).years))
