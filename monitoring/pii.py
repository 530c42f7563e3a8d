"""Detect and mask personal data in text, offline, with Presidio pattern recognisers.

Everything runs without a network or a downloaded model: Presidio's analyzer uses the
`NoOpNlpEngine`, so only pattern and checksum recognisers run, and context words are read from
the raw text around each match, on its line (the no-op engine produces no tokens for Presidio's
lemma-based context enhancer to use).

Detected entity types:
- Presidio's recognisers, tuned for financial text: EMAIL_ADDRESS, PHONE_NUMBER (US and UK
  national formats, any country written with "+"; digit groups without punctuation need a
  phone word nearby), CREDIT_CARD (Luhn), US_SSN (dashed, or other shapes next to an SSN word),
  IBAN_CODE (mod-97), IP_ADDRESS.
- Ours: ABA_ROUTING_NUMBER (ABA checksum and a routing cue), US_BANK_NUMBER (an account the
  text calls a bank, checking, savings or wire-beneficiary account) and FIN_ACCOUNT_NUMBER (any
  other account number: brokerage, custody, retirement, or unqualified), HOLDING_CUSIP and
  HOLDING_ISIN (a valid security identifier only where the text ties it to someone's holdings;
  an issuer's CUSIP on a filing cover page is public and left alone). Presidio's own
  US_BANK_NUMBER recogniser (any 8-17 digits near "bank" or "account") is not used: on filings it
  flags figures, so ours emits that type instead.

Names (PERSON) are not detected. That needs an NER model, and none can be installed here from
PyPI: spaCy's `en_core_web_sm` is not published there (only unofficial re-uploads by third
parties, which we do not trust with our dependency chain), and Hugging Face models cannot be
downloaded. Masking therefore covers identifiers and contact details, not names.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from accounts.errors import PiiBlocked

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

logger = logging.getLogger(__name__)

# tldextract (used by Presidio's email recogniser) reads this when it is first imported and would
# otherwise fetch the public suffix list over HTTP; empty means "use the bundled snapshot".
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


class PiiPolicy(StrEnum):
    """What a workspace wants done with personal data found in text sent to a model."""

    MASK = "mask"
    BLOCK = "block"
    OFF = "off"


@dataclass(frozen=True)
class Detection:
    """One piece of personal data found in a text, as character offsets into it."""

    entity_type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class MaskResult:
    """Masked text, the placeholder -> original mapping to restore it, and what was found."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()
    blocked: bool = False


# Placeholder label per entity type: short, readable by a model, and stable across releases
# because conversations store masked text.
PLACEHOLDER_LABELS: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "US_SSN": "US_SSN",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_BANK_NUMBER": "BANK_ACCOUNT",
    "FIN_ACCOUNT_NUMBER": "ACCOUNT_NUMBER",
    "ABA_ROUTING_NUMBER": "ROUTING_NUMBER",
    "HOLDING_CUSIP": "CUSIP",
    "HOLDING_ISIN": "ISIN",
}

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

_PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]*)_(\d+)>")
_TOKEN_RE = re.compile(r"[a-z0-9]+")


def pii_mask(
    text: str,
    *,
    policy: PiiPolicy = PiiPolicy.MASK,
    language: str = "en",
    mapping: Mapping[str, str] | None = None,
) -> MaskResult:
    """Replace personal data in `text` with placeholders such as `<EMAIL_1>`.

    The same value gets the same placeholder within a call and, when the `mapping` of earlier
    calls is passed in, across the turns of a conversation. The returned mapping holds the
    passed-in entries plus the new ones. With BLOCK, any detection sets `blocked` (the text is
    still masked, so a caller that logs it leaks nothing); OFF returns the text untouched.
    Raises ValueError for a language the analyzer is not configured for (only "en").
    """
    known = dict(mapping or {})
    if policy == PiiPolicy.OFF or not text:
        return MaskResult(text=text, mapping=known)
    try:
        detections = pii_detect(text=text, language=language)
    except Exception:
        # The text cannot be checked, so it must not go out: the caller's question fails, and
        # the PIIDetectionFailure alert counts these. The text itself is never logged.
        logger.exception("PII detection failed on a text of %d characters", len(text))
        _metrics_error()
        raise
    _metrics_record(detections=detections)
    masked, new_mapping = _placeholders_apply(text=text, detections=detections, mapping=known)
    return MaskResult(
        text=masked,
        mapping=new_mapping,
        detections=detections,
        blocked=policy == PiiPolicy.BLOCK and bool(detections),
    )


def pii_enforce(
    text: str,
    *,
    policy: PiiPolicy,
    mapping: Mapping[str, str] | None = None,
    language: str = "en",
) -> MaskResult:
    """Mask `text` under `policy`; raises PiiBlocked when the policy is BLOCK and PII is found.

    The error names the entity types found, never the values.
    """
    result = pii_mask(text, policy=policy, language=language, mapping=mapping)
    if result.blocked:
        raise PiiBlocked(
            details={"entity_types": sorted({d.entity_type for d in result.detections})}
        )
    return result


def pii_restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the originals back for the placeholders of `mapping` that appear in `text`."""
    if not mapping:
        return text
    return _PLACEHOLDER_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def pii_scrub_for_logs(text: str) -> str:
    """Mask personal data for logs and traces, keeping no mapping.

    Records no metrics: the same text is usually masked for the model first, and counting it
    again for every log line would inflate the detection counts.
    """
    if not text:
        return text
    detections = pii_detect(text=text)
    masked, _ = _placeholders_apply(text=text, detections=detections, mapping={})
    return masked


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


def _placeholders_apply(
    *, text: str, detections: Sequence[Detection], mapping: dict[str, str]
) -> tuple[str, dict[str, str]]:
    by_value: dict[tuple[str, str], str] = {}
    next_index: dict[str, int] = {}
    for existing, original in mapping.items():
        parsed = _PLACEHOLDER_RE.fullmatch(existing)
        if parsed is None:
            continue
        label, index = parsed.group(1), int(parsed.group(2))
        by_value[(label, _value_key(label, original))] = existing
        next_index[label] = max(next_index.get(label, 1), index + 1)

    pieces: list[str] = []
    cursor = 0
    for detection in detections:
        original = text[detection.start : detection.end]
        label = PLACEHOLDER_LABELS.get(detection.entity_type, detection.entity_type)
        key = (label, _value_key(label, original))
        placeholder = by_value.get(key)
        if placeholder is None:
            index = next_index.get(label, 1)
            next_index[label] = index + 1
            placeholder = f"<{label}_{index}>"
            by_value[key] = placeholder
            mapping[placeholder] = original
        pieces.append(text[cursor : detection.start])
        pieces.append(placeholder)
        cursor = detection.end
    pieces.append(text[cursor:])
    return "".join(pieces), mapping


def _value_key(label: str, value: str) -> str:
    # "212-555-0147" and "(212) 555 0147" are the same number; emails compare case-insensitively.
    if label == "EMAIL":
        return value.strip().lower()
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def _metrics_error() -> None:
    from monitoring import metrics

    metrics.PII_DETECTION_ERRORS.inc()


def _metrics_record(*, detections: Sequence[Detection]) -> None:
    if not detections:
        return
    try:
        from monitoring import metrics
    except ModuleNotFoundError as exc:
        # Only the metrics module itself may be missing (it lands separately); any other
        # missing import inside it is a real bug and must surface.
        if exc.name != "monitoring.metrics":
            raise
        return
    for detection in detections:
        metrics.PII_DETECTIONS.labels(detection.entity_type).inc()
        metrics.PII_DETECTION_CONFIDENCE.labels(detection.entity_type).observe(detection.score)


# ---------------------------------------------------------------------------------------------
# Context words read from the raw text.
# ---------------------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    # "a/c" is how many statements abbreviate "account"; a light plural strip lets "accounts"
    # or "holds" match the cue "account" or "hold".
    lowered = text.lower().replace("a/c", " acct ")
    return [_stem(t) for t in _TOKEN_RE.findall(lowered)]


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end == -1 else line_end


# Words are rarely longer than this; it bounds how much text a window reads, so a long prompt
# on one line does not make every candidate tokenise everything before it.
_CHARS_PER_TOKEN = 40


def _tokens_before(text: str, start: int, count: int, *, same_line: bool = True) -> list[str]:
    """The `count` tokens before `start`, nearest last."""
    floor = max(0, start - _CHARS_PER_TOKEN * count)
    if same_line:
        floor = max(floor, _line_bounds(text, start, start)[0])
    return _tokens(text[floor:start])[-count:]


def _tokens_after(text: str, end: int, count: int) -> list[str]:
    ceiling = min(_line_bounds(text, end, end)[1], end + _CHARS_PER_TOKEN * count)
    return _tokens(text[end:ceiling])[:count]


def _cue_phrases(cues: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(_tokens(c)) for c in cues if _tokens(c)]


def _mentions(tokens: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> bool:
    for phrase in phrases:
        width = len(phrase)
        for i in range(len(tokens) - width + 1):
            if tuple(tokens[i : i + width]) == phrase:
                return True
    return False


# ---------------------------------------------------------------------------------------------
# Financial identifiers: checksums and the cue logic deciding what a number is.
# ---------------------------------------------------------------------------------------------


def aba_checksum_ok(digits: str) -> bool:
    """True for nine digits whose ABA routing check digit is right and prefix is assigned."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    prefix = int(digits[:2])
    # Federal Reserve routing symbols: 00-12 banks, 21-32 thrifts, 61-72 electronic, 80 travellers'.
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    total = sum(int(d) * w for d, w in zip(digits, (3, 7, 1) * 3, strict=True))
    return total % 10 == 0


def cusip_checksum_ok(value: str) -> bool:
    """True for a nine-character CUSIP whose last digit is its check digit."""
    if len(value) != 9 or not value[8].isdigit():
        return False
    total = 0
    for i, ch in enumerate(value[:8]):
        if ch.isdigit():
            v = int(ch)
        elif "A" <= ch <= "Z":
            v = ord(ch) - ord("A") + 10
        elif ch in "*@#":
            v = 36 + "*@#".index(ch)
        else:
            return False
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10 == int(value[8])


def isin_checksum_ok(value: str) -> bool:
    """True for a twelve-character ISIN (country letters, nine characters, Luhn check digit)."""
    if not re.fullmatch(r"[A-Z]{2}[0-9A-Z]{9}[0-9]", value):
        return False
    digits = "".join(str(int(ch, 36)) for ch in value)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return total % 10 == 0


# The nearest cue word before a number decides what the number is: in "routing 021000021,
# account 12345678" each number belongs to the word right before it.
_ROUTING = "routing"
_ACCOUNT = "account"
_OTHER = "other"
_NUMBER_CUES: dict[str, str] = {
    **dict.fromkeys(("routing", "aba", "rtn", "transit", "fedwire"), _ROUTING),
    # Nouns that name an account on their own: "checking 5200678631", "my IRA MN-213557".
    **dict.fromkeys(
        ("account", "acct", "dda", "checking", "saving", "ira", "brokerage"), _ACCOUNT
    ),
    **dict.fromkeys(
        (
            "ssn", "social", "card", "phone", "tel", "telephone", "fax", "mobile", "cell",
            "call", "dial", "text", "ext",
            "file", "cik", "ein", "employer", "tin", "itin", "reference", "ref",
            "confirmation", "invoice", "ticket", "case", "order", "tracking", "policy",
            "claim", "cusip", "isin", "iban", "swift", "bic", "sort", "zip", "registration",
            "id", "member", "lei", "sedol", "ticker", "page", "form",
        ),
        _OTHER,
    ),
}  # fmt: skip
_CUE_WINDOW = 6

# Which kind of account: the nearest of these words (looking back across lines, so a wire
# instruction's "ABA:" line types the "Account:" line below it). Unqualified accounts default to
# FIN_ACCOUNT_NUMBER.
_ACCOUNT_KIND_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "bank", "banking", "checking", "saving", "deposit", "dda", "beneficiary", "ach",
            "routing", "aba", "rtn", "wire", "payroll",
        ),
        "US_BANK_NUMBER",
    ),
    **dict.fromkeys(
        (
            "brokerage", "custody", "custodial", "custodian", "ira", "roth", "401k", "529",
            "advisory", "managed", "margin", "trading", "investment", "portfolio", "client",
            "retirement", "ffc", "further", "sep", "trust", "fund", "annuity", "loan",
            "mortgage", "hsa",
        ),
        "FIN_ACCOUNT_NUMBER",
    ),
}  # fmt: skip
_KIND_WINDOW = 14

_ROUTING_RE = re.compile(r"(?<![\w$.,/-])(\d{9}|\d{4}-\d{4}-\d)(?![\w%/-]|[.,]\d)")
_ACCOUNT_RE = re.compile(
    r"(?<![\w$.,/-])[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){5,21}(?![\w%/-]|[.,]\d)"
)
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}")
_NOT_AFTER_ACCOUNT = frozenset(
    ("share", "shares", "unit", "million", "billion", "thousand", "percent", "bp", "bps")
)


def _nearest_number_cue(text: str, start: int) -> str | None:
    for token in reversed(_tokens_before(text, start, _CUE_WINDOW)):
        cue = _NUMBER_CUES.get(token)
        if cue is not None:
            return cue
    return None


def _account_kind(text: str, start: int, end: int) -> str:
    for token in reversed(_tokens_before(text, start, _KIND_WINDOW, same_line=False)):
        kind = _ACCOUNT_KIND_WORDS.get(token)
        if kind is not None:
            return kind
    for token in _tokens_after(text, end, 3):
        kind = _ACCOUNT_KIND_WORDS.get(token)
        if kind is not None:
            return kind
    return "FIN_ACCOUNT_NUMBER"


def _named_as_account(text: str, start: int) -> bool:
    # "account number 4707305390250" is an account even when it passes the Luhn check; "card
    # account 4111 ..." is still a card.
    before = _tokens_before(text, start, _CUE_WINDOW)
    return _nearest_number_cue(text, start) == _ACCOUNT and "card" not in before


def routing_numbers_find(text: str) -> Iterator[tuple[str, int, int, float]]:
    """Nine-digit numbers with a valid ABA checksum whose nearest cue word is a routing cue."""
    for match in _ROUTING_RE.finditer(text):
        if not aba_checksum_ok(match.group(1).replace("-", "")):
            continue
        if _nearest_number_cue(text, match.start()) == _ROUTING:
            yield "ABA_ROUTING_NUMBER", match.start(), match.end(), 0.9


def account_numbers_find(text: str) -> Iterator[tuple[str, int, int, float]]:
    """Account identifiers (6-17 digits, maybe letters and dashes) after an account cue."""
    for match in _ACCOUNT_RE.finditer(text):
        value = match.group(0)
        digits = sum(ch.isdigit() for ch in value)
        letters = sum(ch.isalpha() for ch in value)
        # Account identifiers are mostly digits; a short letter prefix ("Z47-", "IRA-") is common,
        # a word with a few digits in it is not.
        if digits < 6 or digits > 17 or letters > 4 or letters > digits // 2:
            continue
        if _DATE_RE.fullmatch(value):
            continue
        if _nearest_number_cue(text, match.start()) != _ACCOUNT:
            continue
        following = _tokens_after(text, match.end(), 1)
        if following and following[0] in _NOT_AFTER_ACCOUNT:
            continue
        kind = "FIN_ACCOUNT_NUMBER" if letters else _account_kind(text, match.start(), match.end())
        yield kind, match.start(), match.end(), 0.85


_CUSIP_RE = re.compile(r"(?<![A-Za-z0-9])[0-9A-Z]{8}[0-9](?![A-Za-z0-9])")
_ISIN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9A-Z]{9}[0-9](?![A-Za-z0-9])")
# Words that tie a security to a person's or a client's holdings.
_HOLDING_CUES = _cue_phrases(
    (
        "my", "client", "customer", "hold", "holding", "held", "position", "account", "acct",
        "portfolio", "bought", "buy", "purchase", "purchased", "sold", "sell", "own", "owned",
        "lot", "cost basis", "his", "her", "their", "household", "statement", "transfer",
        "i have", "we hold", "our client",
    )
)  # fmt: skip
# Words that say the identifier describes the issuer or the security itself (cover pages,
# offering documents, beneficial-ownership schedules), which is public information.
_ISSUER_CUES = _cue_phrases(
    (
        "issuer", "registrant", "title of", "class of securities", "trading symbol",
        "exchange on which", "commission file", "cusip number", "schedule 13d", "schedule 13g",
        "prospectus", "indenture", "offering", "listed", "cover page", "trustee",
        "reporting person", "name of each exchange", "securities registered",
    )
)  # fmt: skip
_QUANTITY_AFTER_RE = re.compile(
    r"\s*(?:qty\.?\s*[\d,]+(?:\.\d+)?\b|[\d,]+(?:\.\d+)?\s*(?:sh|shs|shares?|units?)\b)",
    re.IGNORECASE,
)
# Above the account score: "account 7QX-42190 holds 82482C108" names the security, and a
# security identifier right after an account cue is still a security identifier.
_HOLDING_SCORE = 0.9
_HOLDING_LINES_ABOVE = 2
_HOLDING_LINE_CHARS = 400
_HOLDING_BEFORE = 14
_HOLDING_AFTER = 10


def _holding_context(text: str, start: int, end: int) -> bool:
    window = _tokens_before(text, start, _HOLDING_BEFORE) + _tokens_after(text, end, _HOLDING_AFTER)
    if not _mentions(window, _HOLDING_CUES) and not _mentions(window, _ISSUER_CUES):
        # A bare line in a list or a form: the header above it ("Holdings (client acct ...):",
        # "(Title of Class of Securities)") or the caption below it says what it is.
        line_start, line_end = _line_bounds(text, start, end)
        above_text = text[max(0, line_start - _HOLDING_LINE_CHARS) : max(0, line_start - 1)]
        above = above_text.split("\n")[-_HOLDING_LINES_ABOVE:]
        below = text[line_end + 1 : line_end + 1 + _HOLDING_LINE_CHARS].split("\n")[:1]
        window = _tokens("\n".join([*above, *below]))
    return _mentions(window, _HOLDING_CUES) and not _mentions(window, _ISSUER_CUES)


def holdings_find(text: str) -> Iterator[tuple[str, int, int, float]]:
    """CUSIPs and ISINs (valid check digit) that the surrounding words tie to someone's holdings."""
    for match in _ISIN_RE.finditer(text):
        if isin_checksum_ok(match.group(0)) and _holding_context(text, match.start(), match.end()):
            yield "HOLDING_ISIN", match.start(), match.end(), _HOLDING_SCORE
    for match in _CUSIP_RE.finditer(text):
        value = match.group(0)
        if sum(ch.isdigit() for ch in value) < 4 or not cusip_checksum_ok(value):
            continue
        # An all-digit CUSIP looks like any other nine-digit number (routing numbers, SSNs,
        # accounts): only the word "CUSIP" before it or a share quantity after it says what it is.
        if (
            value.isdigit()
            and "cusip" not in _tokens_before(text, match.start(), 3)
            and not _QUANTITY_AFTER_RE.match(text, match.end())
        ):
            continue
        if _holding_context(text, match.start(), match.end()):
            yield "HOLDING_CUSIP", match.start(), match.end(), _HOLDING_SCORE


# ---------------------------------------------------------------------------------------------
# The Presidio analyzer, built once per process.
# ---------------------------------------------------------------------------------------------

_ANALYZER: AnalyzerEngine | None = None
_ANALYZER_LOCK = threading.Lock()

_SSN_CONTEXT = ["social security", "ssn", "ss", "social", "taxpayer", "tin"]
_LOG_KEY_RE = re.compile(r"[A-Za-z_][\w.-]*=(?=[^=@]+@)")
_PHONE_CONTEXT = [
    "phone", "telephone", "tel", "call", "cell", "mobile", "fax", "reach", "text", "contact",
    "direct", "desk", "ext",
]  # fmt: skip
# National formats of these regions; numbers written with "+" parse in any region. Germany and
# France are left out: their short national numbers match table decimals ("164.3", "16.94").
_PHONE_REGIONS = ("US", "GB")
_NOT_BEFORE_IP = frozenset(("version", "v", "release", "build", "section", "rule", "item"))


def _analyzer_get() -> AnalyzerEngine:
    global _ANALYZER
    if _ANALYZER is None:
        with _ANALYZER_LOCK:
            if _ANALYZER is None:
                # Findings cached from another analyzer's recognisers would not be this one's.
                _LINE_CACHE.clear()
                _TEXT_CACHE.clear()
                _ANALYZER = _analyzer_build()
    return _ANALYZER


def _analyzer_build() -> AnalyzerEngine:
    # Presidio pulls in spaCy and takes seconds to import, so the classes that extend it live
    # here and load only when the first text is analysed, not whenever this module is imported.
    import tldextract
    from presidio_analyzer import (
        AnalyzerEngine,
        EntityRecognizer,
        Pattern,
        RecognizerRegistry,
        RecognizerResult,
    )
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's email recogniser validating domains against the bundled suffix list."""

        def __init__(self) -> None:
            super().__init__()
            # An explicit extractor, so no network fetch even if tldextract was imported (and
            # its default extractor configured) before the environment guard above ran.
            self._suffixes = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())

        def validate_result(self, pattern_text: str) -> bool:
            return self._suffixes(pattern_text).fqdn != ""

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: NlpArtifacts | None = None,
            regex_flags: int | None = None,
        ) -> list[RecognizerResult]:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            for result in results:
                # "=" is legal in an address, so in a log line "user=ana@x.com" the key would be
                # masked with the address; keep the key.
                key = _LOG_KEY_RE.match(text, result.start, result.end)
                if key:
                    result.start = key.end()
            return results

    class FinanceSsnRecognizer(UsSsnRecognizer):
        """SSNs: dashed 3-2-4 on its own, other shapes only next to an SSN cue."""

        PATTERNS = [
            Pattern("SSN dashed", r"\b\d{3}-\d{2}-\d{4}\b", 0.5),
            # Spaced or dotted groups are what table rows and dates look like.
            Pattern("SSN spaced or dotted", r"\b\d{3}([ .])\d{2}\1\d{4}\b", 0.1),
            Pattern("SSN bare", r"\b\d{9}\b", 0.05),
        ]

    class FinancePhoneRecognizer(PhoneRecognizer):
        """Phone numbers; bare digit groups need a phone cue because table rows look the same."""

        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
        ) -> list[RecognizerResult]:
            # Presidio annotates optional parameters without Optional.
            results = super().analyze(text, entities, nlp_artifacts)  # type: ignore[arg-type]
            for result in results:
                if not re.search(r"[+()\-.]", text[result.start : result.end]):
                    result.score = 0.1
            return results

    class FinanceCreditCardRecognizer(CreditCardRecognizer):
        """Luhn-valid card numbers, unless the words before them call the number an account."""

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: NlpArtifacts | None = None,
            regex_flags: int | None = None,
        ) -> list[RecognizerResult]:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            return [r for r in results if not _named_as_account(text, r.start)]

    class FinanceIbanRecognizer(IbanRecognizer):
        """IBANs, also when typed in lower case (ISO 13616 letters are case-insensitive)."""

        def __init__(self) -> None:
            # Presidio matches IBANs case-sensitively on purpose: ignoring case would let the
            # last group of a spaced IBAN swallow the next word ("... 3972 held"). A separate
            # all-lower-case pattern keeps that protection.
            lower_case = [
                Pattern(f"{p.name} (lower case)", p.regex.replace("A-Z", "a-z"), p.score)
                for p in IbanRecognizer.PATTERNS
            ]
            # Presidio annotates `patterns` as strings; it takes Pattern objects.
            super().__init__(patterns=[*IbanRecognizer.PATTERNS, *lower_case])  # type: ignore[list-item]

        def validate_result(self, pattern_text: str) -> bool | None:
            return super().validate_result(pattern_text.upper())

    class FinanceIpRecognizer(IpRecognizer):
        """IP addresses, but not dotted version or section numbers ("model version 4.2.1.9")."""

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: NlpArtifacts | None = None,
            regex_flags: int | None = None,
        ) -> list[RecognizerResult]:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            return [
                r for r in results if not set(_tokens_before(text, r.start, 2)) & _NOT_BEFORE_IP
            ]

    class FinanceIdentifierRecognizer(EntityRecognizer):
        """Routing numbers, bank and brokerage account numbers, and client holdings."""

        def load(self) -> None:
            return None

        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
        ) -> list[RecognizerResult]:
            found = [
                *routing_numbers_find(text),
                *account_numbers_find(text),
                *holdings_find(text),
            ]
            return [
                RecognizerResult(
                    entity_type=entity_type,
                    start=start,
                    end=end,
                    score=score,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
                for entity_type, start, end, score in found
                if not entities or entity_type in entities
            ]

    class LineWindowContextEnhancer(ContextAwareEnhancer):
        """Raise a result's score when its recogniser's context words are nearby on its line."""

        def __init__(self) -> None:
            super().__init__(
                context_similarity_factor=0.35,
                min_score_with_context_similarity=0.45,
                context_prefix_count=6,
                context_suffix_count=3,
            )

        def enhance_using_context(
            self,
            text: str,
            raw_results: list[RecognizerResult],
            nlp_artifacts: NlpArtifacts,
            recognizers: list[EntityRecognizer],
            context: list[str] | None = None,
        ) -> list[RecognizerResult]:
            by_id = {recognizer.id: recognizer for recognizer in recognizers}
            for result in raw_results:
                metadata = result.recognition_metadata or {}
                recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
                if recognizer is None or not recognizer.context:
                    continue
                window = _tokens_before(
                    text, result.start, self.context_prefix_count
                ) + _tokens_after(text, result.end, self.context_suffix_count)
                if _mentions(window, _cue_phrases(recognizer.context)):
                    result.score = min(
                        1.0,
                        max(
                            result.score + self.context_similarity_factor,
                            self.min_score_with_context_similarity,
                        ),
                    )
                    metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
            return raw_results

    registry = RecognizerRegistry(supported_languages=["en"])
    recognizers: list[Any] = [
        OfflineEmailRecognizer(),
        # Strict grouping: "2023-505809" in a patent table has a valid number's digits but not
        # a phone number's grouping.
        FinancePhoneRecognizer(
            context=_PHONE_CONTEXT, supported_regions=_PHONE_REGIONS, leniency=2
        ),
        FinanceCreditCardRecognizer(),
        FinanceSsnRecognizer(context=_SSN_CONTEXT),
        FinanceIbanRecognizer(),
        FinanceIpRecognizer(),
        FinanceIdentifierRecognizer(
            supported_entities=[
                "ABA_ROUTING_NUMBER",
                "US_BANK_NUMBER",
                "FIN_ACCOUNT_NUMBER",
                "HOLDING_CUSIP",
                "HOLDING_ISIN",
            ],
        ),
    ]
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]),
        supported_languages=["en"],
        context_aware_enhancer=LineWindowContextEnhancer(),
    )
