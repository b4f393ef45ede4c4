"""Custom serializer fields: metric values with NaN/±inf, times, batches handed to the
services unparsed, and a job failure given as text or an object."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.core.validation import parse_time

NON_FINITE_VALUE = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
    ],
    "nullable": True,
    "description": 'A number; NaN and ±inf as the strings "NaN", "Infinity", "-Infinity".',
}
TIME_INPUT = {
    "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
    "description": "ISO 8601 date-time or Unix timestamp (seconds); default: now.",
}


@extend_schema_field(NON_FINITE_VALUE)
class MetricValueField(serializers.Field):
    """A metric value as the API returns it (documentation only)."""

    def to_representation(self, value):
        return value


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "example": "nan"}]})
class MetricValueInputField(serializers.JSONField):
    """A reported metric value; `jobs.core.validation.parse_value` checks it."""


@extend_schema_field(TIME_INPUT)
class TimeInputField(serializers.Field):
    """An ISO 8601 datetime or a Unix timestamp, parsed like the services parse times."""

    def to_internal_value(self, data):
        try:
            return parse_time(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


class BatchField(serializers.ListField):
    """A list handed to a service unparsed: only its type and length are checked here.

    The service validates every item (naming the bad ones by index and field) and stores
    the batch whole or not at all; parsing 10 000 items twice would only cost time.
    """

    def __init__(self, *, item_serializer, **kwargs):
        # The child documents the items in the schema; it does not parse them.
        super().__init__(child=item_serializer(), allow_empty=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, (str, dict)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        data = list(data)
        if self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(
                f"At most {self.max_length} items per batch, got {len(data)}."
            )
        return data


# The object form points at the `JobError` component that `outputs.JobErrorSerializer`
# registers (its Meta.ref_name), so that name must stay.
@extend_schema_field({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/JobError"}]})
class ErrorInputField(serializers.JSONField):
    """A failure as a message string or an object; the service validates its parts."""
