"""MLflow's search syntax for runs and experiments, evaluated on Tuneboard's jobs.

The common forms trackers and people write: comparisons joined by AND, such as
`params.optimizer = 'adam' AND metrics.loss < 0.5 AND tags.team = 'nlp' AND
attributes.status = 'FINISHED'`, with `=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `ILIKE`,
`IN (…)` and `NOT IN (…)`; keys in backticks or double quotes when they hold other
characters (`metrics.\\`train/loss\\``). A filter is parsed once into a list of
`Comparison`s and matched against plain values, so this module knows nothing of jobs.
"""

import re
from dataclasses import dataclass

ENTITIES = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}

_IDENTIFIER = re.compile(
    r"""(?P<entity>[A-Za-z_]+)\.(?:`(?P<tick>[^`]+)`|"(?P<dq>[^"]+)"|(?P<bare>[\w.\-/:]+))"""
)
_BARE_ATTRIBUTE = re.compile(r"(?P<bare>[A-Za-z_]+)")
_OPERATOR = re.compile(r"(?i)(<=|>=|!=|=|<|>|NOT\s+IN\b|IN\b|ILIKE\b|LIKE\b)")
_STRING = re.compile(r"""'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)\"""")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_AND = re.compile(r"(?i)AND\b")
_SPACE = re.compile(r"\s*")
_ORDER = re.compile(r"(?is)^\s*(?P<ident>.+?)(?:\s+(?P<dir>ASC|DESC))?\s*$")


class SearchSyntaxError(ValueError):
    """A filter or order that cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Comparison:
    entity: str  # metrics, params, tags, attributes
    key: str
    op: str
    value: object  # str, float, or a tuple of str for IN / NOT IN

    def matches(self, actual):
        """Whether `actual` (None when the run lacks the key) satisfies the comparison."""
        if actual is None:
            return False
        op, value = self.op, self.value
        if op == "IN":
            return str(actual) in value
        if op == "NOT IN":
            return str(actual) not in value
        if op in ("LIKE", "ILIKE"):
            return _like(value, op == "ILIKE").fullmatch(str(actual)) is not None
        if isinstance(value, float):
            try:
                actual = float(actual)
            except (TypeError, ValueError):
                return False
        else:
            actual = str(actual)
        return {
            "=": actual == value,
            "!=": actual != value,
            "<": actual < value,
            "<=": actual <= value,
            ">": actual > value,
            ">=": actual >= value,
        }[op]


def _like(pattern, insensitive):
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL)


def _unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def _identifier(text, pos, *, numeric_attributes):
    match = _IDENTIFIER.match(text, pos)
    if match and match.group("entity").lower() in ENTITIES:
        entity = ENTITIES[match.group("entity").lower()]
        key = match.group("tick") or match.group("dq") or match.group("bare")
        return entity, key, match.end()
    bare = _BARE_ATTRIBUTE.match(text, pos)
    if bare and bare.group("bare") in numeric_attributes | {"status", "run_name", "run_id"}:
        return "attributes", bare.group("bare"), bare.end()
    raise SearchSyntaxError(
        f"Expected an identifier such as metrics.loss, params.lr, tags.team or "
        f"attributes.status at position {pos}: {text[pos : pos + 30]!r}."
    )


def _value(text, pos):
    string = _STRING.match(text, pos)
    if string:
        raw = string.group("sq") if string.group("sq") is not None else string.group("dq")
        return _unescape(raw), string.end()
    number = _NUMBER.match(text, pos)
    if number:
        return float(number.group()), number.end()
    raise SearchSyntaxError(f"Expected a quoted string or a number at position {pos}.")


def _value_list(text, pos):
    if not text.startswith("(", pos):
        raise SearchSyntaxError(f"Expected '(' after IN at position {pos}.")
    pos += 1
    values = []
    while True:
        pos = _SPACE.match(text, pos).end()
        string = _STRING.match(text, pos)
        if not string:
            raise SearchSyntaxError(f"Expected a quoted string in the IN list at position {pos}.")
        raw = string.group("sq") if string.group("sq") is not None else string.group("dq")
        values.append(_unescape(raw))
        pos = _SPACE.match(text, string.end()).end()
        if text.startswith(",", pos):
            pos += 1
            continue
        if text.startswith(")", pos):
            return tuple(values), pos + 1
        raise SearchSyntaxError(f"Expected ',' or ')' in the IN list at position {pos}.")


def parse_filter(text, *, numeric_attributes=frozenset()):
    """The comparisons of an MLflow filter string (all must hold); [] for no filter.

    `numeric_attributes` names the attributes compared as numbers (times); metrics are
    always numbers, params and tags always strings. Raises `SearchSyntaxError`.
    """
    text = (text or "").strip()
    comparisons = []
    pos = 0
    while pos < len(text):
        pos = _SPACE.match(text, pos).end()
        entity, key, pos = _identifier(text, pos, numeric_attributes=numeric_attributes)
        pos = _SPACE.match(text, pos).end()
        operator = _OPERATOR.match(text, pos)
        if not operator:
            raise SearchSyntaxError(f"Expected a comparison operator at position {pos}.")
        op = re.sub(r"\s+", " ", operator.group().upper())
        pos = _SPACE.match(text, operator.end()).end()
        if op in ("IN", "NOT IN"):
            value, pos = _value_list(text, pos)
        else:
            value, pos = _value(text, pos)
        numeric = entity == "metrics" or (entity == "attributes" and key in numeric_attributes)
        allowed = NUMBER_OPS if numeric else STRING_OPS
        if op not in allowed:
            raise SearchSyntaxError(
                f"{entity}.{key} cannot be compared with {op}; use one of "
                f"{', '.join(sorted(allowed))}."
            )
        if numeric and not isinstance(value, float):
            raise SearchSyntaxError(f"{entity}.{key} is compared with a number, not {value!r}.")
        if not numeric and isinstance(value, float):
            raise SearchSyntaxError(
                f"{entity}.{key} is compared with a quoted string: {key} = '…'."
            )
        comparisons.append(Comparison(entity, key, op, value))
        pos = _SPACE.match(text, pos).end()
        if pos >= len(text):
            break
        conjunction = _AND.match(text, pos)
        if not conjunction:
            raise SearchSyntaxError(
                f"Expected AND at position {pos}: {text[pos : pos + 30]!r} (OR is not supported)."
            )
        pos = conjunction.end()
        if pos >= len(text.rstrip()):
            raise SearchSyntaxError("The filter ends with AND.")
    return comparisons


def parse_order(clauses, *, numeric_attributes=frozenset()):
    """[(entity, key, descending)] of MLflow `order_by` clauses ("metrics.loss ASC")."""
    orders = []
    for clause in clauses or []:
        match = _ORDER.match(clause or "")
        if not match:
            raise SearchSyntaxError(f"Cannot read the order {clause!r}.")
        ident = match.group("ident")
        entity, key, end = _identifier(ident, 0, numeric_attributes=numeric_attributes)
        if end != len(ident):
            raise SearchSyntaxError(f"Cannot read the order {clause!r}.")
        orders.append((entity, key, (match.group("dir") or "ASC").upper() == "DESC"))
    return orders
