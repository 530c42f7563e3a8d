from datetime import date

from fintext.periods import is_year, periods_in, year_from_text

TODAY = date(2026, 5, 1)


def test_quarters_and_fiscal_years_in_their_common_spellings():
    periods = periods_in(
        "Q3 FY23 versus 2022-Q4 and the second quarter of fiscal 2021", today=TODAY
    )
    assert set(periods.quarters) == {(2023, 3), (2022, 4), (2021, 2)}
    assert set(periods.years) == {2023, 2022, 2021}


def test_a_bare_quarter_belongs_to_the_only_year_named():
    assert periods_in("Q3 results in 2023", today=TODAY).quarters == ((2023, 3),)
    assert periods_in("Q3 of 2022 vs 2023", today=TODAY).quarters == ((2022, 3),)


def test_amounts_and_percentages_are_not_years():
    assert periods_in("revenue of $2,019 million rose 2019%", today=TODAY).years == ()


def test_relative_years_count_from_today():
    assert periods_in("last year and this fiscal year", today=TODAY).years == (2025, 2026)


def test_each_stretch_of_text_names_one_period_and_is_reported():
    periods = periods_in("FY2024 net sales", today=TODAY)
    assert periods.years == (2024,)
    assert periods.terms == ("FY2024",)


def test_two_digit_years_turn_at_seventy():
    assert year_from_text("'23") == 2023
    assert year_from_text("99") == 1999
    assert year_from_text("2008") == 2008


def test_without_a_today_relative_years_are_not_read():
    assert periods_in("revenue last year and in FY21", today=None).years == (2021,)


def test_a_year_is_four_digits_and_nothing_else():
    assert is_year("2019")
    assert not is_year("2019.5")
    assert not is_year("20190")
    assert not is_year("1850")
