"""Reading companies, fiscal years and quarters out of analysts' questions."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.scoping import CompanyEntry, QuestionScope, scope_from_question

COMPANIES = (
    CompanyEntry(id=1, name="Apple Inc.", ticker="AAPL"),
    CompanyEntry(id=2, name="Microsoft Corporation", ticker="MSFT"),
    CompanyEntry(id=3, name="3M Company", ticker="MMM"),
    CompanyEntry(id=4, name="Amazon.com, Inc.", ticker="AMZN", aliases=("Amazon",)),
    CompanyEntry(id=5, name="Agilent Technologies, Inc.", ticker="A"),
    CompanyEntry(id=6, name="Gartner, Inc.", ticker="IT"),
    CompanyEntry(id=7, name="ON Semiconductor Corporation", ticker="ON"),
    CompanyEntry(id=8, name="Target Corporation", ticker="TGT"),
    CompanyEntry(id=9, name="The Goldman Sachs Group, Inc.", ticker="GS", aliases=("Goldman",)),
)


def _scope(question: str, **kwargs) -> QuestionScope:
    return scope_from_question(question, COMPANIES, **kwargs)


def test_possessive_company_and_fiscal_year_are_found():
    scope = _scope("What was 3M's capital expenditure in FY2018?")

    assert scope.company_ids == (3,)
    assert scope.tickers == ("MMM",)
    assert scope.fiscal_years == (2018,)
    assert scope.fiscal_quarters == ()
    assert "3M's" in scope.matched_terms


def test_two_companies_and_a_quarter_are_found():
    scope = _scope("Compare Apple and Microsoft revenue in Q3 2023")

    assert set(scope.company_ids) == {1, 2}
    assert set(scope.tickers) == {"AAPL", "MSFT"}
    assert scope.fiscal_years == (2023,)
    assert scope.fiscal_quarters == ((2023, 3),)


@pytest.mark.parametrize(
    ("question", "quarters"),
    [
        ("Apple net sales in Q3 2023", ((2023, 3),)),
        ("Apple net sales in 2023 Q3", ((2023, 3),)),
        ("Apple net sales in the third quarter of 2023", ((2023, 3),)),
        ("Apple net sales in the 2nd quarter of fiscal 2022", ((2022, 2),)),
        ("Apple net sales in Q1 FY24", ((2024, 1),)),
        ("How did Q2 go for Apple?", ((None, 2),)),
    ],
)
def test_quarters_are_read_in_the_ways_analysts_write_them(question, quarters):
    assert _scope(question).fiscal_quarters == quarters


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("Apple revenue FY2018", (2018,)),
        ("Apple revenue FY 2018", (2018,)),
        ("Apple revenue in fiscal 2018", (2018,)),
        ("Apple revenue in fiscal year 2018", (2018,)),
        ("Apple revenue in 2018", (2018,)),
        ("Apple revenue FY18 versus FY17", (2017, 2018)),
        ("rent expense for fiscal years 2010 to 2012", (2010, 2012)),
    ],
)
def test_fiscal_years_are_read_in_the_ways_analysts_write_them(question, years):
    assert _scope(question).fiscal_years == years


def test_amounts_are_not_mistaken_for_years():
    scope = _scope("Did revenue of $2,019 million or 2019.5 units exceed 2020%?")

    assert scope.fiscal_years == ()


def test_names_match_with_punctuation_and_suffixes():
    assert _scope("What did Apple Inc. report?").company_ids == (1,)
    assert _scope("What did Apple Inc report?").company_ids == (1,)
    assert _scope("Amazon.com net sales").company_ids == (4,)
    assert _scope("What did Amazon's AWS segment earn?").company_ids == (4,)
    assert _scope("How did Goldman Sachs fare?").company_ids == (9,)
    assert (
        _scope("How did The Goldman Sachs Group fare?").matched_terms[0].startswith("The Goldman")
    )


def test_lower_case_questions_still_find_company_names():
    assert _scope("did microsoft outperform the index?").company_ids == (2,)


def test_common_words_are_not_companies_unless_capitalised_as_names():
    assert _scope("What is the target operating margin?").company_ids == ()
    assert _scope("How did Target's margin change?").company_ids == (8,)


def test_tickers_match_only_as_upper_case_words():
    assert _scope("How did AAPL and MSFT trade?").tickers == ("AAPL", "MSFT")
    assert _scope("how did aapl trade?").company_ids == ()


def test_ambiguous_tickers_do_not_fire_on_ordinary_words():
    scope = _scope("How much did IT spending grow ON A per-user basis?")

    assert scope.company_ids == ()


def test_ambiguous_tickers_count_when_marked_as_tickers():
    assert _scope("What is the outlook for $IT?").company_ids == (6,)
    assert _scope("Revenue of Agilent (NYSE: A) in 2022").company_ids == (5,)


def test_latest_filing_requests_are_flagged():
    assert _scope("What did Microsoft say in the most recent 10-Q?").latest is True
    assert _scope("What did Microsoft say in its latest quarter?").latest is True
    assert _scope("What did Microsoft say in Q3 2023?").latest is False


def test_relative_years_use_the_given_day():
    scope = _scope("Apple capex last year versus this year", today=date(2024, 5, 1))

    assert scope.fiscal_years == (2023, 2024)


def test_a_question_that_names_nothing_has_an_empty_scope():
    scope = _scope("What are the main risks of rising interest rates?")

    assert scope.is_empty
    assert scope.matched_terms == ()
