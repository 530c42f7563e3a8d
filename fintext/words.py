"""Words of financial text: tokens, light stems and stopwords."""

from __future__ import annotations

import re
from functools import lru_cache

# A term keeps what filings glue into one word ("r&d", "cash-flow", "company's") and numbers whole
# ("1,234.5%"); `words` below splits on everything that is not a letter or digit.
TERM = re.compile(r"[a-z][a-z0-9&'\u2019-]*|\d[\d,]*(?:\.\d+)?%?")
_WORD = re.compile(r"[a-z0-9]+")
# A token splits what filings glue ("cash-flow" is two) but keeps a fiscal year ("fy23") and a
# number with its separators ("1,234.5") whole.
_TOKEN = re.compile(r"fy\d{2,4}|\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?")


def word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of a list written as one string."""
    return frozenset(words.split())


ENGLISH_STOPWORDS = word_set(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours
    """
)

# Words every question about a filing may use and no passage is found by.
QUESTION_STOPWORDS = ENGLISH_STOPWORDS | word_set(
    """
    company company's companies compare compared change changed changes describe explain
    discuss discussed analyze analysis provide provided reported report reports mentioned
    mention according based given total amount value much many percent percentage number
    period during within year years fiscal quarter quarters q1 q2 q3 q4 latest recent most
    10-q 10-k form filing filings document documents also any there show shows trend trends
    impact relate relates related relationship
    """
)

# Words that name a financial measure or its period: weighed above plain words when a question's
# words are matched with a passage's.
FINANCIAL_TERMS = word_set(
    """
    revenue income profit loss margin ebitda ebit eps earning cash flow debt asset liability equity
    dividend expense cost operating gross net tax capex capital expenditure share buyback
    repurchase guidance growth segment interest depreciation amortization inventory receivable
    payable fiscal quarter annual backlog headcount employee price return yield rate ratio
    goodwill impairment lease borrowing liquidity leverage sale turnover outlook forecast
    """
)

# Filings say the same thing in several ways; questions use whichever the asker knows. Keys and
# values are base forms.
SYNONYMS = {
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

_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "es", "ed", "s")


def terms(text: str) -> list[str]:
    """The terms of `text`, lower-cased, in order (see TERM)."""
    return TERM.findall(text.lower())


def words(text: str) -> list[str]:
    """The runs of letters and digits of `text`, lower-cased, in order."""
    return _WORD.findall(text.lower())


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """A light stem: possessive and one common suffix dropped ("revenues" -> "revenue",
    "repurchases" -> "repurchas", "companies" -> "company"); short words are left alone."""
    token = token.replace("\u2019", "'").removesuffix("'s").strip("'")
    for suffix in _SUFFIXES:
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def tokens(text: str) -> list[str]:
    """The tokens of `text`, lower-cased, in order: words (with a contraction: "company's"),
    numbers with their separators and fiscal years written "fy23"."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=65536)
def base_form(word: str) -> str:
    """A word without its possessive, plural, -ing or -ed, as a whole word ("revenues" ->
    "revenue", "shares" -> "share", "increased" -> "increas"): lighter than `stem`, which cuts
    "revenues" to "revenu" but leaves "revenue" whole, so that a question's word meets every
    form a passage uses."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def canonical(word: str) -> str:
    """A word's base form, mapped to the usual name of what it means ("sales" -> "revenue")."""
    form = base_form(word)
    return SYNONYMS.get(form, form)


@lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """The lightest stem: a plural's or third person's final "s" dropped ("accounts" ->
    "account", "holds" -> "hold"), nothing else, so that a cue word matches its own forms
    without colliding with others ("checking" stays apart from "check")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def singulars(text: str) -> list[str]:
    """The words of `text` as singulars, in order."""
    return [singular(word) for word in words(text)]


def stems(text: str) -> list[str]:
    """The stems of the words of `text`, in order."""
    return [stem(word) for word in words(text)]


def content_terms(text: str, *, stopwords: frozenset[str] = QUESTION_STOPWORDS) -> list[str]:
    """Stemmed terms of `text` that carry meaning: no stopwords, no bare numbers, each once."""
    found: list[str] = []
    for token in terms(text):
        if token[0].isdigit() or token in stopwords or len(token) < 2:
            continue
        stemmed = stem(token)
        if stemmed not in stopwords and stemmed not in found:
            found.append(stemmed)
    return found


def clip(text: str, chars: int) -> str:
    """`text` cut to at most `chars` characters at a word boundary ("" when none fits)."""
    if len(text) <= chars:
        return text
    if chars <= 0:
        return ""
    return text[:chars].rsplit(" ", 1)[0]
