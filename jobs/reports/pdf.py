"""A report printed to PDF by headless Chromium (the same browser the tests drive).

The HTML goes to a temporary file that Chromium opens from disk with the network of a
`file://` page (the report's own policy forbids every request), prints with the report's
print stylesheet and exits; a Chromium that hangs is killed after
`TUNEBOARD_REPORT_PDF_SECONDS` (`PdfFailed`). Without Chromium (`TUNEBOARD_CHROMIUM`, default the
`chromium` on PATH) there is no PDF: `PdfUnavailable`, which the API answers with 501.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

# An A4 page's width at 96 dpi: the charts are drawn near the size they print at.
WINDOW = "794,1123"


class PdfUnavailable(Exception):
    """No PDF can be made on this server: no Chromium. The message says what to do."""


class PdfFailed(Exception):
    """Chromium is there but did not print the report (timeout, crash)."""


def chromium_path():
    """The Chromium binary to print with, or None when none is installed."""
    configured = settings.TUNEBOARD_CHROMIUM
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(html, *, timeout=None):
    """The PDF bytes of `html` (a self-contained report) printed by headless Chromium."""
    binary = chromium_path()
    if binary is None:
        where = settings.TUNEBOARD_CHROMIUM or "chromium on PATH"
        raise PdfUnavailable(
            f"PDF reports need Chromium on the server ({where} not found). Install it "
            "(scripts/install-chromium) or set TUNEBOARD_CHROMIUM; the HTML report "
            "(format=html) needs nothing and prints to PDF from any browser."
        )
    timeout = timeout or settings.TUNEBOARD_REPORT_PDF_SECONDS
    with tempfile.TemporaryDirectory(prefix="tuneboard-report-") as tmp:
        source = Path(tmp) / "report.html"
        target = Path(tmp) / "report.pdf"
        source.write_text(html, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={WINDOW}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(  # noqa: S603 (our own arguments, no shell)
                command,
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "HOME": tmp},
            )
        except subprocess.TimeoutExpired:
            raise PdfFailed(f"Chromium did not print the report within {timeout} s.")
        except OSError as error:
            raise PdfFailed(f"Chromium could not start: {error}.")
        if not target.exists() or target.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise PdfFailed(f"Chromium did not print the report: {' / '.join(tail)}")
        return target.read_bytes()
