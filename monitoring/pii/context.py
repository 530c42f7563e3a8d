"""Context words read from the raw text around a match, on its line or the lines above."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from fintext.words import singulars


def tokens(text: str) -> list[str]:
    """The words of `text` as singulars, the form cue words are compared in."""
    # "a/c" is how many statements abbreviate "account"; singulars let "accounts" or "holds"
    # match the cue "account" or "hold". Not the ranking stemmer: it makes "checking" "check"
    # and "offering" "offer", cues that ordinary verbs would then trip.
    return singulars(text.lower().replace("a/c", " acct "))


def line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the line holding text[start:end] starts and ends."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end == -1 else line_end


# Words are rarely longer than this; it bounds how much text a window reads, so a long prompt
# on one line does not make every candidate tokenise everything before it.
_CHARS_PER_TOKEN = 40


def tokens_before(text: str, start: int, count: int, *, same_line: bool = True) -> list[str]:
    """The `count` tokens before `start`, nearest last."""
    floor = max(0, start - _CHARS_PER_TOKEN * count)
    if same_line:
        floor = max(floor, line_bounds(text, start, start)[0])
    return tokens(text[floor:start])[-count:]


def tokens_after(text: str, end: int, count: int) -> list[str]:
    """The `count` tokens after `end` on its line, nearest first."""
    ceiling = min(line_bounds(text, end, end)[1], end + _CHARS_PER_TOKEN * count)
    return tokens(text[end:ceiling])[:count]


# A recogniser's context words are the same for every result: tokenised once, not per match.
@lru_cache(maxsize=256)
def cue_phrases(cues: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Each cue as the tuple of tokens `mentions` looks for (cues without a word dropped)."""
    return tuple(tuple(tokens(c)) for c in cues if tokens(c))


def mentions(words: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> bool:
    """Whether one of `phrases` occurs, word for word, in `words`."""
    for phrase in phrases:
        width = len(phrase)
        for i in range(len(words) - width + 1):
            if tuple(words[i : i + width]) == phrase:
                return True
    return False
