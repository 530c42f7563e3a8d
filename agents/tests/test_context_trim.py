"""The context trim: passages are dropped from the bottom until the prompt fits every model of the
turn's chain, counted with each model's tokenizer, and the prompt is rebuilt from those kept."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from agents.contracts import ChatMessage, ContextPassage, ModelRequest
from agents.engines.citation import build_request
from agents.hooks.core import ContextTrimHook, PiiMaskHook, context_budget
from agents.hooks.stack import HOOK_STACK
from agents.providers.chains import ChainLink, ResolvedChain
from agents.providers.offline import OFFLINE_MODEL
from agents.tokens import count_request_tokens
from agents.tools import tool_definitions
from agents.turns.turn import Turn

MAX_TOKENS = 500
GPT = ChainLink("openai", "gpt-4o")
GPT_41 = ChainLink("openai", "gpt-4.1")
CLAUDE = ChainLink("anthropic", "claude-sonnet-5-5")
OFFLINE = ChainLink("offline", OFFLINE_MODEL)


def _passage(number: int) -> ContextPassage:
    text = " ".join(
        f"In fiscal {2010 + number}, segment {number}'s net revenue rose to ${number * 1234:,}.5 "
        f"million from ${number * 987:,}.2 million, and operating margin was {number + 11}.{k}%."
        for k in range(12)
    )
    return ContextPassage(number=number, text=text, document=f"10-K {2010 + number}", page=number)


PASSAGES = tuple(_passage(n) for n in range(1, 7))
HISTORY = (
    ChatMessage(role="user", content="How did revenue develop?"),
    ChatMessage(role="assistant", content="It grew in every segment [1]."),
)
QUESTION = "What was segment 3's operating margin in fiscal 2013?"


def _request(passages: tuple[ContextPassage, ...] = PASSAGES) -> ModelRequest:
    return build_request(
        question=QUESTION,
        passages=passages,
        history=HISTORY,
        max_tokens=MAX_TOKENS,
        tools=tool_definitions(),
    )


def _turn(*links: ChainLink) -> Turn:
    return Turn(
        tenant=SimpleNamespace(pii_policy="mask"),
        user=None,
        membership=None,
        conversation_id=1,
        question=QUESTION,
        chain=ResolvedChain(tier="pro", links=links),
    )


async def _trim(turn: Turn, request: ModelRequest | None = None) -> ModelRequest:
    return await ContextTrimHook().before_model(turn, request or _request())


def _largest(request: ModelRequest, links: tuple[ChainLink, ...]) -> int:
    return max(count_request_tokens(link.provider, link.model, request) for link in links)


def _kept_counting_every_prompt(links: tuple[ChainLink, ...], budget: int) -> int:
    """The reference: the most top-ranked passages whose whole prompt fits, each prompt counted."""
    return max(
        (n for n in range(len(PASSAGES) + 1) if _largest(_request(PASSAGES[:n]), links) <= budget),
        default=0,
    )


def _context_for(
    keep: int, links: tuple[ChainLink, ...], passages: tuple[ContextPassage, ...] = PASSAGES
) -> int:
    """LLM_CONTEXT_TOKENS under which exactly `keep` passages fit these models."""
    return _largest(_request(passages[:keep]), links) + MAX_TOKENS


@pytest.mark.asyncio
async def test_a_prompt_that_fits_every_model_is_sent_unchanged(settings):
    settings.LLM_CONTEXT_TOKENS = 100_000
    request = _request()
    turn = _turn(CLAUDE, GPT, OFFLINE)
    assert await _trim(turn, request) is request
    assert turn.passages == PASSAGES


@pytest.mark.asyncio
@pytest.mark.parametrize("keep", [0, 2, 4, 5])
async def test_the_trimmed_prompt_is_the_prompt_built_from_the_passages_kept(settings, keep):
    settings.LLM_CONTEXT_TOKENS = _context_for(keep, (GPT,))
    turn = _turn(GPT)
    trimmed = await _trim(turn)
    assert trimmed.passages == PASSAGES[:keep]
    assert trimmed == _request(PASSAGES[:keep])
    assert turn.passages == PASSAGES[:keep]
    assert turn.estimated_input_tokens == count_request_tokens("openai", "gpt-4o", trimmed)
    assert turn.estimated_input_tokens <= settings.LLM_CONTEXT_TOKENS - MAX_TOKENS


@pytest.mark.asyncio
@pytest.mark.parametrize("slack", [-40, -7, -1, 0, 1, 7, 40])
async def test_the_trim_keeps_exactly_what_counting_every_prompt_would(settings, slack):
    links = (CLAUDE, GPT)
    settings.LLM_CONTEXT_TOKENS = _context_for(3, links) + slack
    trimmed = await _trim(_turn(*links))
    budget = settings.LLM_CONTEXT_TOKENS - MAX_TOKENS
    assert len(trimmed.passages) == _kept_counting_every_prompt(links, budget)


@pytest.mark.asyncio
async def test_each_chain_is_counted_with_its_own_models_tokenizer(settings):
    # Four passages fit exactly as GPT-4o counts them; Claude's tokenizer counts more, and the
    # offline provider reads only the question and the passages.
    settings.LLM_CONTEXT_TOKENS = _context_for(4, (GPT,))
    kept = {
        name: len((await _trim(_turn(*links))).passages)
        for name, links in {
            "gpt": (GPT,),
            "claude": (CLAUDE,),
            "offline": (OFFLINE,),
            "claude_then_gpt": (CLAUDE, GPT, OFFLINE),
        }.items()
    }
    assert kept["gpt"] == 4
    assert kept["claude"] < 4
    assert kept["offline"] == len(PASSAGES)
    # The request must fit whichever model answers: the largest count decides.
    assert kept["claude_then_gpt"] == kept["claude"]


@pytest.mark.asyncio
async def test_a_model_with_a_smaller_context_trims_for_the_whole_chain(settings):
    settings.LLM_CONTEXT_TOKENS = 100_000
    settings.LLM_CONTEXT_TOKENS_BY_MODEL = {"gpt-4.1": _context_for(2, (GPT_41,))}
    assert len((await _trim(_turn(GPT))).passages) == len(PASSAGES)
    assert len((await _trim(_turn(GPT_41))).passages) == 2
    assert len((await _trim(_turn(GPT, GPT_41))).passages) == 2


def test_a_per_model_context_never_raises_the_ceiling(settings):
    settings.LLM_CONTEXT_TOKENS = 8_000
    settings.LLM_CONTEXT_TOKENS_BY_MODEL = {"gpt-4o": 32_000, "gpt-4.1": 6_000}
    assert context_budget((("openai", "gpt-4o"),), 1_000) == 7_000
    assert context_budget((("openai", "gpt-4o"), ("openai", "gpt-4.1")), 1_000) == 5_000


@pytest.mark.asyncio
async def test_the_prompt_rebuilt_by_the_trim_is_masked_before_it_is_sent(settings):
    email = "jane.doe@example.com"
    first = replace(PASSAGES[0], text=f"Investor relations: {email}. {PASSAGES[0].text}")
    passages = (first, *PASSAGES[1:])
    settings.LLM_CONTEXT_TOKENS = _context_for(2, (GPT,), passages)
    turn = _turn(GPT)
    request = _request(passages)
    # In the stack's order: the trim rebuilds the prompt, then masking sees what is sent.
    for hook_class in [h for h in HOOK_STACK if h in (ContextTrimHook, PiiMaskHook)]:
        request = await hook_class().before_model(turn, request)
    assert [p.number for p in request.passages] == [1, 2]
    sent = request.messages[-1].content
    assert email not in sent
    assert email in turn.pii_mapping.values()
    assert "Source 2 (" in sent
    assert "Source 3 (" not in sent
