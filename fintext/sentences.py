"""Sentences of prose: split at a full stop, question or exclamation mark (and, for chunking,
at clause marks), never after an abbreviation such as "Inc." or "approx."."""

from __future__ import annotations

import re

from fintext.words import word_set

ABBREVIATIONS = word_set(
    """
    inc corp co ltd llc plc no nos vs approx mr ms mrs dr st jan feb mar apr jun jul aug sep sept
    oct nov dec u.s e.g i.e fig etc
    """
)

# The mark may be followed by a closing quote or bracket, which stays with its sentence; the
# next sentence starts with a capital, a digit, an opening quote or bracket, or a dollar sign.
_CLOSERS = "\"')\\]\u201d"
_NEXT = r"(?=[A-Z0-9\"'(\[$\u201c])"
_SENTENCE_END = re.compile(rf"(?:(?<=[.!?])|(?<=[.!?][{_CLOSERS}]))\s+{_NEXT}")
_CLAUSE_END = re.compile(rf"(?:(?<=[.!?;:])|(?<=[.!?;:][{_CLOSERS}]))\s+{_NEXT}")
_ENDS_SENTENCE = re.compile(rf"[.!?][{_CLOSERS}]?$")
_ENDS_CLAUSE = re.compile(rf"[.!?:;][{_CLOSERS}]?$")


def split_sentences(text: str, *, clauses: bool = False) -> list[str]:
    """The sentences of `text` (with `clauses`, also split after ";" and ":"), stripped."""
    pieces = (_CLAUSE_END if clauses else _SENTENCE_END).split(text)
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if sentences and _last_word(sentences[-1]) in ABBREVIATIONS:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def ends_sentence(line: str, *, clauses: bool = False) -> bool:
    """Whether `line` ends a sentence (with `clauses`, a clause): its last mark closes it."""
    stripped = line.rstrip()
    if not (_ENDS_CLAUSE if clauses else _ENDS_SENTENCE).search(stripped):
        return False
    return _last_word(stripped) not in ABBREVIATIONS


def _last_word(sentence: str) -> str:
    return sentence.rsplit(" ", 1)[-1].rstrip(_CLOSERS.replace("\\", "")).rstrip(".").lower()
