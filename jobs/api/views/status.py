"""A job's status: the status change and heartbeat write, and the `/api/training` status
and summary reads."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ERRORS_READ,
    ApiView,
    JobWriteMixin,
    body,
    job_or_404,
    request_projects,
    request_token,
)
from jobs.api.serializers.inputs import StatusUpdateInput
from jobs.api.serializers.outputs import (
    DetailOutput,
    JobStatusOutput,
    TrainingStatusOutput,
    TrainingSummaryOutput,
)
from jobs.events import job_card
from monitoring.selectors import training_summary


class JobStatusApi(JobWriteMixin, ApiView):
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
        job = services.job_status_update(job=job, token=request_token(request), **data)
        return Response({"job": job_card(job)})


class TrainingStatusApi(ApiView):
    @extend_schema(
        summary="Training status of a job",
        responses={200: TrainingStatusOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"uid", "status", "stage", "progress", "current_step", "total_steps", "epoch",
        "total_epochs", "queue_position", "step_rate", "eta_seconds", "started_at",
        "finished_at", "last_heartbeat", "error"}`."""
        return Response(selectors.job_training_status(job_or_404(uid, request)))


class TrainingSummaryApi(ApiView):
    @extend_schema(
        summary="Summary of running jobs", responses={200: TrainingSummaryOutput, **ERRORS_READ}
    )
    def get(self, request):
        """`{"running", "queued", "mean_gpu_util", "throughput_steps_per_second", "jobs":
        [{"uid", "name", "model", "progress", "current_step", "total_steps",
        "latest_loss", "latest_val_loss", "step_rate", "eta_seconds", "gpu_util",
        "last_heartbeat"}]}` over running jobs; GPU figures from each job's newest sample."""
        return Response(training_summary(projects=request_projects(request)))
