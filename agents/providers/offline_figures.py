"""Figures the retrieved passages state: each amount with the line item it belongs to, its period
(from a table's column header or the sentence) and its unit (from the table's caption or the
amount itself). The offline provider's answer and its calculation planner both read these."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from agents.contracts import ContextPassage
from fintext.periods import is_year, periods_in
from fintext.sentences import split_sentences
from fintext.tables import is_separator_row, row_cells
from fintext.words import FINANCIAL_TERMS, canonical, tokens, word_set

SCALES = {
    "": Decimal(1),
    "thousand": Decimal(10) ** 3,
    "million": Decimal(10) ** 6,
    "billion": Decimal(10) ** 9,
    "trillion": Decimal(10) ** 12,
}

# Words that never tell two metrics apart, in a question or in a row label.
_LABEL_STOPWORDS = word_set(
    """
    a an the of and or in on at by for from to with as its their our total consolidated reported
    fiscal fy year full amount us usd dollar million billion thousand trillion except company
    during ended ending
    """
)
# Words that say what to calculate, or how to ask, rather than which figure.
QUESTION_ONLY = frozenset(
    canonical(word)
    for word in word_set(
        """
    what which how much many did does do was were is are be been being has have had between
    compared compare comparison versus vs please tell show give me i we you can could would
    should when why it its they them this these those that grow grew grown grows growing growth
    increase increased increases increasing
    decrease decreased decreases decreasing decline declined declines declining drop dropped
    drops fall fell fallen falls rise rose risen rises change changed changes percent
    percentage cagr compound compounded annual annualized annualised rate yoy over prior
    previous preceding period calculate compute earlier before last then
    """
    )
)
# Title words that name a kind of document, not a company.
TITLE_GENERIC = frozenset(
    canonical(word)
    for word in word_set(
        """
    inc corp corporation co ltd llc plc sa ag nv group holding holdings annual quarterly report
    summary form 10 k q 8 20 f style filing document pdf txt md htm html transcript call proxy
    statement sec 10k 10q current proxy presentation
    """
    )
)
_METRIC_WORDS = frozenset(canonical(word) for word in FINANCIAL_TERMS)

_LABEL_REWRITES = (
    (re.compile(r"earnings\s+per\s+(?:diluted\s+|basic\s+)?share", re.IGNORECASE), "eps"),
    (re.compile(r"\bcapex\b", re.IGNORECASE), "capital expenditures"),
    (re.compile(r"\br&d\b", re.IGNORECASE), "research and development"),
)
_PARENTHETICAL = re.compile(r"\([^()]*\)")
_BOLD = re.compile(r"[*_]{1,2}")

NOT_ANNUAL = re.compile(
    r"\bq[1-4]\b|\bquarter|\bmonths?\b|\bhalf\b|\bh[12]\b|\bytd\b|year[\s-]to[\s-]date|"
    r"\bweeks?\b|\binterim\b|\bsemi[\s-]?annual",
    re.IGNORECASE,
)
# Figures stated on another basis than the reported one.
_QUALIFIED = re.compile(
    r"\b(?:adjusted|non-gaap|pro\s+forma|excluding|constant[\s-]currency|organic|respectively|"
    r"restated|recast|approximately|about|nearly|roughly|estimated|expected|guidance|outlook)\b",
    re.IGNORECASE,
)

_MONEY = re.compile(
    r"(?<![\w.$])(?P<sign>[-\u2212])?(?:US)?\$\s?(?P<number>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?P<decimals>\.\d+)?(?:\s*(?P<scale>thousand|million|billion|trillion)s?\b)?",
    re.IGNORECASE,
)
_FOLLOWING_YEAR = re.compile(
    r"\s*(?:(?:in|for|during)\s+(?:the\s+)?|\()"
    r"(?P<period>(?:fiscal\s+(?:year\s+)?|fy\s?)?(?P<year>(?:19|20)\d{2}))\b\)?",
    re.IGNORECASE,
)
_MORE_YEARS = re.compile(
    r"\s*(?:and|to|through|or|-|\u2013)\s*(?:fiscal\s+)?(?:fy\s?)?(?:19|20)\d{2}", re.IGNORECASE
)
_SUBJECT_YEAR = re.compile(
    r"(?:\b(?:in|for|during)\s+(?:the\s+)?)?(?P<period>(?:fiscal\s+(?:year\s+)?|fy\s?)?"
    r"(?P<year>(?:19|20)\d{2}))\b,?",
    re.IGNORECASE,
)
_VERB = re.compile(
    r"\b(?:was|were|totaled|totalled|amounted\s+to|came\s+to|reached|"
    r"(?:rose|grew|increased|climbed|fell|declined|decreased|dropped)"
    r"(?:\s+(?:by\s+)?\d+(?:\.\d+)?\s*%)?\s+(?:to|from))\b",
    re.IGNORECASE,
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
_CELL_NUMBER = re.compile(
    r"^(?P<open>\()?(?P<sign>[-\u2212])?(?P<currency>(?:US)?\$)?\s?"
    r"(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?(?P<close>\))?$"
)
_TABLE_SCALE = re.compile(r"\b(thousand|million|billion|trillion)s\b", re.IGNORECASE)
_TABLE_CURRENCY = re.compile(r"\$|\bus\s*dollars?\b|\busd\b", re.IGNORECASE)
_OWN_UNIT = re.compile(r"per[\s-]share|\beps\b|\((?:us)?\$[^)]*\)|\bin\s+dollars\b", re.IGNORECASE)
# "Revenue by segment" names the metric of the table that follows it.
# A short line without a full stop between table rows ("Cost of revenue:", "Current assets")
# heads the rows below it.
_SECTION_LINE = re.compile(r"^[A-Za-z][^.|]{0,60}:?$")
_TABLE_CAPTION = re.compile(
    r"(?P<metric>(?:net\s+|total\s+)?(?:revenues?|sales|operating\s+income|net\s+income|"
    r"gross\s+(?:profit|margin)))\s+by\s+(?:reportable\s+|business\s+|operating\s+|"
    r"geographic\s+|market\s+)?(?:segments?|categor(?:y|ies)|platforms?|geograph(?:y|ies)|"
    r"regions?|markets?|divisions?|product\s+lines?)\b",
    re.IGNORECASE,
)


def label_terms(text: str) -> frozenset[str]:
    """The words that name a metric, normalised so a row label and a question compare."""
    lowered = text.lower()
    for pattern, replacement in _LABEL_REWRITES:
        lowered = pattern.sub(replacement, lowered)
    terms: set[str] = set()
    for token in tokens(lowered):
        if token.startswith("fy"):
            continue
        if token[0].isdigit():
            number = token.replace(",", "")
            if not is_year(number):
                terms.add(number)
        elif token not in _LABEL_STOPWORDS:
            stem = canonical(token)
            if stem not in _LABEL_STOPWORDS:
                terms.add(stem)
    if "revenue" in terms:
        terms.discard("net")  # net sales, net revenue and revenue are the same line
    return frozenset(terms)


def entity_terms(title: str) -> frozenset[str]:
    """The words of a document's title that name its company (years and form names removed)."""
    return label_terms(title) - TITLE_GENERIC - _METRIC_WORDS - QUESTION_ONLY


@dataclass(frozen=True)
class FigureName:
    """One way a figure is named: `terms` must all be asked for; `context` (a table's caption)
    may supply the asked-for words the row itself leaves out."""

    terms: frozenset[str]
    context: frozenset[str]
    display: str
    context_display: str = ""


@dataclass(frozen=True)
class Figure:
    """An amount a passage states for one fiscal year, from a table cell or a sentence."""

    names: tuple[FigureName, ...]
    year: int
    period: str
    value: Decimal
    scale: str | None  # None: the table does not say its unit
    currency: bool
    passage: int
    block: int  # the table or sentence it came from, within the passage
    order: int
    entity: frozenset[str]
    annual: bool = True  # a fiscal year's amount, not a quarter's or a half-year's

    @property
    def name(self) -> FigureName:
        return self.names[0]


def _period_text(period: str, year: int) -> str:
    return f"fiscal {year}" if period.strip().lower().startswith(("fy", "fiscal")) else str(year)


def _decimal(sign: str | None, number: str, decimals: str | None) -> Decimal:
    value = Decimal(number.replace(",", "") + (decimals or ""))
    return -value if sign else value


def _year_of(match: re.Match[str]) -> int:
    return int(match.group("year"))


def _period_columns(
    header: list[str], *, annual: bool
) -> list[tuple[int, int, str, frozenset[str], str]]:
    """(column, year, period text, the header's other words, their text) of year columns.

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
        rest = " ".join(_BOLD.sub("", rest).split())
        period = match.group(0) if annual else " ".join(_BOLD.sub("", cell).split())
        if not annual:  # a bare year must not pass for the fiscal year
            period = (
                f"{period} (interim period)" if period.isdigit() else f"the period ended {period}"
            )
        found.append((index, _year_of(match), period, label_terms(rest), rest))
    bare = [c for c in found if c[2].strip().isdigit() and not c[4]]
    # A lone bare year could be a data row taken for a header (a table cut by the chunker).
    if len(bare) == 1 and len(found) == 1:
        return []
    years_seen = [c[1] for c in found]
    if len(set(zip(years_seen, (c[3] for c in found), strict=True))) != len(found):
        return []  # two columns for the same year and metric: which one is meant?
    return found


def _cell_value(cell: str) -> tuple[Decimal, bool] | None:
    text = _BOLD.sub("", cell).strip().replace(" ", "")
    match = _CELL_NUMBER.match(text)
    if match is None or bool(match.group("open")) != bool(match.group("close")):
        return None
    value = _decimal(match.group("sign"), match.group("number"), match.group("decimals"))
    return (-value if match.group("open") else value), bool(match.group("currency"))


def _table_figures(
    rows: list[list[str]],
    caption: str,
    passage: int,
    block: int,
    entity: frozenset[str],
    start: int,
) -> list[Figure]:
    header, body = rows[0], rows[1:]
    # The unit is said in the header's first cell or a short caption line just above the table.
    last_line = caption.rsplit("\n", 1)[-1]
    heading = last_line if len(last_line.split()) <= 12 else ""
    unit_text = f"{heading} {header[0]}"
    annual = not NOT_ANNUAL.search(f"{heading} {' '.join(header)}")
    spans = _FLAT_SPAN.findall(f"{heading} {header[0]}")
    span = " ".join(spans[0].lower().split()) if len(spans) == 1 else ""
    columns = _period_columns(header, annual=annual)
    if not columns:
        return []
    scale_match = _TABLE_SCALE.search(unit_text)
    table_scale = scale_match.group(1).lower() if scale_match else None
    table_currency = bool(_TABLE_CURRENCY.search(unit_text))
    captions = list(_TABLE_CAPTION.finditer(caption))
    context = label_terms(captions[-1].group("metric")) - entity if captions else frozenset()
    context_display = " ".join(captions[-1].group("metric").lower().split()) if captions else ""
    figures: list[Figure] = []
    section, section_terms = "", frozenset[str]()
    for row in body:
        if len(row) == 1:  # "Cost of revenue:" heads the rows below it
            section = " ".join(_BOLD.sub("", row[0]).split()).rstrip(":")
            section_terms = label_terms(_PARENTHETICAL.sub(" ", section)) - entity
            continue
        if len(row) != len(header):
            continue  # a row missing a cell cannot be aligned with the years
        label = " ".join(_BOLD.sub("", row[0]).split())
        row_terms = label_terms(_PARENTHETICAL.sub(" ", label)) - entity
        own_unit = bool(_OWN_UNIT.search(f"{section} {label}"))
        row_context = (context | section_terms) - row_terms if section_terms else context
        row_context_display = section.lower() if section_terms - row_terms else context_display
        shown_label = " ".join(_PARENTHETICAL.sub(" ", label).split())
        for column, year, period, header_terms, header_text in columns:
            parsed = _cell_value(row[column])
            if parsed is None:
                continue
            value, cell_currency = parsed
            shown_header = header_text if header_terms - row_terms else ""
            display = f"{shown_label} {shown_header}".strip()
            figures.append(
                Figure(
                    names=(
                        FigureName(
                            row_terms | (header_terms - entity),
                            row_context,
                            display,
                            row_context_display,
                        ),
                    ),
                    year=year,
                    period=_period_text(period, year)
                    if annual
                    else period.replace(
                        "the period ended", f"the {span}" if span else "the period ended"
                    ),
                    value=value,
                    scale="" if own_unit else table_scale,
                    currency=table_currency or cell_currency or own_unit,
                    passage=passage,
                    block=block,
                    order=start + len(figures),
                    entity=entity,
                    annual=annual,
                )
            )
    return figures


# Last words of the headings a filing's sections start with ("Management's Discussion and
# Analysis", "Results of Operations"): a capitalised word after one starts a new phrase.
_HEADING_ENDS = word_set(
    "analysis operations overview results highlights summary resources liquidity discussion "
    "outlook performance data"
)


def _subject_names(subject: str, entity: frozenset[str]) -> tuple[FigureName, ...]:
    """Every reading of a sentence's subject that starts a line, a capitalised phrase or the
    sentence after a heading.

    Chunked text glues headings to the first sentence under them ("... by segment Net sales for
    2018 were"), so the subject may be any such tail; a tail never starts inside a proper noun
    ("Intelligent Cloud revenue" is never read as "Cloud revenue").
    """
    words: list[tuple[str, bool]] = []
    for line_number, line in enumerate(_PARENTHETICAL.sub(" ", subject).split("\n")):
        words.extend(
            (word, index == 0 and line_number > 0) for index, word in enumerate(line.split())
        )
    names: list[FigureName] = []
    seen: set[frozenset[str]] = set()
    for index, (word, starts_line) in enumerate(words):
        capital = word[:1].isupper() or (word[:1].isdigit() and word[1:2].isupper())
        previous = words[index - 1][0] if index else ""
        after_heading = previous.endswith((":", ".")) or (
            previous.lower() in _HEADING_ENDS and not starts_line
        )
        previous_capital = previous[:1].isupper() or previous[:1].isdigit()
        if index and not starts_line and not (capital and (after_heading or not previous_capital)):
            continue
        tail = " ".join(word for word, _ in words[index:])
        terms = label_terms(tail) - entity
        if not terms or terms in seen:
            continue
        seen.add(terms)
        display = " ".join(_SUBJECT_YEAR.sub(" ", tail).split()).strip(" ,")
        display = re.sub(r"^(?:in|for|during)\s+", "", display, flags=re.IGNORECASE)
        names.append(FigureName(terms, frozenset(), display[:1].upper() + display[1:]))
    return tuple(names)


def _sentence_figures(
    sentence: str, passage: int, block: int, entity: frozenset[str], start: int
) -> list[Figure]:
    """Figures of "<metric> was $X in <year>, compared with $Y in <year>" and its variants.

    Every amount must have its own year and the sentence exactly one subject; otherwise the
    amounts could belong to something else and none is taken.
    """
    if NOT_ANNUAL.search(sentence) or _QUALIFIED.search(sentence):
        return []
    verbs = list(_VERB.finditer(sentence))
    if len(verbs) != 1:
        return []
    verb = verbs[0]
    amounts = list(_MONEY.finditer(sentence))
    if not amounts or len(amounts) > 3 or amounts[0].start() < verb.end():
        return []
    subject = sentence[: verb.start()]
    subject_years = list(_SUBJECT_YEAR.finditer(subject))
    if len(subject_years) > 1 or _MONEY.search(subject):
        return []
    names = _subject_names(subject, entity)
    if not names:
        return []
    figures: list[Figure] = []
    for position, amount in enumerate(amounts):
        following = _FOLLOWING_YEAR.match(sentence, amount.end())
        if following and _MORE_YEARS.match(sentence, following.end()):
            return []
        if following and (position or not subject_years):
            year, period = _year_of(following), following.group("period")
        elif position == 0 and subject_years and not following:
            year, period = _year_of(subject_years[0]), subject_years[0].group("period")
        else:
            return []
        scale = (amount.group("scale") or "").lower()
        figures.append(
            Figure(
                names=names,
                year=year,
                period=_period_text(period, year),
                value=_decimal(
                    amount.group("sign"), amount.group("number"), amount.group("decimals")
                ),
                scale=scale,
                currency=True,
                passage=passage,
                block=block,
                order=start + position,
                entity=entity,
            )
        )
    if len({figure.year for figure in figures}) != len(figures):
        return []
    return figures


def passage_figures(passage: ContextPassage, entity: frozenset[str], start: int) -> list[Figure]:
    """Every figure of a passage, in reading order (`start` numbers the first)."""
    figures: list[Figure] = []
    prose: list[str] = []
    rows: list[list[str]] = []
    block = 0

    def flush_table() -> None:
        nonlocal block
        # Headings after the last row belong to what follows (the next table's caption).
        trailing: list[str] = []
        while rows and len(rows[-1]) == 1:
            trailing.insert(0, rows.pop()[0])
        if rows:
            block += 1
            figures.extend(
                _table_figures(
                    rows, "\n".join(prose), passage.number, block, entity, start + len(figures)
                )
            )
            rows.clear()
            prose.clear()
        prose.extend(trailing)

    def flush_prose() -> None:
        nonlocal block
        # Line breaks are kept: a line may start a subject under a heading in Title Case.
        for sentence in split_sentences("\n".join(prose)):
            block += 1
            figures.extend(
                _sentence_figures(sentence, passage.number, block, entity, start + len(figures))
            )

    for line in passage.text.splitlines():
        cells = row_cells(line)
        if cells:
            if not rows:
                flush_prose()
            if not is_separator_row(cells):
                rows.append(cells)
            continue
        if rows and _SECTION_LINE.match(line.strip()):
            rows.append([line.strip()])  # a heading inside the table, not its end
            continue
        if rows and not line.strip():
            continue
        flush_table()
        if line.strip():
            prose.append(line.strip())
    flush_table()
    flush_prose()
    if "|" not in passage.text:
        flat = " ".join(passage.text.split())
        figures.extend(_flat_figures(flat, passage.number, entity, start + len(figures), block + 1))
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


_QUARTERLY_DOCUMENT = re.compile(r"\b10-?q\b|\bq[1-4]\b|\bquarter", re.IGNORECASE)
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
_FLAT_SPAN = re.compile(
    r"\b(?:three|six|nine|twelve|thirteen|twenty-six|thirty-nine)\s+(?:months|weeks)\s+ended",
    re.IGNORECASE,
)
_FLAT_CURRENCY = re.compile(r"\$|\bdollars?\b|\busd\b", re.IGNORECASE)
_FLAT_CHANGE = re.compile(r"\bchange\b", re.IGNORECASE)
_FLAT_SCALE = re.compile(r"\bin\s+(thousand|million|billion)s\b", re.IGNORECASE)


def _flat_figures(
    text: str, passage: int, entity: frozenset[str], start: int, block: int
) -> list[Figure]:
    """The rows of a flattened statement: label words, then exactly one value per column year."""
    header = _FLAT_YEARS.search(text)
    if header is None:
        return []
    dates = [" ".join(d.split()) for d in _FLAT_DATE.findall(header.group("years"))]
    years = [int(d[-4:]) for d in dates]
    before = text[max(0, header.start() - 300) : header.start()]
    # "Three Months Ended ... Nine Months Ended" print the same years once per span.
    spans = [" ".join(m.lower().split()) for m in _FLAT_SPAN.findall(before)]
    cycles = len(spans) if len(spans) > 1 and len(years) % len(spans) == 0 else 1
    block_dates = dates[: len(dates) // cycles]
    block_years = years[: len(years) // cycles]
    if (
        block_dates * cycles != dates
        or len(set(block_dates)) != len(block_dates)
        or sorted(block_years, reverse=True) != block_years
    ):
        return []  # not a run of distinct periods, newest first, as statements print them
    # "$ Change % Change ($ in millions)" after the years: change columns follow the amounts.
    after = text[header.end() : header.end() + 80]
    extra = len(_FLAT_CHANGE.findall(after.split("(")[0] if "(" in after else after[:30]))
    body = header.end()
    scale_match = _FLAT_SCALE.search(before)
    if scale_match is None:
        scale_match = _FLAT_SCALE.search(after)
        closing = after.find(")", scale_match.end()) if scale_match else -1
        body += closing + 1 if closing >= 0 else 0  # the rows start after "($ in millions)"
    if scale_match is None:
        return []  # a unit is needed to state a flattened figure at all
    annual = not NOT_ANNUAL.search(before)
    periods = [str(y) for y in years]
    if not annual and spans:
        width = len(block_years)
        periods = [
            f"the {spans[min(i // width, len(spans) - 1)]} {date}" for i, date in enumerate(dates)
        ]
    scale = scale_match.group(1).lower()
    unit_text = f"{before[-120:]} {text[header.end() : body]}"
    currency_table = bool(_FLAT_CURRENCY.search(unit_text))
    figures: list[Figure] = []
    words: list[str] = []
    values: list[str] = []

    def row_end() -> None:
        cells = [v for v in values if v not in ("$", "%")]
        if len(cells) in (len(years), len(years) + extra) and words:
            cells = cells[: len(years)]
            label_text = " ".join(words)
            label = label_text.rpartition(":")[2].strip() or label_text  # after "Current assets:"
            _flat_row(label, cells, "$" in values)
        words.clear()
        values.clear()

    def _flat_row(label: str, cells: list[str], dollars: bool) -> None:
        terms = label_terms(_PARENTHETICAL.sub(" ", label)) - entity
        if not terms:
            return
        own_unit = bool(_OWN_UNIT.search(label))
        for year, period, cell in zip(years, periods, cells, strict=True):
            parsed = _cell_value(cell.replace("\u2014", "").replace("\u2013", ""))
            if parsed is None or cell.endswith("%"):
                continue
            figures.append(
                Figure(
                    names=(FigureName(terms, frozenset(), label),),
                    year=year,
                    period=period,
                    value=parsed[0],
                    scale="" if own_unit else scale,
                    currency=currency_table or dollars or own_unit,
                    passage=passage,
                    block=block,
                    order=start + len(figures),
                    entity=entity,
                    annual=annual,
                )
            )

    for token in text[body:].split():
        if _FLAT_VALUE.match(token):
            values.append(token)
            continue
        if values:
            row_end()
        if words and len(words) >= 12:
            words.clear()  # prose, not a row label
        words.append(token)
    if values:
        row_end()
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
