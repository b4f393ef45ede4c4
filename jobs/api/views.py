"""The HTTP API of jobs, metrics, logs, stages and status (see SPEC.md, "HTTP API").

Views are thin: they parse the request with an input serializer, call a selector (reads)
or a service function (writes, which validate, store and push live updates) and return
the shapes of `jobs.payloads` / `jobs.selectors`. Reads accept a session or a token;
writes need a token whose scope covers the job (`jobs.permissions`).

Every response body is documented in the view's docstring and in the OpenAPI schema at
`/api/schema/`; the browser pages rely on these shapes, keep them stable.
"""

import csv
import json
import math
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound, ParseError, PermissionDenied
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.accounts.permissions import token_may_write
from jobs.core.values import encode_float, isoformat
from jobs.events import job_card, stage_payload
from jobs.filters import JobFilter
from jobs.models import Job, JobStatus
from monitoring.selectors import resource_latest, training_summary

from .serializers import (
    AcceptedOutput,
    DetailOutput,
    ExportPointOutput,
    ExportQuery,
    JobCardOutput,
    JobCreateInput,
    JobDetailOutput,
    JobStatusOutput,
    LogPageOutput,
    LogsBatchInput,
    LogsQuery,
    LossesQuery,
    MetricsBatchInput,
    MetricSeriesOutput,
    MetricsQuery,
    StageMoveInput,
    StageMoveOutput,
    StatisticsOutput,
    StatusUpdateInput,
    TrainingStatusOutput,
    TrainingSummaryOutput,
)

# --- request plumbing --------------------------------------------------------------------


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def body_too_large(size, limit):
    size_text = f" ({size} bytes)" if size else ""
    return PayloadTooLarge(
        f"Request body too large{size_text}; the limit is {limit} bytes "
        "(TUNEBOARD_MAX_BODY_BYTES). Send smaller batches."
    )


class JSONBodyParser(JSONParser):
    """JSON with the NaN/Infinity tokens Python's json writes, within the body size limit.

    DRF reads the body as a stream, so Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` check never
    runs for API requests; this parser enforces it (413) before and while reading.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise body_too_large(length, limit)
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise body_too_large(None, limit)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            suspect = ESCAPED_SURROGATE.search(raw) is not None
        except UnicodeDecodeError:
            # Decoded anyway, so that the 400 can name the field holding the bad bytes.
            text, suspect = raw.decode(encoding, "surrogateescape"), True
        try:
            # json.loads accepts NaN, Infinity and -Infinity: real training values.
            data = json.loads(text)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if suspect:
            reject_surrogates(data)
        if b"\\u0000" in raw:
            data = without_nul(data)
        return data


# Invalid UTF-8 (decoded with surrogateescape) and JSON escapes like "\ud800" both end up
# as lone surrogates, which no database can store and no JSON response can carry.
SURROGATE = re.compile("[\ud800-\udfff]")
ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abAB]")
NOT_TEXT = "Not valid text: invalid UTF-8 bytes or a lone surrogate."


def _surrogate_path(data, path):
    """The path of the first string (or the object holding the first key) with a
    surrogate in `data`, or None."""
    if isinstance(data, str):
        return path if SURROGATE.search(data) else None
    if isinstance(data, dict):
        if any(SURROGATE.search(key) for key in data):
            return path
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _surrogate_path(value, (*path, str(key)))
        if found is not None:
            return found
    return None


def without_nul(data):
    """`data` with NUL characters in every string and key replaced by U+FFFD.

    PostgreSQL stores no NUL in text or jsonb (a 500 otherwise); the services already
    replace it in text fields, this covers JSON fields such as a job's `config`."""
    if isinstance(data, str):
        return data.replace("\x00", "\ufffd")
    if isinstance(data, dict):
        return {without_nul(key): without_nul(value) for key, value in data.items()}
    if isinstance(data, list):
        return [without_nul(item) for item in data]
    return data


def reject_surrogates(data):
    """Raise a 400 naming the first field (`{"points": {"0": {"key": [...]}}}`) whose
    text is not valid Unicode."""
    path = _surrogate_path(data, ())
    if path is None:
        return
    error = {path[-1]: [NOT_TEXT]} if path else {"detail": NOT_TEXT}
    for name in reversed(path[:-1]):
        error = {name: error}
    raise ParseError(error)


class ApiView(APIView):
    parser_classes = [JSONBodyParser]


class IngestThrottleMixin:
    """Writes share the `ingest` rate (TUNEBOARD_INGEST_RATE); reads are not throttled."""

    throttle_scope = "ingest"

    def get_throttles(self):
        if self.request.method in SAFE_METHODS:
            return []
        return [ScopedRateThrottle()]


def query_params(serializer_class, request):
    """Validated query parameters, or a 400 naming each bad parameter."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def body(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def job_or_404(uid, queryset=None):
    job = (queryset if queryset is not None else Job.objects).filter(uid=uid).first()
    if job is None:
        raise NotFound(f"No job with uid '{uid}'.")
    return job


ERRORS_READ = {
    401: OpenApiResponse(DetailOutput, description="Not signed in and no token."),
    403: OpenApiResponse(DetailOutput, description="Not allowed."),
}
ERRORS_JOB_READ = {**ERRORS_READ, 404: OpenApiResponse(DetailOutput, description="Unknown job.")}
ERRORS_WRITE = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='Bad input: {"field": ["message"]}, batch items by index, '
        'or {"detail": "JSON parse error - ..."}.',
    ),
    401: OpenApiResponse(DetailOutput, description="No or invalid token."),
    403: OpenApiResponse(DetailOutput, description="Token scope does not cover the job."),
    413: OpenApiResponse(DetailOutput, description="Body over TUNEBOARD_MAX_BODY_BYTES."),
}
ERRORS_JOB_WRITE = {**ERRORS_WRITE, 404: OpenApiResponse(DetailOutput, description="Unknown job.")}


def job_detail(job):
    """The job screen's data, with the newest resource sample of a running job."""
    running = job.status == JobStatus.RUNNING
    return selectors.job_detail(job, resources=resource_latest(job=job) if running else None)


# --- job lists ---------------------------------------------------------------------------


class JobPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _JobListBase(IngestThrottleMixin, generics.ListAPIView):
    """A page of job cards: `{"count", "next", "previous", "results": [job_card, ...]}`.

    Filters: `status` (repeatable), `model`, `dataset`, `tag`, `q`, `ordering`; `page`,
    `page_size` (default 50, at most 200). A fixed number of queries per page.
    """

    serializer_class = JobCardOutput
    filterset_class = JobFilter
    pagination_class = JobPagination
    parser_classes = [JSONBodyParser]

    def list(self, request, *args, **kwargs):
        jobs = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([job_card(job) for job in jobs])


class JobListApi(_JobListBase):
    """GET: all jobs, newest first. POST: create a queued job (token)."""

    def get_queryset(self):
        return selectors.job_list_queryset()

    @extend_schema(summary="List jobs", responses={200: JobCardOutput(many=True), **ERRORS_READ})
    def get(self, request, *args, **kwargs):
        """All jobs as cards, newest first, paginated and filterable."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a job",
        request=JobCreateInput,
        responses={
            201: OpenApiResponse(JobDetailOutput, description="Created, queued."),
            200: OpenApiResponse(JobDetailOutput, description="A job with this uid exists."),
            **ERRORS_WRITE,
        },
    )
    def post(self, request, *args, **kwargs):
        """Create a queued job with five pending stages; 201 with the job detail.

        A `uid` that exists returns that job unchanged with 200, so a restarted script
        reuses its job. A scoped token may only create (or reuse) jobs its scope covers.
        """
        data = body(JobCreateInput, request)
        existing = Job.objects.filter(uid=data["uid"]).first() if data.get("uid") else None
        target = existing or Job(uid=data.get("uid") or "", tags=data.get("tags") or [])
        if not token_may_write(request.auth, target):
            raise PermissionDenied("This token may not write to that job.")
        job, created = services.job_create(**data)
        return Response(job_detail(job), status=status.HTTP_201_CREATED if created else 200)


class CurrentJobsApi(_JobListBase):
    """Running jobs (latest started first), then queued jobs in queue order."""

    def get_queryset(self):
        return selectors.current_jobs_queryset()

    @extend_schema(
        summary="Running and queued jobs", responses={200: JobCardOutput(many=True), **ERRORS_READ}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PastJobsApi(_JobListBase):
    """Completed, failed and cancelled jobs, most recently finished first."""

    def get_queryset(self):
        return selectors.past_jobs_queryset()

    @extend_schema(
        summary="Finished jobs", responses={200: JobCardOutput(many=True), **ERRORS_READ}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class JobStatisticsApi(ApiView):
    @extend_schema(summary="Job statistics", responses={200: StatisticsOutput, **ERRORS_READ})
    def get(self, request):
        """`{"total", "counts": {status: n}, "success_rate", "mean_duration_seconds",
        "gpu_hours", "jobs_per_day": [{"date", "count"}, ...30]}`."""
        return Response(selectors.job_statistics())


# --- one job -----------------------------------------------------------------------------


class JobDetailApi(ApiView):
    @extend_schema(summary="One job", responses={200: JobDetailOutput, **ERRORS_JOB_READ})
    def get(self, request, uid):
        """The job card plus `config`, `notes`, `stages` (five, in order),
        `latest_metrics` ({key: {step, value, epoch, time}}), `metric_keys`, `deployment`,
        `mean_step_rate`; for a running job also `step_rate` (steps/s over the last
        minute), `eta_seconds` and `resources` (newest sample), null otherwise."""
        return Response(job_detail(job_or_404(uid)))


class _JobWriteMixin(IngestThrottleMixin):
    def job_for_write(self, request, uid):
        """The job to write to; 404 if unknown, 403 if the token's scope misses it."""
        job = job_or_404(uid)
        self.check_object_permissions(request, job)
        return job


class JobMetricsApi(_JobWriteMixin, ApiView):
    @extend_schema(
        summary="Metric series",
        parameters=[MetricsQuery],
        responses={200: MetricSeriesOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"job", "max_points", "since_step", "series": {key: {"points":
        [[step, value, epoch], ...], "total": n, "downsampled": bool}}}`.

        Each series is exact when it has at most `max_points` points in range, else
        downsampled in the database keeping each bucket's minimum and maximum (and first
        NaN), plus the first and last point. `since_step` keeps points with a greater
        step. Values NaN/±inf come as "NaN", "Infinity", "-Infinity"."""
        job = job_or_404(uid)
        params = query_params(MetricsQuery, request)
        series = selectors.metric_series(
            job=job,
            keys=params.get("keys"),
            since_step=params.get("since_step"),
            max_points=params["max_points"],
        )
        return Response(
            {
                "job": job.uid,
                "max_points": params["max_points"],
                "since_step": params.get("since_step"),
                "series": series,
            }
        )

    @extend_schema(
        summary="Report metric points",
        request=MetricsBatchInput,
        responses={200: AcceptedOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Upsert up to 10 000 points in one transaction: `{"accepted": n}`.

        One bad point rejects the batch (400 names it: `{"points": {"3": {"value":
        [...]}}}`); a repeated (key, step) replaces the stored point."""
        job = self.job_for_write(request, uid)
        data = body(MetricsBatchInput, request)
        return Response({"accepted": services.metrics_ingest(job=job, points=data["points"])})


class JobLogsApi(_JobWriteMixin, ApiView):
    @extend_schema(
        summary="Log lines",
        parameters=[LogsQuery],
        responses={200: LogPageOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"job", "lines": [{"seq", "time", "level", "message"}], "next_after_seq",
        "last_seq"}` in seq order.

        `level` keeps that level and above; `q` filters messages (case-insensitive);
        `limit` default 500, at most 5000; `tail=true` gives the newest `limit` lines.
        `next_after_seq` is set when the page is full (ask again with it as `after_seq`);
        `last_seq` is where to poll from for new lines."""
        job = job_or_404(uid)
        params = query_params(LogsQuery, request)
        page = selectors.log_page(
            job=job,
            after_seq=params.get("after_seq"),
            level=params.get("level"),
            q=params.get("q"),
            limit=params["limit"],
            tail=params["tail"],
        )
        return Response({"job": job.uid, **page})

    @extend_schema(
        summary="Report log lines",
        request=LogsBatchInput,
        responses={200: AcceptedOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Store lines with new seqs (known seqs are ignored): `{"accepted": new lines}`."""
        job = self.job_for_write(request, uid)
        data = body(LogsBatchInput, request)
        return Response({"accepted": services.logs_ingest(job=job, lines=data["lines"])})


class JobStagesApi(_JobWriteMixin, ApiView):
    @extend_schema(
        summary="Move a pipeline stage",
        request=StageMoveInput,
        responses={
            200: StageMoveOutput,
            **ERRORS_JOB_WRITE,
            409: OpenApiResponse(DetailOutput, description="Illegal move, with the reason."),
        },
    )
    def post(self, request, uid):
        """`{"stage": stage, "job": job card}` after the move.

        The job follows its stages: the first active stage starts a queued job, a failed
        stage fails it, all stages completed/skipped complete it. An illegal move (e.g. a
        completed stage back to pending, any move of a finished job) is a 409."""
        job = self.job_for_write(request, uid)
        data = body(StageMoveInput, request)
        stage = services.stage_move(
            job=job,
            stage=data["stage"],
            status=data["status"],
            progress=data.get("progress"),
            message=data.get("message"),
            at=data.get("time"),
        )
        job.refresh_from_db()
        return Response({"stage": stage_payload(stage), "job": job_card(job)})


class JobStatusApi(_JobWriteMixin, ApiView):
    @extend_schema(
        summary="Status change and heartbeat",
        request=StatusUpdateInput,
        responses={
            200: JobStatusOutput,
            **ERRORS_JOB_WRITE,
            409: OpenApiResponse(DetailOutput, description="Illegal status change."),
        },
    )
    def post(self, request, uid):
        """`{"job": job card}`. Every call is a heartbeat (`last_heartbeat` = now), an
        empty body included. Finished statuses are final (409 on a change)."""
        job = self.job_for_write(request, uid)
        data = dict(body(StatusUpdateInput, request))
        data["at"] = data.pop("time", None)
        job = services.job_status_update(job=job, **data)
        return Response({"job": job_card(job)})


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """The export's `format` parameter names the file format, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


EXPORT_HEADER = ["key", "step", "epoch", "value", "time"]
EXPORT_CHUNK_ROWS = 2000


def _export_value(value):
    return encode_float(math.nan if value is None else value)


def _csv_chunks(rows):
    class Line:
        def write(self, text):
            return text

    writer = csv.writer(Line())
    yield writer.writerow(EXPORT_HEADER)
    chunk = []
    for key, step, epoch, value, wall_time in rows:
        epoch = "" if epoch is None else epoch
        chunk.append(
            writer.writerow([key, step, epoch, _export_value(value), isoformat(wall_time)])
        )
        if len(chunk) >= EXPORT_CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _json_chunks(rows):
    yield "["
    chunk, first = [], True
    for key, step, epoch, value, wall_time in rows:
        item = {
            "key": key,
            "step": step,
            "epoch": epoch,
            "value": _export_value(value),
            "time": isoformat(wall_time),
        }
        chunk.append(("" if first else ",") + json.dumps(item, allow_nan=False))
        first = False
        if len(chunk) >= EXPORT_CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    chunk.append("]")
    yield "".join(chunk)


async def _async_chunks(chunks):
    # Under ASGI a synchronous iterator would be read whole into memory before sending;
    # pulling one chunk at a time on the request's database thread keeps memory flat.
    end = object()
    next_chunk = sync_to_async(lambda: next(chunks, end), thread_sensitive=True)
    while (chunk := await next_chunk()) is not end:
        yield chunk


class JobExportApi(ApiView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="Export every metric point",
        parameters=[ExportQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Header key,step,epoch,value,time."
            ),
            (200, "application/json"): ExportPointOutput(many=True),
            **ERRORS_JOB_READ,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown format."),
        },
    )
    def get(self, request, uid):
        """Every point of the job, ordered by key then step, streamed in constant memory:
        CSV (`key,step,epoch,value,time`) or a JSON array of {key, step, epoch, value,
        time}. NaN/±inf as "NaN", "Infinity", "-Infinity"."""
        job = job_or_404(uid)
        fmt = query_params(ExportQuery, request)["format"]
        rows = selectors.metric_export_rows(job)
        chunks = _csv_chunks(rows) if fmt == "csv" else _json_chunks(rows)
        if isinstance(request._request, ASGIRequest):
            chunks = _async_chunks(chunks)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        response = StreamingHttpResponse(chunks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{job.uid}-metrics.{fmt}"'
        return response


# --- /api/training -------------------------------------------------------------------------


class TrainingLossesApi(ApiView):
    @extend_schema(
        summary="Loss series of a job",
        parameters=[LossesQuery],
        responses={200: MetricSeriesOutput, **ERRORS_JOB_READ},
    )
    def get(self, request):
        """`train/loss` and `val/loss` of `?job=`, in the shape of `/api/jobs/{uid}/metrics`
        (both keys always present, possibly with no points)."""
        params = query_params(LossesQuery, request)
        job = job_or_404(params["job"])
        series = selectors.metric_series(
            job=job,
            keys=selectors.LOSS_KEYS,
            since_step=params.get("since_step"),
            max_points=params["max_points"],
        )
        return Response(
            {
                "job": job.uid,
                "max_points": params["max_points"],
                "since_step": params.get("since_step"),
                "series": series,
            }
        )


class TrainingStatusApi(ApiView):
    @extend_schema(
        summary="Training status of a job",
        responses={200: TrainingStatusOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"uid", "status", "stage", "progress", "current_step", "total_steps", "epoch",
        "total_epochs", "queue_position", "step_rate", "eta_seconds", "started_at",
        "finished_at", "last_heartbeat", "error"}`."""
        return Response(selectors.job_training_status(job_or_404(uid)))


class TrainingSummaryApi(ApiView):
    @extend_schema(
        summary="Summary of running jobs", responses={200: TrainingSummaryOutput, **ERRORS_READ}
    )
    def get(self, request):
        """`{"running", "queued", "mean_gpu_util", "throughput_steps_per_second", "jobs":
        [{"uid", "name", "model", "progress", "current_step", "total_steps",
        "latest_loss", "latest_val_loss", "step_rate", "eta_seconds", "gpu_util",
        "last_heartbeat"}]}` over running jobs; GPU figures from each job's newest sample."""
        return Response(training_summary())
