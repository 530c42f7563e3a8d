"""Figures a passage's tables state: cells under their year columns in a parsed table, and rows of
a statement whose text layer lost its cells ("flattened"), each with its line item and unit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from agents.providers.offline_labels import (
    BOLD,
    NOT_ANNUAL,
    OWN_UNIT,
    PARENTHETICAL,
    PERIOD_SPAN,
    Figure,
    FigureName,
    FigureSource,
    cell_value,
    label_terms,
    period_text,
    year_of,
)

_HEADER_YEAR = re.compile(
    r"(?<![\d,.])(?P<prefix>fy\s?|fiscal\s+(?:year\s+)?)?(?P<year>(?:19|20)\d{2})(?![\d,%]|\.\d)",
    re.IGNORECASE,
)
_DATE_WORDS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|\d{1,2}|years?|ended|ending|"
    r"as\s+of|fiscal|fy)\b[,.]?",
    re.IGNORECASE,
)
_TABLE_SCALE = re.compile(r"\b(thousand|million|billion|trillion)s\b", re.IGNORECASE)
_TABLE_CURRENCY = re.compile(r"\$|\bus\s*dollars?\b|\busd\b", re.IGNORECASE)
# "Revenue by segment" names the metric of the table that follows it.
_TABLE_CAPTION = re.compile(
    r"(?P<metric>(?:net\s+|total\s+)?(?:revenues?|sales|operating\s+income|net\s+income|"
    r"gross\s+(?:profit|margin)))\s+by\s+(?:reportable\s+|business\s+|operating\s+|"
    r"geographic\s+|market\s+)?(?:segments?|categor(?:y|ies)|platforms?|geograph(?:y|ies)|"
    r"regions?|markets?|divisions?|product\s+lines?)\b",
    re.IGNORECASE,
)

# Statements whose text layer lost the table's cells arrive flattened: "(Dollars in millions)
# 2019 2018 ASSETS Current assets: Cash and equivalents $ 4,466 $ 4,249 Short-term investments
# 197 996 ...". A run of column years (each may follow its month and day) heads such a table.
_FLAT_YEARS = re.compile(
    r"(?:(?<=\s)|^)(?P<years>(?:(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+)?(?:19|20)\d{2}\s+){1,4}"
    r"(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+)?(?:19|20)\d{2})(?=\s+[A-Za-z$(])"
)
_FLAT_VALUE = re.compile(
    r"^(?:\$|%|\(?\$?-?\d{1,3}(?:,\d{3})*(?:\.\d+)?\)?%?|\(\d+(?:\.\d+)?\)%?|[\u2014\u2013-])$"
)
_FLAT_DATE = re.compile(r"(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+)?(?:19|20)\d{2}")
_FLAT_CURRENCY = re.compile(r"\$|\bdollars?\b|\busd\b", re.IGNORECASE)
_FLAT_CHANGE = re.compile(r"\bchange\b", re.IGNORECASE)
_FLAT_SCALE = re.compile(r"\bin\s+(thousand|million|billion)s\b", re.IGNORECASE)
# Words of a flattened row's label before it is taken for prose.
_FLAT_LABEL_WORDS = 12

# (column, year, period text, the header's other words, their text)
PeriodColumn = tuple[int, int, str, frozenset[str], str]


def _period_columns(header: list[str], *, annual: bool) -> list[PeriodColumn]:
    """The year columns of a table's header.

    A column of an interim table keeps its whole header ("three months ended June 25, 2022")
    as its period: the year alone would pass it off as the year's amount.
    """
    found = []
    for index, cell in enumerate(header[1:], start=1):
        years = list(_HEADER_YEAR.finditer(cell))
        if len(years) != 1:
            continue
        match = years[0]
        rest = _DATE_WORDS.sub(" ", cell[: match.start()] + " " + cell[match.end() :])
        rest = " ".join(BOLD.sub("", rest).split())
        period = match.group(0) if annual else " ".join(BOLD.sub("", cell).split())
        if not annual:  # a bare year must not pass for the fiscal year
            period = (
                f"{period} (interim period)" if period.isdigit() else f"the period ended {period}"
            )
        found.append((index, year_of(match), period, label_terms(rest), rest))
    bare = [c for c in found if c[2].strip().isdigit() and not c[4]]
    # A lone bare year could be a data row taken for a header (a table cut by the chunker).
    if len(bare) == 1 and len(found) == 1:
        return []
    years_seen = [c[1] for c in found]
    if len(set(zip(years_seen, (c[3] for c in found), strict=True))) != len(found):
        return []  # two columns for the same year and metric: which one is meant?
    return found


@dataclass(frozen=True)
class _Table:
    """What a parsed table's header and the lines above it say about every cell."""

    columns: list[PeriodColumn]
    annual: bool
    span: str  # "three months ended", when the header says which span its columns cover
    scale: str | None
    currency: bool
    context: frozenset[str]  # the metric its caption names ("revenue by segment")
    context_display: str

    def period(self, period: str, year: int) -> str:
        if self.annual:
            return period_text(period, year)
        return period.replace(
            "the period ended", f"the {self.span}" if self.span else "the period ended"
        )


def _table(header: list[str], caption: str, entity: frozenset[str]) -> _Table | None:
    """The table's layout, or None when no column is a year's."""
    # The unit is said in the header's first cell or a short caption line just above the table.
    last_line = caption.rsplit("\n", 1)[-1]
    heading = last_line if len(last_line.split()) <= 12 else ""
    unit_text = f"{heading} {header[0]}"
    annual = not NOT_ANNUAL.search(f"{heading} {' '.join(header)}")
    columns = _period_columns(header, annual=annual)
    if not columns:
        return None
    spans = PERIOD_SPAN.findall(f"{heading} {header[0]}")
    scale = _TABLE_SCALE.search(unit_text)
    captions = list(_TABLE_CAPTION.finditer(caption))
    metric = captions[-1].group("metric") if captions else ""
    return _Table(
        columns=columns,
        annual=annual,
        span=" ".join(spans[0].lower().split()) if len(spans) == 1 else "",
        scale=scale.group(1).lower() if scale else None,
        currency=bool(_TABLE_CURRENCY.search(unit_text)),
        context=label_terms(metric) - entity,
        context_display=" ".join(metric.lower().split()),
    )


@dataclass(frozen=True)
class _Section:
    """A heading row inside a table ("Cost of revenue:"), which names the rows below it."""

    text: str = ""
    terms: frozenset[str] = frozenset()


def _row_figures(
    table: _Table, row: list[str], section: _Section, source: FigureSource
) -> list[Figure]:
    label = " ".join(BOLD.sub("", row[0]).split())
    row_terms = label_terms(PARENTHETICAL.sub(" ", label)) - source.entity
    own_unit = bool(OWN_UNIT.search(f"{section.text} {label}"))
    context = (table.context | section.terms) - row_terms if section.terms else table.context
    context_display = section.text.lower() if section.terms - row_terms else table.context_display
    shown_label = " ".join(PARENTHETICAL.sub(" ", label).split())
    figures: list[Figure] = []
    for column, year, period, header_terms, header_text in table.columns:
        parsed = cell_value(row[column])
        if parsed is None:
            continue
        value, cell_currency = parsed
        shown_header = header_text if header_terms - row_terms else ""
        name = FigureName(
            row_terms | (header_terms - source.entity),
            context,
            f"{shown_label} {shown_header}".strip(),
            context_display,
        )
        figures.append(
            Figure(
                names=(name,),
                year=year,
                period=table.period(period, year),
                value=value,
                scale="" if own_unit else table.scale,
                currency=table.currency or cell_currency or own_unit,
                passage=source.passage,
                block=source.block,
                order=source.start + len(figures),
                entity=source.entity,
                annual=table.annual,
            )
        )
    return figures


def table_figures(rows: list[list[str]], caption: str, source: FigureSource) -> list[Figure]:
    """The figures of a parsed table (its first row the header), `caption` the prose above it."""
    header, body = rows[0], rows[1:]
    table = _table(header, caption, source.entity)
    if table is None:
        return []
    figures: list[Figure] = []
    section = _Section()
    for row in body:
        if len(row) == 1:  # "Cost of revenue:" heads the rows below it
            text = " ".join(BOLD.sub("", row[0]).split()).rstrip(":")
            section = _Section(text, label_terms(PARENTHETICAL.sub(" ", text)) - source.entity)
            continue
        if len(row) != len(header):
            continue  # a row missing a cell cannot be aligned with the years
        at = replace(source, start=source.start + len(figures))
        figures.extend(_row_figures(table, row, section, at))
    return figures


@dataclass(frozen=True)
class _FlatTable:
    """A flattened statement's columns and unit, and where its rows start."""

    years: list[int]
    periods: list[str]
    extra: int  # change columns ("$ Change % Change") after the amounts
    body: int
    scale: str
    currency: bool
    annual: bool


def _flat_periods(header: str, before: str) -> tuple[list[str], list[int], list[str]] | None:
    """The dates and years of a flattened statement's column run, and the spans the text before
    it names ("three months ended"); None unless they are distinct periods, newest first."""
    dates = [" ".join(d.split()) for d in _FLAT_DATE.findall(header)]
    years = [int(d[-4:]) for d in dates]
    # "Three Months Ended ... Nine Months Ended" print the same years once per span.
    spans = [" ".join(m.lower().split()) for m in PERIOD_SPAN.findall(before)]
    cycles = len(spans) if len(spans) > 1 and len(years) % len(spans) == 0 else 1
    block_dates = dates[: len(dates) // cycles]
    block_years = years[: len(years) // cycles]
    if (
        block_dates * cycles != dates
        or len(set(block_dates)) != len(block_dates)
        or sorted(block_years, reverse=True) != block_years
    ):
        return None  # not a run of distinct periods, newest first, as statements print them
    if not NOT_ANNUAL.search(before) or not spans:
        return dates, years, [str(y) for y in years]
    width = len(block_years)
    periods = [f"the {spans[min(i // width, len(spans) - 1)]} {d}" for i, d in enumerate(dates)]
    return dates, years, periods


def _flat_table(text: str) -> _FlatTable | None:
    """The statement a run of column years heads, or None without one or without a unit."""
    header = _FLAT_YEARS.search(text)
    if header is None:
        return None
    before = text[max(0, header.start() - 300) : header.start()]
    found = _flat_periods(header.group("years"), before)
    if found is None:
        return None
    _, years, periods = found
    # "$ Change % Change ($ in millions)" after the years: change columns follow the amounts.
    after = text[header.end() : header.end() + 80]
    extra = len(_FLAT_CHANGE.findall(after.split("(")[0] if "(" in after else after[:30]))
    body = header.end()
    scale = _FLAT_SCALE.search(before)
    if scale is None:
        scale = _FLAT_SCALE.search(after)
        closing = after.find(")", scale.end()) if scale else -1
        body += closing + 1 if closing >= 0 else 0  # the rows start after "($ in millions)"
    if scale is None:
        return None  # a unit is needed to state a flattened figure at all
    unit_text = f"{before[-120:]} {text[header.end() : body]}"
    return _FlatTable(
        years=years,
        periods=periods,
        extra=extra,
        body=body,
        scale=scale.group(1).lower(),
        currency=bool(_FLAT_CURRENCY.search(unit_text)),
        annual=not NOT_ANNUAL.search(before),
    )


def _flat_row(
    words: list[str], values: list[str], table: _FlatTable
) -> tuple[str, list[str], bool] | None:
    """A row's label, one value per column and whether a dollar sign was among them; None when
    the values do not fill the columns (with or without the change columns)."""
    cells = [v for v in values if v not in ("$", "%")]
    columns = len(table.years)
    if len(cells) not in (columns, columns + table.extra) or not words:
        return None
    label_text = " ".join(words)
    label = label_text.rpartition(":")[2].strip() or label_text  # after "Current assets:"
    return label, cells[:columns], "$" in values


def _flat_rows(table: _FlatTable, text: str) -> Iterator[tuple[str, list[str], bool]]:
    """The rows of a flattened statement's body: label words, then its values."""
    words: list[str] = []
    values: list[str] = []
    for token in text[table.body :].split():
        if _FLAT_VALUE.match(token):
            values.append(token)
            continue
        if values:
            row = _flat_row(words, values, table)
            if row is not None:
                yield row
            words.clear()
            values.clear()
        if len(words) >= _FLAT_LABEL_WORDS:
            words.clear()  # prose, not a row label
        words.append(token)
    if values:
        row = _flat_row(words, values, table)
        if row is not None:
            yield row


def _flat_row_figures(
    table: _FlatTable, label: str, cells: list[str], dollars: bool, source: FigureSource
) -> list[Figure]:
    terms = label_terms(PARENTHETICAL.sub(" ", label)) - source.entity
    if not terms:
        return []
    own_unit = bool(OWN_UNIT.search(label))
    figures: list[Figure] = []
    for year, period, cell in zip(table.years, table.periods, cells, strict=True):
        parsed = cell_value(cell.replace("\u2014", "").replace("\u2013", ""))
        if parsed is None or cell.endswith("%"):
            continue
        figures.append(
            Figure(
                names=(FigureName(terms, frozenset(), label),),
                year=year,
                period=period,
                value=parsed[0],
                scale="" if own_unit else table.scale,
                currency=table.currency or dollars or own_unit,
                passage=source.passage,
                block=source.block,
                order=source.start + len(figures),
                entity=source.entity,
                annual=table.annual,
            )
        )
    return figures


def flat_figures(text: str, source: FigureSource) -> list[Figure]:
    """The rows of a flattened statement: label words, then exactly one value per column year."""
    table = _flat_table(text)
    if table is None:
        return []
    figures: list[Figure] = []
    for label, cells, dollars in _flat_rows(table, text):
        at = replace(source, start=source.start + len(figures))
        figures.extend(_flat_row_figures(table, label, cells, dollars, at))
    return figures
