"""A project's audit trail: who changed status, notes, tags, members, tokens and share
links, and when. Project admins only."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from jobs import selectors
from jobs.api.http import ERRORS_READ, ApiView
from jobs.api.serializers.collab import AuditEventOutput
from jobs.api.views.projects import SignedIn, project_or_404
from jobs.core.values import isoformat
from jobs.models import Role


def audit_payload(event):
    return {
        "at": isoformat(event.at),
        "action": event.action,
        "actor": event.actor.get_username() if event.actor else None,
        "token": event.token.name if event.token else None,
        "job": event.job_uid or None,
        "detail": event.detail,
    }


class ProjectAuditApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="A project's audit trail",
        responses={200: AuditEventOutput(many=True), **ERRORS_READ},
    )
    def get(self, request, slug):
        """The newest 200 events, newest first."""
        project = project_or_404(request, slug, Role.ADMIN)
        return Response([audit_payload(e) for e in selectors.audit_list(project)])
