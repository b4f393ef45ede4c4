"""Job lists (all, current, past), statistics, creating a job and one job's detail."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from jobs import selectors, services
from jobs.accounts.permissions import may, project_for_new_job, token_may_write
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ERRORS_READ,
    ERRORS_WRITE,
    ApiView,
    IngestThrottleMixin,
    JSONBodyParser,
    body,
    job_or_404,
    request_projects,
    request_token,
)
from jobs.api.permissions import ReadOrSignedInWrite
from jobs.api.serializers.inputs import JobCreateInput, JobEditInput
from jobs.api.serializers.outputs import JobCardOutput, JobDetailOutput, StatisticsOutput
from jobs.core.validation import Conflict, InvalidInput
from jobs.diagnostics.rules import job_findings_shown
from jobs.events import job_card
from jobs.filters import JobFilter
from jobs.models import Job, JobStatus, Project, Role
from jobs.query import QuerySyntaxError, query_apply
from monitoring.selectors import resource_latest

ADMINS_ONLY = "Deleting and restoring jobs needs the admin role in the project."


def job_detail(job):
    """The job screen's data, with the newest resource sample of a running job and the
    findings its page shows."""
    running = job.status == JobStatus.RUNNING
    detail = selectors.job_detail(job, resources=resource_latest(job=job) if running else None)
    return {**detail, "findings": job_findings_shown(job)}


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
        return selectors.job_list_queryset(request_projects(self.request))

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
        token = request_token(request)
        try:
            project = project_for_new_job(request.user, token, data.pop("project", None))
        except ValueError as exc:
            raise InvalidInput({"project": [str(exc)]}) from None
        existing = None
        if data.get("uid"):
            existing = selectors.jobs_in(None).filter(uid=data["uid"]).first()
        if existing is not None and not may(request.user, existing.project_id, "viewer", token):
            raise Conflict("This uid is taken; choose another.")
        target = existing or Job(
            uid=data.get("uid") or "", tags=data.get("tags") or [], project=project
        )
        if not token_may_write(token, target):
            raise PermissionDenied("This token may not write to that job.")
        job, created = services.job_create(**data, project=project)
        return Response(job_detail(job), status=status.HTTP_201_CREATED if created else 200)


class CurrentJobsApi(_JobListBase):
    """Running jobs (latest started first), then queued jobs in queue order."""

    def get_queryset(self):
        return selectors.current_jobs_queryset(request_projects(self.request))

    @extend_schema(
        summary="Running and queued jobs", responses={200: JobCardOutput(many=True), **ERRORS_READ}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PastJobsApi(_JobListBase):
    """Completed, failed and cancelled jobs, most recently finished first."""

    def get_queryset(self):
        return selectors.past_jobs_queryset(request_projects(self.request))

    @extend_schema(
        summary="Finished jobs", responses={200: JobCardOutput(many=True), **ERRORS_READ}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class JobStatisticsApi(ApiView):
    @extend_schema(
        summary="Job statistics",
        parameters=[
            OpenApiParameter("project", str, description="Only this project's jobs (slug).")
        ],
        responses={200: StatisticsOutput, **ERRORS_READ},
    )
    def get(self, request):
        """`{"total", "counts": {status: n}, "success_rate", "mean_duration_seconds",
        "gpu_hours", "jobs_per_day": [{"date", "count"}, ...30]}`."""
        projects = request_projects(request)
        slug = request.query_params.get("project")
        if slug:
            chosen = set(Project.objects.filter(slug=slug).values_list("pk", flat=True))
            projects = chosen if projects is None else chosen & projects
        return Response(selectors.job_statistics(projects=projects))


# --- one job -----------------------------------------------------------------------------


def require_role(request, job, role, message):
    """403 unless the request acts with at least `role` in the job's project."""
    if not may(request.user, job.project_id, role, request_token(request)):
        raise PermissionDenied(message)


class JobDetailApi(ApiView):
    permission_classes = [ReadOrSignedInWrite]

    @extend_schema(summary="One job", responses={200: JobDetailOutput, **ERRORS_JOB_READ})
    def get(self, request, uid):
        """The job card plus `config`, `notes`, `stages` (five, in order),
        `latest_metrics` ({key: {step, value, epoch, time}}), `metric_keys`, `deployment`,
        `mean_step_rate`, `findings` (a failed job's diagnosis or another job's open
        alerts, as its page shows them; [] for a queued job); for a running job also
        `step_rate` (steps/s over the last minute), `eta_seconds` and `resources` (newest
        sample), null otherwise."""
        return Response(job_detail(job_or_404(uid, request)))

    @extend_schema(
        summary="Rename a job or change its description",
        request=JobEditInput,
        responses={200: JobDetailOutput, **ERRORS_JOB_WRITE},
    )
    def patch(self, request, uid):
        """Editors and admins of the job's project: `{"name"?, "description"?}`. Recorded
        in the audit trail and pushed to the job's viewers; a blank name answers 400."""
        job = job_or_404(uid, request)
        require_role(request, job, Role.EDITOR, "Renaming needs the editor role in the project.")
        data = body(JobEditInput, request)
        job = services.job_edit(
            job=job,
            name=data.get("name"),
            description=data.get("description"),
            actor=request.user,
            token=request_token(request),
        )
        return Response(job_detail(job))

    @extend_schema(
        summary="Move a job to the trash",
        responses={204: None, **ERRORS_JOB_WRITE},
    )
    def delete(self, request, uid):
        """Admins of the job's project: the job leaves every list, query, page and
        statistic; `POST /api/jobs/{uid}/restore` brings it back within 30 days, after
        which it is purged with all its data."""
        job = job_or_404(uid, request)
        require_role(request, job, Role.ADMIN, ADMINS_ONLY)
        services.job_trash(job=job, actor=request.user, token=request_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the query language ------------------------------------------------------------------


class QueryCheckApi(ApiView):
    @extend_schema(
        summary="Check a query",
        parameters=[OpenApiParameter("query", str, description="The query to check.")],
        responses={
            200: OpenApiResponse(
                description='{"valid": true} or {"valid": false, '
                '"query": ["…expected …"], "position": N}'
            ),
            **ERRORS_READ,
        },
    )
    def get(self, request):
        """Whether a query reads, as `GET /api/jobs?query=` would: 200 either way, so a
        search box can check it while the reader types. Bare config keys are looked up
        among the reader's jobs."""
        try:
            query_apply(selectors.jobs_in(request_projects(request)), request.GET.get("query"))
        except QuerySyntaxError as exc:
            return Response({"valid": False, **exc.detail})
        return Response({"valid": True})
