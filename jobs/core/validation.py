"""Validation shared by every write: parsers that raise `ValueError` with the message
a user reads, and the two errors services raise.

`InvalidInput.detail` names each bad field in DRF's error shape (`{"field": ["…"]}`), so
the API turns it into a 400 as it is; `Conflict` is a well-formed write the current
state does not allow (409).
"""

import math
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime


class InvalidInput(ValueError):
    """Input that cannot be stored; `detail` names each bad field, as DRF does."""

    def __init__(self, detail):
        self.detail = detail
        super().__init__(detail)


class Conflict(Exception):
    """A well-formed write the job's current state does not allow (HTTP 409)."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


NON_FINITE = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}


def parse_value(raw):
    """A metric value: a JSON number, or NaN/±inf as JSON tokens or strings."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError("A number is required.")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in NON_FINITE:
            return NON_FINITE[text]
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError("A number is required (NaN and ±inf may be given as strings).")


def parse_int(raw, *, minimum=0):
    if isinstance(raw, bool):
        raise ValueError("An integer is required.")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if not isinstance(raw, int):
        raise ValueError("An integer is required.")
    if minimum is not None and raw < minimum:
        raise ValueError(f"Ensure this value is greater than or equal to {minimum}.")
    if raw > 2**62:
        raise ValueError("Ensure this value is less than or equal to 4611686018427387904.")
    return raw


def parse_number(raw, *, minimum=None, maximum=None):
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError("A number is required.")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("A number is required.") from None
    if not math.isfinite(value):
        raise ValueError("A finite number is required.")
    if minimum is not None and value < minimum:
        raise ValueError(f"Ensure this value is greater than or equal to {minimum}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Ensure this value is less than or equal to {maximum}.")
    return value


def parse_time(raw, *, default=None):
    """An aware datetime from ISO 8601 text, a Unix timestamp, or a datetime."""
    if raw is None:
        return default or timezone.now()
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if not math.isfinite(raw) or not 0 <= raw < 32503680000:
            raise ValueError("Timestamp out of range.")
        return datetime.fromtimestamp(raw, tz=UTC)
    elif isinstance(raw, str):
        try:
            value = parse_datetime(raw.strip())
        except ValueError:
            value = None
        if value is None:
            raise ValueError("Datetime has wrong format. Use ISO 8601 or a Unix timestamp.")
    else:
        raise ValueError("Datetime has wrong format. Use ISO 8601 or a Unix timestamp.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    try:
        # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("Datetime out of range.") from None


def clean_text(raw, *, max_length, required=False):
    """Text with NUL bytes replaced (PostgreSQL cannot store them) and a length bound."""
    if raw is None:
        if required:
            raise ValueError("This field is required.")
        return ""
    if not isinstance(raw, str):
        raise ValueError("A string is required.")
    text = raw.replace("\x00", "\ufffd")
    if required and not text.strip():
        raise ValueError("This field may not be blank.")
    if len(text) > max_length:
        raise ValueError(f"Ensure this field has no more than {max_length} characters.")
    return text


def parse_field(errors, name, func, *args, **kwargs):
    """Run one field's parser, recording its error under `name` instead of raising."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        errors[name] = [str(exc)]
        return None
