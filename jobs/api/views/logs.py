"""Log lines of a job: paged reads and ingest."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_JOB_WRITE,
    ApiView,
    JobWriteMixin,
    body,
    job_or_404,
    query_params,
)
from jobs.api.serializers.inputs import LogsBatchInput
from jobs.api.serializers.outputs import AcceptedOutput, LogPageOutput
from jobs.api.serializers.queries import LogsQuery


class JobLogsApi(JobWriteMixin, ApiView):
    @extend_schema(
        summary="Log lines",
        parameters=[LogsQuery],
        responses={200: LogPageOutput, **ERRORS_JOB_READ},
    )
    def get(self, request, uid):
        """`{"job", "lines": [{"seq", "time", "level", "message"}], "next_after_seq",
        "last_seq"}` in seq order.

        `level` keeps that level and above; `q` filters messages (case-insensitive);
        `limit` default 500, at most 5000; `tail=true` gives the newest `limit` lines.
        `next_after_seq` is set when the page is full (ask again with it as `after_seq`);
        `last_seq` is where to poll from for new lines."""
        job = job_or_404(uid, request)
        params = query_params(LogsQuery, request)
        page = selectors.log_page(
            job=job,
            after_seq=params.get("after_seq"),
            level=params.get("level"),
            q=params.get("q"),
            limit=params["limit"],
            tail=params["tail"],
        )
        return Response({"job": job.uid, **page})

    @extend_schema(
        summary="Report log lines",
        request=LogsBatchInput,
        responses={200: AcceptedOutput, **ERRORS_JOB_WRITE},
    )
    def post(self, request, uid):
        """Store lines with new seqs (known seqs are ignored): `{"accepted": new lines}`."""
        job = self.job_for_write(request, uid)
        data = body(LogsBatchInput, request)
        return Response({"accepted": services.logs_ingest(job=job, lines=data["lines"])})
