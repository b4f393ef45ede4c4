"""A tiny, escaping markdown subset for job notes and comments.

Supported: paragraphs (blank-line separated), line breaks inside a paragraph, `**bold**`,
`*italic*`, `` `code` ``, fenced code blocks (```), bullet lists (`- `, `* `, `+ `) and
links `[text](url)` whose url is http(s) only. Everything else is text: every character
of the input reaches the page HTML-escaped, so raw HTML, `javascript:` links and
attribute breakouts render as the literal characters a person typed.

The output is built only from escaped text and a fixed set of tags written here; no
input ever becomes a tag or an attribute name, and the only attribute values taken from
input are link URLs, which must match `SAFE_URL` (no quotes, spaces or angle brackets)
and are escaped again.
"""

import re
from html import escape

from django.utils.safestring import SafeString, mark_safe

LINK_REL = "noopener noreferrer nofollow"
FENCE_RE = re.compile(r"^\s{0,3}```")
BULLET_RE = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
CODE_SPAN_RE = re.compile(r"`([^`\n]+)`")
# [text](http(s)://...) — the URL may not hold whitespace, quotes, angle brackets,
# backslashes or parentheses, so it can neither leave the attribute nor the link syntax.
LINK_RE = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^\s()<>\"'`\\]+)\)")
SAFE_URL = re.compile(r"^https?://[^\s()<>\"'`\\]+$")
# Applied to already-escaped text: `*` survives escaping, so these only add fixed tags.
BOLD_RE = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
ITALIC_RE = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")


def _emphasis(text):
    """Escape `text` and add <strong>/<em> for **bold** and *italic*."""
    html = escape(text, quote=True)
    html = BOLD_RE.sub(r"<strong>\1</strong>", html)
    return ITALIC_RE.sub(r"<em>\1</em>", html)


def _links_and_emphasis(text):
    out = []
    position = 0
    for match in LINK_RE.finditer(text):
        out.append(_emphasis(text[position : match.start()]))
        label, url = match.groups()
        if SAFE_URL.match(url):
            out.append(
                f'<a href="{escape(url, quote=True)}" rel="{LINK_REL}" target="_blank">'
                f"{_emphasis(label)}</a>"
            )
        else:  # unreachable given LINK_RE, kept so a loosened pattern cannot open a hole
            out.append(escape(match.group(0), quote=True))
        position = match.end()
    out.append(_emphasis(text[position:]))
    return "".join(out)


def render_inline(text):
    """One line or paragraph of inline markdown as safe HTML (code spans first)."""
    out = []
    position = 0
    for match in CODE_SPAN_RE.finditer(text):
        out.append(_links_and_emphasis(text[position : match.start()]))
        out.append(f"<code>{escape(match.group(1), quote=True)}</code>")
        position = match.end()
    out.append(_links_and_emphasis(text[position:]))
    return "".join(out)


def _blocks(lines):
    """Yield ("code", [lines]) / ("list", [items]) / ("para", [lines]) blocks."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if FENCE_RE.match(line):
            body = []
            index += 1
            while index < len(lines) and not FENCE_RE.match(lines[index]):
                body.append(lines[index])
                index += 1
            index += 1  # the closing fence (an unclosed fence runs to the end)
            yield "code", body
            continue
        if BULLET_RE.match(line):
            items = []
            while index < len(lines) and (match := BULLET_RE.match(lines[index])):
                items.append(match.group(1))
                index += 1
            yield "list", items
            continue
        para = []
        while (
            index < len(lines)
            and lines[index].strip()
            and not FENCE_RE.match(lines[index])
            and not BULLET_RE.match(lines[index])
        ):
            para.append(lines[index].strip())
            index += 1
        yield "para", para


def render_markdown(text) -> SafeString:
    """`text` (job notes) as safe HTML; empty input gives an empty string."""
    if not text:
        return mark_safe("")
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    html = []
    for kind, body in _blocks(lines):
        if kind == "code":
            html.append(f"<pre><code>{escape(chr(10).join(body), quote=True)}</code></pre>")
        elif kind == "list":
            items = "".join(f"<li>{render_inline(item)}</li>" for item in body)
            html.append(f"<ul>{items}</ul>")
        else:
            html.append(f"<p>{'<br>'.join(render_inline(line) for line in body)}</p>")
    return mark_safe("\n".join(html))  # noqa: S308 (every piece above is escaped)
