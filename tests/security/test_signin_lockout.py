"""Guessing passwords and tokens: sign-in locks after a few failures, bad tokens get 429.

Time is injected by ageing the stored attempts, never by sleeping.
"""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import make_token, make_user

PASSWORD = "pw-for-tests-only"
LOCKED = "Too many failed sign-ins"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.TUNEBOARD_SIGNIN_FAILURES = settings.AXES_FAILURE_LIMIT = 5
    settings.TUNEBOARD_SIGNIN_ADDRESS_FAILURES = 20
    settings.TUNEBOARD_SIGNIN_LOCKOUT_MINUTES = 15
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TUNEBOARD_TOKEN_FAILURES = 10
    settings.TUNEBOARD_TOKEN_LOCKOUT_MINUTES = 5


def sign_in(client, username, password, address="203.0.113.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client):
    return "_auth_user_id" in client.session


def fail(client, username, times, address="203.0.113.7"):
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", address)
    return response


def error(response):
    """The sign-in page's error message."""
    return re.search(r'<div class="form-error" role="alert">(.*?)</div>', response.text).group(1)


def age_attempts(minutes):
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_the_fifth_wrong_password_locks_the_account_and_the_right_one_is_refused_meanwhile():
    make_user("alice", password=PASSWORD)
    client = Client()
    fourth = fail(client, "alice", 4)
    assert fourth.status_code == 200
    assert LOCKED not in fourth.text
    fifth = sign_in(client, "alice", "wrong-password")
    assert fifth.status_code == 429
    assert LOCKED in fifth.text
    assert "Try again in 15 minutes" in fifth.text
    assert 14 * 60 < int(fifth["Retry-After"]) <= 15 * 60

    right = sign_in(client, "alice", PASSWORD)
    assert right.status_code == 429
    assert LOCKED in right.text
    assert not signed_in(client)


def test_the_account_is_locked_from_every_address():
    make_user("alice", password=PASSWORD)
    fail(Client(), "alice", 5, address="203.0.113.7")
    elsewhere = Client()
    response = sign_in(elsewhere, "alice", PASSWORD, address="198.51.100.9")
    assert response.status_code == 429
    assert not signed_in(elsewhere)


def test_another_account_stays_usable_from_the_same_address():
    make_user("alice", password=PASSWORD)
    make_user("bob", password=PASSWORD)
    client = Client()
    fail(client, "alice", 5)
    response = sign_in(client, "bob", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_an_address_that_tries_many_usernames_is_locked_for_all_of_them():
    make_user("bob", password=PASSWORD)
    client = Client()
    for name in ("u1", "u2", "u3", "u4", "u5"):
        fail(client, name, 4)
    response = sign_in(client, "bob", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    other_address = Client()
    assert sign_in(other_address, "bob", PASSWORD, address="198.51.100.9").status_code == 302


def test_an_unknown_username_gets_the_same_answers_as_a_real_one():
    make_user("alice", password=PASSWORD)
    real, unknown = Client(), Client()
    real_answers = [sign_in(real, "alice", "wrong", "192.0.2.1") for _ in range(6)]
    unknown_answers = [sign_in(unknown, "nobody", "wrong", "192.0.2.2") for _ in range(6)]
    assert [a.status_code for a in real_answers] == [200, 200, 200, 200, 429, 429]
    assert [a.status_code for a in unknown_answers] == [200, 200, 200, 200, 429, 429]
    assert [error(a) for a in real_answers] == [error(a) for a in unknown_answers]
    assert [a.get("Retry-After") for a in real_answers] == [
        a.get("Retry-After") for a in unknown_answers
    ]


def test_the_lock_lifts_after_the_configured_time_and_not_before():
    make_user("alice", password=PASSWORD)
    client = Client()
    fail(client, "alice", 5)
    age_attempts(14)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    age_attempts(2)
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_tries_while_locked_do_not_extend_the_lock():
    make_user("alice", password=PASSWORD)
    client = Client()
    fail(client, "alice", 5)
    age_attempts(10)
    fail(client, "alice", 3)
    age_attempts(6)
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_an_admin_lifts_the_lock_with_axes_reset():
    make_user("alice", password=PASSWORD)
    client = Client()
    fail(client, "alice", 5)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    call_command("axes_reset_username", "alice")
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_the_admin_lists_the_locked_attempts_and_deleting_them_lifts_the_lock():
    make_user("alice", password=PASSWORD)
    admin = make_user("root", is_staff=True, is_superuser=True)
    fail(Client(), "alice", 5)
    staff = Client()
    staff.force_login(admin)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice" in listing.text
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == 5
    assert "wrong-password" not in attempt.post_data
    staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    assert sign_in(Client(), "alice", PASSWORD).status_code == 302


def test_behind_a_proxy_only_the_configured_header_names_the_client(settings):
    make_user("alice", password=PASSWORD)
    settings.TUNEBOARD_CLIENT_IP_HEADER = "X-Real-IP"
    client = Client()
    for _ in range(5):
        client.post(
            "/login/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_REAL_IP="203.0.113.50",
            HTTP_X_FORWARDED_FOR="198.51.100.1",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}


# --- bearer tokens -----------------------------------------------------------------------


def api(token, address):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_ten_invalid_tokens_from_one_address_get_429_with_retry_after_then_even_a_good_one():
    _, good = make_token(make_user("alice"))
    for _ in range(10):
        assert api("tb_made-up", "203.0.113.7").get("/api/jobs").status_code == 401
    refused = api("tb_made-up", "203.0.113.7").get("/api/jobs")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 5 * 60
    assert api(good, "203.0.113.7").get("/api/jobs").status_code == 429


def test_a_good_token_from_another_address_still_works_while_one_address_is_throttled():
    _, good = make_token(make_user("alice"))
    for _ in range(11):
        api("tb_made-up", "203.0.113.7").get("/api/jobs")
    assert api(good, "198.51.100.9").get("/api/jobs").status_code == 200
    assert api("tb_made-up", "198.51.100.9").get("/api/jobs").status_code == 401


def test_good_tokens_do_not_count_towards_the_limit():
    _, good = make_token(make_user("alice"))
    for _ in range(30):
        assert api(good, "203.0.113.7").get("/api/jobs").status_code == 200
