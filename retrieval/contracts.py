"""Data that leaves the retrieval app: search filters, the applied scope, and retrieved chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search; an empty field means "no restriction"."""

    tickers: tuple[str, ...] = ()
    company_ids: tuple[int, ...] = ()
    doc_types: tuple[str, ...] = ()
    fiscal_years: tuple[int, ...] = ()
    fiscal_periods: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    document_ids: tuple[int, ...] = ()
    # Read from the question: exact (year, quarter) periods such as "2023 Q3", a fiscal-year
    # window, and "the latest filing of each company".
    periods: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    latest: bool = False

    @property
    def is_empty(self) -> bool:
        return not (
            self.periods
            or self.year_min is not None
            or self.latest
            or self.tickers
            or self.company_ids
            or self.doc_types
            or self.fiscal_years
            or self.fiscal_periods
            or self.date_from
            or self.date_to
            or self.document_ids
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "tickers": list(self.tickers),
            "company_ids": list(self.company_ids),
            "doc_types": list(self.doc_types),
            "fiscal_years": list(self.fiscal_years),
            "fiscal_periods": list(self.fiscal_periods),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "document_ids": list(self.document_ids),
            "periods": list(self.periods),
            "year_min": self.year_min,
            "year_max": self.year_max,
            "latest": self.latest,
        }


@dataclass(frozen=True)
class AppliedScope:
    """What a search was restricted to, and whether it was read from the question."""

    filters: SearchFilters
    automatic: bool
    description: str
    matched_terms: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "automatic": self.automatic,
            "description": self.description,
            "matched_terms": list(self.matched_terms),
            "filters": self.filters.as_dict(),
        }


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: int
    document_id: int
    document_title: str
    source: str
    company: str
    ticker: str
    doc_type: str
    fiscal_year: int | None
    fiscal_period: str
    page: int
    page_end: int
    section: str
    text: str
    score: float
    vector_score: float | None = None
    text_score: float | None = None
    page_type: str = ""  # what the page is: income_statement, balance_sheet, notes, mda...


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[RetrievedChunk, ...]
    scope: AppliedScope
    embedding_model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
