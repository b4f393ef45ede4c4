"""Create an API token and print it once; the database keeps only its SHA-256."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from jobs.core.validation import InvalidInput
from jobs.services import token_create


class Command(BaseCommand):
    help = (
        "Create an API token for USER and print it on its own line (shown only once). "
        "Limit it to projects with --project (else it acts in every project the user may "
        "access) and to a role with --role; scope it to jobs with --job-scope and/or "
        "--tag-prefix."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username that owns the token.")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument(
            "--job-scope",
            nargs="+",
            default=[],
            metavar="UID",
            help="Job uids the token may write to.",
        )
        parser.add_argument(
            "--tag-prefix",
            nargs="+",
            default=[],
            metavar="PREFIX",
            help="The token may write to jobs with a tag starting with PREFIX.",
        )
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="SLUG",
            help="A project the token acts in (repeat for several).",
        )
        parser.add_argument(
            "--role",
            default="editor",
            choices=["viewer", "editor", "admin"],
            help="The most the token may do in its projects (default editor: report jobs).",
        )
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Expire after this many days."
        )
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create USER (without a password) if it does not exist.",
        )

    def handle(self, *args, user, name, job_scope, tag_prefix, expires_days, create_user, **opts):
        projects, role = opts["project"], opts["role"]
        User = get_user_model()
        owner = User.objects.filter(username=user).first()
        if owner is None:
            if not create_user:
                raise CommandError(
                    f"No user '{user}'. Create it first (manage.py createsuperuser) "
                    "or pass --create-user."
                )
            owner = User.objects.create_user(username=user)
            owner.set_unusable_password()
            owner.save()
            self.stderr.write(f"Created user '{user}' (no password; API tokens only).")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            token, raw = token_create(
                user=owner,
                name=name,
                job_scope=job_scope or None,
                tag_prefixes=tag_prefix or None,
                expires_at=expires_at,
                projects=projects,
                role=role,
            )
        except InvalidInput as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.detail.items())
            raise CommandError(problems) from None
        self.stderr.write(
            f"Token '{token.name}' ({token.prefix}…) for {owner.username}; it is shown once:"
        )
        self.stdout.write(raw)
