from fintext.words import (
    QUESTION_STOPWORDS,
    base_form,
    canonical,
    clip,
    content_terms,
    singular,
    singulars,
    stem,
    stems,
    terms,
    tokens,
    words,
)


def test_inflections_of_a_financial_word_share_one_stem():
    assert stem("segments") == stem("segment") == "segment"
    assert stem("repurchases") == stem("repurchased")
    assert stem("companies") == "company"
    assert stem("Apple\u2019s".lower()) == stem("apple's") == "apple"
    assert stem("holdings") == stem("holding")


def test_short_words_are_not_stemmed_to_nothing():
    assert stem("gas") == "gas"
    assert stem("sales") == "sale"
    assert stem("ira") == "ira"


def test_terms_keep_filing_words_and_numbers_whole():
    assert terms("R&D and cash-flow rose 12.5%, to $1,234") == [
        "r&d", "and", "cash-flow", "rose", "12.5%", "to", "1,234",
    ]  # fmt: skip


def test_words_split_on_anything_but_letters_and_digits():
    assert words("A/C no. 12-34, wire-beneficiary") == [
        "a",
        "c",
        "no",
        "12",
        "34",
        "wire",
        "beneficiary",
    ]
    assert stems("Accounts held") == ["account", "held"]


def test_content_terms_drop_question_filler_and_numbers_and_repeat_nothing():
    assert content_terms(
        "What was the company's total segment revenue in fiscal 2023 by segments?"
    ) == [
        "segment",
        "revenue",
    ]
    assert "fiscal" in QUESTION_STOPWORDS


def test_content_terms_take_another_stopword_list():
    assert content_terms("the fiscal year", stopwords=frozenset({"the"})) == ["fiscal", "year"]


def test_clip_cuts_at_a_word_boundary():
    assert clip("net sales rose sharply", 12) == "net sales"
    assert clip("short", 12) == "short"
    assert clip("anything", 0) == ""


def test_singular_drops_only_a_final_s():
    assert singulars("Accounts holds business checking offering") == [
        "account", "hold", "business", "checking", "offering",
    ]  # fmt: skip
    assert singular("bps") == "bps"  # three letters: too short to tell
    assert singular("ira") == "ira"


def test_a_base_form_is_a_whole_word_so_every_inflection_meets_it():
    assert base_form("revenues") == base_form("revenue") == "revenue"
    assert base_form("shares") == base_form("share") == "share"
    assert base_form("companies") == "company"
    assert base_form("operating") == "operat"
    assert base_form("apple's") == "apple"
    assert base_form("gas") == "gas"
    assert base_form("agreed") == "agreed"


def test_canonical_words_name_a_measure_the_way_filings_usually_do():
    assert canonical("sales") == canonical("turnover") == canonical("revenues") == "revenue"
    assert canonical("profits") == "income"
    assert canonical("staff") == canonical("headcount") == "employee"


def test_tokens_split_glued_words_but_keep_fiscal_years_and_numbers_whole():
    assert tokens("FY23 cash-flow of the company's $1,234.5 rose 12%") == [
        "fy23", "cash", "flow", "of", "the", "company's", "1,234.5", "rose", "12",
    ]  # fmt: skip
