from fintext.tables import (
    TABLE_CELL_SEPARATOR,
    is_separator_row,
    is_table_row,
    row_cells,
    row_label,
)


def test_parsed_rows_have_a_label_and_cells():
    line = TABLE_CELL_SEPARATOR.join(["Net sales", "$ 383,285", "$ 394,328"])
    assert is_table_row(line)
    assert row_label(line) == "Net sales"
    assert row_cells(line) == ["Net sales", "$ 383,285", "$ 394,328"]


def test_rows_quoted_with_tabs_or_wide_gaps_are_rows_too():
    assert row_cells("Net sales\t383,285\t394,328") == ["Net sales", "383,285", "394,328"]
    assert row_cells("Net sales     383,285     394,328") == ["Net sales", "383,285", "394,328"]


def test_prose_justified_with_double_spaces_is_not_a_row():
    assert row_cells("Net sales  were  higher  this year") == []
    assert not is_table_row("Net sales were higher.")
    assert row_label("Net sales were higher.") == "Net sales were higher."


def test_the_rule_under_a_markdown_header_is_not_a_row_of_figures():
    assert is_separator_row(row_cells("| --- | :--: | ---: |"))
    assert not is_separator_row(row_cells("| Net sales | 383,285 |"))
