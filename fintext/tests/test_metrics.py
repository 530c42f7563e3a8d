from fintext.metrics import METRICS, PageType, metric_named, metrics_named


def test_a_question_names_a_metric_in_any_of_its_wordings():
    assert [m.name for m in metrics_named("what was the capex in fy2019?")] == [
        "capital expenditure"
    ]
    assert [m.name for m in metrics_named("net sales and cost of sales")] == [
        "cost of goods sold",
        "revenue",
    ]


def test_a_metric_word_inside_another_subject_does_not_name_the_metric():
    # Debt securities held as investments are no borrowing.
    assert [m.name for m in metrics_named("which debt securities are short-term investments")] == [
        "investments"
    ]
    assert metrics_named("the subcategory of salesforce") == ()


def test_metrics_are_found_by_name_with_their_line_items_and_statements():
    revenue = metric_named("revenue")
    assert "net sales" in revenue.line_items
    assert revenue.statements == (PageType.INCOME_STATEMENT,)
    assert len({m.name for m in METRICS}) == len(METRICS)
