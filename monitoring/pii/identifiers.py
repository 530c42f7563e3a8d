"""Financial identifiers: checksums, and the cue words deciding what a number is (a routing
number, a bank or brokerage account, a client's holding of a CUSIP or ISIN)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fintext.words import singular, word_set
from monitoring.pii.context import (
    cue_phrases,
    line_bounds,
    mentions,
    tokens,
    tokens_after,
    tokens_before,
)


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


def _by_singular(words: dict[str, str]) -> dict[str, str]:
    """Cue words keyed by their singulars, the form `tokens` yields."""
    return {singular(word): value for word, value in words.items()}


_NUMBER_CUES = _by_singular({
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
})  # fmt: skip
_CUE_WINDOW = 6

# Which kind of account: the nearest of these words (looking back across lines, so a wire
# instruction's "ABA:" line types the "Account:" line below it). Unqualified accounts default to
# FIN_ACCOUNT_NUMBER.
_ACCOUNT_KIND_WORDS = _by_singular({
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
})  # fmt: skip
_KIND_WINDOW = 14

_ROUTING_RE = re.compile(r"(?<![\w$.,/-])(\d{9}|\d{4}-\d{4}-\d)(?![\w%/-]|[.,]\d)")
_ACCOUNT_RE = re.compile(
    r"(?<![\w$.,/-])[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){5,21}(?![\w%/-]|[.,]\d)"
)
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}")
_NOT_AFTER_ACCOUNT = frozenset(
    singular(word) for word in word_set("share shares unit million billion thousand percent bp bps")
)


def _nearest_number_cue(text: str, start: int) -> str | None:
    for token in reversed(tokens_before(text, start, _CUE_WINDOW)):
        cue = _NUMBER_CUES.get(token)
        if cue is not None:
            return cue
    return None


def _account_kind(text: str, start: int, end: int) -> str:
    for token in reversed(tokens_before(text, start, _KIND_WINDOW, same_line=False)):
        kind = _ACCOUNT_KIND_WORDS.get(token)
        if kind is not None:
            return kind
    for token in tokens_after(text, end, 3):
        kind = _ACCOUNT_KIND_WORDS.get(token)
        if kind is not None:
            return kind
    return "FIN_ACCOUNT_NUMBER"


def named_as_account(text: str, start: int) -> bool:
    # "account number 4707305390250" is an account even when it passes the Luhn check; "card
    # account 4111 ..." is still a card.
    before = tokens_before(text, start, _CUE_WINDOW)
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
        following = tokens_after(text, match.end(), 1)
        if following and following[0] in _NOT_AFTER_ACCOUNT:
            continue
        kind = "FIN_ACCOUNT_NUMBER" if letters else _account_kind(text, match.start(), match.end())
        yield kind, match.start(), match.end(), 0.85


_CUSIP_RE = re.compile(r"(?<![A-Za-z0-9])[0-9A-Z]{8}[0-9](?![A-Za-z0-9])")
_ISIN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9A-Z]{9}[0-9](?![A-Za-z0-9])")
# Words that tie a security to a person's or a client's holdings.
_HOLDING_CUES = cue_phrases(
    (
        "my", "client", "customer", "hold", "holding", "held", "position", "account", "acct",
        "portfolio", "bought", "buy", "purchase", "purchased", "sold", "sell", "own", "owned",
        "lot", "cost basis", "his", "her", "their", "household", "statement", "transfer",
        "i have", "we hold", "our client",
    )
)  # fmt: skip
# Words that say the identifier describes the issuer or the security itself (cover pages,
# offering documents, beneficial-ownership schedules), which is public information.
_ISSUER_CUES = cue_phrases(
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
    window = tokens_before(text, start, _HOLDING_BEFORE) + tokens_after(text, end, _HOLDING_AFTER)
    if not mentions(window, _HOLDING_CUES) and not mentions(window, _ISSUER_CUES):
        # A bare line in a list or a form: the header above it ("Holdings (client acct ...):",
        # "(Title of Class of Securities)") or the caption below it says what it is.
        line_start, line_end = line_bounds(text, start, end)
        above_text = text[max(0, line_start - _HOLDING_LINE_CHARS) : max(0, line_start - 1)]
        above = above_text.split("\n")[-_HOLDING_LINES_ABOVE:]
        below = text[line_end + 1 : line_end + 1 + _HOLDING_LINE_CHARS].split("\n")[:1]
        window = tokens("\n".join([*above, *below]))
    return mentions(window, _HOLDING_CUES) and not mentions(window, _ISSUER_CUES)


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
            and "cusip" not in tokens_before(text, match.start(), 3)
            and not _QUANTITY_AFTER_RE.match(text, match.end())
        ):
            continue
        if _holding_context(text, match.start(), match.end()):
            yield "HOLDING_CUSIP", match.start(), match.end(), _HOLDING_SCORE
