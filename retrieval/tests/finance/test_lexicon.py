"""The metrics lexicon: questions map to their statements and line items, instructions steer
without polluting the search text, and line items are found on real statement pages."""

from __future__ import annotations

from retrieval.finance.lexicon import PageType
from retrieval.finance.questions import read_question, strip_instructions
from retrieval.tests.finance.test_pages import page_text, pytestmark  # noqa: F401


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
