"""Read-only share links: created for a job or a comparison, listed, revoked.

Editors and admins of the job's project (of every compared job's project) create and
revoke them; the secret is in the 201's `url` only, never again.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from jobs import selectors, services
from jobs.accounts.permissions import may, role_in_project
from jobs.accounts.sharing import share_link_path
from jobs.api.http import ERRORS_JOB_READ, ERRORS_JOB_WRITE, ApiView, job_or_404, request_token
from jobs.api.serializers.collab import (
    CompareShareLinkInput,
    ShareLinkInput,
    ShareLinkListOutput,
    ShareLinkOutput,
)
from jobs.api.views.comments import id_parameter, json_object, row_id
from jobs.api.views.projects import SignedIn
from jobs.core.values import isoformat
from jobs.models import Role, ShareLink

EDITORS_ONLY = "Share links need the editor role in the job's project."


def created_payload(link, secret):
    return {
        "id": link.pk,
        "url": share_link_path(secret),
        "expires_at": isoformat(link.expires_at),
        "uids": link.uids,
    }


def link_payload(link):
    return {
        "id": link.pk,
        "uids": link.uids,
        "created_by": link.created_by.get_username() if link.created_by else None,
        "created_at": isoformat(link.created_at),
        "expires_at": isoformat(link.expires_at),
        "last_used_at": isoformat(link.last_used_at),
        "active": link.is_active,
    }


def require_editor(request, job):
    if not may(request.user, job.project_id, Role.EDITOR, request_token(request)):
        raise PermissionDenied(EDITORS_ONLY)


class JobShareLinksApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="A job's share links",
        responses={200: ShareLinkListOutput(many=True), **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """Editors: who made each link, when it expires and when it was last used."""
        job = job_or_404(uid, request)
        require_editor(request, job)
        return Response([link_payload(link) for link in selectors.share_link_list(job)])

    @extend_schema(
        summary="Share a job read-only",
        request=ShareLinkInput,
        responses={201: ShareLinkOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """A link (`url`, shown once) that opens the job's page live, read-only, without
        an account; it expires after `expires_in_days` (default 7)."""
        job = job_or_404(uid, request)
        require_editor(request, job)
        data = json_object(request, ("expires_in_days",)) if request.data else {}
        link, secret = services.share_link_create(
            jobs=[job],
            created_by=request.user,
            token=request_token(request),
            expires_in_days=data.get("expires_in_days"),
        )
        return Response(created_payload(link, secret), status=status.HTTP_201_CREATED)


class ShareLinksApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Share a comparison read-only",
        request=CompareShareLinkInput,
        responses={201: ShareLinkOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request):
        """`{"compare": [uid, ...]}` (2–8 jobs, editor in each one's project)."""
        data = json_object(request, ("compare", "expires_in_days"))
        raw = data.get("compare")
        if not isinstance(raw, list) or not all(isinstance(u, str) for u in raw):
            raise ValidationError({"compare": ["Expected a list of 2 to 8 job uids."]})
        uids = list(dict.fromkeys(u.strip() for u in raw if u.strip()))
        jobs = [job_or_404(uid, request) for uid in uids]
        for job in jobs:
            require_editor(request, job)
        link, secret = services.share_link_create(
            jobs=jobs,
            compare=True,
            created_by=request.user,
            token=request_token(request),
            expires_in_days=data.get("expires_in_days"),
        )
        return Response(created_payload(link, secret), status=status.HTTP_201_CREATED)


class ShareLinkApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Revoke a share link",
        parameters=[id_parameter("link_id")],
        responses={204: OpenApiResponse(description="Revoked."), **ERRORS_JOB_WRITE},
    )
    def delete(self, request, link_id):
        """Editors of its project; from now on the link answers 404 and its live view
        closes."""
        links = ShareLink.objects.select_related("project", "job")
        link = links.filter(pk=row_id(link_id)).first() if row_id(link_id) is not None else None
        token = request_token(request)
        if link is None or role_in_project(request.user, link.project_id, token) is None:
            raise NotFound(f"No share link {link_id}.")
        if not may(request.user, link.project_id, Role.EDITOR, token):
            raise PermissionDenied(EDITORS_ONLY)
        services.share_link_revoke(link=link, actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
