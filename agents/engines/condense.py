"""Follow-up questions rewritten as standalone questions, for retrieval and the answer.

A cheap test decides whether a question may lean on the conversation ("and in 2019?", "what
about its margin?"); only those are rewritten. With a language model in the chain the rewrite is
LlamaIndex's condense-question prompt sent through the pipeline (masked, billed, with failover);
offline, or when every model fails, the follow-up borrows the previous question's subject.
"""

from __future__ import annotations

import re

from django.conf import settings
from llama_index.core.chat_engine.condense_question import DEFAULT_PROMPT

from agents.contracts import ChatMessage, ModelRequest
from fintext.words import clip

CONDENSE_MAX_TOKENS = 200
# Each earlier message is cut to this many characters in the condensing prompt: the rewrite needs
# the subjects (company, metric, period), not whole answers with their sources.
CONDENSE_MESSAGE_CHARS = 600

_FOLLOW_UP = re.compile(
    r"^(and|what about|how about|also|then|same|compare|versus|vs\.?)\b|\b(it|its|that|those|"
    r"they|them|this|these|the same)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(standalone question|question)\s*:\s*", re.IGNORECASE)


def looks_like_follow_up(question: str, previous_questions: list[str]) -> bool:
    """Whether the question may depend on the conversation: short, or with a pronoun or a
    connective that points back ("and", "what about", "its")."""
    if not previous_questions:
        return False
    if _FOLLOW_UP.search(question):
        return True
    return len(question.split()) <= 6


def condense_heuristic(question: str, previous_questions: list[str]) -> str:
    """Without a model: the follow-up appended to the previous (standalone) question, which
    carries the company and period the follow-up leaves out. The result stays within
    QUESTION_MAX_CHARS: a long previous question gives up its tail first."""
    if not looks_like_follow_up(question, previous_questions):
        return question
    room = settings.QUESTION_MAX_CHARS - len(question) - 1
    return f"{clip(previous_questions[-1], room)} {question}".strip()


def condense_request(question: str, history: list[ChatMessage]) -> ModelRequest:
    """The condensing call: the conversation so far and the follow-up, in LlamaIndex's prompt."""
    lines = []
    for message in history:
        who = "Human" if message.role == "user" else "Assistant"
        text = " ".join(message.content.split())
        if len(text) > CONDENSE_MESSAGE_CHARS:
            text = clip(text, CONDENSE_MESSAGE_CHARS) + " ..."
        lines.append(f"{who}: {text}")
    prompt = DEFAULT_PROMPT.format(chat_history="\n".join(lines), question=question)
    return ModelRequest(
        system=(
            "You rewrite follow-up questions about SEC filings as standalone questions. Keep "
            "company names, tickers, metrics and periods explicit. Reply with the question only."
        ),
        messages=(ChatMessage(role="user", content=prompt),),
        question=question,
        max_tokens=CONDENSE_MAX_TOKENS,
        purpose="condense",
    )


def condensed_text(reply: str, question: str) -> str:
    """The model's rewrite, cleaned; the original question when the reply is not usable (empty,
    rambling, or longer than any question may be)."""
    text = _LABEL.sub("", reply.strip()).strip().strip('"').strip()
    limit = min(4 * max(len(question), 100), settings.QUESTION_MAX_CHARS)
    if not text or len(text) > limit:
        return question
    return text
