"""The metrics lexicon: questions map to their statements and line items, instructions steer
without polluting the search text, and line items are found on real statement pages."""

from __future__ import annotations

from retrieval.finance.lexicon import PageType
from retrieval.finance.questions import read_question, strip_instructions
from retrieval.tests.finance.test_pages import filing_page, page_text, pytestmark  # noqa: F401


def test_capex_lives_on_the_cash_flow_statement_as_purchases_of_property():
    intent = read_question("What was the company's capex in FY2015?")

    assert intent.statements == (PageType.CASH_FLOW,)
    assert "purchases of property, plant and equipment" in intent.line_items
    assert "purchases of property, plant and equipment" in page_text(60).lower()


def test_cogs_is_the_cost_of_sales_line_of_the_income_statement():
    intent = read_question("What is the FY2015 COGS?")

    assert intent.statements == (PageType.INCOME_STATEMENT,)
    assert "cost of sales" in intent.line_items
    assert "cost of sales |" in page_text(56).lower()


def test_working_capital_needs_both_current_totals_of_the_balance_sheet():
    intent = read_question("Does the company have positive working capital?")

    assert intent.statements == (PageType.BALANCE_SHEET,)
    balance_sheet = page_text(58).lower()
    assert all(item in balance_sheet for item in intent.line_items)


def test_a_ratio_over_two_statements_wants_both():
    intent = read_question(
        "What is the FY2021 inventory turnover ratio? Inventory turnover ratio is defined as: "
        "(FY2021 COGS) / (average inventory between FY2020 and FY2021)."
    )

    assert set(intent.statements) == {PageType.INCOME_STATEMENT, PageType.BALANCE_SHEET}


def test_a_named_statement_steers_and_leaves_the_search_text():
    question = (
        "What is the FY2016 COGS? Please state answer in USD millions. Provide a response to "
        "the question by primarily using the statement of income."
    )
    intent = read_question(question)

    assert intent.named_statements == (PageType.INCOME_STATEMENT,)
    assert intent.search_text == "What is the FY2016 COGS?"


def test_units_and_rounding_instructions_are_stripped():
    assert strip_instructions(
        "What is the 3 year average capex as a % of revenue? Answer in units of percents and "
        "round to one decimal place."
    ) == ("What is the 3 year average capex as a % of revenue?")


def test_a_question_without_financial_metrics_wants_no_statement():
    intent = read_question("Does the new CEO have previous CEO experience?")

    assert not intent.is_financial
    assert intent.statements == ()


def test_a_question_about_causes_is_marked_for_prose():
    assert read_question("What drove the reduction in SG&A expense in FY2023?").asks_why
    assert not read_question("What was SG&A expense in FY2023?").asks_why


def test_debt_held_as_short_term_investments_is_no_borrowing():
    intent = read_question(
        "Which type of debt received the largest investment among the short term investments "
        "for MGM in H1 FY2023?"
    )

    assert [m.name for m in intent.metrics] == ["investments"]
    assert PageType.BALANCE_SHEET not in intent.statements
    # The fair-value note of MGM's 10-Q lists the debt securities it holds, row by row.
    note = filing_page("MGMRESORTS_2023Q2_10Q", 11).lower()
    assert any(f"{item} " in note or f"{item} |" in note for item in intent.line_items)
    assert read_question("Has Microsoft increased its debt on balance sheet?").statements == (
        PageType.BALANCE_SHEET,
    )


def test_a_half_year_points_to_the_quarterly_report_and_a_quarter_to_a_10q_or_release():
    assert read_question("What was capex in H1 FY2023?").doc_types == ("10-Q",)
    assert read_question("What was net revenue in the six months ended June 30?").doc_types == (
        "10-Q",
    )
    assert set(read_question("Which segment grew most in 2021 Q1?").doc_types) == {
        "10-Q",
        "earnings_release",
    }
    assert read_question("What was FY2022 revenue?").doc_types == ()


def test_non_gaap_measures_point_to_the_earnings_release_reconciliation():
    intent = read_question("Which region had the highest Adjusted EBITDAR during FY2022?")

    assert "earnings_release" in intent.doc_types
    assert {t.name for t in intent.topics} == {"segments", "non-GAAP measures"}
    # Adjusted EBITDA is the company's own figure, not operating income plus D&A from the
    # income and cash flow statements as unadjusted EBITDA is.
    assert intent.statements == ()
    assert read_question("What is FY2015 unadjusted EBITDA?").statements == (
        PageType.INCOME_STATEMENT,
        PageType.CASH_FLOW,
    )
    release = filing_page("MGMRESORTS_2022Q4_EARNINGS", 14).lower()
    assert any(word in release for word in intent.page_words)


def test_what_shareholders_get_in_a_liquidation_is_book_value_per_share():
    intent = read_question(
        "If JPM liquidated all of its assets to pay its shareholders, how much could each "
        "shareholder get?"
    )

    assert [m.name for m in intent.metrics] == ["book value per share"]
    # Quoted in the 10-Q's highlights as prose ("TBVPS") and in its selected-metrics table.
    assert any(word in filing_page("JPMORGAN_2021Q1_10Q", 6).lower() for word in intent.page_words)
    assert any(word in filing_page("JPMORGAN_2021Q1_10Q", 5).lower() for word in intent.page_words)
    assert read_question("What is the book value of equity?").metrics[0].name == "equity"


def test_a_vote_on_board_nominees_points_to_the_8k_governance_page():
    intent = read_question(
        "Were there any board member nominees who had substantially more votes against joining "
        "than the other nominees?"
    )

    assert intent.doc_types == ("8-K",)
    assert PageType.GOVERNANCE in intent.topic_page_types
    vote = filing_page("FOOTLOCKER_2022_8K_dated-2022-05-20", 2).lower()
    assert sum(word in vote for word in intent.page_words) >= 3


def test_segment_questions_find_the_segment_results_wording():
    intent = read_question("Which of JPM's business segments had the lowest net revenue?")

    assert "segments" in {t.name for t in intent.topics}
    segment_page = filing_page("JPMORGAN_2021Q1_10Q", 19).lower()
    assert any(word in segment_page for word in intent.page_words)


def test_dividends_per_share_are_declared_amounts_not_the_cash_flow_statement():
    intent = read_question("What were dividends declared per common share in 2016?")

    assert [m.name for m in intent.metrics] == ["dividends per share"]
    assert intent.statements == ()
    # Printed under earnings per share on Microsoft's income statement and in Lockheed Martin's
    # selected financial data, in the equity note and Item 5 of other filings.
    assert any(word in filing_page("MICROSOFT_2016_10K", 52).lower() for word in intent.page_words)
    assert any(
        word in filing_page("LOCKHEEDMARTIN_2021_10K", 30).lower() for word in intent.page_words
    )
    # The cash paid out is still the cash flow statement's financing row.
    assert read_question("How much did Microsoft pay in dividends in FY2016?").statements == (
        PageType.CASH_FLOW,
    )
