"""One place that turns service exceptions into API responses."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from jobs.core.validation import Conflict, InvalidInput


def api_exception_handler(exc, context):
    if isinstance(exc, InvalidInput):
        return Response(exc.detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig):
        # Django raises it when something reads `request.body` past the upload limit.
        return Response(
            {
                "detail": "Request body too large; the limit is "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (TUNEBOARD_MAX_BODY_BYTES). "
                "Send smaller batches."
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return exception_handler(exc, context)
