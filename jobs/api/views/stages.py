"""Moving a job's pipeline stages."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from jobs import services
from jobs.api.http import ERRORS_JOB_WRITE, ApiView, JobWriteMixin, body
from jobs.api.serializers.inputs import StageMoveInput
from jobs.api.serializers.outputs import DetailOutput, StageMoveOutput
from jobs.events import job_card, stage_payload


class JobStagesApi(JobWriteMixin, ApiView):
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
