"""Alert channels, alert rules and the fired alerts of the signed-in user.

Any signed-in user (session with CSRF, or token) manages their own channels and rules;
another user's answer 404. `GET /api/alerts` lists the fired alerts of the user's rules
on jobs they may still see, newest first, with each delivery's attempts and errors.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from jobs import selectors, services
from jobs.api.http import (
    ERRORS_JOB_READ,
    ERRORS_WRITE,
    ApiView,
    body,
    job_or_404,
    request_projects,
    request_token,
)
from jobs.api.serializers.alerts import (
    ChannelInput,
    ChannelOutput,
    ChannelTestOutput,
    FiredAlertListOutput,
    FiringOutput,
    MarkReadInput,
    RuleChangeInput,
    RuleInput,
    RuleOutput,
)
from jobs.diagnostics.delivery import channel_test
from jobs.models import AlertChannel


class SignedIn(permissions.BasePermission):
    message = "Sign in or send an API token."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


class AlertChannelListApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(summary="Your alert channels", responses={200: ChannelOutput(many=True)})
    def get(self, request):
        channels = selectors.alert_channels_of(request.user)
        return Response([selectors.channel_payload(c) for c in channels])

    @extend_schema(
        summary="Create an alert channel",
        request=ChannelInput,
        responses={201: ChannelOutput, **ERRORS_WRITE},
    )
    def post(self, request):
        """A JSON webhook's answer carries its `secret`, once."""
        data = body(ChannelInput, request)
        channel, secret = services.alert_channel_create(owner=request.user, **data)
        return Response(selectors.channel_payload(channel, secret), status=status.HTTP_201_CREATED)


class AlertChannelApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Delete an alert channel",
        responses={204: OpenApiResponse(description="Deleted."), **ERRORS_WRITE},
    )
    def delete(self, request, channel_id):
        if not services.alert_channel_delete(owner=request.user, channel_id=channel_id):
            raise NotFound(f"No channel {channel_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertChannelTestApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Send a test message to an alert channel",
        request=None,
        responses={200: ChannelTestOutput, **ERRORS_WRITE},
    )
    def post(self, request, channel_id):
        """Sends now and says how it went (`ok` false with the receiver's error)."""
        channel = AlertChannel.objects.filter(owner=request.user, pk=channel_id).first()
        if channel is None:
            raise NotFound(f"No channel {channel_id}.")
        ok, detail = channel_test(channel)
        return Response({"ok": ok, "detail": detail})


class AlertRuleListApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Your alert rules and your projects' shared rules",
        responses={200: RuleOutput(many=True)},
    )
    def get(self, request):
        rules = selectors.alert_rules_of(request.user, request_projects(request))
        token = request_token(request)
        return Response([selectors.rule_payload(r, request.user, token) for r in rules])

    @extend_schema(
        summary="Create an alert rule",
        request=RuleInput,
        responses={201: RuleOutput, **ERRORS_WRITE},
    )
    def post(self, request):
        """Bad input is a 400 naming each field (`{"condition": {"op": [...]}}`); nothing
        is saved then."""
        data = body(RuleInput, request)
        rule = services.alert_rule_create(owner=request.user, token=request_token(request), **data)
        return Response(selectors.rule_payload(rule, request.user), status=status.HTTP_201_CREATED)


class AlertRuleApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Change an alert rule",
        request=RuleChangeInput,
        responses={200: RuleOutput, **ERRORS_WRITE},
    )
    def patch(self, request, rule_id):
        """Your rule, or a project rule where you are an editor or admin (a viewer gets
        403); `channels` sets only your own channels on it."""
        changes = request.data if isinstance(request.data, dict) else None
        try:
            rule = services.alert_rule_update(
                user=request.user,
                rule_id=rule_id,
                changes=changes,
                token=request_token(request),
            )
        except PermissionError as error:
            raise PermissionDenied(str(error)) from None
        if rule is None:
            raise NotFound(f"No rule {rule_id}.")
        return Response(selectors.rule_payload(rule, request.user, request_token(request)))

    @extend_schema(
        summary="Delete an alert rule",
        responses={204: OpenApiResponse(description="Deleted."), **ERRORS_WRITE},
    )
    def delete(self, request, rule_id):
        try:
            deleted = services.alert_rule_delete(
                owner=request.user, rule_id=rule_id, token=request_token(request)
            )
        except PermissionError as error:
            raise PermissionDenied(str(error)) from None
        if not deleted:
            raise NotFound(f"No rule {rule_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class FiredAlertListApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Your fired alerts, newest first",
        parameters=[OpenApiParameter("job", str, description="Only this job's (its uid).")],
        responses={200: FiredAlertListOutput, **ERRORS_JOB_READ},
    )
    def get(self, request):
        """The 50 newest, with the unread count (the bell) and each delivery's log."""
        uid = request.query_params.get("job")
        job = job_or_404(uid, request) if uid else None
        return Response(
            selectors.fired_alerts_page(request.user, request_projects(request), job=job)
        )


class FiringAlertsApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="The rules firing now, per job (the cards' badges)",
        parameters=[OpenApiParameter("job", str, description="Only this job's (its uid).")],
        responses={200: FiringOutput, **ERRORS_JOB_READ},
    )
    def get(self, request):
        """Per job uid, how many of the rules you see are firing there (an episode not
        resolved), the worst of their severities and their names."""
        uid = request.query_params.get("job")
        uids = [job_or_404(uid, request).uid] if uid else None
        jobs = selectors.firing_by_job(request.user, request_projects(request), uids)
        return Response({"jobs": jobs})


class FiredAlertReadApi(ApiView):
    permission_classes = [SignedIn]

    @extend_schema(
        summary="Mark fired alerts read",
        request=MarkReadInput,
        responses={200: OpenApiResponse(description='{"marked": n}'), **ERRORS_WRITE},
    )
    def post(self, request):
        data = body(MarkReadInput, request)
        marked = services.fired_alerts_mark_read(
            owner=request.user, ids=data.get("ids"), projects=request_projects(request)
        )
        return Response({"marked": marked})
