"""The HTTP API of host resource samples: the host agent's ingest and the charts' reads."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from jobs.accounts.permissions import token_may_write
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ApiView,
    IngestThrottleMixin,
    body,
    job_or_404,
    query_params,
)
from jobs.api.serializers.inputs import ResourceBatchInput
from jobs.api.serializers.outputs import AcceptedOutput, ResourceSeriesOutput
from jobs.api.serializers.queries import ResourcesQuery
from jobs.models import Job, JobStatus
from monitoring.selectors import resource_series
from monitoring.services import resource_samples_ingest


class ResourceIngestApi(IngestThrottleMixin, ApiView):
    @extend_schema(
        summary="Report resource samples",
        request=ResourceBatchInput,
        responses={200: AcceptedOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request):
        """Store up to 1000 samples of `host`: `{"accepted": rows}`.

        With `job` the samples are linked to that job (404 if unknown, 403 outside the
        token's scope); without it, to every running job on the host the token may write
        to (one row per sample and job), or to the host alone when there is none."""
        data = body(ResourceBatchInput, request)
        if data.get("job"):
            jobs = [job_or_404(data["job"], request)]
            if not token_may_write(request.auth, jobs[0]):
                raise PermissionDenied("This token may not write to that job.")
        else:
            running = Job.objects.filter(
                host=data["host"], status=JobStatus.RUNNING, deleted_at__isnull=True
            )
            jobs = [job for job in running if token_may_write(request.auth, job)]
        accepted = resource_samples_ingest(host=data["host"], samples=data["samples"], jobs=jobs)
        return Response({"accepted": accepted})


class ResourceSeriesApi(ApiView):
    @extend_schema(
        summary="Resource samples of a job or host",
        parameters=[ResourcesQuery],
        responses={200: ResourceSeriesOutput, **ERRORS_JOB_READ},
    )
    def get(self, request):
        """`{"job", "host", "max_points", "total", "downsampled", "samples": [sample...]}`
        oldest first, for `?job=` (samples linked to the job) or `?host=`.

        At most `max_points` samples; longer ranges come as bucket minimum/maximum
        samples (`resolution` "bucket-min"/"bucket-max") so peaks survive. `since` (ISO
        time or Unix seconds) keeps samples after it, for live appends."""
        params = query_params(ResourcesQuery, request)
        job = job_or_404(params["job"], request) if params.get("job") else None
        series = resource_series(
            job=job,
            host=params.get("host"),
            since=params.get("since"),
            max_points=params["max_points"],
        )
        return Response(
            {
                "job": job.uid if job else None,
                "host": params.get("host") or None,
                "max_points": params["max_points"],
                **series,
            }
        )
