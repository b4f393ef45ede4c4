"""HTTP plumbing shared by every API view: the JSON body parser (size limit, lone
surrogates, NUL), the base view and ingest throttle, request helpers, `job_or_404`, the
documented error responses and the mapping of service exceptions to responses.
"""

import json
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView, exception_handler

from jobs.accounts.permissions import is_token, readable_project_ids
from jobs.api.serializers.outputs import DetailOutput
from jobs.core.validation import Conflict, InvalidInput
from jobs.selectors import jobs_in

# --- request body ------------------------------------------------------------------------


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def body_too_large(size, limit):
    size_text = f" ({size} bytes)" if size else ""
    return PayloadTooLarge(
        f"Request body too large{size_text}; the limit is {limit} bytes "
        "(TUNEBOARD_MAX_BODY_BYTES). Send smaller batches."
    )


class JSONBodyParser(JSONParser):
    """JSON with the NaN/Infinity tokens Python's json writes, within the body size limit.

    DRF reads the body as a stream, so Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` check never
    runs for API requests; this parser enforces it (413) before and while reading.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise body_too_large(length, limit)
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise body_too_large(None, limit)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            suspect = ESCAPED_SURROGATE.search(raw) is not None
        except UnicodeDecodeError:
            # Decoded anyway, so that the 400 can name the field holding the bad bytes.
            text, suspect = raw.decode(encoding, "surrogateescape"), True
        try:
            # json.loads accepts NaN, Infinity and -Infinity: real training values.
            data = json.loads(text)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if suspect:
            reject_surrogates(data)
        if b"\\u0000" in raw:
            data = without_nul(data)
        return data


# Invalid UTF-8 (decoded with surrogateescape) and JSON escapes like "\ud800" both end up
# as lone surrogates, which no database can store and no JSON response can carry.
SURROGATE = re.compile("[\ud800-\udfff]")
ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abAB]")
NOT_TEXT = "Not valid text: invalid UTF-8 bytes or a lone surrogate."


def _surrogate_path(data, path):
    """The path of the first string (or the object holding the first key) with a
    surrogate in `data`, or None."""
    if isinstance(data, str):
        return path if SURROGATE.search(data) else None
    if isinstance(data, dict):
        if any(SURROGATE.search(key) for key in data):
            return path
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _surrogate_path(value, (*path, str(key)))
        if found is not None:
            return found
    return None


def without_nul(data):
    """`data` with NUL characters in every string and key replaced by U+FFFD.

    PostgreSQL stores no NUL in text or jsonb (a 500 otherwise); the services already
    replace it in text fields, this covers JSON fields such as a job's `config`."""
    if isinstance(data, str):
        return data.replace("\x00", "\ufffd")
    if isinstance(data, dict):
        return {without_nul(key): without_nul(value) for key, value in data.items()}
    if isinstance(data, list):
        return [without_nul(item) for item in data]
    return data


def reject_surrogates(data):
    """Raise a 400 naming the first field (`{"points": {"0": {"key": [...]}}}`) whose
    text is not valid Unicode."""
    path = _surrogate_path(data, ())
    if path is None:
        return
    error = {path[-1]: [NOT_TEXT]} if path else {"detail": NOT_TEXT}
    for name in reversed(path[:-1]):
        error = {name: error}
    raise ParseError(error)


# --- views -------------------------------------------------------------------------------


class ApiView(APIView):
    parser_classes = [JSONBodyParser]


class IngestThrottleMixin:
    """Writes share the `ingest` rate (TUNEBOARD_INGEST_RATE); reads are not throttled."""

    throttle_scope = "ingest"

    def get_throttles(self):
        if self.request.method in SAFE_METHODS:
            return []
        return [ScopedRateThrottle()]


class JobWriteMixin(IngestThrottleMixin):
    def job_for_write(self, request, uid):
        """The job to write to; 404 if unknown, 403 if the token's scope misses it."""
        job = job_or_404(uid, request)
        self.check_object_permissions(request, job)
        return job


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """The export's `format` parameter names the file format, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def query_params(serializer_class, request):
    """Validated query parameters, or a 400 naming each bad parameter."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def body(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def request_token(request):
    """The API token the request authenticated with, or None (a session)."""
    return request.auth if is_token(request.auth) else None


def request_projects(request):
    """The ids of the projects whose jobs this request may see (None: all)."""
    return readable_project_ids(request.user, request_token(request))


def job_or_404(uid, request):
    """The job with this uid if the request may see it; else 404, whether or not it
    exists elsewhere, so other projects' jobs do not leak. A share link's request
    (`request.share_link`, views/shared.py) sees only the jobs the link names."""
    link = getattr(request, "share_link", None)
    if link is not None:
        projects = None if uid in link.uids else set()
    else:
        projects = request_projects(request)
    job = jobs_in(projects).filter(uid=uid).first()
    if job is None:
        raise NotFound(f"No job with uid '{uid}'.")
    return job


# --- errors ------------------------------------------------------------------------------

ERRORS_READ = {
    401: OpenApiResponse(DetailOutput, description="Not signed in and no token."),
    403: OpenApiResponse(DetailOutput, description="Not allowed."),
}
ERRORS_JOB_READ = {**ERRORS_READ, 404: OpenApiResponse(DetailOutput, description="Unknown job.")}
ERRORS_WRITE = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='Bad input: {"field": ["message"]}, batch items by index, '
        'or {"detail": "JSON parse error - ..."}.',
    ),
    401: OpenApiResponse(DetailOutput, description="No or invalid token."),
    403: OpenApiResponse(DetailOutput, description="Token scope does not cover the job."),
    413: OpenApiResponse(DetailOutput, description="Body over TUNEBOARD_MAX_BODY_BYTES."),
}
ERRORS_JOB_WRITE = {**ERRORS_WRITE, 404: OpenApiResponse(DetailOutput, description="Unknown job.")}


def api_exception_handler(exc, context):
    """The one place that turns service exceptions into API responses (settings'
    `EXCEPTION_HANDLER`); anything else gets DRF's own handling."""
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
