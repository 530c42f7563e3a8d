"""Sub-question decomposition for comparisons across companies or periods.

"Compare Apple's and Microsoft's revenue in FY2019" retrieves badly as one query: one company's
passages crowd out the other's. Each (company, year) pair becomes its own scoped sub-question
(LlamaIndex's SubQuestion shape), retrieved separately, and the passages are merged evenly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from llama_index.core.question_gen.types import SubQuestion

from fintext.words import stem, stems, word_set
from retrieval.contracts import SearchFilters
from retrieval.scoping import CompanyEntry, QuestionScope, scope_from_question

# Words that ask for a comparison, in any inflection ("compare", "comparing", "declines"):
# matched on stems, so every form of a listed word counts.
_COMPARISON_STEMS = frozenset(
    stem(word)
    for word in word_set(
        """
        compare comparing comparison versus vs change changed changing grow grew growing grows
        growth increase increased increasing decrease decreased decreasing decline declined
        declining trend each
        """
    )
)
_COMPARISON_PHRASE = re.compile(r"\b(over time|from .+ to|between .+ and)\b", re.IGNORECASE)
MAX_SUB_QUESTIONS = 6


@dataclass(frozen=True)
class ScopedSubQuestion:
    question: SubQuestion
    filters: SearchFilters
    label: str


def decompose(question: str, companies: list[CompanyEntry]) -> list[ScopedSubQuestion]:
    """Scoped sub-questions when the question compares several companies or years; else []."""
    scope: QuestionScope = scope_from_question(question, companies)
    ids = [int(i) for i in scope.company_ids]
    years = list(scope.fiscal_years)
    if len(ids) < 2 and len(years) < 2:
        return []
    if len(ids) < 2 and not _asks_comparison(question):
        return []
    names = {int(c.id): c.name for c in companies}
    company_options: list[int | None] = list(ids) or [None]
    year_options: list[int | None] = list(years) or [None]
    pairs = list(product(company_options, year_options))[:MAX_SUB_QUESTIONS]
    subs = []
    for company_id, year in pairs:
        parts = [names.get(company_id, "") if company_id is not None else "", str(year or "")]
        label = " ".join(p for p in parts if p)
        subs.append(
            ScopedSubQuestion(
                question=SubQuestion(sub_question=f"{question} ({label})", tool_name="filings"),
                filters=SearchFilters(
                    company_ids=(company_id,) if company_id is not None else (),
                    fiscal_years=(year,) if year is not None else (),
                ),
                label=label,
            )
        )
    return subs


def _asks_comparison(question: str) -> bool:
    return not _COMPARISON_STEMS.isdisjoint(stems(question)) or bool(
        _COMPARISON_PHRASE.search(question)
    )
