"""Reports: a job, or a comparison of jobs, as one self-contained HTML file or as PDF.

Both are attachments. The HTML carries a Content Security Policy allowing exactly its
own inline blocks (by hash) and no request at all, so even opened straight from the
server it reaches nothing; a PDF needs Chromium on the server (501 without it).
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from jobs import reports, selectors
from jobs.api.http import (
    ERRORS_JOB_READ,
    ApiView,
    IgnoreFormatNegotiation,
    job_or_404,
    query_params,
    request_projects,
)
from jobs.api.serializers.outputs import DetailOutput
from jobs.api.serializers.queries import CompareReportQuery, JobReportQuery
from jobs.layout import COMPARE_MAX_JOBS, COMPARE_MIN_JOBS, compare_uids

REPORT_RESPONSES = {
    (200, "text/html"): OpenApiResponse(
        OpenApiTypes.STR, description="The report as one HTML file that opens offline."
    ),
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
    501: OpenApiResponse(DetailOutput, description="format=pdf and no Chromium on the server."),
    503: OpenApiResponse(DetailOutput, description="Chromium failed to print the report."),
}


def report_response(html, *, fmt, filename):
    """The report as an attachment: HTML with its own policy, or the PDF printed from it;
    501/503 with a `detail` when no PDF can be made."""
    if fmt == "pdf":
        try:
            pdf = reports.html_to_pdf(html)
        except reports.PdfUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_501_NOT_IMPLEMENTED)
        except reports.PdfFailed as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response = HttpResponse(pdf, content_type="application/pdf")
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = reports.report_csp(html)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


class JobReportApi(ApiView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="A job's report (HTML or PDF)",
        parameters=[JobReportQuery],
        responses={**REPORT_RESPONSES, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """The job's report as an attachment: header, stage timeline, final and best
        metrics, every metric chart (downsampled, minima and maxima kept; interactive
        offline), resource charts, summary, configuration, deployment, and for a failed
        job the error, failure point and suggested fixes; `notes=1` adds the notes."""
        job = job_or_404(uid, request)
        params = query_params(JobReportQuery, request)
        html = reports.job_report_html(job, notes=params["notes"], paper=params["paper"])
        return report_response(html, fmt=params["format"], filename=f"{job.uid}-report")


class CompareReportApi(ApiView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="A comparison report (HTML or PDF)",
        parameters=[CompareReportQuery],
        responses={
            **REPORT_RESPONSES,
            **ERRORS_JOB_READ,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Fewer than 2 or over 8 uids."),
        },
    )
    def get(self, request):
        """The compare page as a report: one overlaid chart per shared key, the final
        metrics table and the config diff of 2–8 jobs (`jobs=a,b`); an unknown uid, or
        one outside the reader's projects, answers 404."""
        params = query_params(CompareReportQuery, request)
        uids = compare_uids(params["jobs"])
        if not COMPARE_MIN_JOBS <= len(uids) <= COMPARE_MAX_JOBS:
            raise ValidationError(
                {
                    "jobs": [
                        f"Give {COMPARE_MIN_JOBS} to {COMPARE_MAX_JOBS} different job uids, "
                        f"comma-separated ({len(uids)} given)."
                    ]
                }
            )
        found = selectors.job_by_uids(uids, projects=request_projects(request))
        unknown = [uid for uid in uids if uid not in found]
        if unknown:
            raise NotFound(f"No job with uid {', '.join(repr(uid) for uid in unknown)}.")
        html = reports.compare_report_html([found[uid] for uid in uids], paper=params["paper"])
        return report_response(html, fmt=params["format"], filename="compare-report")
