"""Serializer fields the API's input serializers share."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's own turns 0, 1.5 or true into "0",
    "1.5" and "True", so `{"question": 0}` would be asked as the question "0"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


#: the largest id a Postgres bigint holds; a larger one is refused as input, not as a 500
MAX_ID = 2**63 - 1


def IdField(**kwargs: Any) -> serializers.IntegerField:
    """A row id: a positive integer that fits a bigint."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def YearField(**kwargs: Any) -> serializers.IntegerField:
    """A fiscal year."""
    return serializers.IntegerField(min_value=1900, max_value=2100, **kwargs)
