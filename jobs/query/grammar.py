"""The query language's grammar: text → tree, pure Python (no database).

    query   := or?
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := ("-" | "NOT") unary | "(" or ")" | term
    term    := field op value | field ":" "*" | word | "quoted words"
    op      := ":" | "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | ":~" | "!~"
    value   := bare | "quoted" | 'quoted' | /regex/ | /regex/i

AND binds tighter than OR; `-` and NOT tighter than AND. A syntax error raises
`QuerySyntaxError` (an `InvalidInput` whose detail is `{"query": ["…expected …"],
"position": N}`, N the 0-based offset of the error).
"""

import re
from dataclasses import dataclass

from jobs.core.validation import InvalidInput

MAX_QUERY_LENGTH = 2000


class QuerySyntaxError(InvalidInput):
    """A query that cannot be read; `detail` is `{"query": [message], "position": N}`."""

    def __init__(self, message, position, *, field="query"):
        self.message = message
        self.position = position
        super().__init__({field: [message], "position": position})


# --- the tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # ":" "=" "!=" "<" "<=" ">" ">=" "~" "!~" "regex" "exists"
    value: str
    position: int  # where the field starts
    value_position: int
    quoted: bool = False
    flags: str = ""  # regex flags ("i")


@dataclass(frozen=True)
class Text:
    """A word or quoted phrase without an operator: text in name, uid, model or dataset."""

    text: str
    position: int


@dataclass(frozen=True)
class Not:
    node: object


@dataclass(frozen=True)
class And:
    nodes: tuple


@dataclass(frozen=True)
class Or:
    nodes: tuple


# --- lexer ----------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
# Field names and bare words: anything but space, parentheses, quotes and operators.
_NAME = re.compile(r"""[^\s()"':=!<>~]+""")
_BARE_VALUE = re.compile(r"[^\s()]+")
_OPERATORS = ("<=", ">=", "!=", "!~", ":~", ":", "=", "<", ">", "~")


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "OR" "AND" "NOT" "TERM"
    position: int
    node: object = None


def _quoted(text, start):
    """(value, end) of the quoted string starting at `start` (either quote; backslash
    escapes the quote and itself)."""
    quote = text[start]
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QuerySyntaxError(
        f"Unclosed quote at position {start}: expected a closing {quote}.", start
    )


def _regex(text, start):
    """(pattern, flags, end) of the /regex/ starting at `start` (`\\/` is a slash)."""
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == "/":
            out.append("/")
            i += 2
            continue
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        if ch == "/":
            i += 1
            flags = ""
            while i < len(text) and text[i] == "i":
                flags, i = "i", i + 1
            pattern = "".join(out)
            if not pattern:
                raise QuerySyntaxError(
                    f"Empty regex at position {start}: expected a pattern between the slashes.",
                    start,
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise QuerySyntaxError(
                    f"Invalid regex at position {start}: {exc}; expected a regular expression.",
                    start,
                ) from None
            return pattern, flags, i
        out.append(ch)
        i += 1
    raise QuerySyntaxError(f"Unclosed regex at position {start}: expected a closing /.", start)


def _term(text, start):
    """(Term or Text, end) of the term at `start`."""
    if text[start] in "\"'":
        name, end = _quoted(text, start)
        name_quoted = True
    else:
        match = _NAME.match(text, start)
        if not match:
            raise QuerySyntaxError(
                f"Unexpected {text[start]!r} at position {start}: expected a field name or a word.",
                start,
            )
        name, end = match.group(), match.end()
        name_quoted = False
    op = next((o for o in _OPERATORS if text.startswith(o, end)), None)
    if op is None:
        if not name_quoted and text.startswith("!", end):
            raise QuerySyntaxError(f"Unexpected '!' at position {end}: expected != or !~.", end)
        return Text(name, start), end
    if not name:
        raise QuerySyntaxError(f"Empty field name at position {start}: expected a field.", start)
    at = end + len(op)
    op = {":~": "~"}.get(op, op)
    if at < len(text) and text[at] in "\"'":
        value, end = _quoted(text, at)
        return Term(name, op, value, start, at, quoted=True), end
    if at < len(text) and text[at] == "/":
        if op not in (":", "=", "!="):
            raise QuerySyntaxError(
                f"A regex follows ':', '=' or '!=' (position {at}): expected a value after {op!r}.",
                at,
            )
        pattern, flags, end = _regex(text, at)
        return Term(name, "!regex" if op == "!=" else "regex", pattern, start, at, flags=flags), end
    match = _BARE_VALUE.match(text, at)
    if not match:
        raise QuerySyntaxError(
            f"Missing value at position {at}: expected a value after {op!r}.", at
        )
    value = match.group()
    if value == "*" and op == ":":
        return Term(name, "exists", "", start, at), match.end()
    return Term(name, op, value, start, at), match.end()


def _tokens(text):
    tokens = []
    i = 0
    while i < len(text):
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
            continue
        ch = text[i]
        if ch in "()":
            tokens.append(_Token(ch, i))
            i += 1
            continue
        word = _NAME.match(text, i)
        if word and word.group() in ("OR", "AND", "NOT"):
            after = word.end()
            if after == len(text) or text[after].isspace() or text[after] in "()":
                tokens.append(_Token(word.group(), i))
                i = after
                continue
        if ch == "-" and i + 1 < len(text) and not text[i + 1].isspace():
            tokens.append(_Token("NOT", i))
            i += 1
            continue
        node, i = _term(text, i)
        tokens.append(_Token("TERM", node.position, node))
    return tokens


# --- parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def fail(self, expected):
        token = self.peek()
        if token is None:
            position = len(self.text)
            raise QuerySyntaxError(
                f"Unexpected end of query at position {position}: expected {expected}.", position
            )
        shown = token.kind if token.kind != "TERM" else "term"
        raise QuerySyntaxError(
            f"Unexpected {shown!r} at position {token.position}: expected {expected}.",
            token.position,
        )

    def parse(self):
        if not self.tokens:
            return None
        node = self.parse_or()
        if self.peek() is not None:
            self.fail("a term, OR, or the end of the query")
        return node

    def parse_or(self):
        nodes = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.at += 1
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def parse_and(self):
        nodes = [self.parse_unary()]
        while (token := self.peek()) is not None and token.kind in ("AND", "NOT", "(", "TERM"):
            if token.kind == "AND":
                self.at += 1
            nodes.append(self.parse_unary())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def parse_unary(self):
        token = self.peek()
        if token is None:
            self.fail("a term")
        if token.kind == "NOT":
            self.at += 1
            return Not(self.parse_unary())
        if token.kind == "(":
            self.at += 1
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                self.fail(f"')' to close the '(' at position {token.position}")
            self.at += 1
            return node
        if token.kind == "TERM":
            self.at += 1
            return token.node
        self.fail("a term, '(' or '-'")


def query_parse(text):
    """The tree of a query (None for an empty one); `QuerySyntaxError` when it cannot be
    read. Pure: field names are resolved by `query_apply`."""
    text = text or ""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"Query too long: expected at most {MAX_QUERY_LENGTH} characters.", MAX_QUERY_LENGTH
        )
    return _Parser(text).parse()


def is_plain_text(tree):
    """Whether a tree is only words (no field, operator, OR, parentheses or negation): the
    dashboard keeps searching such text as one phrase, as it always did."""
    if tree is None or isinstance(tree, Text):
        return True
    return isinstance(tree, And) and all(isinstance(node, Text) for node in tree.nodes)
