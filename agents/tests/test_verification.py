"""The figure checker: every amount, percentage and per-share value of an answer against the
passages it cites and the calculator's results."""

from __future__ import annotations

from decimal import Decimal

from agents.verification import answer_figures, figures_verify, verification_summary

APPLE_TABLE = (
    "Apple Inc. 10-K 2020, Item 7. Net sales by reportable segment (in millions)\n"
    "| Segment | 2020 | 2019 | Change |\n"
    "| --- | --- | --- | --- |\n"
    "| Americas | 124,556 | 116,914 | 7% |\n"
    "| Europe | 68,640 | 60,288 | 14% |\n"
    "| Total net sales | $ 274,515 | $ 260,174 | 6% |\n"
)
APPLE_EPS = (
    "Diluted earnings per share were $3.28 in 2020 compared to $2.97 in 2019. "
    "Gross margin percentage was 38.2% in 2020."
)
GLUEWORKS = (
    "Net sales were $32,765 million in fiscal 2018, up 3% on fiscal 2017. Capital expenditures "
    "were $1.6 billion. The company returned $6,000 million to shareholders."
)


def verdicts(answer: str, passages: dict[int, str], **kwargs) -> list[tuple[str, str, str]]:
    checks = figures_verify(answer=answer, passages=passages, cited=passages, **kwargs)
    return [(c.figure.text, c.verdict, c.source) for c in checks]


def test_a_figure_in_billions_is_found_in_a_table_in_millions_within_rounding():
    answer = "Apple's total net sales were $274.5 billion in fiscal 2020 [1]."
    assert verdicts(answer, {1: APPLE_TABLE}) == [("$274.5 billion", "supported", "[1]")]


def test_a_figure_quoted_as_written_in_the_table_is_supported():
    answer = "Americas net sales were 124,556 in 2020 and 116,914 in 2019 [1]."
    assert [v for _, v, _ in verdicts(answer, {1: APPLE_TABLE})] == ["supported", "supported"]


def test_a_wrong_amount_is_unsupported():
    answer = "Apple's total net sales were $284.5 billion in fiscal 2020 [1]."
    assert verdicts(answer, {1: APPLE_TABLE}) == [("$284.5 billion", "unsupported", "")]


def test_rounding_beyond_what_the_answer_shows_is_not_accepted():
    # 274,515 million is $274.5 billion or $275 billion, never $274.3 billion.
    assert verdicts("Sales were $275 billion [1].", {1: APPLE_TABLE})[0][1] == "supported"
    assert verdicts("Sales were $274.3 billion [1].", {1: APPLE_TABLE})[0][1] == "unsupported"


def test_percentages_match_percentages_only():
    answer = "Europe grew 14% [1] while gross margin was 38.2% [2]."
    assert verdicts(answer, {1: APPLE_TABLE, 2: APPLE_EPS}) == [
        ("14%", "supported", "[1]"),
        ("38.2%", "supported", "[2]"),
    ]
    # 124,556 is an amount: "124,556%" is not what the passage says.
    assert verdicts("Americas were 124,556% [1].", {1: APPLE_TABLE})[0][1] == "unsupported"


def test_per_share_values_are_checked():
    answer = "Diluted EPS was $3.28 per share in 2020, against $3.05 per share in 2019 [1]."
    assert verdicts(answer, {1: APPLE_EPS}) == [
        ("$3.28 per share", "supported", "[1]"),
        ("$3.05 per share", "unsupported", ""),
    ]


def test_a_calculated_growth_is_accepted_as_the_calculator_rounded_it():
    answer = (
        "Net sales rose from $260,174 million [1] to $274,515 million [1]: growth 5.5% "
        "(calculated)."
    )
    checks = verdicts(
        answer,
        {1: APPLE_TABLE},
        calculations=[("growth_percent(old=260174, new=274515) = 5.51", Decimal("5.51"))],
    )
    assert checks == [
        ("$260,174 million", "supported", "[1]"),
        ("$274,515 million", "supported", "[1]"),
        ("5.5%", "calculated", "growth_percent(old=260174, new=274515) = 5.51"),
    ]


def test_years_dates_counts_citations_and_names_are_not_figures():
    answer = (
        "In fiscal 2020 (the year ended September 26, 2020), 3M and Apple filed their 10-K "
        "reports; Item 7 covers 2 segments [1] [12]. FY2019 and Q3 2018-2020 too."
    )
    assert answer_figures(answer) == []


def test_scale_words_and_abbreviations_are_read():
    figures = answer_figures("Revenue of $2.1B, capex of $500M, cash of 6 thousand dollars.")
    assert [(f.text, f.value) for f in figures] == [
        ("$2.1B", Decimal("2.1E9")),
        ("$500M", Decimal("5.00E8")),
        ("6 thousand", Decimal("6E3")),
    ]


def test_a_negative_in_parentheses_matches_its_magnitude():
    passage = "Other income (expense), net | (1,234) | 422"
    assert verdicts("Other expense was $1.2 billion [1].", {1: passage})[0][1] == "supported"


def test_the_figures_own_citation_is_named_before_others():
    answer = "Capital expenditures were $1,577 million [2]. Net sales were $32,765 million [1]."
    passages = {1: GLUEWORKS, 2: "Capital expenditures | 1,577 | 1,373"}
    assert [s for _, _, s in verdicts(answer, passages)] == ["[2]", "[1]"]


def test_only_the_cited_passages_count_when_the_answer_cites_some():
    answer = "Net sales were $32,765 million [1]."
    passages = {1: APPLE_TABLE, 2: GLUEWORKS}
    checks = figures_verify(answer=answer, passages=passages, cited=[1])
    assert checks[0].verdict == "unsupported"


def test_a_markdown_table_answer_is_checked_cell_by_cell():
    answer = (
        "| Segment | FY2020 net sales |\n| --- | --- |\n"
        "| **Americas** | 124,556 [1] |\n| **Total** | **275,515** [1] |\n"
    )
    assert verdicts(answer, {1: APPLE_TABLE}) == [
        ("124,556", "supported", "[1]"),
        ("275,515", "unsupported", ""),
    ]


def test_repeated_figures_are_counted_in_order_and_summarised():
    answer = "Sales were $274.5 billion [1]; again, $274.5 billion [1], not $999 million [1]."
    checks = figures_verify(answer=answer, passages={1: APPLE_TABLE}, cited=[1])
    assert [c.occurrence for c in checks] == [0, 1, 0]
    assert verification_summary(checks) == {"supported": 2, "calculated": 0, "unsupported": 1}
    assert checks[2].as_dict() == {
        "text": "$999 million",
        "kind": "amount",
        "value": "999000000",
        "verdict": "unsupported",
        "source": "",
        "start": answer.index("$999"),
        "end": answer.index("$999") + len("$999 million"),
        "occurrence": 0,
    }
