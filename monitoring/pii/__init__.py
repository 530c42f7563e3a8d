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

import os

# tldextract (used by Presidio's email recogniser) reads this when it is first imported and would
# otherwise fetch the public suffix list over HTTP; empty means "use the bundled snapshot".
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from monitoring.pii.detection import SCORE_THRESHOLDS, Detection, pii_detect
from monitoring.pii.masking import (
    PLACEHOLDER_LABELS,
    MaskResult,
    PiiPolicy,
    pii_enforce,
    pii_mask,
    pii_restore,
    pii_scrub_for_logs,
)

__all__ = [
    "PLACEHOLDER_LABELS",
    "SCORE_THRESHOLDS",
    "Detection",
    "MaskResult",
    "PiiPolicy",
    "pii_detect",
    "pii_enforce",
    "pii_mask",
    "pii_restore",
    "pii_scrub_for_logs",
]
