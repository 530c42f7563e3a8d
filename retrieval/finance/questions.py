"""Read a financial question: the metrics it asks about, the statements that hold them, the line
items to look for, and its text without the analyst's answering instructions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fintext.metrics import Metric, PageType, any_term, metrics_named
from retrieval.finance.lexicon import (
    EXPLANATION_CUES,
    INSTRUCTION_PATTERNS,
    STATEMENT_CUES,
    TOPICS,
    Topic,
)

_INSTRUCTIONS = tuple(re.compile(p, re.IGNORECASE) for p in INSTRUCTION_PATTERNS)
_CUES = tuple((kind, re.compile(rf"(?<![\w-])(?:{p})(?![\w-])")) for kind, p in STATEMENT_CUES)
_TOPIC_TERMS = tuple((topic, any_term(topic.terms)) for topic in TOPICS)
_EXPLANATION = re.compile("|".join(EXPLANATION_CUES), re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_DANGLING = re.compile(r"\s*(?:[,;:]|\b(?:and|answer|please))\s*(?=[,;:.?)]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class QuestionIntent:
    """What a question asks for, as retrieval uses it."""

    search_text: str  # the question without answering instructions
    metrics: tuple[Metric, ...]
    named_statements: tuple[PageType, ...]  # statements the question names ("balance sheet")
    implied_statements: tuple[PageType, ...]  # statements its metrics live on
    asks_why: bool = False  # asks for causes or commentary, which prose answers
    topics: tuple[Topic, ...] = ()  # segments, non-GAAP measures, votes, interim periods...

    @property
    def statements(self) -> tuple[PageType, ...]:
        """Every statement the answer needs, named ones first."""
        return tuple(dict.fromkeys((*self.named_statements, *self.implied_statements)))

    @property
    def line_items(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item for m in self.metrics for item in m.line_items))

    @property
    def line_item_groups(self) -> tuple[tuple[str, ...], ...]:
        """Each metric's line items (any one of a group is evidence for that metric), for the
        metrics whose figures sit in a table row."""
        return tuple(m.line_items for m in self.metrics if not m.anywhere)

    @property
    def page_words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(word for group in self.page_word_groups for word in group))

    @property
    def page_word_groups(self) -> tuple[tuple[str, ...], ...]:
        """Wording that marks a page treating each topic, or holding a metric quoted in prose
        as often as in a table (any one of a group is evidence for it, anywhere on the page)."""
        return tuple(
            [*(m.line_items for m in self.metrics if m.anywhere)]
            + [t.page_words for t in self.topics if t.page_words]
        )

    @property
    def topic_page_types(self) -> tuple[PageType, ...]:
        return tuple(dict.fromkeys(kind for t in self.topics for kind in t.page_types))

    @property
    def doc_types(self) -> tuple[str, ...]:
        """Kinds of filing the question's topics usually come from, most specific first."""
        return tuple(dict.fromkeys(kind for t in self.topics for kind in t.doc_types))

    @property
    def is_financial(self) -> bool:
        return bool(self.metrics or self.named_statements)


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def strip_instructions(question: str) -> str:
    """The question without how-to-answer phrases (units, rounding, which statement to use)."""
    text = _normalise(question)
    for pattern in _INSTRUCTIONS:
        text = pattern.sub(" ", text)
    text = _DANGLING.sub("", _DANGLING.sub("", text))
    text = re.sub(r"\(\s*\)", " ", text)
    text = re.sub(r"(?:^|(?<=[.?!]))\s*[,.;:]+", " ", text)
    return _SPACES.sub(" ", text).strip(" ,;:") or question.strip()


@lru_cache(maxsize=1024)
def read_question(question: str) -> QuestionIntent:
    """Metrics, statements and the instruction-free text of `question`."""
    lowered = _normalise(question).lower()
    named = tuple(dict.fromkeys(kind for kind, cue in _CUES if cue.search(lowered)))
    # A statement named only inside an instruction still steers: read cues from the whole text,
    # metrics from the text without the cue words (so "cash flow statement" is no metric).
    bare = lowered
    for _, cue in _CUES:
        bare = cue.sub(" ", bare)
    metrics = metrics_named(bare)
    implied = tuple(dict.fromkeys(kind for m in metrics for kind in m.statements))
    topics = tuple(topic for topic, pattern in _TOPIC_TERMS if pattern.search(bare))
    return QuestionIntent(
        search_text=strip_instructions(question),
        metrics=metrics,
        named_statements=named,
        implied_statements=implied,
        asks_why=bool(_EXPLANATION.search(question)),
        topics=topics,
    )
