"""Mask personal data with readable placeholders, restore it, or refuse text that holds it."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from accounts.errors import PiiBlocked
from monitoring.pii.detection import Detection, pii_detect

logger = logging.getLogger("monitoring.pii")


class PiiPolicy(StrEnum):
    """What a workspace wants done with personal data found in text sent to a model."""

    MASK = "mask"
    BLOCK = "block"
    OFF = "off"


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


_PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]*)_(\d+)>")


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
