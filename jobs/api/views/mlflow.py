"""The MLflow tracking REST API (`/api/2.0/mlflow/…`, `/ajax-api/2.0/mlflow/…`).

HTTP only: authentication (the same bearer tokens as the native API, or a session),
the ingest throttle for writes, reading the fields MLflow's client sends (query string
for GET, JSON body otherwise) and MLflow's error shape `{"error_code", "message"}`. What
each operation does is `jobs/interop/mlflow/`.
"""

from rest_framework import exceptions
from rest_framework.response import Response

from jobs.api.http import ApiView, IngestThrottleMixin, request_token
from jobs.interop.mlflow import Caller, MlflowError, artifacts_not_stored, operation_call

# Fields MLflow's client sends as repeated query parameters.
LIST_FIELDS = {"run_ids", "experiment_ids", "order_by"}


def query_fields(query):
    data = {}
    for key in query:
        values = query.getlist(key)
        data[key] = values if key in LIST_FIELDS else values[-1]
    return data


def drf_error(exc):
    """A DRF exception (authentication, throttling, parsing, size) in MLflow's shape."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return MlflowError(str(exc.detail), "UNAUTHENTICATED"), 401
    if isinstance(exc, exceptions.PermissionDenied):
        return MlflowError(str(exc.detail), "PERMISSION_DENIED"), 403
    if isinstance(exc, exceptions.Throttled):
        return MlflowError(str(exc.detail), "REQUEST_LIMIT_EXCEEDED"), 429
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MlflowError(str(exc.detail), "ENDPOINT_NOT_FOUND"), 405
    status = getattr(exc, "status_code", 400)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return MlflowError(detail, "INVALID_PARAMETER_VALUE" if status < 500 else "INTERNAL_ERROR"), (
        status
    )


class MlflowView(IngestThrottleMixin, ApiView):
    """Every MLflow tracking operation, dispatched by its path (one table in interop)."""

    schema = None  # MLflow's API is documented by MLflow (and docs/mlflow.md), not here
    permission_classes = []  # read and write rules are the operations' own (Caller)

    def handle_exception(self, exc):
        if isinstance(exc, MlflowError):
            error, status = exc, exc.status
        elif isinstance(exc, exceptions.APIException):
            error, status = drf_error(exc)
        else:
            return super().handle_exception(exc)
        response = Response(error.payload(), status=status)
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            response["Retry-After"] = str(int(exc.wait))
        return response

    def answer(self, request, operation, data):
        caller = Caller(user=request.user, token=request_token(request))
        return Response(operation_call(caller, operation, request.method, data))

    def get(self, request, operation):
        return self.answer(request, operation, query_fields(request.query_params))

    def post(self, request, operation):
        data = request.data if isinstance(request.data, dict) else {}
        if not isinstance(request.data, dict) and request.data:
            raise MlflowError("The request body must be a JSON object.")
        return self.answer(request, operation, data)

    patch = put = delete = post


class MlflowArtifactsView(MlflowView):
    """`/api/2.0/mlflow-artifacts/…`: artifacts are not stored, said in MLflow's shape."""

    def get(self, request, operation):
        # The body (a file of any type) is never read: the answer is the same for all.
        Caller(user=request.user, token=request_token(request)).require_read()
        return artifacts_not_stored(None, {})

    post = patch = put = delete = get
