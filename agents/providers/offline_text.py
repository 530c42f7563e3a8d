"""Text helpers the offline provider's answerer and calculation planner share: word lists,
light stemming, sentence splitting and table cells."""

from __future__ import annotations

import re


def word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of a list written as one string."""
    return frozenset(words.split())


FINANCIAL_TERMS = word_set(
    """
    revenue income profit loss margin ebitda ebit eps earning cash flow debt asset liability equity
    dividend expense cost operating gross net tax capex capital expenditure share buyback
    repurchase guidance growth segment interest depreciation amortization inventory receivable
    payable fiscal quarter annual backlog headcount employee price return yield rate ratio
    goodwill impairment lease borrowing liquidity leverage sale turnover outlook forecast
    """
)


# Filings say the same thing in several ways; questions use whichever the asker knows.
_SYNONYMS = {
    "sale": "revenue",
    "turnover": "revenue",
    "earning": "income",
    "profit": "income",
    "capex": "expenditure",
    "buyback": "repurchase",
    "employ": "employee",
    "staff": "employee",
    "headcount": "employee",
    "workforce": "employee",
}


_ABBREVIATIONS = word_set(
    "inc corp co ltd llc plc no nos vs approx mr ms mrs dr st jan feb mar apr jun jul aug sep sept "
    "oct nov dec u.s e.g i.e fig etc"
)


TOKEN = re.compile(r"fy\d{2,4}|\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?")
YEAR = re.compile(r"^(?:19|20)\d{2}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[$])")
SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")
_FIGURE = re.compile(r"\d")


def word_stem(word: str) -> str:
    """A light stem (plural, -ing, -ed and possessive removed), mapped to its usual synonym."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


def row_cells(line: str) -> list[str]:
    """The cells of a table row (pipes, tabs or wide gaps), or [] when the line is not one."""
    if "|" in line:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    elif "\t" in line:
        cells = [cell.strip() for cell in line.split("\t")]
    else:
        cells = [cell.strip() for cell in re.split(r"\s{2,}", line.strip())]
        if len(cells) < 3 or not any(_FIGURE.search(cell) for cell in cells[1:]):
            return []
    cells = [cell for cell in cells if cell]
    return cells if len(cells) >= 2 else []


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph; an abbreviation's full stop does not end one."""
    pieces = _SENTENCE_END.split(paragraph)
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        previous_word = sentences[-1].rsplit(" ", 1)[-1].rstrip(".").lower() if sentences else ""
        if sentences and previous_word in _ABBREVIATIONS:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences
