"""Projects and their members: list, create; add, change and remove members.

Any signed-in user (session or token) may list the projects they belong to and create
one (they become its admin); members of a project see its members; its admins change
them. A project the caller cannot see answers 404.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from jobs import services
from jobs.accounts.permissions import access_roles, forget_roles, role_in_project
from jobs.api.http import ERRORS_READ, ERRORS_WRITE, ApiView, body, request_token
from jobs.api.serializers.projects import MemberInput, MemberOutput, ProjectInput, ProjectOutput
from jobs.core.values import isoformat
from jobs.models import Membership, Project, Role, role_at_least


class SignedIn(permissions.BasePermission):
    message = "Sign in or send an API token."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


def project_payload(project, role):
    return {
        "slug": project.slug,
        "name": project.name,
        "role": role,
        "created_at": isoformat(project.created_at),
    }


def project_or_404(request, slug, minimum=Role.VIEWER):
    """The project if the caller has at least `minimum` there; 404 if they cannot see
    it, 403 if they can but lack the role."""
    project = Project.objects.filter(slug=slug).first()
    role = role_in_project(request.user, project.pk, request_token(request)) if project else None
    if role is None:
        raise NotFound(f"No project '{slug}'.")
    if not role_at_least(role, minimum):
        raise PermissionDenied(f"This needs the {minimum} role in the project.")
    return project


class ProjectListApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Your projects", responses={200: ProjectOutput(many=True), **ERRORS_READ}
    )
    def get(self, request):
        roles = access_roles(request.user, request_token(request))
        projects = Project.objects.all() if roles is None else Project.objects.filter(pk__in=roles)
        return Response(
            [project_payload(p, Role.ADMIN if roles is None else roles[p.pk]) for p in projects]
        )

    @extend_schema(
        summary="Create a project",
        request=ProjectInput,
        responses={201: ProjectOutput, **ERRORS_WRITE},
    )
    def post(self, request):
        """Create a project; you become its admin."""
        data = body(ProjectInput, request)
        project = services.project_create(creator=request.user, **data)
        forget_roles(request.user)
        return Response(project_payload(project, Role.ADMIN), status=status.HTTP_201_CREATED)


class ProjectMembersApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="A project's members", responses={200: MemberOutput(many=True), **ERRORS_READ}
    )
    def get(self, request, slug):
        project = project_or_404(request, slug)
        members = Membership.objects.filter(project=project).select_related("user")
        return Response(
            [
                {"username": m.user.username, "role": m.role, "created_at": isoformat(m.created_at)}
                for m in members
            ]
        )

    @extend_schema(
        summary="Add a member or change their role",
        request=MemberInput,
        responses={200: MemberOutput, **ERRORS_WRITE},
    )
    def post(self, request, slug):
        """Project admins only."""
        project = project_or_404(request, slug, Role.ADMIN)
        data = body(MemberInput, request)
        membership = services.member_set(
            project=project, actor=request.user, token=request_token(request), **data
        )
        return Response(
            {
                "username": membership.user.username,
                "role": membership.role,
                "created_at": isoformat(membership.created_at),
            }
        )


class ProjectMemberApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Remove a member",
        responses={204: OpenApiResponse(description="Removed."), **ERRORS_WRITE},
    )
    def delete(self, request, slug, username):
        """Project admins only; the last admin cannot be removed (409)."""
        project = project_or_404(request, slug, Role.ADMIN)
        removed = services.member_remove(
            project=project, username=username, actor=request.user, token=request_token(request)
        )
        if not removed:
            raise NotFound(f"'{username}' is not a member of this project.")
        return Response(status=status.HTTP_204_NO_CONTENT)
