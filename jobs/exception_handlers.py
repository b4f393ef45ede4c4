"""One place that turns service exceptions into API responses."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .services import Conflict, InvalidInput


def api_exception_handler(exc, context):
    if isinstance(exc, InvalidInput):
        return Response(exc.detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    return exception_handler(exc, context)
