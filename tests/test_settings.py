import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x9Qz" * 16,
    "ALLOWED_HOSTS": "tuneboard.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://tuneboard.example.com",
}


def manage(*args, env_extra, tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TUNEBOARD_DATA_DIR": str(tmp_path),
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_documented_production_environment_passes_the_deploy_check(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_deployment_without_tls_fails_the_deploy_check(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={**PRODUCTION_ENV, "TUNEBOARD_TLS": "0"},
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr


def test_a_bad_setting_fails_loudly_at_start(tmp_path):
    result = manage("check", env_extra={"DEBUG": "maybe"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
    result = manage("check", env_extra={"REDIS_URL": "localhost:6379"}, tmp_path=tmp_path)
    assert "REDIS_URL must start with redis://" in result.stderr


def test_a_postgresql_pool_size_bounds_the_connections_of_each_server(tmp_path):
    code = (
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['CONN_MAX_AGE'], d['OPTIONS']['pool']['max_size'])"
    )
    env = {
        "DATABASE_URL": "postgres://tuneboard@db.example:5432/tuneboard",
        "TUNEBOARD_DB_POOL_SIZE": "12",
    }
    result = manage("shell", "-c", code, env_extra=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    # Django's pool refuses persistent connections: the pool replaces them.
    assert result.stdout.split()[-2:] == ["0", "12"]
    result = manage("check", env_extra={**env, "TUNEBOARD_DB_POOL_SIZE": "-1"}, tmp_path=tmp_path)
    assert "TUNEBOARD_DB_POOL_SIZE must be at least 0" in result.stderr
