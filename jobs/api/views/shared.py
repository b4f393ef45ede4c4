"""The data a share link's page reads, under `/s/<secret>/api/…`, and nothing else.

Mirrors of the read endpoints of the job page (detail, metrics, logs, resources) and of
the comparison page (metrics), answering only for the jobs the link names. No session
or token is read here: the secret in the path is the only credential, and an unknown,
expired or revoked secret, another job's uid, or a host instead of a job answers 404.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound

from jobs.accounts.sharing import share_link_lookup, share_link_touch
from jobs.api.views.jobs import JobDetailApi
from jobs.api.views.logs import JobLogsApi
from jobs.api.views.metrics import JobMetricsApi
from jobs.api.views.resources import ResourceSeriesApi


class ShareLinkAccess(permissions.BasePermission):
    """The link in the path is active and names the job asked for."""

    def has_permission(self, request, view):
        link = share_link_lookup(view.share_secret)
        uid = view.kwargs.get("uid") or request.query_params.get("job")
        if link is None or uid not in link.uids:
            raise NotFound("Not found.")
        if link.is_comparison and not view.for_comparisons:
            raise NotFound("Not found.")
        share_link_touch(link)
        request.share_link = link
        return True


class SharedMixin:
    authentication_classes = []
    permission_classes = [ShareLinkAccess]
    http_method_names = ["get", "head", "options"]
    for_comparisons = False
    share_secret = None

    def dispatch(self, request, *args, secret=None, **kwargs):
        self.share_secret = secret
        return super().dispatch(request, *args, **kwargs)


@extend_schema(exclude=True)
class SharedJobDetailApi(SharedMixin, JobDetailApi):
    pass


@extend_schema(exclude=True)
class SharedJobMetricsApi(SharedMixin, JobMetricsApi):
    for_comparisons = True


@extend_schema(exclude=True)
class SharedJobLogsApi(SharedMixin, JobLogsApi):
    pass


@extend_schema(exclude=True)
class SharedResourceSeriesApi(SharedMixin, ResourceSeriesApi):
    def get(self, request):
        if request.query_params.get("host"):
            raise NotFound("Not found.")
        return super().get(request)
