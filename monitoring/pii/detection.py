"""Find personal data in text with the Presidio analyzer, caching what each line and text holds."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine


@dataclass(frozen=True)
class Detection:
    """One piece of personal data found in a text, as character offsets into it."""

    entity_type: str
    start: int
    end: int
    score: float


# Minimum score per entity type. Validated identifiers (Luhn, mod-97, email domain) score 1.0;
# weak shapes such as a bare nine-digit number only pass once a context word lifts them.
SCORE_THRESHOLDS: dict[str, float] = {
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.4,
    "CREDIT_CARD": 0.5,
    "US_SSN": 0.4,
    "IBAN_CODE": 0.5,
    "IP_ADDRESS": 0.5,
    "US_BANK_NUMBER": 0.5,
    "FIN_ACCOUNT_NUMBER": 0.5,
    "ABA_ROUTING_NUMBER": 0.5,
    "HOLDING_CUSIP": 0.5,
    "HOLDING_ISIN": 0.5,
}


def pii_detect(*, text: str, language: str = "en") -> tuple[Detection, ...]:
    """Find personal data in `text`: non-overlapping detections above each type's threshold.

    What the recognisers find depends only on the text, so it is cached: line by line for those
    that read only the line a match is on (a prompt re-sends the same retrieved passages and
    earlier turns every time, and scanning them again was most of the cost), whole texts for
    the others (earlier turns are masked again on every turn).
    """
    findings = list(_whole_text_findings(text=text, language=language))
    findings += _line_findings(text=text, language=language)
    # The order one analyze call over everything returns (Presidio sorts its results so), so
    # that ties below are broken as they always were.
    findings.sort(key=lambda f: (f[0], f[1], -(f[2] - f[1]), -f[3]))
    candidates = sorted(
        (
            Detection(entity_type=entity_type, start=start, end=end, score=score)
            for entity_type, start, end, score in findings
            if score >= SCORE_THRESHOLDS.get(entity_type, 1.0)
        ),
        key=lambda d: (-d.score, -(d.end - d.start), d.start),
    )
    kept: list[Detection] = []
    for candidate in candidates:
        if all(candidate.end <= k.start or candidate.start >= k.end for k in kept):
            kept.append(candidate)
    return tuple(sorted(kept, key=lambda d: d.start))


# (entity type, start, end, score) of one recogniser result, offsets into the text analysed.
_Finding = tuple[str, int, int, float]

# Entity types whose recognisers decide from the matched characters and words on the same line
# (patterns, checksums, and context words that _tokens_before/_tokens_after read on that line):
# what they find on a line is the same whatever text surrounds it. Every other type (the finance
# identifiers, which read an account's kind or a holding's header from lines above, and any
# recogniser added later until it is checked and listed here) is analysed on the whole text.
_LINE_LOCAL_ENTITIES = frozenset(
    ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS")
)


class _FindingsCache:
    """Findings by (text, language), least recently used out first, bounded by an estimate of
    the memory the kept texts take. Only identical text is served from it, with what scanning
    that text again would find, so sharing it between tenants reveals nothing."""

    # Bytes an entry costs besides its text: the key tuple, the findings, the ordered dict slot.
    ENTRY_OVERHEAD = 250

    def __init__(self, *, max_bytes: int, max_text_chars: int) -> None:
        self.max_bytes = max_bytes
        self.max_text_chars = max_text_chars  # a longer text is scanned every time
        self._entries: OrderedDict[tuple[str, str], tuple[_Finding, ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[_Finding, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], findings: tuple[_Finding, ...]) -> None:
        if len(key[0]) > self.max_text_chars:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = findings
            self._bytes += len(key[0]) + self.ENTRY_OVERHEAD
            while self._bytes > self.max_bytes:
                (evicted, _), _ = self._entries.popitem(last=False)
                self._bytes -= len(evicted) + self.ENTRY_OVERHEAD

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


# About 8 MB each: tens of thousands of passage lines, and the last thousand or so messages.
_LINE_CACHE = _FindingsCache(max_bytes=8_000_000, max_text_chars=20_000)
_TEXT_CACHE = _FindingsCache(max_bytes=8_000_000, max_text_chars=100_000)


@lru_cache(maxsize=1)
def _whole_text_entities(analyzer: AnalyzerEngine) -> tuple[str, ...]:
    return tuple(sorted(set(analyzer.get_supported_entities(language="en")) - _LINE_LOCAL_ENTITIES))


def _whole_text_findings(*, text: str, language: str) -> tuple[_Finding, ...]:
    """The findings of the recognisers that read more than a line, over the whole text."""
    analyzer = _analyzer_get()
    cached = _TEXT_CACHE.get((text, language))
    if cached is not None:
        return cached
    entities = list(_whole_text_entities(analyzer))
    # No entities would mean all of them to Presidio.
    results = analyzer.analyze(text=text, language=language, entities=entities) if entities else []
    found = tuple((r.entity_type, r.start, r.end, r.score) for r in results)
    _TEXT_CACHE.put((text, language), found)
    return found


def _line_findings(*, text: str, language: str) -> list[_Finding]:
    """The line-local recognisers' findings in `text`, from the cache or from one analyze call
    over the lines not cached yet (joined by newlines, which no line-local match can cross)."""
    lines = text.split("\n")
    known: dict[str, tuple[_Finding, ...]] = {}
    for line in lines:
        if line and line not in known:
            cached = _LINE_CACHE.get((line, language))
            if cached is not None:
                known[line] = cached
    missing = list(dict.fromkeys(line for line in lines if line and line not in known))
    if missing:
        scanned = _analyzer_get().analyze(
            text="\n".join(missing), language=language, entities=sorted(_LINE_LOCAL_ENTITIES)
        )
        starts = list(itertools.accumulate((len(line) + 1 for line in missing[:-1]), initial=0))
        by_line: dict[str, list[_Finding]] = {line: [] for line in missing}
        for result in scanned:
            index = bisect.bisect_right(starts, result.start) - 1
            base = starts[index]
            by_line[missing[index]].append(
                (result.entity_type, result.start - base, result.end - base, result.score)
            )
        for line, found in by_line.items():
            known[line] = tuple(found)
            _LINE_CACHE.put((line, language), known[line])
    findings: list[_Finding] = []
    offset = 0
    for line in lines:
        for entity_type, start, end, score in known.get(line, ()):
            findings.append((entity_type, offset + start, offset + end, score))
        offset += len(line) + 1
    return findings


_ANALYZER: AnalyzerEngine | None = None
_ANALYZER_LOCK = threading.Lock()


def _analyzer_get() -> AnalyzerEngine:
    global _ANALYZER
    if _ANALYZER is None:
        with _ANALYZER_LOCK:
            if _ANALYZER is None:
                # Presidio takes seconds to import: only when the first text is analysed.
                from monitoring.pii.recognizers import analyzer_build

                # Findings cached from another analyzer's recognisers would not be this one's.
                _LINE_CACHE.clear()
                _TEXT_CACHE.clear()
                _ANALYZER = analyzer_build()
    return _ANALYZER
