"""Reports: a job, or a comparison of jobs, as one self-contained HTML file that opens
offline (every chart drawn from series embedded in it), and as PDF printed by headless
Chromium. `data.py` reads what a report shows (bounded, whatever the size of the job),
`render.py` inlines it into the document, `pdf.py` prints it.

Callers (the API, the pages' buttons through the API, `manage.py job_report`) find the
jobs through the reader's project scope first; nothing here checks permissions.
"""

from .pdf import PdfFailed, PdfUnavailable, chromium_path, html_to_pdf
from .render import compare_report_html, job_report_html, report_csp

__all__ = [
    "PdfFailed",
    "PdfUnavailable",
    "chromium_path",
    "compare_report_html",
    "html_to_pdf",
    "job_report_html",
    "report_csp",
]
