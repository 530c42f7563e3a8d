"""Tests for the finance calculator and its LLM tool wrappers (pure functions, no database)."""

import json
from decimal import Decimal

import jsonschema
import pytest

from accounts.errors import ValidationFailed
from agents.tools import (
    TOOLS,
    ToolResult,
    anthropic_tool_schemas,
    average,
    cagr_percent,
    difference,
    earnings_per_share,
    growth_percent,
    margin_percent,
    openai_tool_schemas,
    price_earnings_ratio,
    ratio,
    to_decimal,
    tool_call,
    total,
)

# --- growth -------------------------------------------------------------------------------


def test_growth_is_the_percent_change_from_old_to_new():
    # 3M net sales FY2018 -> FY2019.
    assert growth_percent(old=32765, new=32136) == Decimal("-1.92")


def test_growth_of_a_rising_value_is_positive():
    assert growth_percent(old=100, new=125) == Decimal("25.00")


def test_growth_from_a_negative_base_keeps_the_direction_of_improvement():
    assert growth_percent(old=-100, new=-50) == Decimal("50.00")


def test_growth_rounds_half_up_to_the_requested_places():
    assert growth_percent(old=8, new=9, places=1) == Decimal("12.5")
    assert growth_percent(old=8, new=9, places=0) == Decimal("13")


def test_growth_from_zero_is_rejected():
    with pytest.raises(ValidationFailed, match="'old' must not be zero"):
        growth_percent(old=0, new=10)


# --- margin -------------------------------------------------------------------------------


def test_margin_is_the_part_as_a_percent_of_the_whole():
    # 3M FY2018 operating income over net sales.
    assert margin_percent(part=7207, whole=32765) == Decimal("22.00")


def test_margin_of_a_zero_whole_is_rejected():
    with pytest.raises(ValidationFailed) as caught:
        margin_percent(part=1, whole=0)
    assert caught.value.details == {"field": "whole"}
    assert caught.value.code == "invalid_input"


# --- CAGR ---------------------------------------------------------------------------------


def test_cagr_doubling_over_one_year_is_one_hundred_percent():
    assert cagr_percent(start=50, end=100, years=1) == Decimal("100.00")


def test_cagr_compounds_over_several_years():
    # 100 * 1.1 ** 3 == 133.1
    assert cagr_percent(start=100, end="133.1", years=3) == Decimal("10.00")


def test_cagr_accepts_fractional_years():
    assert cagr_percent(start=100, end=121, years="2.0", places=4) == Decimal("10.0000")


def test_cagr_to_zero_is_a_full_loss():
    assert cagr_percent(start=100, end=0, years=5) == Decimal("-100.00")


@pytest.mark.parametrize(
    ("start", "end", "years", "field"),
    [
        (0, 10, 1, "start"),
        (-5, 10, 1, "start"),
        (10, -1, 1, "end"),
        (10, 20, 0, "years"),
        (10, 20, -2, "years"),
    ],
)
def test_cagr_rejects_a_non_positive_start_negative_end_or_non_positive_years(
    start, end, years, field
):
    with pytest.raises(ValidationFailed) as caught:
        cagr_percent(start=start, end=end, years=years)
    assert caught.value.details["field"] == field


# --- ratio, P/E, EPS ----------------------------------------------------------------------


def test_ratio_divides_and_rounds_to_four_places_by_default():
    # 3M FY2018 dividends paid over net income: the payout ratio.
    assert ratio(numerator=3193, denominator=5349) == Decimal("0.5969")


def test_ratio_by_zero_is_rejected():
    with pytest.raises(ValidationFailed, match="division by zero"):
        ratio(numerator=1, denominator=0)


def test_price_earnings_ratio_divides_price_by_eps():
    assert price_earnings_ratio(price=200, eps=8) == Decimal("25.00")


@pytest.mark.parametrize("eps", [0, -1, "-0.5"])
def test_price_earnings_ratio_is_refused_for_zero_or_negative_earnings(eps):
    with pytest.raises(ValidationFailed, match="not meaningful"):
        price_earnings_ratio(price=100, eps=eps)


def test_price_earnings_ratio_rejects_a_negative_price():
    with pytest.raises(ValidationFailed, match="'price' must not be negative"):
        price_earnings_ratio(price=-1, eps=2)


def test_earnings_per_share_divides_net_income_by_shares():
    # NVIDIA FY2020: $2,796M over 618M diluted shares, reported as $4.52.
    assert earnings_per_share(net_income=2796, shares=618) == Decimal("4.52")


@pytest.mark.parametrize("shares", [0, -10])
def test_earnings_per_share_needs_a_positive_share_count(shares):
    with pytest.raises(ValidationFailed, match="'shares' must be positive"):
        earnings_per_share(net_income=100, shares=shares)


# --- difference, total, average -----------------------------------------------------------


def test_difference_is_exact_without_places():
    # Free cash flow: operating cash flow minus capital expenditures (3M FY2018).
    assert difference(a=6439, b=1577) == Decimal("4862")
    assert difference(a="0.1", b="0.3") == Decimal("-0.2")


def test_difference_rounds_only_when_asked():
    assert difference(a="1.005", b=0, places=2) == Decimal("1.01")


def test_total_adds_segment_figures_exactly():
    # Microsoft FY2018 segment revenue adds up to the reported total.
    assert total(values=[35865, 32219, 42276]) == Decimal("110360")


def test_total_of_floats_has_no_binary_rounding_error():
    assert total(values=[0.1, 0.2]) == Decimal("0.3")


def test_average_is_the_rounded_mean():
    assert average(values=[1, 2, 2]) == Decimal("1.67")


@pytest.mark.parametrize("function", [total, average])
def test_total_and_average_need_at_least_one_value(function):
    with pytest.raises(ValidationFailed, match="at least one number"):
        function(values=[])


@pytest.mark.parametrize("function", [total, average])
def test_total_and_average_reject_a_string_instead_of_a_list(function):
    with pytest.raises(ValidationFailed, match="must be a list"):
        function(values="1,2,3")


def test_a_bad_item_in_a_list_is_named_by_position():
    with pytest.raises(ValidationFailed) as caught:
        average(values=[1, "two", 3])
    assert caught.value.details == {"field": "values[1]"}


# --- input parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (Decimal("1.50"), Decimal("1.50")),
        (12, Decimal("12")),
        (0.1, Decimal("0.1")),
        ("1,577", Decimal("1577")),
        ("$1,577.25", Decimal("1577.25")),
        ("-$3", Decimal("-3")),
        ("(1,577)", Decimal("-1577")),
        ("  42  ", Decimal("42")),
        ("1e3", Decimal("1000")),
    ],
)
def test_numbers_and_financial_statement_strings_are_read_exactly(raw, expected):
    assert to_decimal(raw, field_name="x") == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "12%", "NaN", "Infinity", float("nan"), float("inf"), True, None, [1]]
)
def test_non_numeric_input_is_rejected_with_the_field_name(raw):
    with pytest.raises(ValidationFailed, match="'revenue' must be a finite number"):
        to_decimal(raw, field_name="revenue")


@pytest.mark.parametrize("places", [-1, 13, 1.5, "2", True])
def test_places_outside_zero_to_twelve_or_not_whole_are_rejected(places):
    with pytest.raises(ValidationFailed, match="'places' must be a whole number"):
        ratio(numerator=1, denominator=3, places=places)


def test_numbers_too_large_to_round_are_rejected_rather_than_overflowing():
    with pytest.raises(ValidationFailed, match="outside the range"):
        ratio(numerator="1e999999", denominator="1e-999999")


# --- tool_call ----------------------------------------------------------------------------


def test_tool_call_returns_the_value_and_a_readable_output():
    result = tool_call("growth_percent", {"old": 265595, "new": 260174})
    assert result == ToolResult(
        name="growth_percent",
        arguments={"old": 265595, "new": 260174},
        output="growth_percent(old=265595, new=260174) = -2.04",
        value=Decimal("-2.04"),
        error=None,
    )
    assert result.ok


def test_tool_call_accepts_json_floats_and_whole_float_places():
    arguments = json.loads('{"numerator": 1, "denominator": 3, "places": 2.0}')
    assert tool_call("ratio", arguments).value == Decimal("0.33")


def test_tool_call_treats_a_null_optional_argument_as_omitted():
    assert tool_call("difference", {"a": 5, "b": 2, "places": None}).value == Decimal("3")


def test_tool_call_reports_an_unknown_tool_and_lists_the_available_ones():
    result = tool_call("square_root", {"x": 4})
    assert not result.ok
    assert result.value is None
    assert "Unknown tool 'square_root'" in result.error
    assert "growth_percent" in result.error
    assert result.output.startswith("Error: ")


def test_tool_call_reports_missing_and_unexpected_arguments_without_raising():
    result = tool_call("margin_percent", {"part": 1, "total": 4})
    assert result.error == (
        "Bad arguments for 'margin_percent' (missing whole; unexpected total). "
        "It takes: part, places, whole."
    )


def test_tool_call_returns_validation_errors_so_the_model_can_correct_itself():
    result = tool_call("ratio", {"numerator": 10, "denominator": 0})
    assert result.value is None
    assert result.error == "'denominator' must not be zero: division by zero."
    assert result.output == "Error: 'denominator' must not be zero: division by zero."


def test_tool_call_rejects_arguments_that_are_not_an_object():
    result = tool_call("ratio", ["1", "2"])  # type: ignore[arg-type]
    assert result.error == "Tool arguments must be a JSON object."
    assert result.arguments == {}


@pytest.mark.parametrize(
    "arguments",
    [{"old": "lots", "new": 1}, {"old": None, "new": 1}, {"old": [1], "new": 2}],
)
def test_tool_call_never_raises_on_garbage_numbers(arguments):
    result = tool_call("growth_percent", arguments)
    assert not result.ok


def test_every_tool_runs_through_tool_call_with_valid_arguments():
    examples = {
        "growth_percent": {"old": 100, "new": 110},
        "margin_percent": {"part": 1, "whole": 4},
        "cagr_percent": {"start": 100, "end": 121, "years": 2},
        "ratio": {"numerator": 1, "denominator": 8},
        "price_earnings_ratio": {"price": 100, "eps": 5},
        "earnings_per_share": {"net_income": 100, "shares": 50},
        "difference": {"a": 3, "b": 1},
        "total": {"values": [1, 2, 3]},
        "average": {"values": [2, 4]},
    }
    assert set(examples) == set(TOOLS)
    values = {name: tool_call(name, arguments).value for name, arguments in examples.items()}
    assert values == {
        "growth_percent": Decimal("10.00"),
        "margin_percent": Decimal("25.00"),
        "cagr_percent": Decimal("10.00"),
        "ratio": Decimal("0.1250"),
        "price_earnings_ratio": Decimal("20.00"),
        "earnings_per_share": Decimal("2.00"),
        "difference": Decimal("2"),
        "total": Decimal("6"),
        "average": Decimal("3.00"),
    }


# --- schemas ------------------------------------------------------------------------------


def test_every_tool_schema_is_valid_json_schema_that_requires_its_inputs():
    for spec in TOOLS.values():
        jsonschema.Draft202012Validator.check_schema(spec.parameters_json_schema)
        schema = spec.parameters_json_schema
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])
        assert "places" not in schema["required"]


def test_schema_required_fields_match_the_functions_keyword_only_parameters():
    import inspect

    for spec in TOOLS.values():
        parameters = inspect.signature(spec.fn).parameters
        assert set(parameters) == set(spec.parameters_json_schema["properties"])
        required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
        assert required == set(spec.parameters_json_schema["required"])
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())


def test_anthropic_schemas_use_the_messages_api_tool_shape():
    schemas = anthropic_tool_schemas()
    assert [schema["name"] for schema in schemas] == list(TOOLS)
    for schema in schemas:
        assert set(schema) == {"name", "description", "input_schema"}
        assert schema["input_schema"] == TOOLS[schema["name"]].parameters_json_schema
        assert schema["description"]
    json.dumps(schemas)


def test_openai_schemas_use_the_chat_completions_function_shape():
    schemas = openai_tool_schemas()
    assert [schema["function"]["name"] for schema in schemas] == list(TOOLS)
    for schema in schemas:
        assert schema["type"] == "function"
        assert set(schema["function"]) == {"name", "description", "parameters"}
        assert (
            schema["function"]["parameters"]
            == TOOLS[schema["function"]["name"]].parameters_json_schema
        )
    json.dumps(schemas)


def test_changing_an_exported_schema_leaves_the_registry_untouched():
    schemas = anthropic_tool_schemas()
    schemas[0]["input_schema"]["properties"].clear()
    assert TOOLS[schemas[0]["name"]].parameters_json_schema["properties"]


def test_tool_names_fit_both_providers_naming_rules():
    for name in TOOLS:
        assert len(name) <= 64
        assert name.replace("_", "").isalnum()
        assert name.isascii()


def test_valid_example_arguments_pass_each_schema_and_extra_keys_do_not():
    validator = jsonschema.Draft202012Validator(TOOLS["cagr_percent"].parameters_json_schema)
    assert validator.is_valid({"start": 1, "end": 2, "years": 3, "places": 2})
    assert not validator.is_valid({"start": 1, "end": 2})
    assert not validator.is_valid({"start": 1, "end": 2, "years": 3, "extra": 1})


_GARBAGE = [None, True, "x", "", [], {}, [None], 1e308, -1e308, "1e999999", "-1e-999999", 0]


@pytest.mark.parametrize("name", sorted(TOOLS))
@pytest.mark.parametrize("garbage", _GARBAGE, ids=repr)
def test_tool_call_never_raises_whatever_a_model_puts_in_any_argument(name, garbage):
    properties = TOOLS[name].parameters_json_schema["properties"]
    for target in properties:
        arguments = {key: [1, 2] if key == "values" else 2 for key in properties if key != "places"}
        arguments[target] = garbage
        result = tool_call(name, arguments)
        assert (result.value is None) == (result.error is not None)
        assert result.output
