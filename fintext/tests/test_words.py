from fintext.words import (
    QUESTION_STOPWORDS,
    clip,
    content_terms,
    singular,
    singulars,
    stem,
    stems,
    terms,
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
