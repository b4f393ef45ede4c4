"""Sign-in lockout (django-axes) and the client address that it and the API key on.

An account is locked after `TUNEBOARD_SIGNIN_FAILURES` wrong passwords within
`TUNEBOARD_SIGNIN_LOCKOUT_MINUTES`, from any address; a client address after
`TUNEBOARD_SIGNIN_ADDRESS_FAILURES` across all usernames. Unknown usernames are counted
and locked like real ones, so the answer never says whether an account exists. The
attempts are rows of axes' `AccessAttempt`: the admin lists them, deleting one (or
`manage.py axes_reset`) lifts the lock.
"""

import math
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Q, Sum
from django.utils import timezone


def client_address(request):
    """The address a request came from: `REMOTE_ADDR`, or, behind a reverse proxy, the
    header named by `TUNEBOARD_CLIENT_IP_HEADER` (the right-most entry of a list, the one
    the proxy itself appended). Only that header is trusted, never X-Forwarded-For by
    default: a client can send any header it likes."""
    header = settings.TUNEBOARD_CLIENT_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if entries:
            return entries[-1]
    # None when there is no address (a sign-in made in code): PostgreSQL stores
    # addresses as inet, which refuses a placeholder word.
    return request.META.get("REMOTE_ADDR") or None


def _failures(attempts):
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class SigninAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per account and a looser one per address.

    Axes compares one number with one limit (`AXES_FAILURE_LIMIT`, the account's), so an
    address's failures are scaled to the account limit: reaching
    `TUNEBOARD_SIGNIN_ADDRESS_FAILURES` counts as reaching it. One person mistyping a
    password thus locks their own account, not everyone behind the same office address.
    """

    def get_failures(self, request, credentials=None):
        username = get_client_username(request, credentials)
        threshold = request.axes_attempt_time - settings.AXES_COOLOFF_TIME
        recent = AccessAttempt.objects.filter(attempt_time__gte=threshold)
        by_account = _failures(recent.filter(username=username))
        by_address = _failures(recent.filter(ip_address=request.axes_ip_address))
        account_limit = settings.AXES_FAILURE_LIMIT
        address_limit = settings.TUNEBOARD_SIGNIN_ADDRESS_FAILURES
        return max(by_account, by_address * account_limit // address_limit)


def signin_retry_after(request, *, now=None):
    """Whole seconds (at least 1) until the lock on this request's username and address
    lifts at the latest: when the newest failure counted against either leaves the
    cool-off window."""
    now = now or timezone.now()
    cool_off = settings.AXES_COOLOFF_TIME
    username = get_client_username(request)
    newest = (
        AccessAttempt.objects.filter(Q(username=username) | Q(ip_address=client_address(request)))
        .filter(attempt_time__gte=now - cool_off)
        .aggregate(newest=Max("attempt_time"))["newest"]
    )
    left = (newest + cool_off - now) if newest else cool_off
    return max(1, math.ceil(left / timedelta(seconds=1)))
