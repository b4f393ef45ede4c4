"""A report as one self-contained HTML document: the template, the report stylesheet,
the vendored Chart.js and the report's drawing script all inlined, the chart data as
JSON. Opened from disk it asks no server for anything (its own meta Content Security
Policy forbids it); served, it carries a policy that allows exactly its inline blocks.
"""

import base64
import hashlib
import json
import re
from functools import cache

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from .data import compare_report, job_report

ASSETS = {
    "css": "css/report.css",
    "chartjs": "vendor/chartjs/chart.umd.min.js",
    "renderer": "js/report/render.js",
}
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
INLINE_BLOCK = re.compile(r"<(script|style)>(.*?)</\1>", re.S)
JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@cache
def report_assets():
    """The inlined files, read once per process (they change only with a deploy)."""
    assets = {}
    for name, path in ASSETS.items():
        found = finders.find(path)
        if not found:
            raise FileNotFoundError(f"report asset {path} is missing from the static files")
        with open(found, encoding="utf-8") as handle:
            text = handle.read()
        # Neither may end its own element early: both are inlined verbatim.
        if re.search(r"</(script|style)", text, re.I):
            raise ValueError(f"report asset {path} holds a closing </script> or </style>")
        assets[name] = mark_safe(text)  # noqa: S308 (our own static files, checked above)
    return assets


def data_json(data):
    """The chart data as JSON safe inside <script type="application/json">."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).translate(JSON_ESCAPES)
    return mark_safe(text)  # noqa: S308 (escaped: no "<" can close the element)


def _render(template, context, paper):
    context = {
        **context,
        "assets": report_assets(),
        "data_json": data_json(context["data"]),
        "paper": PAPER_SIZES.get(paper or "", ""),
    }
    return render_to_string(template, context)


def job_report_html(job, *, notes=False, paper=None, now=None):
    """The report of one job as an HTML string (`notes`: include its notes)."""
    return _render("reports/job.html", job_report(job, notes=notes, now=now), paper)


def compare_report_html(jobs, *, paper=None, now=None):
    """The report comparing `jobs` (2–8, in order) as an HTML string."""
    return _render("reports/compare.html", compare_report(jobs, now=now), paper)


def report_csp(html):
    """A Content-Security-Policy that lets `html` run and style exactly its own inline
    blocks (by hash) and nothing else: no request to any server."""
    hashes = {"script": [], "style": []}
    for kind, body in INLINE_BLOCK.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    scripts = " ".join(dict.fromkeys(hashes["script"])) or "'none'"
    styles = " ".join(dict.fromkeys(hashes["style"])) or "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
