"""Saved views of the runs table: list and save your own, delete one.

Any signed-in user (session with CSRF, or token) keeps their own views; a view's URL
(`/runs?view=<id>`) opens it for anyone who may read the jobs.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import ERRORS_READ, ERRORS_WRITE, ApiView, body
from jobs.api.serializers.saved_views import SavedViewInput, SavedViewOutput
from jobs.core.values import isoformat


class SignedIn(permissions.BasePermission):
    message = "Sign in or send an API token."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


def saved_view_payload(view):
    return {
        "id": view.pk,
        "name": view.name,
        "query": view.query,
        "columns": view.columns,
        "sort": view.sort,
        "group_by": view.group_by,
        "url": f"/runs?view={view.pk}",
        "created_at": isoformat(view.created_at),
    }


class SavedViewListApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Your saved views", responses={200: SavedViewOutput(many=True), **ERRORS_READ}
    )
    def get(self, request):
        """Your saved runs-table views, by name."""
        return Response([saved_view_payload(v) for v in selectors.saved_views_of(request.user)])

    @extend_schema(
        summary="Save a view",
        request=SavedViewInput,
        responses={
            201: OpenApiResponse(SavedViewOutput, description="Created."),
            200: OpenApiResponse(SavedViewOutput, description="Your view of this name, replaced."),
            **ERRORS_WRITE,
        },
    )
    def post(self, request):
        """Save a query with its columns, sort and grouping under a name. A query that
        cannot be read answers 400 `{"query": ["…expected …"], "position": N}`."""
        data = body(SavedViewInput, request)
        view, created = services.saved_view_save(owner=request.user, **data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(saved_view_payload(view), status=code)


class SavedViewApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Delete a saved view",
        responses={
            204: None,
            404: OpenApiResponse(description="No such view."),
            409: OpenApiResponse(description="Another user's view."),
        },
    )
    def delete(self, request, view_id):
        """Delete one of your views."""
        if not services.saved_view_delete(owner=request.user, view_id=view_id):
            raise NotFound(f"No saved view {view_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)
