"""Figures a passage's sentences state: "<line item> was $X in <year>, compared with $Y in
<year>" and its variants, with the subject read as the line item."""

from __future__ import annotations

import re

from agents.providers.offline_labels import (
    NOT_ANNUAL,
    PARENTHETICAL,
    Figure,
    FigureName,
    FigureSource,
    decimal_value,
    label_terms,
    period_text,
    year_of,
)
from fintext.words import word_set

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
    for line_number, line in enumerate(PARENTHETICAL.sub(" ", subject).split("\n")):
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


def sentence_figures(sentence: str, source: FigureSource) -> list[Figure]:
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
    names = _subject_names(subject, source.entity)
    if not names:
        return []
    figures: list[Figure] = []
    for position, amount in enumerate(amounts):
        following = _FOLLOWING_YEAR.match(sentence, amount.end())
        if following and _MORE_YEARS.match(sentence, following.end()):
            return []
        if following and (position or not subject_years):
            year, period = year_of(following), following.group("period")
        elif position == 0 and subject_years and not following:
            year, period = year_of(subject_years[0]), subject_years[0].group("period")
        else:
            return []
        scale = (amount.group("scale") or "").lower()
        figures.append(
            Figure(
                names=names,
                year=year,
                period=period_text(period, year),
                value=decimal_value(
                    amount.group("sign"), amount.group("number"), amount.group("decimals")
                ),
                scale=scale,
                currency=True,
                passage=source.passage,
                block=source.block,
                order=source.start + position,
                entity=source.entity,
            )
        )
    if len({figure.year for figure in figures}) != len(figures):
        return []
    return figures
