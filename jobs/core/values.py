"""Values as JSON carries them: floats that may be NaN or ±inf, and times in UTC."""

import math

from django.utils import timezone


def encode_float(value):
    """A float for JSON: finite as is, NaN and ±inf as the strings JSON lacks numbers for."""
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def isoformat(dt):
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def now_iso():
    return isoformat(timezone.now())


def point_pair(step, value):
    return [step, encode_float(value)]
