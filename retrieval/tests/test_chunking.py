"""Chunking pages: token limits of the embedding model, overlap, whole table rows, page numbers."""

from __future__ import annotations

import itertools

import pytest

from retrieval.chunking import (
    MODEL_MAX_TOKENS,
    chunk_pages,
    contextual_header,
    fixed_word_windows,
    minilm_token_count,
    text_for_embedding,
)
from retrieval.parsing import ParsedPage


def _words(text: str) -> int:
    return len(text.split())


def _prose(sentences: int, *, start: int = 0) -> str:
    return " ".join(
        f"Sentence number {i} says the segment grew its operating income again."
        for i in range(start, start + sentences)
    )


def test_chunks_never_exceed_the_limit_in_minilm_tokens():
    pages = [ParsedPage(number=1, text=_prose(120), section="Item 7.")]

    chunks = chunk_pages(pages, max_tokens=128, overlap_tokens=16)

    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.token_count <= 128
        assert minilm_token_count(chunk.text) <= 128


def test_the_model_window_caps_max_tokens_including_the_header_room():
    pages = [ParsedPage(number=1, text=_prose(200), section="")]

    chunks = chunk_pages(pages, max_tokens=1000, overlap_tokens=0, header_tokens=30)

    limit = MODEL_MAX_TOKENS - 2 - 30
    assert max(minilm_token_count(c.text) for c in chunks) <= limit
    assert max(c.token_count for c in chunks) > limit - 20  # chunks are filled, not tiny


def test_consecutive_chunks_share_overlapping_sentences():
    pages = [ParsedPage(number=1, text=_prose(60), section="")]

    chunks = chunk_pages(pages, max_tokens=60, overlap_tokens=20, tokenizer=_words)

    for before, after in itertools.pairwise(chunks):
        last_sentence = before.text.splitlines()[-1]
        assert last_sentence in after.text.splitlines()


def test_zero_overlap_repeats_nothing():
    pages = [ParsedPage(number=1, text=_prose(40), section="")]

    chunks = chunk_pages(pages, max_tokens=50, overlap_tokens=0, tokenizer=_words)

    lines = [line for c in chunks for line in c.text.splitlines()]
    assert len(lines) == len(set(lines)) == 40


def test_a_table_row_is_never_split_between_chunks():
    rows = [f"Line item {i} | {1000 + i:,} | {2000 + i:,} | {3000 + i:,}" for i in range(80)]
    page = ParsedPage(number=4, text="Income statement\n" + "\n".join(rows), section="Item 1.")

    chunks = chunk_pages([page], max_tokens=64, overlap_tokens=8)

    seen = [line for c in chunks for line in c.text.splitlines() if " | " in line]
    assert set(seen) == set(rows)  # every row appears whole
    for chunk in chunks:
        for line in chunk.text.splitlines():
            if "|" in line:
                assert line in rows


def test_a_row_wider_than_a_chunk_is_cut_between_cells_repeating_its_label():
    row = "Revenue | " + " | ".join(str(1000 + i) for i in range(60))
    page = ParsedPage(number=1, text=row, section="")

    chunks = chunk_pages([page], max_tokens=20, overlap_tokens=0, tokenizer=_words)

    assert len(chunks) > 1
    assert all(c.text.startswith("Revenue | ") for c in chunks)
    cells = [cell for c in chunks for cell in c.text.split(" | ")[1:]]
    assert cells == [str(1000 + i) for i in range(60)]


def test_chunks_carry_their_page_numbers_and_sections():
    pages = [
        ParsedPage(number=1, text=_prose(5), section="Item 1. Business"),
        ParsedPage(number=2, text=_prose(5, start=5), section="Item 1A. Risk Factors"),
    ]

    chunks = chunk_pages(pages, max_tokens=200, overlap_tokens=0, tokenizer=_words)

    assert [(c.pages, c.section) for c in chunks] == [
        ((1,), "Item 1. Business"),
        ((2,), "Item 1A. Risk Factors"),
    ]
    assert [c.ordinal for c in chunks] == [0, 1]


def test_cross_page_chunks_list_every_page_they_span():
    pages = [
        ParsedPage(number=7, text=_prose(2), section="Note 5"),
        ParsedPage(number=8, text=_prose(2, start=2), section="Note 5"),
    ]

    chunks = chunk_pages(pages, max_tokens=200, tokenizer=_words, cross_pages=True)

    assert len(chunks) == 1
    assert chunks[0].pages == (7, 8)


def test_a_budget_too_small_for_the_header_is_refused():
    with pytest.raises(ValueError, match="no room"):
        chunk_pages([ParsedPage(1, "x", "")], max_tokens=40, header_tokens=30)


def test_contextual_header_names_company_period_and_section_once():
    header = contextual_header(
        company="Apple Inc. (AAPL)", period="Form 10-Q Q3 2023", title="", section="Item 2. MD&A"
    )
    assert header == "Apple Inc. (AAPL) | Form 10-Q Q3 2023 | Item 2. MD&A"

    chunk = chunk_pages([ParsedPage(3, "Net sales fell.", "Item 2. MD&A")], tokenizer=_words)[0]
    assert text_for_embedding(chunk, header=header) == f"{header}\nNet sales fell."
    assert text_for_embedding(chunk, header="") == "Net sales fell."


def test_fixed_word_windows_baseline_ignores_structure():
    pages = [ParsedPage(1, "a " * 150, ""), ParsedPage(2, "b " * 150, "")]

    chunks = fixed_word_windows(pages, words_per_chunk=200)

    assert [c.pages for c in chunks] == [(1, 2), (2,)]
    assert [c.token_count for c in chunks] == [200, 100]
