"""Write a consistent snapshot of the database to a file, while Tuneboard runs."""

from django.core.management.base import BaseCommand, CommandError

from jobs.core.backup import KINDS, BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write a consistent snapshot of the database to PATH (a new file), while the "
        "server runs and ingests: a SQLite database file, or on PostgreSQL a pg_dump "
        "archive in custom format. `manage.py restore PATH` brings it back."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", help="The backup file to write.")
        parser.add_argument(
            "--pg-dump",
            default="pg_dump",
            metavar="PROGRAM",
            help="The pg_dump to run (PostgreSQL; at least the server's major version).",
        )

    def handle(self, *args, path, pg_dump, **options):
        try:
            backup = backup_create(path=path, pg_dump=pg_dump)
        except BackupError as error:
            raise CommandError(f"backup: {error}") from None
        self.stdout.write(
            f"Backed up the {KINDS[backup.kind]} database to {backup.path} "
            f"({backup.size_bytes:,} bytes in {backup.seconds:.1f} s)."
        )
