"""Bring a backup made by `manage.py backup` into an empty database."""

from django.core.management.base import BaseCommand, CommandError

from jobs.core.backup import KINDS, BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore the backup at PATH (made by `manage.py backup`) into the configured "
        "database, which must be empty: a new TUNEBOARD_DATA_DIR on SQLite, a new "
        "database on PostgreSQL. Run `manage.py migrate` afterwards when this Tuneboard "
        "is newer than the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", help="The backup file to restore.")
        parser.add_argument(
            "--pg-restore",
            default="pg_restore",
            metavar="PROGRAM",
            help="The pg_restore to run (PostgreSQL; at least the version that made PATH).",
        )

    def handle(self, *args, path, pg_restore, **options):
        try:
            backup = backup_restore(path=path, pg_restore=pg_restore)
        except BackupError as error:
            raise CommandError(f"restore: {error}") from None
        self.stdout.write(
            f"Restored {backup.path} into the {KINDS[backup.kind]} database "
            f"in {backup.seconds:.1f} s."
        )
