from agents.engines.subquestions import decompose
from retrieval.scoping import CompanyEntry

COMPANIES = [CompanyEntry(id=1, name="Glueworks Inc"), CompanyEntry(id=2, name="Tapeline Inc")]


def test_a_comparison_over_years_is_split_whatever_the_verb_form():
    for question in (
        "Compare Glueworks capex in 2018 and 2019",
        "Comparing Glueworks capex in 2018 and 2019",
        "How has Glueworks capex been declining in 2018 and 2019?",
        "Glueworks capex over time: 2018 and 2019",
    ):
        subs = decompose(question, COMPANIES)
        assert [s.filters.fiscal_years for s in subs] == [(2018,), (2019,)], question
        assert {s.filters.company_ids for s in subs} == {(1,)}


def test_two_years_without_a_comparison_stay_one_question():
    assert decompose("Glueworks capex in 2018 and 2019 by segment", COMPANIES) == []


def test_two_companies_are_always_split():
    subs = decompose("Glueworks and Tapeline capex in 2018", COMPANIES)
    assert [s.label for s in subs] == ["Glueworks Inc 2018", "Tapeline Inc 2018"]
