"""The offline provider's calculation planner: when a question asks for growth, a CAGR or a
margin whose figures the passages state without ambiguity, the one calculator call to make, and
the sentence that states its result with its inputs and their citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from agents.contracts import ContextPassage
from agents.providers.offline_text import (
    FINANCIAL_TERMS,
    SEPARATOR_CELL,
    TOKEN,
    YEAR,
    row_cells,
    split_sentences,
    word_set,
    word_stem,
)

# A wrong calculation is far worse than none: every rule below refuses on doubt (two candidate
# figures for one period, different units, a period missing, another company's document), and
# the answer then stays purely extractive.

CALCULATED_PREFIX = "Calculated:"

_SCALES = {
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
_QUESTION_ONLY = frozenset(
    word_stem(word)
    for word in word_set(
        """
    what which how much many did does do was were is are be been being has have had between
    compared compare comparison versus vs please tell show give me i we you can could would
    should when why grow grew grown grows growing growth increase increased increases increasing
    decrease decreased decreases decreasing decline declined declines declining drop dropped
    drops fall fell fallen falls rise rose risen rises change changed changes percent
    percentage cagr compound compounded annual annualized annualised rate yoy over prior
    previous preceding period calculate compute earlier before last then
    """
    )
)
# Title words that name a kind of document, not a company.
_TITLE_GENERIC = frozenset(
    word_stem(word)
    for word in word_set(
        """
    inc corp corporation co ltd llc plc sa ag nv group holding holdings annual quarterly report
    summary form 10 k q 8 20 f style filing document pdf txt md htm html transcript call proxy
    statement sec 10k 10q current proxy presentation
    """
    )
)
_METRIC_WORDS = frozenset(word_stem(word) for word in FINANCIAL_TERMS)

_LABEL_REWRITES = (
    (re.compile(r"earnings\s+per\s+(?:diluted\s+|basic\s+)?share", re.IGNORECASE), "eps"),
    (re.compile(r"\bcapex\b", re.IGNORECASE), "capital expenditures"),
    (re.compile(r"\br&d\b", re.IGNORECASE), "research and development"),
)
_PARENTHETICAL = re.compile(r"\([^()]*\)")
_BOLD = re.compile(r"[*_]{1,2}")

_QUESTION_YEAR = re.compile(
    r"(?<![\d,.$])(?:fy\s?|fiscal\s+(?:year\s+)?)?((?:19|20)\d{2})(?![\d,%]|\.\d)", re.IGNORECASE
)
_FY_SHORT = re.compile(r"\bfy\s?'?(\d{2})\b", re.IGNORECASE)
_CAGR = re.compile(
    r"\bcagr\b|\bcompound(?:ed)?\s+(?:annual\s+)?(?:growth|rate)(?:\s+rate)?|"
    r"\bannuali[sz]ed\s+growth(?:\s+rate)?",
    re.IGNORECASE,
)
_GROWTH = re.compile(
    r"\b(?:grow|grew|grown|grows|growth|increase[ds]?|decrease[ds]?|decline[ds]?|drop(?:ped|s)?|"
    r"fall|falls|fell|fallen|rise|rises|rose|risen|change[ds]?|compared?|versus|vs)\b",
    re.IGNORECASE,
)
_YEAR_OVER_YEAR = re.compile(
    r"\byear[\s-]+(?:over|on)[\s-]+year\b|\byoy\b|"
    r"\b(?:from\s+)?(?:the\s+)?(?:prior|previous|preceding)\s+(?:fiscal\s+)?year\b|"
    r"\ba\s+year\s+(?:earlier|before)\b",
    re.IGNORECASE,
)
_MARGIN = re.compile(r"\b(gross|operating|net)\s+(?:profit\s+)?margins?\b", re.IGNORECASE)
_SHARE_OF_REVENUE = re.compile(
    r"^(?P<part>.+?)\s+as\s+(?:an?\s+)?(?:percent(?:age)?|%|share|proportion)\s+of\s+"
    r"(?:total\s+|net\s+)?(?:revenues?|sales)\b(?P<rest>.*)$",
    re.IGNORECASE,
)
# Ratios, points and shares of something else are not growth; the calculation would mislead.
_NOT_GROWTH = re.compile(
    r"\bmargins?\b|\bpoints?\b|\bbps\b|\bratio\b|\bper\s+(?:employee|unit|store)\b|%\s+of\b|"
    r"\bpercent(?:age)?\s+of\b|\bshare\s+of\b|\bas\s+an?\s+(?:percent|percentage|share)\b",
    re.IGNORECASE,
)
# Annual figures only: a quarter's or a half-year's amount must never pass for a year's.
_NOT_ANNUAL = re.compile(
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
_TABLE_CAPTION = re.compile(
    r"(?P<metric>(?:net\s+|total\s+)?(?:revenues?|sales|operating\s+income|net\s+income|"
    r"gross\s+(?:profit|margin)))\s+by\s+(?:reportable\s+|business\s+|operating\s+|"
    r"geographic\s+|market\s+)?(?:segments?|categor(?:y|ies)|platforms?|geograph(?:y|ies)|"
    r"regions?|markets?|divisions?|product\s+lines?)\b",
    re.IGNORECASE,
)
_TOOL_VALUE = re.compile(r"=\s*(?P<value>-?\d+(?:\.\d+)?)\s*$")


def _label_terms(text: str) -> frozenset[str]:
    """The words that name a metric, normalised so a row label and a question compare."""
    lowered = text.lower()
    for pattern, replacement in _LABEL_REWRITES:
        lowered = pattern.sub(replacement, lowered)
    terms: set[str] = set()
    for token in TOKEN.findall(lowered):
        if token.startswith("fy"):
            continue
        if token[0].isdigit():
            number = token.replace(",", "")
            if not YEAR.match(number):
                terms.add(number)
        elif token not in _LABEL_STOPWORDS:
            stem = word_stem(token)
            if stem not in _LABEL_STOPWORDS:
                terms.add(stem)
    if "revenue" in terms:
        terms.discard("net")  # net sales, net revenue and revenue are the same line
    return frozenset(terms)


def _entity_terms(title: str) -> frozenset[str]:
    """The words of a document's title that name its company (years and form names removed)."""
    return _label_terms(title) - _TITLE_GENERIC - _METRIC_WORDS - _QUESTION_ONLY


@dataclass(frozen=True)
class _Name:
    """One way a figure is named: `terms` must all be asked for; `context` (a table's caption)
    may supply the asked-for words the row itself leaves out."""

    terms: frozenset[str]
    context: frozenset[str]
    display: str
    context_display: str = ""


@dataclass(frozen=True)
class _Figure:
    """An amount a passage states for one fiscal year, from a table cell or a sentence."""

    names: tuple[_Name, ...]
    year: int
    period: str
    value: Decimal
    scale: str | None  # None: the table does not say its unit
    currency: bool
    passage: int
    block: int  # the table or sentence it came from, within the passage
    order: int
    entity: frozenset[str]


@dataclass(frozen=True)
class _Input:
    figure: _Figure
    name: _Name


@dataclass(frozen=True)
class CalculationPlan:
    """The one tool call the offline provider makes, with where each input came from."""

    tool: str
    arguments: dict[str, int | float]
    kind: str  # growth, cagr or margin
    inputs: tuple[_Input, ...]
    title: str = ""


def _period_text(period: str, year: int) -> str:
    return f"fiscal {year}" if period.strip().lower().startswith(("fy", "fiscal")) else str(year)


def _decimal(sign: str | None, number: str, decimals: str | None) -> Decimal:
    value = Decimal(number.replace(",", "") + (decimals or ""))
    return -value if sign else value


def _year_of(match: re.Match[str]) -> int:
    return int(match.group("year"))


def _period_columns(header: list[str]) -> list[tuple[int, int, str, frozenset[str], str]]:
    """(column, year, period text, the header's other words, their text) of year columns."""
    found = []
    for index, cell in enumerate(header[1:], start=1):
        years = list(_HEADER_YEAR.finditer(cell))
        if len(years) != 1:
            continue
        match = years[0]
        rest = _DATE_WORDS.sub(" ", cell[: match.start()] + " " + cell[match.end() :])
        rest = " ".join(_BOLD.sub("", rest).split())
        found.append((index, _year_of(match), match.group(0), _label_terms(rest), rest))
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
) -> list[_Figure]:
    header, body = rows[0], rows[1:]
    # The unit is said in the header's first cell or a short caption line just above the table.
    last_line = caption.rsplit("\n", 1)[-1]
    heading = last_line if len(last_line.split()) <= 12 else ""
    unit_text = f"{heading} {header[0]}"
    if _NOT_ANNUAL.search(f"{heading} {' '.join(header)}"):
        return []
    columns = _period_columns(header)
    if not columns:
        return []
    scale_match = _TABLE_SCALE.search(unit_text)
    table_scale = scale_match.group(1).lower() if scale_match else None
    table_currency = bool(_TABLE_CURRENCY.search(unit_text))
    captions = list(_TABLE_CAPTION.finditer(caption))
    context = _label_terms(captions[-1].group("metric")) - entity if captions else frozenset()
    context_display = " ".join(captions[-1].group("metric").lower().split()) if captions else ""
    figures: list[_Figure] = []
    for row in body:
        if len(row) != len(header):
            continue  # a row missing a cell cannot be aligned with the years
        label = " ".join(_BOLD.sub("", row[0]).split())
        row_terms = _label_terms(_PARENTHETICAL.sub(" ", label)) - entity
        own_unit = bool(_OWN_UNIT.search(label))
        shown_label = " ".join(_PARENTHETICAL.sub(" ", label).split())
        for column, year, period, header_terms, header_text in columns:
            parsed = _cell_value(row[column])
            if parsed is None:
                continue
            value, cell_currency = parsed
            shown_header = header_text if header_terms - row_terms else ""
            display = f"{shown_label} {shown_header}".strip()
            figures.append(
                _Figure(
                    names=(
                        _Name(
                            row_terms | (header_terms - entity), context, display, context_display
                        ),
                    ),
                    year=year,
                    period=_period_text(period, year),
                    value=value,
                    scale="" if own_unit else table_scale,
                    currency=table_currency or cell_currency or own_unit,
                    passage=passage,
                    block=block,
                    order=start + len(figures),
                    entity=entity,
                )
            )
    return figures


# Last words of the headings a filing's sections start with ("Management's Discussion and
# Analysis", "Results of Operations"): a capitalised word after one starts a new phrase.
_HEADING_ENDS = word_set(
    "analysis operations overview results highlights summary resources liquidity discussion "
    "outlook performance data"
)


def _subject_names(subject: str, entity: frozenset[str]) -> tuple[_Name, ...]:
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
    names: list[_Name] = []
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
        terms = _label_terms(tail) - entity
        if not terms or terms in seen:
            continue
        seen.add(terms)
        display = " ".join(_SUBJECT_YEAR.sub(" ", tail).split()).strip(" ,")
        display = re.sub(r"^(?:in|for|during)\s+", "", display, flags=re.IGNORECASE)
        names.append(_Name(terms, frozenset(), display[:1].upper() + display[1:]))
    return tuple(names)


def _sentence_figures(
    sentence: str, passage: int, block: int, entity: frozenset[str], start: int
) -> list[_Figure]:
    """Figures of "<metric> was $X in <year>, compared with $Y in <year>" and its variants.

    Every amount must have its own year and the sentence exactly one subject; otherwise the
    amounts could belong to something else and none is taken.
    """
    if _NOT_ANNUAL.search(sentence) or _QUALIFIED.search(sentence):
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
    figures: list[_Figure] = []
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
            _Figure(
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


def _passage_figures(passage: ContextPassage, entity: frozenset[str], start: int) -> list[_Figure]:
    figures: list[_Figure] = []
    prose: list[str] = []
    rows: list[list[str]] = []
    block = 0

    def flush_table() -> None:
        nonlocal block
        if rows:
            block += 1
            figures.extend(
                _table_figures(
                    rows, "\n".join(prose), passage.number, block, entity, start + len(figures)
                )
            )
            rows.clear()
            prose.clear()

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
            if not all(SEPARATOR_CELL.match(cell) for cell in cells):
                rows.append(cells)
            continue
        flush_table()
        if line.strip():
            prose.append(line.strip())
    flush_table()
    flush_prose()
    return figures


def _question_years(question: str) -> list[int]:
    years = {int(match.group(1)) for match in _QUESTION_YEAR.finditer(question)}
    years |= {2000 + int(match.group(1)) for match in _FY_SHORT.finditer(question)}
    return sorted(years)


def _find(figures: list[_Figure], wanted: tuple[frozenset[str], ...], year: int) -> list[_Input]:
    found = []
    for figure in figures:
        if figure.year != year:
            continue
        for name in figure.names:
            matched = [
                w for w in wanted if name.terms and name.terms <= w <= name.terms | name.context
            ]
            if not matched:
                continue
            shown = name
            if matched[0] != name.terms:  # the caption names the metric: say it
                shown = _Name(name.terms, name.context, f"{name.display} {name.context_display}")
            found.append(_Input(figure, shown))
            break
    return found


def _consistent(found: list[_Input]) -> bool:
    """All candidates for one metric and year state the same amount (once units are applied)."""
    known = [i.figure for i in found if i.figure.scale is not None]
    unknown = {i.figure.value for i in found if i.figure.scale is None}
    absolute = {f.value * _SCALES[f.scale] for f in known if f.scale is not None}
    if len(absolute) > 1 or len(unknown) > 1:
        return False
    return not (absolute and unknown) or unknown <= {f.value for f in known}


def _same_unit(a: _Figure, b: _Figure) -> bool:
    if a.scale is None or b.scale is None:
        return a.scale is None and b.scale is None and (a.passage, a.block) == (b.passage, b.block)
    return a.scale == b.scale


def _pair(first: list[_Input], second: list[_Input]) -> tuple[_Input, _Input] | None:
    """The two inputs to combine: same unit and company, preferably with a stated unit and from
    one table or sentence."""
    options = [
        (a, b)
        for a in first
        for b in second
        if _same_unit(a.figure, b.figure) and a.figure.entity == b.figure.entity
    ]
    if not options:
        return None

    def preference(pair: tuple[_Input, _Input]) -> tuple[bool, bool, bool, int, int]:
        a, b = pair[0].figure, pair[1].figure
        return (
            a.scale is None,  # amounts whose unit is stated read better
            (a.passage, a.block) != (b.passage, b.block),
            a.passage != b.passage,
            a.order,
            b.order,
        )

    return min(options, key=preference)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(str(value))


def _lookup(
    figures: list[_Figure], wanted: tuple[frozenset[str], ...], year: int
) -> list[_Input] | None:
    found = _find(figures, wanted, year)
    if not found or not _consistent(found):
        return None
    if len({i.figure.entity for i in found}) != 1:
        return None  # the same metric from two companies' documents
    return found


def _metric_terms(text: str, entities: frozenset[str]) -> frozenset[str]:
    """The words of a question that name the figure it asks about."""
    return _label_terms(text) - _QUESTION_ONLY - _TITLE_GENERIC - entities


def calculation_asked(question: str) -> str | None:
    """What calculation the question asks for ("growth", "CAGR", "margin"), whatever the
    passages hold; None when it asks for none (or for a period this planner never computes)."""
    if _NOT_ANNUAL.search(question):
        return None
    if _CAGR.search(question):
        return "CAGR"
    if _MARGIN.search(question) or _SHARE_OF_REVENUE.match(question.strip().rstrip("?. ")):
        return "margin"
    if _GROWTH.search(question) and not _NOT_GROWTH.search(question):
        return "growth"
    return None


def calculation_plan(
    question: str, passages: tuple[ContextPassage, ...], tool_names: frozenset[str]
) -> CalculationPlan | None:
    """The calculation the question asks for, with unambiguous inputs from the passages; None
    when the question asks for none, or when any input is missing, doubtful or mismatched."""
    if not passages or _NOT_ANNUAL.search(question):
        return None
    entities = {p.number: _entity_terms(p.document) for p in passages}
    all_entities = frozenset().union(*entities.values())
    named = _label_terms(question) & all_entities
    figures: list[_Figure] = []
    for passage in passages:
        if named <= entities[passage.number]:
            figures.extend(_passage_figures(passage, entities[passage.number], len(figures)))
    if not figures:
        return None
    years = _question_years(question)
    if _CAGR.search(question):
        return _cagr_plan(question, years, figures, all_entities, tool_names)
    margin = _MARGIN.search(question)
    share = _SHARE_OF_REVENUE.match(question.strip().rstrip("?. "))
    if margin or share:
        if _GROWTH.search(question) or len(years) != 1:
            return None
        return _margin_plan(question, years[0], margin, share, figures, all_entities, tool_names)
    if _GROWTH.search(question) and not _NOT_GROWTH.search(question):
        return _growth_plan(question, years, figures, all_entities, tool_names)
    return None


def _two_periods(question: str, years: list[int]) -> tuple[int, int] | None:
    if len(years) == 2:
        return years[0], years[1]
    if len(years) == 1 and _YEAR_OVER_YEAR.search(question):
        return years[0] - 1, years[0]
    return None


def _growth_plan(
    question: str,
    years: list[int],
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    periods = _two_periods(question, years)
    wanted = _metric_terms(_YEAR_OVER_YEAR.sub(" ", question), entities)
    if "growth_percent" not in tool_names or periods is None or not wanted:
        return None
    old = _lookup(figures, (wanted,), periods[0])
    new = _lookup(figures, (wanted,), periods[1])
    pair = _pair(old, new) if old and new else None
    if pair is None or pair[0].figure.value <= 0 or pair[1].figure.value <= 0:
        return None
    arguments = {"old": _number(pair[0].figure.value), "new": _number(pair[1].figure.value)}
    return CalculationPlan("growth_percent", arguments, "growth", pair)


def _cagr_plan(
    question: str,
    years: list[int],
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    wanted = _metric_terms(_CAGR.sub(" ", question), entities)
    if "cagr_percent" not in tool_names or len(years) != 2 or not wanted:
        return None
    start = _lookup(figures, (wanted,), years[0])
    end = _lookup(figures, (wanted,), years[1])
    pair = _pair(start, end) if start and end else None
    if pair is None or pair[0].figure.value <= 0 or pair[1].figure.value <= 0:
        return None
    arguments = {
        "start": _number(pair[0].figure.value),
        "end": _number(pair[1].figure.value),
        "years": years[1] - years[0],
    }
    return CalculationPlan("cagr_percent", arguments, "cagr", pair)


_MARGIN_PARTS = {
    "gross": (_label_terms("gross profit"), _label_terms("gross margin")),
    "operating": (_label_terms("operating income"),),
    "net": (_label_terms("net income"),),
}


def _margin_plan(
    question: str,
    year: int,
    margin: re.Match[str] | None,
    share: re.Match[str] | None,
    figures: list[_Figure],
    entities: frozenset[str],
    tool_names: frozenset[str],
) -> CalculationPlan | None:
    if "margin_percent" not in tool_names or (margin and share):
        return None
    if margin is not None:
        kind = margin.group(1).lower()
        rest = _metric_terms(question[: margin.start()] + " " + question[margin.end() :], entities)
        parts = tuple(words | rest for words in _MARGIN_PARTS[kind])
        title = f"{kind} margin"
    elif share is not None:
        part_terms = _metric_terms(share.group("part"), entities)
        rest = _metric_terms(share.group("rest"), entities)
        if not part_terms or "revenue" in part_terms:
            return None
        parts = (part_terms | rest,)
        title = ""
    else:
        return None
    whole = _lookup(figures, (frozenset({"revenue"}) | rest,), year)
    part = _lookup(figures, parts, year)
    pair = _pair(part, whole) if part and whole else None
    if pair is None or pair[1].figure.value <= 0:
        return None
    arguments = {"part": _number(pair[0].figure.value), "whole": _number(pair[1].figure.value)}
    return CalculationPlan("margin_percent", arguments, "margin", pair, title)


def _amount(figure: _Figure) -> str:
    text = f"{abs(figure.value):,}"
    if figure.currency:
        text = f"${text}"
    if figure.scale:
        text = f"{text} {figure.scale}"
    return f"-{text}" if figure.value < 0 else text


def _cited(inputs: tuple[_Input, ...]) -> str:
    numbers = list(dict.fromkeys(i.figure.passage for i in inputs))
    return "".join(f"[{n}]" for n in numbers)


def calculation_sentence(plan: CalculationPlan, output: str) -> str:
    """The result of the tool's answer in words, with its inputs and their citations; empty
    when the output carries no number."""
    match = _TOOL_VALUE.search(output)
    if match is None:
        return ""
    value = Decimal(match.group("value"))
    shown = f"{abs(value)}%"
    first, second = plan.inputs
    citations = _cited(plan.inputs)
    if plan.kind == "margin":
        name = (
            f"the {plan.title}"
            if plan.title
            else f"{first.name.display} as a percent of {second.name.display}"
        )
        return (
            f"{CALCULATED_PREFIX} {name} for {first.figure.period} was {value}% "
            f"({first.name.display} of {_amount(first.figure)} divided by "
            f"{second.name.display} of {_amount(second.figure)}) {citations}."
        )
    label = second.name.display
    span = (
        f"from {_amount(first.figure)} ({first.figure.period}) to {_amount(second.figure)} "
        f"({second.figure.period})"
    )
    if plan.kind == "cagr":
        if value == 0:
            return f"{CALCULATED_PREFIX} {label} did not change {span} {citations}."
        direction = "grew" if value > 0 else "declined"
        years = plan.arguments["years"]
        return (
            f"{CALCULATED_PREFIX} {label} {direction} at a compound annual rate of {shown} "
            f"over {years} year{'s' if years != 1 else ''}, {span} {citations}."
        )
    if value == 0:
        return f"{CALCULATED_PREFIX} {label} was unchanged (0%) {span} {citations}."
    direction = "grew" if value > 0 else "declined"
    return f"{CALCULATED_PREFIX} {label} {direction} {shown} {span} {citations}."
