"""Sample generations and checkpoints of a job: paged reads, the prompt list, ingest and
export."""

import csv
import json

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ApiView,
    IgnoreFormatNegotiation,
    JobWriteMixin,
    body,
    job_or_404,
    query_params,
)
from jobs.api.serializers.samples import (
    CheckpointInput,
    CheckpointOutput,
    SampleOutput,
    SamplePageOutput,
    SamplePromptsOutput,
    SamplesAcceptedOutput,
    SamplesBatchInput,
    SampleScoresOutput,
    SamplesExportQuery,
    SamplesQuery,
)
from jobs.events import checkpoint_payload, sample_payload

from .export import EXPORT_CHUNK_ROWS, async_chunks

EXPORT_COLUMNS = ["step", "prompt", "output", "reference", "score", "meta", "time"]


class JobSamplesApi(JobWriteMixin, ApiView):
    @extend_schema(
        summary="Sample generations",
        parameters=[SamplesQuery],
        responses={200: SamplePageOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"job", "results": [{"id", "prompt", "prompt_hash", "step", "output",
        "reference", "score", "meta", "time"}], "next", "last_step"}` ordered by step.

        `prompt` (exact text) or `prompt_hash` keeps one prompt's outputs; `step` one
        step; `since_step` later steps. `limit` default 200, at most 1000; `next` is the
        URL of the following page (null on the last)."""
        job = job_or_404(uid, request)
        params = query_params(SamplesQuery, request)
        page = selectors.sample_page(
            job=job,
            prompt=params.get("prompt"),
            prompt_hash=params.get("prompt_hash"),
            step=params.get("step"),
            since_step=params.get("since_step"),
            after=params.get("cursor"),
            limit=params["limit"],
        )
        next_url = None
        if page["next_after"] is not None:
            query = request.query_params.copy()
            query["cursor"] = page["next_after"]
            next_url = f"{request.path}?{query.urlencode()}"
        return Response(
            {
                "job": job.uid,
                "results": page["results"],
                "next": next_url,
                "last_step": page["last_step"],
            }
        )

    @extend_schema(
        summary="Report sample generations",
        request=SamplesBatchInput,
        responses={200: SamplesAcceptedOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Store generations on fixed prompts; a (prompt, step) the job already has is
        ignored (never overwritten): `{"accepted", "ignored"}`."""
        job = self.job_for_write(request, uid)
        data = body(SamplesBatchInput, request)
        accepted, ignored = services.samples_ingest(
            job=job, samples=data["samples"], step=data.get("step")
        )
        return Response({"accepted": accepted, "ignored": ignored})


class JobSamplePromptsApi(ApiView):
    @extend_schema(
        summary="Prompts of the sample generations",
        responses={200: SamplePromptsOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """The prompts in the order first logged (at most 1000), each with its count
        and step range, and the steps logged: what the samples panel opens on."""
        job = job_or_404(uid, request)
        return Response({"job": job.uid, **selectors.sample_prompts(job=job)})


class JobSampleScoresApi(ApiView):
    @extend_schema(
        summary="Mean sample score by step",
        responses={200: SampleScoresOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"job", "scores": [[step, mean score]]}` over the samples that have a score."""
        job = job_or_404(uid, request)
        return Response({"job": job.uid, "scores": selectors.sample_scores(job=job)})


class JobCheckpointsApi(JobWriteMixin, ApiView):
    @extend_schema(
        summary="Checkpoints",
        responses={200: CheckpointOutput(many=True), **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`[{"step", "path", "size", "metrics", "time"}]` in step order."""
        job = job_or_404(uid, request)
        return Response(selectors.checkpoint_list(job=job))

    @extend_schema(
        summary="Report a checkpoint",
        request=CheckpointInput,
        responses={200: CheckpointOutput, 201: CheckpointOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Record the checkpoint saved at `step`: 201 when new; 200 for a step the job
        already has (its path replaced, a given size replaced, metrics merged)."""
        job = self.job_for_write(request, uid)
        data = body(CheckpointInput, request)
        checkpoint, created = services.checkpoint_record(
            job=job,
            step=data["step"],
            path=data["path"],
            size=data.get("size"),
            metrics=data.get("metrics"),
            time=data.get("time"),
        )
        return Response(checkpoint_payload(checkpoint), status=201 if created else 200)


def _sample_row(sample):
    item = sample_payload(sample)
    return [
        item["step"],
        item["prompt"],
        item["output"],
        item["reference"] or "",
        "" if item["score"] is None else item["score"],
        json.dumps(item["meta"], ensure_ascii=False) if item["meta"] else "",
        item["time"],
    ]


def _sample_csv_chunks(rows):
    class Line:
        def write(self, text):
            return text

    writer = csv.writer(Line())
    yield writer.writerow(EXPORT_COLUMNS)
    chunk = []
    for sample in rows:
        chunk.append(writer.writerow(_sample_row(sample)))
        if len(chunk) >= EXPORT_CHUNK_ROWS // 10:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _sample_json_chunks(rows):
    yield "["
    chunk, first = [], True
    for sample in rows:
        item = sample_payload(sample)
        del item["id"]
        chunk.append(("" if first else ",") + json.dumps(item, allow_nan=False))
        first = False
        if len(chunk) >= EXPORT_CHUNK_ROWS // 10:
            yield "".join(chunk)
            chunk = []
    chunk.append("]")
    yield "".join(chunk)


class JobSamplesExportApi(ApiView):
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        summary="Export every sample generation",
        parameters=[SamplesExportQuery],
        responses={
            (200, "application/json"): SampleOutput(many=True),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Header " + ",".join(EXPORT_COLUMNS) + "."
            ),
            **ERRORS_JOB_READ,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown format."),
        },
    )
    def get(self, request, uid):
        """Every generation of the job in step order, streamed: a JSON array of samples
        (default) or CSV (`step,prompt,output,reference,score,meta,time`)."""
        job = job_or_404(uid, request)
        fmt = query_params(SamplesExportQuery, request)["format"]
        rows = selectors.sample_export_rows(job)
        chunks = _sample_csv_chunks(rows) if fmt == "csv" else _sample_json_chunks(rows)
        if isinstance(request._request, ASGIRequest):
            chunks = async_chunks(chunks)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        response = StreamingHttpResponse(chunks, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{job.uid}-samples.{fmt}"'
        return response
