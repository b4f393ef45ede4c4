"""Export of every metric point of a job as CSV or JSON, streamed in constant memory."""

import csv
import json
import math

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from jobs import selectors
from jobs.api.http import (
    ERRORS_JOB_READ,
    ApiView,
    IgnoreFormatNegotiation,
    job_or_404,
    query_params,
)
from jobs.api.serializers.outputs import ExportPointOutput
from jobs.api.serializers.queries import ExportQuery
from jobs.core.values import encode_float, isoformat

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


# The samples export streams the same way.
async_chunks = _async_chunks


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
        job = job_or_404(uid, request)
        fmt = query_params(ExportQuery, request)["format"]
        rows = selectors.metric_export_rows(job)
        chunks = _csv_chunks(rows) if fmt == "csv" else _json_chunks(rows)
        if isinstance(request._request, ASGIRequest):
            chunks = _async_chunks(chunks)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        response = StreamingHttpResponse(chunks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{job.uid}-metrics.{fmt}"'
        return response
