"""Bulk actions on jobs: the runs table's selection (or every job of a query) tagged,
untagged, moved to another project, archived, unarchived or deleted in one request."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from jobs import selectors, services
from jobs.accounts.permissions import may
from jobs.api.http import ERRORS_WRITE, ApiView, body, request_projects, request_token
from jobs.api.permissions import ReadOrSignedInWrite
from jobs.api.serializers.inputs import JobBulkInput
from jobs.core.validation import InvalidInput
from jobs.models import Project, Role
from jobs.query import query_apply


def bulk_jobs(request, data):
    """The jobs a bulk request names: its `uids` (each must be a job the reader sees) or
    every job its `query` matches; 400 naming `uids` or `query` otherwise."""
    projects = request_projects(request)
    has_uids, has_query = "uids" in data, "query" in data
    if has_uids == has_query:
        raise InvalidInput({"uids": ["Send either uids or query."]})
    if has_uids:
        uids = list(dict.fromkeys(data["uids"]))
        if not uids:
            raise InvalidInput({"uids": ["Choose at least one job."]})
        found = selectors.job_by_uids(uids, projects=projects)
        unknown = [uid for uid in uids if uid not in found]
        if unknown:
            raise InvalidInput({"uids": [f"Unknown jobs: {', '.join(unknown[:20])}."]})
        return list(found.values())
    jobs = query_apply(selectors.jobs_in(projects), data["query"])
    matched = list(jobs.order_by("pk")[: services.BULK_MAX + 1])
    if len(matched) > services.BULK_MAX:
        raise InvalidInput(
            {"query": [f"The query matches over {services.BULK_MAX} jobs; narrow it."]}
        )
    return matched


class JobBulkApi(ApiView):
    permission_classes = [ReadOrSignedInWrite]

    @extend_schema(
        summary="Change many jobs at once",
        request=JobBulkInput,
        responses={
            200: OpenApiResponse(description='{"matched": n, "changed": n}'),
            **ERRORS_WRITE,
        },
    )
    def post(self, request):
        """`{"action", "uids" | "query", "tag"?, "project"?}`: `add_tag` / `remove_tag`
        (`tag`), `move` (`project`: a slug), `archive`, `unarchive`, `delete` (to the
        trash). Tags, archiving and moving need the editor role in each job's project (and
        in the target project), deleting the admin role; a job the request may not change
        answers 403 and nothing changes. One transaction: all jobs change or none."""
        data = body(JobBulkInput, request)
        action = data["action"]
        target = None
        if action == "move" and data.get("project"):
            target = Project.objects.filter(slug=data["project"]).first()
            if target is None or not may(
                request.user, target.pk, Role.EDITOR, request_token(request)
            ):
                raise InvalidInput(
                    {"project": [f"No project '{data['project']}' you may move jobs to."]}
                )
        services.bulk_clean(action=action, tag=data.get("tag"), project=target)
        jobs = bulk_jobs(request, data)
        role = Role.ADMIN if action == "delete" else Role.EDITOR
        token = request_token(request)
        denied = [job.uid for job in jobs if not may(request.user, job.project_id, role, token)]
        if denied:
            raise PermissionDenied(
                f"{'Deleting' if action == 'delete' else 'Changing'} these jobs needs the "
                f"{role} role in their project: {', '.join(denied[:20])}."
            )
        changed = services.jobs_bulk(
            jobs=jobs,
            action=action,
            tag=data.get("tag"),
            project=target,
            actor=request.user,
            token=token,
        )
        return Response({"matched": len(jobs), "changed": changed})
