"""Financial vocabulary as retrieval reads it: statement titles and line items, the topics of
questions, and the instructions analysts append to them. The page types and the metrics with
their wording live in fintext.metrics, shared with the offline provider."""

from __future__ import annotations

from dataclasses import dataclass

from fintext.metrics import NON_GAAP_TERMS, PageType

# Titles printed at the top of each statement (regular expressions over lower-cased text with
# straight apostrophes). Order matters: a combined "statements of operations and comprehensive
# income" is an income statement, so the income titles are tried before the comprehensive one.
STATEMENT_TITLES: tuple[tuple[PageType, str], ...] = (
    (PageType.CASH_FLOW, r"statements? of (?:consolidated )?cash flows?|cash flows? statements?"),
    (
        PageType.BALANCE_SHEET,
        r"balance sheets?|statements? of (?:consolidated )?financial (?:position|condition)",
    ),
    (
        PageType.EQUITY_STATEMENT,
        r"statements? of (?:consolidated )?(?:changes in )?(?:\w+ )?(?:stockholders|shareholders|"
        r"shareowners|owners|members)'? ?(?:equity|deficit|investment)"
        r"|statements? of (?:changes in )?"
        r"equity",
    ),
    (
        PageType.INCOME_STATEMENT,
        r"statements? of (?:consolidated )?(?:operations|income|earnings|(?:comprehensive )?"
        r"(?:income|loss|earnings) and (?:comprehensive )?(?:income|loss))(?! and comprehensive)"
        r"|income statements?|statements? of operations and comprehensive|"
        r"statements? of (?:income|earnings) and comprehensive",
    ),
    (
        PageType.COMPREHENSIVE_INCOME,
        r"statements? of (?:consolidated )?comprehensive (?:income|loss|earnings)",
    ),
)

# Line items that mark each statement's body (substrings of lower-cased row labels). A page whose
# rows carry several of one statement's items is that statement even without its title (the
# second page of a balance sheet, a statement printed inside an earnings release).
STATEMENT_LINE_ITEMS: dict[PageType, tuple[str, ...]] = {
    PageType.CASH_FLOW: (
        "operating activities",
        "investing activities",
        "financing activities",
        "depreciation",
        "purchases of property",
        "capital expenditures",
        "beginning of",
        "end of",
        "dividends paid",
        "proceeds from",
        "repayments",
        "changes in operating assets",
    ),
    PageType.BALANCE_SHEET: (
        "total current assets",
        "total assets",
        "total current liabilities",
        "total liabilities",
        "accounts payable",
        "inventor",
        "property, plant and equipment",
        "property and equipment",
        "retained earnings",
        "goodwill",
        "accounts receivable",
        "total equity",
        "stockholders' equity",
        "shareholders' equity",
        "accrued",
    ),
    PageType.INCOME_STATEMENT: (
        "cost of sales",
        "cost of revenue",
        "cost of goods sold",
        "cost of products sold",
        "gross margin",
        "gross profit",
        "operating income",
        "income from operations",
        "before income taxes",
        "provision for income taxes",
        "income tax expense",
        "net income",
        "net earnings",
        "net loss",
        "per share",
        "net revenue",
        "net sales",
        "total revenue",
        "selling, general",
        "research and development",
        "interest expense",
        "diluted",
        "operating expenses",
    ),
    PageType.EQUITY_STATEMENT: (
        "balance at",
        "balances at",
        "balance as of",
        "dividends declared",
        "additional paid-in",
        "treasury",
        "other comprehensive",
        "repurchase",
        "stock-based compensation",
    ),
    PageType.COMPREHENSIVE_INCOME: (
        "other comprehensive",
        "comprehensive income",
        "comprehensive loss",
        "foreign currency translation",
        "unrealized",
    ),
}

# Words that name a statement in a question ("using the cash flow statement").
STATEMENT_CUES: tuple[tuple[PageType, str], ...] = (
    (
        PageType.CASH_FLOW,
        r"cash[- ]flows? statements?|statements? of (?:consolidated )?cash flows?",
    ),
    (
        PageType.BALANCE_SHEET,
        r"balance sheets?|statements? of financial (?:position|condition)",
    ),
    (
        PageType.INCOME_STATEMENT,
        r"income statements?|statements? of (?:consolidated )?(?:income|operations|earnings)"
        r"|p ?& ?l(?: statements?)?|profit and loss(?: statements?)?",
    ),
    (
        PageType.EQUITY_STATEMENT,
        r"statements? of (?:changes in )?(?:stockholders'?|shareholders'?)? ?equity",
    ),
)


@dataclass(frozen=True)
class Topic:
    """A subject of a question that is no single line item (segment results, a non-GAAP measure,
    a shareholder vote): the wording of the pages that treat it, the page types and the kinds of
    filing that usually carry it."""

    name: str
    terms: tuple[str, ...]  # regular expressions over the lower-cased question
    page_words: tuple[str, ...]  # lower-case wording anywhere on a page that treats it
    page_types: tuple[PageType, ...] = ()
    doc_types: tuple[str, ...] = ()  # retrieval.models.Document.DocType values


# Kinds of filing (Document.DocType values).
FORM_10K, FORM_10Q, FORM_8K, EARNINGS_RELEASE = "10-K", "10-Q", "8-K", "earnings_release"

TOPICS: tuple[Topic, ...] = (
    Topic(
        # Results by reportable segment, region or line of business: a segment note or the
        # segment tables of MD&A and of an earnings release.
        "segments",
        (
            r"segments?",
            r"regions?",
            r"regional",
            r"geograph(?:y|ic|ical|ies)",
            r"business (?:units?|lines?|groups?)",
            r"lines? of business",
            r"\blobs?\b",
            r"divisions?",
            r"(?:by|each|which) (?:country|market|brand|product line)",
        ),
        (
            "segment results",
            "segment information",
            "reportable segment",
            "business segment",
            "operating segment",
            "by segment",
            "segment data",
            "geographic",
        ),
    ),
    Topic(
        # The company's own measures, defined and reconciled to GAAP in its earnings release.
        "non-GAAP measures",
        (NON_GAAP_TERMS,),
        (
            "non-gaap",
            "reconciliation",
            "adjusted ebitda",
            "ebitdar",
            "adjusted eps",
            "adjusted net income",
            "adjusted operating",
            "same-store",
            "comparable sales",
        ),
        doc_types=(EARNINGS_RELEASE,),
    ),
    Topic(
        # What management expects: an earnings release's outlook.
        "outlook",
        (r"guidance", r"outlook", r"forecasts?", r"(?:full[- ]year|next (?:year|quarter)) expect"),
        ("outlook", "guidance", "expects", "expected to"),
        doc_types=(EARNINGS_RELEASE,),
    ),
    Topic(
        # Votes, board elections and officer changes: reported on Form 8-K (Items 5.02, 5.07).
        "governance events",
        (
            r"votes?",
            r"voted",
            r"voting",
            r"nominees?",
            r"board (?:of directors|members?|seats?)",
            r"directors?",
            r"annual meeting",
            r"shareholder proposals?",
            r"\bceo\b",
            r"chief (?:executive|financial|operating) officer",
            r"appoint(?:ed|ment|s)?",
            r"resign(?:ed|ation|s)?",
            r"succe(?:ssor|ssion|eded)",
        ),
        (
            "votes for",
            "votes against",
            "broker non-votes",
            "abstentions",
            "nominees",
            "elected",
            "appointed",
            "chief executive officer",
            "board of directors",
        ),
        page_types=(PageType.GOVERNANCE,),
        doc_types=(FORM_8K,),
    ),
    Topic(
        # Interim periods: a half year, nine months or year to date come from a 10-Q.
        "interim period",
        (
            r"\bh[12]\b",
            r"(?:first|second) half",
            r"half[- ]year",
            r"(?:six|nine) months",
            r"year[- ]to[- ]date",
            r"\bytd\b",
        ),
        (),
        doc_types=(FORM_10Q,),
    ),
    Topic(
        # A quarter's figures: a 10-Q or the quarter's earnings release.
        "quarter",
        (r"\bq[1-4]\b", r"quarter(?:ly)?", r"three months"),
        (),
        doc_types=(FORM_10Q, EARNINGS_RELEASE),
    ),
)

# Phrases analysts append to say how to answer, not what to find: they steer (units, rounding,
# which statement) but their words match nothing useful in a filing.
INSTRUCTION_PATTERNS: tuple[str, ...] = (
    r"\(?\s*in (?:units of )?(?:usd|us\$|\$)? ?(?:millions|billions|thousands|percents?)\s*\)?",
    r"in units of [\w ]+?(?=[.,;)]|$)",
    r"(?:please )?(?:state|give|provide|express|report) (?:your |the )?answer[^.?]*",
    r"answer in [^.?]*",
    r"round(?:ed)? (?:your answer |the answer )?to [\w ]+? decimal places?",
    r"(?:please )?(?:provide|give) a response to the question[^.?]*",
    r"respond to the question[^.?]*",
    r"(?:please )?(?:base|basing) your (?:judg(?:e)?ments?|answers?)[^.?,]*",
    r"(?:by )?(?:primarily |only )?(?:using|referencing|relying on|utiliz(?:e|ing)) "
    r"(?:only )?(?:the )?(?:information|details|line items)[^.?,]*",
    r"(?:according to|using|based on) (?:the )?(?:information|details)[^.?,]*",
    r"compute or extract the answer[^.?]*",
    r"calculate what was asked[^.?]*",
    r"answer the following question as if[^.?]*",
    r"we (?:need|want) to calculate[^.?]*",
    r"please help us compute it[^.?]*",
    r"here's the question:?",
    r"if [\w ]+ is not a useful or relevant metric[^.?]*",
)

# Questions asking for causes or commentary: answered by prose (MD&A, a release's narrative), not
# by a statement's table, even when they name a metric.
EXPLANATION_CUES: tuple[str, ...] = (
    r"what (?:drove|drives|caused|causes|led to|explains?)",
    r"\bwhy\b",
    r"reasons? for",
    r"\bexplain\b",
)
