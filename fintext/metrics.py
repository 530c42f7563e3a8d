"""Financial measures as data: what a page of a filing is, the measures analysts ask about, the
words questions use for each and the line items filings print it under, and which of them a text
names. Pure data and regular expressions, shared by retrieval (scoping and ranking a question's
pages) and the offline provider (the line items it states)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class PageType(StrEnum):
    """What a page of a filing is; the first five are the primary financial statements."""

    INCOME_STATEMENT = "income_statement"
    COMPREHENSIVE_INCOME = "comprehensive_income"
    BALANCE_SHEET = "balance_sheet"
    CASH_FLOW = "cash_flow"
    EQUITY_STATEMENT = "equity_statement"
    NOTES = "notes"
    MDA = "mda"
    RISK_FACTORS = "risk_factors"
    BUSINESS = "business"
    MARKET_RISK = "market_risk"
    SELECTED_DATA = "selected_data"
    AUDITOR_REPORT = "auditor_report"
    CONTROLS = "controls"
    GOVERNANCE = "governance"
    EXHIBITS = "exhibits"
    COVER = "cover"
    CONTENTS = "contents"
    OTHER = "other"


STATEMENTS = (
    PageType.INCOME_STATEMENT,
    PageType.COMPREHENSIVE_INCOME,
    PageType.BALANCE_SHEET,
    PageType.CASH_FLOW,
    PageType.EQUITY_STATEMENT,
)


@dataclass(frozen=True)
class Metric:
    """A financial measure: how questions name it, the line items that hold it, and the
    statements those line items are printed on."""

    name: str
    terms: tuple[str, ...]  # regular expressions over the lower-cased question
    line_items: tuple[str, ...]  # filing wording, lower case
    statements: tuple[PageType, ...]
    # A question matching this (a regular expression) is about something else that shares the
    # metric's words: "debt" held as an investment is no borrowing.
    unless: str = ""
    # Its wording counts anywhere on a page, not only as a table row's label: some figures
    # (book value per share) are quoted in highlights and prose as often as in a table.
    anywhere: bool = False


_IS, _BS, _CF = PageType.INCOME_STATEMENT, PageType.BALANCE_SHEET, PageType.CASH_FLOW

# Non-GAAP measures a company defines itself and reconciles in its earnings release (and MD&A):
# "Adjusted EBITDA", "EBITDAR", "adjusted EPS", "same-store sales", "organic growth".
NON_GAAP_TERMS = (
    r"(?<!un)adjusted (?:property )?(?:ebitdar?|ebita?|eps|earnings|operating|net income|"
    r"gross|diluted|free cash)|ebitdar|non-?gaap|pro[- ]forma|same[- ]store|"
    r"comparable (?:store |brand )?sales|organic (?:growth|revenues?|sales)|core (?:eps|earnings)"
)

# Securities a company holds: "short-term investments", "debt securities", "marketable
# securities", "which type of debt ... investments".
_INVESTMENT_TERMS = (
    r"(?:short|long)[- ]term investments?|marketable securities|investment securities"
    r"|(?:debt|equity) (?:securities|investments?)|available[- ]for[- ]sale|held[- ]to[- ]maturity"
    r"|investments? (?:portfolio|holdings?)|(?:types?|kinds?) of (?:debt|securities)[^.?]*invest"
)

# Dividends per share: "dividends declared per common share", "dividend per share".
_DIVIDENDS_PER_SHARE = r"dividends? (?:declared |paid )?per (?:common |ordinary )?share"

METRICS: tuple[Metric, ...] = (
    Metric(
        "capital expenditure",
        (
            r"capex",
            r"capital expenditures?",
            r"capital spending",
            r"purchases? of (?:pp&e|property)",
        ),
        (
            "purchases of property, plant and equipment",
            "purchases of property and equipment",
            "capital expenditures",
            "additions to property",
            "payments for property",
        ),
        (_CF,),
    ),
    Metric(
        "cost of goods sold",
        (r"cogs", r"cost of (?:goods|products) sold", r"cost of sales", r"cost of revenues?"),
        ("cost of sales", "cost of revenue", "cost of goods sold", "cost of products sold"),
        (_IS,),
    ),
    Metric(
        "revenue",
        (r"revenues?", r"net sales", r"(?<!cost of )sales", r"top ?line"),
        ("total revenue", "net revenue", "net sales", "revenues", "total net sales"),
        (_IS,),
    ),
    Metric(
        "gross margin",
        (r"gross (?:margin|profit)",),
        ("gross margin", "gross profit", "cost of sales", "cost of revenue"),
        (_IS,),
    ),
    Metric(
        "operating income",
        (r"operating (?:income|margin|profit|loss)", r"ebit(?!da)", r"income from operations"),
        ("operating income", "income from operations", "operating profit", "operating loss"),
        (_IS,),
    ),
    Metric(
        # What shareholders would get if the company were wound up: its book value per share.
        "book value per share",
        (
            r"(?:tangible )?book value per (?:common )?share",
            r"tangible book value",
            r"\bt?bvps\b",
            r"net asset value per share",
            r"liquidat\w*[^.?]*(?:shareholders?|stockholders?|per share)",
            r"(?:each|per) (?:share|shareholder|stockholder)[^.?]*liquidat\w*",
        ),
        (
            "book value per share",
            "book value per common share",
            "tangible book value",
            "tbvps",
            "bvps",
            "net asset value per share",
        ),
        (),
        anywhere=True,
    ),
    Metric(
        "net income",
        (r"net (?:income|earnings|profit|loss)", r"bottom line", r"profit margin"),
        ("net income", "net earnings", "net loss"),
        (_IS,),
    ),
    Metric(
        "earnings per share",
        (r"\beps\b", r"earnings per share", r"per share"),
        ("per share", "diluted", "basic"),
        (_IS,),
    ),
    Metric(
        "depreciation and amortization",
        (r"d&a", r"depreciation", r"amortization"),
        ("depreciation and amortization", "depreciation", "amortization"),
        (_CF,),
    ),
    Metric(
        "ebitda",
        (r"ebitda",),
        ("operating income", "depreciation and amortization", "depreciation"),
        (_IS, _CF),
        # Adjusted EBITDA is the company's own non-GAAP figure, printed in its reconciliation
        # (see TOPICS), not computed from the two statements as unadjusted EBITDA is.
        unless=NON_GAAP_TERMS,
    ),
    Metric(
        "interest expense",
        (r"interest expense", r"interest coverage", r"times interest earned"),
        ("interest expense", "operating income"),
        (_IS,),
    ),
    Metric(
        "income tax",
        (r"effective tax rate", r"income tax(?:es)?", r"tax expense", r"tax provision"),
        ("provision for income taxes", "income tax expense", "income taxes", "before income taxes"),
        (_IS,),
    ),
    Metric(
        "operating cash flow",
        (
            r"operating cash flows?",
            r"cash (?:flows? )?from operations",
            r"cash (?:flows? )?(?:from|provided by|used in) operating",
            r"operating activities",
        ),
        ("net cash provided by operating activities", "operating activities"),
        (_CF,),
    ),
    Metric(
        "investing and financing cash flows",
        (r"investing activities", r"financing activities", r"cash flows?(?! statement)"),
        ("investing activities", "financing activities", "operating activities"),
        (_CF,),
    ),
    Metric(
        "free cash flow",
        (r"free cash flows?", r"\bfcf\b"),
        ("operating activities", "purchases of property", "capital expenditures"),
        (_CF,),
    ),
    Metric(
        "dividends",
        (r"dividends?", r"payout ratio"),
        ("dividends paid", "cash dividends", "dividends"),
        (_CF,),
        # Dividends per share are declared amounts, printed in the equity note, Item 5 and the
        # quarterly data, not the cash paid that the cash flow statement shows.
        unless=_DIVIDENDS_PER_SHARE,
    ),
    Metric(
        "dividends per share",
        (_DIVIDENDS_PER_SHARE,),
        (
            "dividends declared per common share",
            "dividends declared per share",
            "dividends per common share",
            "dividends per share",
        ),
        (),
        anywhere=True,
    ),
    Metric(
        "share repurchases",
        (
            r"buy ?backs?",
            r"(?:share|stock) repurchases?",
            r"repurchases? of (?:common )?(?:stock|shares)",
        ),
        (
            "repurchases of common stock",
            "repurchase of common stock",
            "purchases of treasury stock",
        ),
        (_CF,),
    ),
    Metric(
        "total assets",
        (r"total assets", r"asset base"),
        ("total assets",),
        (_BS,),
    ),
    Metric(
        "current assets and liabilities",
        (r"current assets", r"current liabilities", r"current ratio", r"liquidity ratio"),
        ("total current assets", "total current liabilities"),
        (_BS,),
    ),
    Metric(
        "working capital",
        (r"working capital",),
        ("total current assets", "total current liabilities"),
        (_BS,),
    ),
    Metric(
        "quick ratio",
        (r"quick ratio", r"acid[- ]test"),
        (
            "cash and cash equivalents",
            "short-term investments",
            "marketable securities",
            "accounts receivable",
            "total current liabilities",
        ),
        (_BS,),
    ),
    Metric(
        "inventory",
        (r"inventor(?:y|ies)",),
        ("inventories", "merchandise inventories", "inventory"),
        (_BS,),
    ),
    Metric(
        "inventory turnover",
        (r"inventory turnover", r"days (?:of |in )?inventory", r"\bdio\b", r"inventory days"),
        ("inventories", "cost of sales", "cost of revenue", "cost of goods sold"),
        (_IS, _BS),
    ),
    Metric(
        "receivables",
        (r"(?:accounts )?receivables?", r"\bdso\b", r"days sales outstanding"),
        ("accounts receivable", "receivables"),
        (_BS,),
    ),
    Metric(
        "days sales outstanding",
        (r"\bdso\b", r"days sales outstanding", r"receivables? turnover"),
        ("accounts receivable", "net sales", "revenues"),
        (_IS, _BS),
    ),
    Metric(
        "payables",
        (r"accounts payable", r"payables?"),
        ("accounts payable",),
        (_BS,),
    ),
    Metric(
        "days payable outstanding",
        (r"\bdpo\b", r"days payables? outstanding", r"payables? turnover"),
        ("accounts payable", "cost of sales", "inventories"),
        (_IS, _BS),
    ),
    Metric(
        "property, plant and equipment",
        (r"pp&e", r"property,? plant,? and equipment", r"property and equipment", r"fixed assets?"),
        ("property, plant and equipment", "property and equipment"),
        (_BS,),
    ),
    Metric(
        "fixed asset turnover",
        (r"fixed asset turnover", r"pp&e turnover"),
        ("property, plant and equipment", "property and equipment", "revenues", "net sales"),
        (_IS, _BS),
    ),
    Metric(
        "asset turnover",
        (r"(?<!fixed )asset turnover",),
        ("total assets", "revenues", "net sales"),
        (_IS, _BS),
    ),
    Metric(
        "return on assets",
        (r"return on (?:total )?assets", r"\broa\b"),
        ("net income", "total assets"),
        (_IS, _BS),
    ),
    Metric(
        "return on equity",
        (r"return on (?:shareholders'? |stockholders'? )?equity", r"\broe\b"),
        ("net income", "total equity", "shareholders' equity", "stockholders' equity"),
        (_IS, _BS),
    ),
    Metric(
        "debt",
        (r"(?:total |long[- ]term |short[- ]term )?debt", r"borrowings", r"leverage"),
        ("long-term debt", "short-term debt", "current portion of long-term debt", "borrowings"),
        (_BS,),
        unless=_INVESTMENT_TERMS,
    ),
    Metric(
        # Securities the company holds (a fair-value or investments note), not its borrowings.
        "investments",
        (_INVESTMENT_TERMS,),
        (
            "short-term investments",
            "marketable securities",
            "debt securities",
            "debt investments",
            "available-for-sale",
            "held-to-maturity",
            "corporate bonds",
            "commercial paper",
            "government securities",
            "agency securities",
            "treasury securities",
            "certificates of deposit",
            "money market funds",
        ),
        (),
    ),
    Metric(
        "cash",
        (r"cash and (?:cash )?equivalents", r"cash balance", r"cash on hand"),
        ("cash and cash equivalents",),
        (_BS,),
    ),
    Metric(
        "equity",
        (r"(?:shareholders|stockholders)'? equity", r"book value(?! per)", r"total equity"),
        ("total equity", "shareholders' equity", "stockholders' equity"),
        (_BS,),
    ),
    Metric(
        "goodwill and intangibles",
        (r"goodwill", r"intangible assets"),
        ("goodwill", "intangible assets"),
        (_BS,),
    ),
    Metric(
        "retained earnings",
        (r"retained earnings", r"accumulated deficit"),
        ("retained earnings", "accumulated deficit"),
        (_BS,),
    ),
    Metric(
        "selling, general and administrative",
        (r"sg&a", r"selling,? general,? and administrative"),
        ("selling, general and administrative",),
        (_IS,),
    ),
    Metric(
        "research and development",
        (r"r&d", r"research and development"),
        ("research and development",),
        (_IS,),
    ),
)


def any_term(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Any of `terms` (regular expressions) as a whole phrase: not inside a longer word."""
    return re.compile("|".join(rf"(?<![\w-])(?:{t})(?![\w-])" for t in terms))


_METRIC_TERMS = tuple(
    (metric, any_term(metric.terms), any_term((metric.unless,)) if metric.unless else None)
    for metric in METRICS
)


def metrics_named(text: str) -> tuple[Metric, ...]:
    """The metrics `text` (lower case, straight apostrophes) names, in METRICS order; a metric
    whose `unless` matches too is about something else and is left out."""
    return tuple(
        metric
        for metric, pattern, unless in _METRIC_TERMS
        if pattern.search(text) and not (unless and unless.search(text))
    )


def metric_named(name: str) -> Metric:
    """The metric of this name; raises KeyError for a name METRICS does not hold."""
    for metric in METRICS:
        if metric.name == name:
            return metric
    raise KeyError(name)
