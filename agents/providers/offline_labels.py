"""What the offline provider's figures are: an amount with the line item that names it, its period
and unit, and the words a row label, a question and a document title are compared by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from fintext.periods import is_year
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
PARENTHETICAL = re.compile(r"\([^()]*\)")
BOLD = re.compile(r"[*_]{1,2}")

NOT_ANNUAL = re.compile(
    r"\bq[1-4]\b|\bquarter|\bmonths?\b|\bhalf\b|\bh[12]\b|\bytd\b|year[\s-]to[\s-]date|"
    r"\bweeks?\b|\binterim\b|\bsemi[\s-]?annual",
    re.IGNORECASE,
)
# "Three months ended": the span an interim column covers.
PERIOD_SPAN = re.compile(
    r"\b(?:three|six|nine|twelve|thirteen|twenty-six|thirty-nine)\s+(?:months|weeks)\s+ended",
    re.IGNORECASE,
)
# A label whose figures carry their own unit (per share, "(in dollars)"), not the table's.
OWN_UNIT = re.compile(r"per[\s-]share|\beps\b|\((?:us)?\$[^)]*\)|\bin\s+dollars\b", re.IGNORECASE)
_CELL_NUMBER = re.compile(
    r"^(?P<open>\()?(?P<sign>[-\u2212])?(?P<currency>(?:US)?\$)?\s?"
    r"(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?(?P<close>\))?$"
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


@dataclass(frozen=True)
class FigureSource:
    """Where the figures being read come from: the passage's number, the table or sentence
    within it, the company its document names, and the order number of the first."""

    passage: int
    block: int
    entity: frozenset[str]
    start: int


def period_text(period: str, year: int) -> str:
    return f"fiscal {year}" if period.strip().lower().startswith(("fy", "fiscal")) else str(year)


def decimal_value(sign: str | None, number: str, decimals: str | None) -> Decimal:
    value = Decimal(number.replace(",", "") + (decimals or ""))
    return -value if sign else value


def year_of(match: re.Match[str]) -> int:
    return int(match.group("year"))


def cell_value(cell: str) -> tuple[Decimal, bool] | None:
    """A table cell's amount (in brackets: negative) and whether it carries a dollar sign."""
    text = BOLD.sub("", cell).strip().replace(" ", "")
    match = _CELL_NUMBER.match(text)
    if match is None or bool(match.group("open")) != bool(match.group("close")):
        return None
    value = decimal_value(match.group("sign"), match.group("number"), match.group("decimals"))
    return (-value if match.group("open") else value), bool(match.group("currency"))
