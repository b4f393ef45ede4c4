"""A job's status: the status change and heartbeat write, and the `/api/training` status
and summary reads."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status as http_status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from jobs import selectors, services
from jobs.accounts.permissions import may
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
    JobStopOutput,
    TrainingStatusOutput,
    TrainingSummaryOutput,
)
from jobs.api.views.projects import SignedIn
from jobs.core.values import isoformat
from jobs.events import job_card
from jobs.models import Role
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
        """`{"job": job card, "stop_requested": bool}`. Every call is a heartbeat
        (`last_heartbeat` = now), an empty body included; `stop_requested` tells the
        reporter that someone asked the job to stop (`POST /api/jobs/{uid}/stop`).
        Finished statuses are final (409 on a change). `"synced": true` (sent by
        `tuneboard sync`) marks the job as uploaded after the fact."""
        job = self.job_for_write(request, uid)
        data = dict(body(StatusUpdateInput, request))
        data["at"] = data.pop("time", None)
        job = services.job_status_update(job=job, token=request_token(request), **data)
        card = job_card(job)
        return Response({"job": card, "stop_requested": card["stop_requested"]})


class JobStopApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Ask a running job to stop",
        request=None,
        responses={
            202: JobStopOutput,
            **ERRORS_JOB_WRITE,
            409: OpenApiResponse(DetailOutput, description="The job has already ended."),
        },
    )
    def post(self, request, uid):
        """Editors of the job's project (a session or a token). Records the request; the
        job's reporter sees `"stop_requested": true` in its next heartbeat answer, stops
        and ends the job as `cancelled` at the step it reached. 202: asked, not yet done;
        asking again keeps the first request."""
        job = job_or_404(uid, request)
        token = request_token(request)
        if not may(request.user, job.project_id, Role.EDITOR, token):
            raise PermissionDenied("Stopping a job needs the editor role in its project.")
        job = services.request_stop(job=job, actor=request.user, token=token)
        return Response(
            {"stop_requested_at": isoformat(job.stop_requested_at), "job": job_card(job)},
            status=http_status.HTTP_202_ACCEPTED,
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
