"""The second run of .ci/run points DATABASE_URL and REDIS_URL at real services.

These tests make that run prove it really used them: when the variables are set and the
service cannot be reached, they fail rather than skip.
"""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

requires_database_url = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="DATABASE_URL not set (SQLite run)"
)
requires_redis_url = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="REDIS_URL not set (in-memory channel layer run)"
)


@requires_database_url
@pytest.mark.django_db
def test_the_suite_runs_on_postgresql_when_database_url_is_set():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'NaN'::float8 <> 'NaN'::float8")


@requires_redis_url
def test_the_channel_layer_round_trips_through_redis_when_redis_url_is_set():
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "probe", "n": 1})
    assert async_to_sync(layer.receive)(channel) == {"type": "probe", "n": 1}


def test_sqlite_runs_in_wal_mode_with_immediate_transactions():
    if os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL run")
    from django.conf import settings

    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


def test_sqlite_connections_outlive_a_request_unless_they_hold_a_transaction(
    tmp_path, django_db_blocker
):
    """config.sqlite3: a closed connection goes to the next one opened on the same file,
    with foreign keys on again; one closed inside a transaction is really closed."""
    from django.db.utils import ConnectionHandler

    with django_db_blocker.unblock():  # a database of its own, not the test one
        handler = ConnectionHandler(
            {"default": {"ENGINE": "config.sqlite3", "NAME": tmp_path / "db"}}
        )
        wrapper = handler["default"]
        wrapper.ensure_connection()
        first = wrapper.connection
        first.execute("PRAGMA foreign_keys = OFF")
        wrapper.close()
        wrapper.ensure_connection()
        assert wrapper.connection is first
        assert first.execute("PRAGMA foreign_keys").fetchone() == (1,)

        first.execute("BEGIN")
        wrapper.close()
        wrapper.ensure_connection()
        assert wrapper.connection is not first
        wrapper.close()
