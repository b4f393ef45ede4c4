"""Job notes markdown: the supported subset renders, and hostile input stays text."""

import re

import pytest

from jobs.core.markdown import render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    '[x](https://example.com" onmouseover="alert(1))',
    "[x](https://example.com/<script>)",
    "**<b onclick=alert(1)>bold</b>**",
    "`<img src=x onerror=alert(1)>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "- <svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "*<iframe src=//evil>*",
]


def tags_in(html):
    return set(re.findall(r"<\s*([a-zA-Z0-9]+)", html))


def test_paragraphs_are_split_on_blank_lines_and_lines_break_inside_one():
    html = render_markdown("first line\nsecond line\n\nnext paragraph")
    assert html == "<p>first line<br>second line</p>\n<p>next paragraph</p>"


def test_bold_italic_and_code_spans_render():
    html = render_markdown("**lr** is *too* high: `5e-4`")
    assert html == "<p><strong>lr</strong> is <em>too</em> high: <code>5e-4</code></p>"


def test_emphasis_markers_inside_code_spans_stay_literal():
    assert render_markdown("`**not bold**`") == "<p><code>**not bold**</code></p>"


def test_snake_case_and_lone_asterisks_are_not_italic():
    html = render_markdown("use per_device_batch 2 * 4 = 8")
    assert "<em>" not in html


def test_fenced_code_blocks_keep_their_lines_escaped():
    html = render_markdown("before\n```python\nif a < b:\n    print('**x**')\n```\nafter")
    assert "<pre><code>if a &lt; b:\n    print(&#x27;**x**&#x27;)</code></pre>" in html
    assert html.startswith("<p>before</p>") and html.endswith("<p>after</p>")


def test_an_unclosed_fence_runs_to_the_end_of_the_note():
    assert render_markdown("```\ncode") == "<pre><code>code</code></pre>"


def test_bullet_lists_render_items_with_inline_markup():
    html = render_markdown("Tried:\n- lr **1e-4**\n- warmup 100\n\nDone")
    assert html == (
        "<p>Tried:</p>\n<ul><li>lr <strong>1e-4</strong></li><li>warmup 100</li></ul>\n<p>Done</p>"
    )


def test_http_links_get_safe_rel_and_open_in_a_new_tab():
    html = render_markdown("see [the run](https://wandb.ai/x/runs/1?a=1&b=2)")
    assert html == (
        '<p>see <a href="https://wandb.ai/x/runs/1?a=1&amp;b=2" '
        'rel="noopener noreferrer nofollow" target="_blank">the run</a></p>'
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_renders_as_text_without_tags_or_handlers(text):
    html = render_markdown(text)
    assert tags_in(html) <= {"p", "br", "strong", "em", "code", "pre", "ul", "li", "a"}
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert not re.search(r"<[^>]*\son\w+=", html), html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("http://", "https://")), html


@pytest.mark.parametrize(
    "text",
    ["[click](javascript:alert(1))", "[x](data:text/html,hi)", "[x](//evil.example/)"],
)
def test_links_to_anything_but_http_or_https_stay_literal_text(text):
    html = render_markdown(text)
    assert "<a" not in html
    assert "[" in html and "](" in html


def test_attribute_breakout_in_a_link_url_does_not_make_a_link():
    html = render_markdown('[x](https://example.com" onmouseover="alert(1))')
    assert "<a" not in html
    assert "&quot;" in html


def test_script_tags_are_escaped_verbatim():
    html = render_markdown("<script>alert('x')</script>")
    assert html == "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</p>"


def test_empty_or_missing_notes_render_nothing():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_windows_line_endings_behave_like_unix_ones():
    assert render_markdown("a\r\nb\r\n\r\nc") == render_markdown("a\nb\n\nc")
