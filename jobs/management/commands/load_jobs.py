"""Load fixture jobs: validate every record of every file, then upsert all in one go."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from jobs.services import InvalidInput, job_import, queue_renumber, validate_job_record

DEFAULT_FIXTURES = ["fixtures/current-jobs.json", "fixtures/past-jobs.json"]


def _flatten(detail, prefix=""):
    """`{"error": {"stage": ["bad"]}}` -> ["error.stage: bad"]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [f"{prefix}: {message}" for message in detail]


def fixture_records(path):
    """The job records of one fixture file; raises CommandError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    records = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise CommandError(f'{path}: expected an object with a "jobs" list')
    return records


class Command(BaseCommand):
    help = "Load fixture jobs (upsert by uid). Default: both files under fixtures/."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Fixture files (JSON).")

    def handle(self, *args, files, **options):
        files = files or [str(Path(settings.BASE_DIR) / f) for f in DEFAULT_FIXTURES]
        now = timezone.now()
        problems, cleaned, seen = [], [], {}
        for path in files:
            for index, record in enumerate(fixture_records(path)):
                label = f"{path}: record {index}"
                if isinstance(record, dict) and isinstance(record.get("uid"), str):
                    label += f" (uid {record['uid']!r})"
                    if record["uid"] in seen:
                        problems.append(f"{label}: uid: duplicated, first in {seen[record['uid']]}")
                        continue
                    seen[record["uid"]] = label
                try:
                    cleaned.append(validate_job_record(record, now))
                except InvalidInput as exc:
                    problems += [f"{label}: {line}" for line in _flatten(exc.detail)]
        if problems:
            raise CommandError("nothing was loaded:\n  " + "\n  ".join(problems))
        with transaction.atomic():
            for record in cleaned:
                job_import(record=record)
            queue_renumber()
        self.stdout.write(f"Loaded {len(cleaned)} jobs from {len(files)} file(s).")
