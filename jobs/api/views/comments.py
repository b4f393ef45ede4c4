"""Comments on a job, and the notifications their mentions raise.

Members of the job's project read the thread (viewers too); editors comment; authors
edit and delete their own comments; project admins delete any. A job the caller cannot
see answers 404, a comment of another job too.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ParseError, PermissionDenied, ValidationError
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ERRORS_READ,
    ERRORS_WRITE,
    ApiView,
    job_or_404,
    request_projects,
    request_token,
)
from jobs.api.serializers.collab import (
    CommentInput,
    CommentOutput,
    MarkedOutput,
    NotificationListOutput,
    NotificationsReadInput,
)
from jobs.api.views.projects import SignedIn
from jobs.events import comment_payload
from jobs.models import Comment


def json_object(request, allowed):
    """The request's JSON object body; 400 for anything else or an unknown field."""
    data = request.data
    if not isinstance(data, dict):
        raise ParseError("Expected a JSON object.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({key: ["Unknown field."] for key in unknown})
    return data


class JobCommentsApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="A job's comments", responses={200: CommentOutput(many=True), **ERRORS_JOB_READ}
    )
    def get(self, request, uid):
        """The thread, oldest first; `html` is the body rendered as safe markdown."""
        return Response(selectors.comment_list(job_or_404(uid, request)))

    @extend_schema(
        summary="Comment on a job",
        request=CommentInput,
        responses={201: CommentOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Editors of the job's project. `@username` of a member notifies them; the
        comment is pushed to the job page's viewers."""
        job = job_or_404(uid, request)
        if not services.comment_may_write(request.user, job, request_token(request)):
            raise PermissionDenied("Commenting needs the editor role in this project.")
        data = json_object(request, ("body", "step"))
        comment = services.comment_create(
            job=job, author=request.user, body=data.get("body"), step=data.get("step")
        )
        return Response(comment_payload(comment), status=status.HTTP_201_CREATED)


# Ids past 64 bits cannot name a row (and some databases refuse to compare them).
MAX_ID = 2**62


def row_id(raw):
    """A row id from a path segment (matched as text, so that anything else gets the
    API's JSON 404 rather than the pages' HTML one), or None."""
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        return None
    return int(raw)


def id_parameter(name):
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH)


def comment_or_404(request, uid, comment_id):
    job = job_or_404(uid, request)
    comment = None
    if row_id(comment_id) is not None:
        rows = Comment.objects.select_related("job", "author")
        comment = rows.filter(job=job, pk=row_id(comment_id)).first()
    if comment is None:
        raise NotFound(f"No comment {comment_id} on job '{uid}'.")
    return comment


class JobCommentApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Edit your comment",
        parameters=[id_parameter("comment_id")],
        request=CommentInput,
        responses={200: CommentOutput, **ERRORS_JOB_WRITE},
    )
    def patch(self, request, uid, comment_id):
        """The author only; `{"step": null}` removes the step."""
        comment = comment_or_404(request, uid, comment_id)
        if not services.comment_may_edit(request.user, comment, request_token(request)):
            raise PermissionDenied("Only its author may edit a comment.")
        data = json_object(request, ("body", "step"))
        comment = services.comment_edit(
            comment=comment,
            body=data.get("body"),
            step=data.get("step"),
            clear_step="step" in data and data["step"] is None,
        )
        return Response(comment_payload(comment))

    @extend_schema(
        summary="Delete a comment",
        parameters=[id_parameter("comment_id")],
        responses={204: OpenApiResponse(description="Deleted."), **ERRORS_JOB_WRITE},
    )
    def delete(self, request, uid, comment_id):
        """Its author, or an admin of the job's project."""
        comment = comment_or_404(request, uid, comment_id)
        token = request_token(request)
        if not services.comment_may_delete(request.user, comment, token):
            raise PermissionDenied("Only its author or a project admin may delete a comment.")
        services.comment_delete(comment=comment, actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationsApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Your notifications", responses={200: NotificationListOutput, **ERRORS_READ}
    )
    def get(self, request):
        """`{"unread": n, "results": [...]}`: the newest 20, mentions in comments."""
        unread, results = selectors.notification_list(request.user, request_projects(request))
        return Response({"unread": unread, "results": results})


class NotificationsReadApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Mark notifications read",
        request=NotificationsReadInput,
        responses={200: MarkedOutput, **ERRORS_WRITE},
    )
    def post(self, request):
        """`{"ids": [...]}` marks those, an empty body all: `{"marked": n}`."""
        data = json_object(request, ("ids",)) if request.data else {}
        ids = data.get("ids")
        if ids is not None and not (
            isinstance(ids, list)
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids)
        ):
            raise ValidationError({"ids": ["Expected a list of notification ids."]})
        return Response({"marked": services.notifications_mark_read(user=request.user, ids=ids)})
