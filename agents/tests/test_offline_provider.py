"""The offline extractive provider: cited quotes of the right passage, or an honest "not found"."""

import re

import pytest

from agents.contracts import (
    ChatMessage,
    ContextPassage,
    ModelRequest,
    StreamEnd,
    TextDelta,
    UsageReport,
)
from agents.providers.offline import (
    OFFLINE_MODEL,
    OfflineProvider,
    compose_answer,
)
from agents.providers.offline_answers import NOT_SAID
from agents.tokens import _encoding

PASSAGES = (
    ContextPassage(
        1,
        "Acme Corp. is headquartered in Dayton, Ohio. The company employs about 12,000 people.",
        "acme-10k-2023.pdf",
        3,
    ),
    ContextPassage(
        2,
        "Total revenue for fiscal 2023 was $4.2 billion, an increase of 8% compared with "
        "$3.9 billion in fiscal 2022. Gross margin improved to 41.5%.",
        "acme-10k-2023.pdf",
        40,
    ),
    ContextPassage(
        3,
        "Consolidated results (in millions)\n"
        "| Metric | 2023 | 2022 |\n"
        "|---|---|---|\n"
        "| Net revenue | 4,200 | 3,900 |\n"
        "| Net income | 310 | 270 |\n"
        "| Diluted EPS | 2.15 | 1.88 |",
        "acme-10k-2023.pdf",
        55,
    ),
    ContextPassage(
        4,
        "Risk factors include competition, supply chain disruption and changes in interest rates.",
        "acme-10k-2023.pdf",
        12,
    ),
)


def request_for(question: str, passages=PASSAGES) -> ModelRequest:
    return ModelRequest(
        system="unused by the offline provider",
        messages=(ChatMessage("user", question),),
        question=question,
        passages=passages,
    )


def citations(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


@pytest.mark.asyncio
async def test_answer_quotes_the_sentence_holding_the_figure_and_cites_its_passage():
    text, _ = await OfflineProvider().complete(request_for("What was revenue in fiscal 2023?"))

    assert "$4.2 billion" in text
    assert citations(text) == [2]


@pytest.mark.asyncio
async def test_answer_reads_a_table_row_with_its_column_headers():
    text, _ = await OfflineProvider().complete(request_for("What was net income in 2022?"))

    # The unit from the table's caption, the period from its column header.
    assert text == "Net income was 270 million in 2022 [3]."


@pytest.mark.asyncio
async def test_fiscal_year_shorthand_and_synonyms_find_the_figure():
    eps, _ = await OfflineProvider().complete(request_for("What was diluted EPS in FY23?"))
    staff, _ = await OfflineProvider().complete(request_for("How many employees are there?"))

    assert "2.15" in eps
    assert citations(eps) == [3]
    assert "12,000" in staff
    assert citations(staff) == [1]


@pytest.mark.asyncio
async def test_irrelevant_passages_get_a_plain_statement_without_citations():
    text, _ = await OfflineProvider().complete(
        request_for("Which football team does the chief executive support?")
    )

    assert text.startswith(f"{NOT_SAID} this")
    assert "chief executive support" in text
    assert citations(text) == []


@pytest.mark.asyncio
async def test_no_passages_at_all_gets_the_not_found_answer():
    text, _ = await OfflineProvider().complete(request_for("What was revenue?", passages=()))

    assert text.startswith(NOT_SAID)


@pytest.mark.asyncio
async def test_same_question_and_passages_always_give_the_same_answer():
    provider = OfflineProvider()
    request = request_for("How much did sales grow in 2023?")

    answers = {(await provider.complete(request))[0] for _ in range(3)}
    streamed = "".join(
        [event.text async for event in provider.stream(request) if isinstance(event, TextDelta)]
    )

    assert len(answers) == 1
    assert streamed == answers.pop()


@pytest.mark.asyncio
async def test_stream_sends_word_pieces_then_one_usage_report_then_the_end():
    events = [e async for e in OfflineProvider().stream(request_for("What was the gross margin?"))]

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    assert all(isinstance(e, TextDelta) for e in events[:-2])
    assert isinstance(events[-2], UsageReport)
    assert events[-1] == StreamEnd("end_turn")


@pytest.mark.asyncio
async def test_usage_is_counted_with_o200k_over_the_question_passages_and_answer():
    request = request_for("What was the gross margin?")
    encoding = _encoding("o200k_base")

    text, usage = await OfflineProvider().complete(request)

    expected_input = len(encoding.encode(request.question)) + sum(
        len(encoding.encode(p.text)) for p in PASSAGES
    )
    assert usage.input_tokens == expected_input
    assert usage.output_tokens == len(encoding.encode(text))
    assert (usage.provider, usage.model) == ("offline", OFFLINE_MODEL)
    assert usage.cached_input_tokens == 0


def test_offline_provider_says_it_is_offline():
    provider = OfflineProvider()

    assert provider.is_offline is True
    assert provider.model == OFFLINE_MODEL == "offline-extractive-3"


def test_running_headers_and_footers_are_never_quoted():
    passages = (
        ContextPassage(
            1,
            "*Acme Corp. FY2023 annual summary | page 2 of 4*\n\n"
            "Total revenue for fiscal 2023 was $4.2 billion.\n\n"
            "Acme Corp. | 2023 Form 10-K | 21",
            "acme-10k-2023.pdf",
            2,
        ),
    )
    answer = compose_answer("What was Acme's total revenue in fiscal 2023?", passages)
    assert answer == "Total revenue was $4.2 billion in fiscal 2023 [1]."
