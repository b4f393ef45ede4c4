"""The trash: the deleted jobs a reader may see, and restoring one (admins)."""

from datetime import timedelta

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import ERRORS_JOB_WRITE, ERRORS_READ, ApiView, request_projects, request_token
from jobs.api.permissions import ReadOrSignedInWrite
from jobs.api.views.jobs import ADMINS_ONLY, job_detail, require_role
from jobs.core.values import isoformat
from jobs.models import TRASH_DAYS, Role

TRASH_LIST_MAX = 500


class TrashListApi(ApiView):
    permission_classes = [ReadOrSignedInWrite]

    @extend_schema(
        summary="Jobs in the trash",
        responses={
            200: OpenApiResponse(description="[{uid, name, model, status, deleted_at, purge_at}]"),
            **ERRORS_READ,
        },
    )
    def get(self, request):
        """The deleted jobs of the reader's projects, most recently deleted first (at most
        500); each is purged `purge_at`, 30 days after it was deleted."""
        jobs = selectors.jobs_in_trash(request_projects(request))[:TRASH_LIST_MAX]
        return Response([trash_item(job) for job in jobs])


def trash_item(job):
    return {
        "uid": job.uid,
        "name": job.name,
        "model": job.base_model,
        "status": job.status,
        "deleted_at": isoformat(job.deleted_at),
        "purge_at": isoformat(job.deleted_at + timedelta(days=TRASH_DAYS)),
    }


class JobRestoreApi(ApiView):
    permission_classes = [ReadOrSignedInWrite]

    @extend_schema(
        summary="Restore a job from the trash",
        request=None,
        responses={200: OpenApiResponse(description="The job's detail."), **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Admins of the job's project: the job is back in every list as it was. A job
        not in the trash (or not readable) answers 404; one already being purged, 409."""
        job = selectors.job_in_trash_by_uid(uid, projects=request_projects(request))
        if job is None:
            raise NotFound(f"No job with uid '{uid}' in the trash.")
        require_role(request, job, Role.ADMIN, ADMINS_ONLY)
        job = services.job_restore(job=job, actor=request.user, token=request_token(request))
        return Response(job_detail(job))
