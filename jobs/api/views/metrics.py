"""Metric series of a job (read and ingest) and the loss series of `/api/training/losses`."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ApiView,
    JobWriteMixin,
    body,
    job_or_404,
    query_params,
)
from jobs.api.serializers.inputs import MetricsBatchInput
from jobs.api.serializers.outputs import AcceptedOutput, MetricSeriesOutput
from jobs.api.serializers.queries import LossesQuery, MetricsQuery


class JobMetricsApi(JobWriteMixin, ApiView):
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
        job = job_or_404(uid, request)
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
        job = job_or_404(params["job"], request)
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
