"""Write a job's report (or a comparison of jobs) to a file: HTML that opens offline, or PDF."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from jobs import reports, selectors
from jobs.layout import COMPARE_MAX_JOBS, COMPARE_MIN_JOBS


class Command(BaseCommand):
    help = (
        "Write the report of job UID to a file: one self-contained HTML file (charts "
        "interactive, no network needed) or, with --format pdf, a PDF printed by headless "
        "Chromium. Several UIDs write a comparison report instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("uids", nargs="+", metavar="UID", help="A job uid (2–8: compare).")
        parser.add_argument("-o", "--output", required=True, help="The file to write.")
        parser.add_argument("--format", choices=["html", "pdf"], default=None)
        parser.add_argument("--paper", choices=["a4", "letter"], default="a4")
        parser.add_argument("--notes", action="store_true", help="Include the job's notes.")

    def handle(self, *args, uids, output, format, paper, notes, **options):
        path = Path(output)
        fmt = format or ("pdf" if path.suffix.lower() == ".pdf" else "html")
        uids = list(dict.fromkeys(uids))
        if len(uids) > 1 and not COMPARE_MIN_JOBS <= len(uids) <= COMPARE_MAX_JOBS:
            raise CommandError(f"Compare {COMPARE_MIN_JOBS} to {COMPARE_MAX_JOBS} jobs.")
        found = selectors.job_by_uids(uids)
        unknown = [uid for uid in uids if uid not in found]
        if unknown:
            raise CommandError(f"No job with uid {', '.join(unknown)}.")
        jobs = [found[uid] for uid in uids]
        if len(jobs) == 1:
            html = reports.job_report_html(jobs[0], notes=notes, paper=paper)
        else:
            html = reports.compare_report_html(jobs, paper=paper)
        if fmt == "pdf":
            try:
                path.write_bytes(reports.html_to_pdf(html))
            except (reports.PdfUnavailable, reports.PdfFailed) as error:
                raise CommandError(str(error)) from None
        else:
            path.write_text(html, encoding="utf-8")
        self.stdout.write(f"Wrote {path} ({path.stat().st_size:,} bytes).")
