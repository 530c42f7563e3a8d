"""Presidio's analyzer, offline, with its recognisers tuned for financial text.

Importing this module imports Presidio (and spaCy with it, a few seconds), so
`monitoring.pii.detection` imports it only when the first text is analysed.
"""

from __future__ import annotations

import re
from typing import Any

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

from fintext.words import singular
from monitoring.pii.context import cue_phrases, mentions, tokens_after, tokens_before
from monitoring.pii.identifiers import (
    account_numbers_find,
    holdings_find,
    named_as_account,
    routing_numbers_find,
)

_SSN_CONTEXT = ["social security", "ssn", "ss", "social", "taxpayer", "tin"]
_LOG_KEY_RE = re.compile(r"[A-Za-z_][\w.-]*=(?=[^=@]+@)")
_PHONE_CONTEXT = [
    "phone", "telephone", "tel", "call", "cell", "mobile", "fax", "reach", "text", "contact",
    "direct", "desk", "ext",
]  # fmt: skip
# National formats of these regions; numbers written with "+" parse in any region. Germany and
# France are left out: their short national numbers match table decimals ("164.3", "16.94").
_PHONE_REGIONS = ("US", "GB")
_NOT_BEFORE_IP = frozenset(
    singular(word) for word in ("version", "v", "release", "build", "section", "rule", "item")
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
        return [r for r in results if not named_as_account(text, r.start)]


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
        return [r for r in results if not set(tokens_before(text, r.start, 2)) & _NOT_BEFORE_IP]


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
            window = tokens_before(text, result.start, self.context_prefix_count) + tokens_after(
                text, result.end, self.context_suffix_count
            )
            if mentions(window, cue_phrases(tuple(recognizer.context))):
                result.score = min(
                    1.0,
                    max(
                        result.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                )
                metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_results


def analyzer_build() -> AnalyzerEngine:
    """A new analyzer with our recognisers and the no-op NLP engine (no model to load)."""
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
