"""Create the local admin account once, with a generated password, and say how to sign in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reuse) the 'admin' account and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        secret_file = settings.DATA_DIR / f"{username}-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
            self.stdout.write(f"  Created account '{username}'.")
        elif secret_file.exists() and user.check_password(secret_file.read_text().strip()):
            password = secret_file.read_text().strip()
        else:
            self.stdout.write(
                f"  Sign in as '{username}' with the password you set "
                f"(reset it with: manage.py changepassword {username})."
            )
            return
        self.stdout.write(f"  Sign in as: {username}   password: {password}")
        self.stdout.write(f"  (kept in {secret_file}; change it with manage.py changepassword)")
