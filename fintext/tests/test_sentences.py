from fintext.sentences import ends_sentence, split_sentences


def test_sentences_split_at_full_stops_but_not_after_an_abbreviation():
    text = "Apple Inc. reported revenue of $383 billion. Sales rose 3% vs. 2022! Why? Costs fell."
    assert split_sentences(text) == [
        "Apple Inc. reported revenue of $383 billion.",
        "Sales rose 3% vs. 2022!",
        "Why?",
        "Costs fell.",
    ]


def test_a_closing_quote_stays_with_its_sentence():
    assert split_sentences('Management called it "strong." The board agreed.') == [
        'Management called it "strong."',
        "The board agreed.",
    ]


def test_clauses_split_also_at_semicolons_and_colons():
    text = "Revenue grew; Costs fell: Margin improved."
    assert split_sentences(text) == ["Revenue grew; Costs fell: Margin improved."]
    assert split_sentences(text, clauses=True) == [
        "Revenue grew;",
        "Costs fell:",
        "Margin improved.",
    ]


def test_lower_case_after_a_full_stop_does_not_start_a_sentence():
    assert split_sentences("Net sales were $1.2 bn. in total.") == [
        "Net sales were $1.2 bn. in total."
    ]


def test_a_line_ends_a_sentence_unless_it_ends_with_an_abbreviation():
    assert ends_sentence("Revenue increased.")
    assert ends_sentence('It was "record."')
    assert not ends_sentence("shares of Foot Locker Inc.")
    assert not ends_sentence("Revenue by segment:")
    assert ends_sentence("Revenue by segment:", clauses=True)
