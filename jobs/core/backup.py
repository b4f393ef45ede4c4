"""Backups of the whole database while the server runs, and their restore into an empty one.

SQLite: the online backup API copies every page in one step, under one read
transaction, so the copy is a single moment even while the server commits batches (WAL
lets writers go on meanwhile). The backup is a plain SQLite file.

PostgreSQL: `pg_dump --format=custom`, which reads every table in one snapshot;
`pg_restore` brings it back in a single transaction, all or nothing.

A backup is written beside its final name and renamed once complete, so a file with
the final name is always a whole backup. A restore refuses a database that holds any
table: it never merges into, or overwrites, a live one.

Only Django's database connection and the standard library: this module knows no
Tuneboard table.
"""

import os
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"
KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says what to do instead."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    kind: str  # "sqlite" or "postgresql"
    size_bytes: int
    seconds: float


def backup_create(*, path, pg_dump="pg_dump", using=DEFAULT_DB_ALIAS):
    """Write a consistent snapshot of the database to `path`, a file that must not exist."""
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} already exists; a backup never overwrites a file")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory")
    connection = connections[using]
    kind = _kind(connection)
    partial = path.with_name(f".{path.name}.partial")
    started = time.monotonic()
    try:
        if kind == "sqlite":
            _sqlite_backup(connection, partial)
        else:
            _pg_dump(connection, partial, pg_dump)
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupFile(path, kind, path.stat().st_size, time.monotonic() - started)


def backup_restore(*, path, pg_restore="pg_restore", using=DEFAULT_DB_ALIAS):
    """Bring the backup at `path` into the configured database, which must hold no table."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    connection = connections[using]
    kind = _kind(connection)
    archive = _archive_kind(path)
    if archive is None:
        raise BackupError(
            f"{path} is neither a SQLite database nor a pg_dump archive in custom format"
        )
    if archive != kind:
        raise BackupError(
            f"{path} is a {KINDS[archive]} backup, but this Tuneboard uses {KINDS[kind]}; "
            f"restore it with the settings it was taken with"
            + (" (DATABASE_URL)" if archive == "postgresql" else " (no DATABASE_URL)")
        )
    tables = connection.introspection.table_names()
    if tables:
        where = (
            "point TUNEBOARD_DATA_DIR (or SQLITE_PATH) at a new directory"
            if kind == "sqlite"
            else "create a new database (createdb) and point DATABASE_URL at it"
        )
        raise BackupError(
            f"the database {connection.settings_dict['NAME']} is not empty "
            f"({len(tables)} tables); a restore goes only into an empty one: {where}"
        )
    started = time.monotonic()
    connection.close()  # the restore changes the schema under it
    if kind == "sqlite":
        _sqlite_restore(path, connection.settings_dict["NAME"])
    else:
        _pg_restore(connection, path, pg_restore)
    connection.close()
    return BackupFile(path, kind, path.stat().st_size, time.monotonic() - started)


def _kind(connection):
    if connection.vendor not in KINDS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {connection.vendor}")
    return connection.vendor


def _archive_kind(path):
    with open(path, "rb") as file:
        head = file.read(len(SQLITE_HEADER))
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_CUSTOM_HEADER):
        return "postgresql"
    return None


def _sqlite_backup(connection, target_path):
    connection.ensure_connection()
    target = sqlite3.connect(target_path)
    try:
        # All pages in one step: one read transaction, one moment. Copied in steps, each
        # commit by the server would restart the copy, forever under continuous ingest.
        connection.connection.backup(target, pages=-1)
        # A single self-contained file: no -wal or -shm needed beside it.
        target.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        target.close()


def _sqlite_restore(path, database_path):
    source = sqlite3.connect(path)
    try:
        (verdict,) = source.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"{path} is damaged: {verdict}")
        target = sqlite3.connect(database_path)
        try:
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL").fetchone()
        finally:
            target.close()
    finally:
        source.close()


def _pg_environment(connection):
    """The environment that points libpq programs at Django's database, password included."""
    settings_dict = connection.settings_dict
    _, env = connection.client.settings_to_cmd_args_env(settings_dict, [])
    env = {**os.environ, **(env or {})}
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return env


def _pg_major_version(program, option):
    try:
        # The program is the operator's own choice (--pg-dump), run without a shell.
        result = subprocess.run(  # noqa: S603
            [program, "--version"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise BackupError(
            f"cannot run {program} ({error}); install the PostgreSQL client programs "
            f"(postgresql-client) of the server's version, or name one with {option}"
        ) from None
    match = re.search(r"\)\s*(\d+)", result.stdout)  # "pg_dump (PostgreSQL) 15.20 (…)"
    if not match:
        raise BackupError(f"cannot read the version of {program}: {result.stdout.strip()!r}")
    return int(match.group(1))


def _pg_dump(connection, target_path, program):
    connection.ensure_connection()
    server = connection.pg_version // 10000
    client = _pg_major_version(program, "--pg-dump")
    if client < server:
        # pg_dump refuses a newer server; say which client is needed instead.
        raise BackupError(
            f"{program} is version {client} and the server runs PostgreSQL {server}: "
            f"pg_dump must be at least the server's version. Install "
            f"postgresql-client-{server} and pass its pg_dump with --pg-dump"
        )
    _pg_run(
        [program, "--format=custom", "--file", str(target_path), connection.settings_dict["NAME"]],
        connection,
    )


def _pg_restore(connection, path, program):
    _pg_major_version(program, "--pg-restore")
    _pg_run(
        [
            program,
            "--exit-on-error",
            "--single-transaction",
            # Owned by, and granted as, the user this Tuneboard connects as.
            "--no-owner",
            "--no-privileges",
            "--dbname",
            connection.settings_dict["NAME"],
            str(path),
        ],
        connection,
    )


def _pg_run(command, connection):
    result = subprocess.run(  # noqa: S603 (no shell; the operator's own program)
        command, env=_pg_environment(connection), capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise BackupError(
            f"{Path(command[0]).name} failed (exit {result.returncode}): {result.stderr.strip()}"
        )
