"""The offline provider uses the calculator the way a model would: one call with figures read
from the passages when the question asks for growth, a CAGR or a margin, then the quotes plus the
result with its inputs and citations; on any doubt, no call and the plain quotes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.contracts import (
    ChatMessage,
    ContextPassage,
    ModelRequest,
    StreamEnd,
    TextDelta,
    ToolExchange,
    ToolRound,
    ToolUse,
    UsageReport,
)
from agents.models import Checkpoint
from agents.providers.offline import (
    CALCULATOR_REFUSED,
    NOT_CALCULATED,
    OFFLINE_CALL_ID,
    OfflineProvider,
    compose_answer,
)
from agents.providers.offline_answers import NOT_SAID
from agents.providers.offline_calculations import calculation_asked
from agents.tests.support import ask, glueworks_ingest
from agents.tokens import _encoding
from agents.tools import tool_call, tool_definitions
from billing.models import LedgerEntry

MD_AND_A = ContextPassage(
    1,
    "Item 7. Management's Discussion and Analysis\n"
    "Capital expenditures were $1,577 million in fiscal 2018, compared with $1,373 million in "
    "fiscal 2017.\n"
    "Net sales were $32,765 million in fiscal 2018.",
    "Glueworks 2018 10-K",
    2,
)
SELECTED_DATA = ContextPassage(
    1,
    "Item 8. Selected financial data Income statement summary\n"
    "(US$ millions, except per share) | FY2020 | FY2019 | FY2018\n"
    "Total net sales | 274,515 | 260,174 | 265,595\n"
    "Operating income | 66,288 | 63,930 | 70,898\n"
    "Net income | 57,411 | 55,256 | 59,531\n"
    "Diluted earnings per share (US$) | 3.28 | 2.97 | 2.98",
    "Acme Inc. FY2020 annual report",
    4,
)
CATEGORY_TABLE = ContextPassage(
    1,
    "Item 7. Management's discussion and analysis Net sales by category "
    "Total net sales for fiscal 2020 were $274,515 million, up 5.5%.\n"
    "Category | FY2020 | FY2019 | Change\n"
    "Widgets | 137,781 | 142,381 | -3.2%\n"
    "Gadgets | 28,622 | 25,740 | 11.2%\n"
    "Services | 53,768 | 46,291 | 16.2%\n"
    "**Total net sales** | **274,515** | 260,174 | 5.5%",
    "Acme Inc. FY2020 annual report",
    2,
)
GROWTH = "growth_percent(old=1373, new=1577) = 14.86"
CAPEX_QUESTION = "By how much did Glueworks' capital expenditures grow from 2017 to 2018?"
CAPEX_RESULT = (
    "Calculated: Capital expenditures grew 14.86% from $1,373 million (fiscal 2017) to "
    "$1,577 million (fiscal 2018) [1]."
)


def request_for(
    question: str, *passages: ContextPassage, tools=True, rounds=(), choice="auto"
) -> ModelRequest:
    return ModelRequest(
        system="unused by the offline provider",
        messages=(ChatMessage("user", question),),
        question=question,
        passages=passages,
        tools=tool_definitions() if tools else (),
        tool_rounds=rounds,
        tool_choice=choice,
    )


async def events_of(request: ModelRequest) -> list:
    return [event async for event in OfflineProvider().stream(request)]


async def call_for(question: str, *passages: ContextPassage) -> ToolUse | None:
    uses = [e for e in await events_of(request_for(question, *passages)) if isinstance(e, ToolUse)]
    assert len(uses) <= 1
    return uses[0] if uses else None


async def final_answer(question: str, *passages: ContextPassage) -> str:
    """Both rounds, as turn_stream runs them: the call, the real calculator, the answer."""
    use = await call_for(question, *passages)
    assert use is not None
    result = tool_call(use.name, use.arguments)
    exchange = ToolExchange(use.call_id, use.name, use.arguments, result.output, not result.ok)
    second = request_for(question, *passages, rounds=(ToolRound("", (exchange,)),))
    events = await events_of(second)
    assert events[-1] == StreamEnd("end_turn")
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- when to call ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_growth_between_two_years_in_one_sentence_calls_growth_percent_and_says_nothing():
    events = await events_of(request_for(CAPEX_QUESTION, MD_AND_A))

    assert events[0] == ToolUse(OFFLINE_CALL_ID, "growth_percent", {"old": 1373, "new": 1577})
    assert isinstance(events[1], UsageReport)
    assert events[2] == StreamEnd("tool_use")
    assert not [e for e in events if isinstance(e, TextDelta)]


@pytest.mark.asyncio
async def test_the_answer_quotes_the_passage_and_states_the_calculated_growth_with_its_inputs():
    text = await final_answer(CAPEX_QUESTION, MD_AND_A)

    quote, result = text.split(" Calculated: ")
    assert "Capital expenditures were $1,577 million in fiscal 2018" in quote
    assert quote.endswith("[1].")
    assert f"Calculated: {result}" == CAPEX_RESULT


@pytest.mark.asyncio
async def test_percentage_change_reads_two_year_columns_of_a_table():
    use = await call_for(
        "What was the percentage change in Acme's net income from fiscal 2019 to fiscal 2020?",
        SELECTED_DATA,
    )

    assert use is not None
    assert (use.name, use.arguments) == ("growth_percent", {"old": 55256, "new": 57411})


@pytest.mark.asyncio
async def test_year_over_year_growth_compares_with_the_year_before():
    use = await call_for(
        "What was Acme's year-over-year diluted EPS growth in FY2019?", SELECTED_DATA
    )

    assert use is not None
    assert use.arguments == {"old": 2.98, "new": 2.97}


@pytest.mark.asyncio
async def test_a_decline_is_stated_as_a_decline_of_the_row_the_caption_names():
    text = await final_answer(
        "How much did Acme's Widgets net sales decline from fiscal 2019 to fiscal 2020?",
        CATEGORY_TABLE,
    )

    assert text.endswith(
        "Calculated: Widgets net sales declined 3.23% from 142,381 (fiscal 2019) to 137,781 "
        "(fiscal 2020) [1]."
    )


@pytest.mark.asyncio
async def test_cagr_uses_the_first_and_last_year_and_the_years_between():
    question = "What was Acme's net sales CAGR from fiscal 2018 to fiscal 2020?"

    use = await call_for(question, SELECTED_DATA)
    text = await final_answer(question, SELECTED_DATA)

    assert use is not None
    assert (use.name, use.arguments) == (
        "cagr_percent",
        {"start": 265595, "end": 274515, "years": 2},
    )
    assert text.endswith(
        "Calculated: Total net sales grew at a compound annual rate of 1.67% over 2 years, from "
        "$265,595 million (fiscal 2018) to $274,515 million (fiscal 2020) [1]."
    )


@pytest.mark.asyncio
async def test_operating_margin_divides_operating_income_by_net_sales_of_that_year():
    question = "What was Acme's operating margin in fiscal 2019?"

    use = await call_for(question, SELECTED_DATA)
    text = await final_answer(question, SELECTED_DATA)

    assert use is not None
    assert (use.name, use.arguments) == ("margin_percent", {"part": 63930, "whole": 260174})
    assert text.endswith(
        "Calculated: the operating margin for fiscal 2019 was 24.57% (Operating income of "
        "$63,930 million divided by Total net sales of $260,174 million) [1]."
    )


@pytest.mark.asyncio
async def test_an_operating_margin_reads_income_from_operations_as_the_shared_metric_names_it():
    # fintext.metrics (the wording retrieval finds the row by) names operating income so too;
    # its "operating loss" is no margin's numerator and is not read as one.
    statement = ContextPassage(
        1,
        SELECTED_DATA.text.replace("Operating income |", "Income from operations |"),
        SELECTED_DATA.document,
        SELECTED_DATA.page,
    )
    question = "What was Acme's operating margin in fiscal 2019?"

    use = await call_for(question, statement)
    loss = await call_for(
        question,
        replace(statement, text=statement.text.replace("Income from operations", "Operating loss")),
    )

    assert use is not None
    assert (use.name, use.arguments) == ("margin_percent", {"part": 63930, "whole": 260174})
    assert loss is None


@pytest.mark.asyncio
async def test_a_figure_as_a_percent_of_revenue_is_a_margin_calculation():
    use = await call_for(
        "What was net income as a percentage of net sales in fiscal 2020?", SELECTED_DATA
    )

    assert use is not None
    assert (use.name, use.arguments) == ("margin_percent", {"part": 57411, "whole": 274515})


@pytest.mark.asyncio
async def test_inputs_from_two_passages_cite_both():
    earlier = ContextPassage(
        2,
        "Capital expenditures were $1,373 million in fiscal 2017.",
        "Glueworks 2017 10-K",
        3,
    )
    later = ContextPassage(
        1, "Capital expenditures were $1,577 million in fiscal 2018.", "Glueworks 2018 10-K", 2
    )

    text = await final_answer(CAPEX_QUESTION, later, earlier)

    assert text.endswith("(fiscal 2018) [2][1].")


# --- when not to call ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("question", "passages"),
    [
        pytest.param(
            "What were Glueworks' capital expenditures in fiscal 2018?",
            (MD_AND_A,),
            id="a plain figure needs no calculation",
        ),
        pytest.param(
            "How much did Glueworks' capital expenditures grow from 2016 to 2018?",
            (MD_AND_A,),
            id="a period the passages do not give",
        ),
        pytest.param(
            "How much did Glueworks' net sales grow from 2017 to 2018?",
            (MD_AND_A,),
            id="only one of the two years",
        ),
        pytest.param(
            "How much did Acme's net sales grow from fiscal 2019 to fiscal 2020?",
            (
                ContextPassage(
                    1,
                    "(US$ millions) | FY2020 | FY2019\n"
                    "Products net sales | 220,747 | 213,883\n"
                    "Services net sales | 53,768 | 46,291",
                    "Acme Inc. FY2020 annual report",
                    4,
                ),
            ),
            id="only rows of parts of the metric",
        ),
        pytest.param(
            "How much did Acme's capital expenditures grow from fiscal 2019 to fiscal 2020?",
            (
                ContextPassage(
                    1,
                    "Ratio | FY2020 | FY2019\nCapital expenditures as % of net sales | 4.7% | 5.3%",
                    "Acme Inc. FY2020 annual report",
                    4,
                ),
            ),
            id="a percent row is not the amount",
        ),
        pytest.param(
            "How much did Acme's net income grow from fiscal 2019 to fiscal 2020?",
            (
                SELECTED_DATA,
                ContextPassage(
                    2,
                    "(US$ millions) | FY2019 | FY2018\nNet income | 55,300 | 59,531",
                    "Acme Inc. FY2019 annual report",
                    4,
                ),
            ),
            id="two different amounts for one year",
        ),
        pytest.param(
            "How much did revenue grow from 2022 to 2023?",
            (
                ContextPassage(
                    1, "Total revenue for fiscal 2023 was $4.2 billion.", "Acme 2023 10-K", 40
                ),
                ContextPassage(
                    2,
                    "Consolidated results (in millions)\n"
                    "| Metric | 2022 | 2021 |\n|---|---|---|\n| Net revenue | 3,900 | 3,600 |",
                    "Acme 2023 10-K",
                    55,
                ),
            ),
            id="billions against millions",
        ),
        pytest.param(
            "How much did revenue grow from 2018 to 2019?",
            (
                ContextPassage(
                    1,
                    "Three months ended | Dec 31, 2019 | Dec 31, 2018\nRevenue | 1,020 | 960",
                    "Acme Q4 2019 earnings release",
                    1,
                ),
            ),
            id="a quarter is not a year",
        ),
        pytest.param(
            "How much did diluted EPS grow from fiscal 2018 to fiscal 2019?",
            (
                ContextPassage(
                    1,
                    "Net income was $39,240 million and diluted earnings per share were $5.06, "
                    "compared with $2.13 in fiscal 2018.",
                    "Acme FY2019 annual report",
                    3,
                ),
            ),
            id="an amount without its own year",
        ),
        pytest.param(
            "How much did revenue grow from 2018 to 2019?",
            (
                ContextPassage(
                    1, "(in millions) | 2019 | 2018\nRevenue | 4,200 | 3,900", "Acme 2019 10-K", 5
                ),
                ContextPassage(
                    2,
                    "(in millions) | 2019 | 2018\nRevenue | 9,100 | 8,800",
                    "Glueworks 2019 10-K",
                    5,
                ),
            ),
            id="two companies and the question names neither",
        ),
        pytest.param(
            "How much did Acme's operating margin increase from fiscal 2019 to fiscal 2020?",
            (SELECTED_DATA,),
            id="growth of a margin is a change in points",
        ),
        pytest.param(
            "What was Acme's operating margin?",
            (SELECTED_DATA,),
            id="a margin without its year",
        ),
    ],
)
async def test_no_calculation_when_the_question_or_the_figures_leave_any_doubt(question, passages):
    events = await events_of(request_for(question, *passages))

    assert not [e for e in events if isinstance(e, ToolUse)]
    assert events[-1] == StreamEnd("end_turn")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    quoted = compose_answer(question, passages)
    asked = calculation_asked(question)
    if asked is None or NOT_SAID in quoted:
        # Nothing to calculate, or the answer already says which figure the filings lack.
        assert text == quoted
    else:
        # The figures, and a plain word that they are not the calculation asked for.
        assert text == f"{quoted} {NOT_CALCULATED.format(kind=asked.kind)}"


@pytest.mark.asyncio
async def test_the_question_naming_one_company_uses_only_its_documents():
    acme = ContextPassage(
        1, "(in millions) | 2019 | 2018\nRevenue | 4,200 | 3,900", "Acme 2019 10-K", 5
    )
    glue = ContextPassage(
        2, "(in millions) | 2019 | 2018\nRevenue | 9,100 | 8,800", "Glueworks 2019 10-K", 5
    )

    use = await call_for("How much did Glueworks' revenue grow from 2018 to 2019?", acme, glue)

    assert use is not None
    assert use.arguments == {"old": 8800, "new": 9100}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "request_options",
    [{"tools": False}, {"choice": "none"}],
    ids=["no tools offered", "tool choice none"],
)
async def test_without_the_calculator_on_offer_the_answer_is_extractive(request_options):
    events = await events_of(request_for(CAPEX_QUESTION, MD_AND_A, **request_options))

    assert not [e for e in events if isinstance(e, ToolUse)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == compose_answer(CAPEX_QUESTION, (MD_AND_A,))


# --- the second round ------------------------------------------------------------------------


def second_round(exchange: ToolExchange) -> ModelRequest:
    return request_for(CAPEX_QUESTION, MD_AND_A, rounds=(ToolRound("", (exchange,)),))


@pytest.mark.asyncio
async def test_a_calculator_error_is_not_stated_and_the_answer_stays_extractive():
    error = ToolExchange(
        OFFLINE_CALL_ID,
        "growth_percent",
        {"old": 1373, "new": 1577},
        "Error: The numbers are outside the range this calculator can handle.",
        is_error=True,
    )

    text, _ = await OfflineProvider().complete(second_round(error))

    assert "Calculated" not in text
    quoted = compose_answer(CAPEX_QUESTION, (MD_AND_A,))
    assert text == f"{quoted} {CALCULATOR_REFUSED.format(kind='growth')}"


@pytest.mark.asyncio
async def test_a_call_another_provider_made_with_other_inputs_is_not_vouched_for():
    foreign = ToolExchange(
        "toolu_1", "growth_percent", {"old": 1300, "new": 1577}, "growth_percent(...) = 21.31"
    )

    text, _ = await OfflineProvider().complete(second_round(foreign))

    assert "Calculated" not in text
    assert "21.31" not in text


@pytest.mark.asyncio
async def test_usage_counts_the_call_written_and_the_result_read():
    encoding = _encoding("o200k_base")
    first = request_for(CAPEX_QUESTION, MD_AND_A)
    exchange = ToolExchange(OFFLINE_CALL_ID, "growth_percent", {"old": 1373, "new": 1577}, GROWTH)

    [usage_one] = [e for e in await events_of(first) if isinstance(e, UsageReport)]
    text, usage_two = await OfflineProvider().complete(second_round(exchange))

    read = len(encoding.encode(CAPEX_QUESTION)) + len(encoding.encode(MD_AND_A.text))
    assert usage_one.usage.input_tokens == read
    assert usage_one.usage.output_tokens == len(
        encoding.encode('growth_percent{"new": 1577, "old": 1373}')
    )
    call_and_result = 'growth_percent{"new": 1577, "old": 1373}' + GROWTH
    assert usage_two.input_tokens == read + len(encoding.encode(call_and_result))
    assert usage_two.output_tokens == len(encoding.encode(text))


# --- a whole turn through the API ------------------------------------------------------------

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Item 7. Management's Discussion and Analysis\n\n"
    "Capital expenditures were $1,577 million in fiscal 2018, compared with $1,373 million in "
    "fiscal 2017.\n"
)


@pytest.fixture
def corpus(analyst):
    return glueworks_ingest(analyst.tenant, FILING)


@pytest.mark.django_db
def test_without_an_llm_key_the_offline_answer_shows_the_calculation_and_cites_the_page(
    analyst, corpus
):
    body = ask(analyst, CAPEX_QUESTION).json()

    assert body["error"] is None
    assert body["provider"] == "offline"
    tool = {
        "name": "growth_percent",
        "arguments": {"old": 1373, "new": 1577},
        "output": GROWTH,
        "error": None,
    }
    assert body["tools"] == [tool]
    assert body["answer"].endswith(CAPEX_RESULT)
    assert "$1,577 million in fiscal 2018" in body["answer"]
    [citation] = body["citations"]
    assert citation["page"] == 2
    assert citation["document"] == "Glueworks 2018 10-K"
    state = Checkpoint.objects.get(message_id=body["message_id"]).state
    assert state["tool_results"] == [tool]
    # Two offline calls (the tool call, then the answer), each with its tokens counted.
    rows = LedgerEntry.objects.filter(query_id=body["query_id"], kind="model").order_by("id")
    assert [row.provider for row in rows] == ["offline", "offline"]
    assert all(row.input_tokens > 0 and row.output_tokens > 0 for row in rows)
    assert body["tokens"]["output"] == sum(row.output_tokens for row in rows)


# --- the answer in sentences -----------------------------------------------------------------

FY2019_SALES = ContextPassage(
    1,
    "Total net sales for fiscal 2019 were $260,174 million.",
    "Acme Inc. FY2019 annual report",
    20,
)
FY2020_SALES = ContextPassage(
    2,
    "Total net sales for fiscal 2020 were $274,515 million.",
    "Acme Inc. FY2020 annual report",
    21,
)


@pytest.mark.asyncio
async def test_a_comparison_states_both_years_with_units_and_the_calculated_growth():
    text = await final_answer(
        "What were Acme's total net sales in fiscal 2020 and how did they compare to fiscal 2019?",
        CATEGORY_TABLE,
    )

    # The table leaves its unit out; the sentence above it gives the same amount in millions.
    assert text == (
        "Total net sales were $274,515 million in fiscal 2020 [1], up from $260,174 million in "
        "fiscal 2019 [1]. Calculated: Total net sales grew 5.51% from 260,174 (fiscal 2019) to "
        "274,515 (fiscal 2020) [1]."
    )


@pytest.mark.asyncio
async def test_a_trend_across_two_filings_cites_each_year_where_it_is_stated():
    text = await final_answer(
        "How did Acme's total net sales change from fiscal 2019 to fiscal 2020?",
        FY2020_SALES,
        FY2019_SALES,
    )

    first, calculated = text.split(" Calculated: ")
    assert first == (
        "Total net sales were $274,515 million in fiscal 2020 [2], up from $260,174 million in "
        "fiscal 2019 [1]."
    )
    assert calculated.startswith("Total net sales grew 5.51%")


@pytest.mark.asyncio
async def test_a_year_the_filings_lack_is_said_plainly_and_nothing_is_calculated():
    events = await events_of(
        request_for(
            "How did Acme's total net sales change from fiscal 2018 to fiscal 2020?", CATEGORY_TABLE
        )
    )

    assert not [e for e in events if isinstance(e, ToolUse)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == (
        "Total net sales were $274,515 million in fiscal 2020 [1]. "
        f"{NOT_SAID} total net sales for 2018."
    )


INCOME_STATEMENT = ContextPassage(
    1,
    "INCOME STATEMENTS\n"
    "(In millions, except per share amounts)\n"
    "Year Ended June 30, | 2016 | 2015\n"
    "Revenue:\n"
    "Product | $61,502 | $75,956\n"
    "Service and other | 23,818 | 17,624\n"
    "Total revenue | 85,320 | 93,580\n"
    "Cost of revenue:\n"
    "Product | 17,880 | 21,410\n"
    "Service and other | 14,900 | 11,628\n"
    "Total cost of revenue | 32,780 | 33,038\n"
    "Earnings per share:\n"
    "Diluted | $2.10 | $1.48",
    "Glueworks 10-K 2016",
    52,
)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        pytest.param(
            "What is the FY2016 COGS for Glueworks? Please state answer in USD millions.",
            "Total cost of revenue was 32,780 million in 2016 [1].",
            id="the filing's wording of the metric asked",
        ),
        pytest.param(
            "What was product cost of revenue in 2015?",
            "Product (cost of revenue) was 21,410 million in 2015 [1].",
            id="a row under the heading the question names",
        ),
        pytest.param(
            "What was diluted earnings per share in 2016?",
            "Diluted (earnings per share) was $2.10 in 2016 [1].",
            id="a per-share row keeps its own unit",
        ),
        pytest.param(
            "What was Glueworks' total revenue?",
            "Total revenue was 85,320 million in 2016 [1], down from 93,580 million in 2015 [1].",
            id="no year asked: the two latest, both sides of the trend",
        ),
    ],
)
def test_a_statement_line_item_is_stated_with_its_unit_and_period(question, answer):
    assert compose_answer(question, (INCOME_STATEMENT,)) == answer


def test_quoted_sentences_never_start_with_a_section_heading():
    passage = ContextPassage(
        1,
        "Item 7. Management's Discussion and Analysis\n"
        "Results of Operations\n"
        "Demand for remote work products rose sharply during the pandemic year.",
        "Acme Inc. FY2020 annual report",
        30,
    )

    answer = compose_answer("What happened to demand for remote work products?", (passage,))

    assert answer == "Demand for remote work products rose sharply during the pandemic year [1]."


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        pytest.param(
            "(in millions)\nThree Months Ended | Sep 30, 2023 | Sep 30, 2022\n"
            "Revenue | 1,020 | 960",
            "Revenue was 1,020 million in the three months ended Sep 30, 2023 [1], up from 960 "
            "million in the three months ended Sep 30, 2022 [1].",
            id="the span its header gives",
        ),
        pytest.param(
            "(in millions) | 2023 | 2022\nRevenue | 1,020 | 960",
            "Revenue was 1,020 million in 2023 (interim period) [1], up from 960 million in 2022 "
            "(interim period) [1].",
            id="a bare year in a quarterly report",
        ),
    ],
)
def test_a_quarterly_figure_is_never_stated_as_the_years(text, answer):
    passage = ContextPassage(1, text, "Acme 10-Q Q3 2023", 4)

    assert compose_answer("What was Acme's revenue?", (passage,)) == answer


def test_a_flattened_statement_is_read_row_by_row_with_its_unit():
    passage = ContextPassage(
        1,
        "CONSOLIDATED BALANCE SHEETS MAY 31, (Dollars in millions) 2019 2018 ASSETS Current "
        "assets:\nCash and equivalents $ 4,466 $ 4,249 Short-term investments 197 996 "
        "Inventories 5,622 5,261 Total current assets 16,525 15,134 TOTAL ASSETS $ 23,717 $ "
        "22,536 LIABILITIES AND SHAREHOLDERS' EQUITY Current liabilities:",
        "Glueworks 10-K 2019",
        60,
    )

    current = compose_answer(
        "How much total current assets did Glueworks have at the end of FY2019? Answer in USD "
        "millions.",
        (passage,),
    )
    total = compose_answer("What were Glueworks' total assets in 2018?", (passage,))

    # "(Dollars in millions)" gives the unit of every row.
    assert current == "Total current assets were $16,525 million in 2019 [1]."
    assert total == "Total assets were $22,536 million in 2018 [1]."


def test_a_trend_compares_three_months_with_three_months_not_nine():
    passage = ContextPassage(
        1,
        "Condensed Statements of Income Three Months Ended Nine Months Ended (In millions) "
        "Jul 1, 2023 Jul 2, 2022 Jul 1, 2023 Jul 2, 2022 Net revenue $ 12,949 $ 15,321 "
        "$ 24,664 $ 33,674 Cost of sales 8,311 8,496 16,620 17,593",
        "Glueworks 10-Q Q2 2023",
        3,
    )

    answer = compose_answer("What was Glueworks' net revenue?", (passage,))

    assert answer == (
        "Net revenue was $12,949 million in the three months ended Jul 1, 2023 [1], down from "
        "$15,321 million in the three months ended Jul 2, 2022 [1]."
    )
