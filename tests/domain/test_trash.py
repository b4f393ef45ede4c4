"""Managing jobs in the domain: the trash (delete, restore, the purge in batches with the
time injected), bulk actions in one transaction, renaming, and the audit trail of each."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from jobs import selectors, services
from jobs.core.validation import Conflict, InvalidInput
from jobs.models import (
    AuditEvent,
    Job,
    LogEntry,
    MetricPoint,
    MetricRollup,
    MetricSummary,
    Sample,
    Stage,
)
from jobs.query import query_apply
from monitoring.models import ResourceSample
from tests.factories import add_logs, add_samples, ingest_points, make_job, make_user, sample

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin(db):
    return make_user("trash-admin", is_superuser=True)


def _owned_counts(job_id):
    return {
        "points": MetricPoint.objects.filter(job_id=job_id).count(),
        "rollups": MetricRollup.objects.filter(job_id=job_id).count(),
        "summaries": MetricSummary.objects.filter(job_id=job_id).count(),
        "logs": LogEntry.objects.filter(job_id=job_id).count(),
        "samples": Sample.objects.filter(job_id=job_id).count(),
        "resources": ResourceSample.objects.filter(job_id=job_id).count(),
        "stages": Stage.objects.filter(job_id=job_id).count(),
    }


def _full_job(uid):
    job = make_job(uid=uid, status="running", step=5)
    ingest_points(job, 120)
    ingest_points(job, 40, key="val/loss")
    add_logs(job, 30)
    services.samples_ingest(job=job, step=10, samples=[{"prompt": "p", "output": "o"}])
    add_samples("gpu-trash", [sample(), sample()], job=job)
    return job


def test_a_deleted_job_leaves_every_list_query_page_and_statistic(admin):
    kept = make_job(uid="kept", status="completed")
    gone = make_job(uid="gone", status="completed", tags=["x"])
    services.job_trash(job=gone, actor=admin)
    assert list(selectors.jobs_in(None).values_list("uid", flat=True)) == ["kept"]
    assert selectors.job_by_uid("gone") is None
    assert selectors.job_by_uids(["gone", "kept"]) == {"kept": kept}
    assert set(query_apply(selectors.jobs_in(None), "tag:x OR status:completed")) == {kept}
    assert selectors.job_statistics(per_day=False)["total"] == 1
    assert [j.uid for j in selectors.past_jobs_queryset()] == ["kept"]
    assert selectors.job_filter_options()[1] == []
    assert [j.uid for j in selectors.jobs_in_trash(None)] == ["gone"]


def test_restoring_a_job_brings_it_back_and_both_moves_are_audited(admin):
    job = make_job(uid="back", status="completed")
    services.job_trash(job=job, actor=admin)
    services.job_restore(job=job, actor=admin)
    assert selectors.job_by_uid("back") is not None
    assert not selectors.jobs_in_trash(None).exists()
    actions = list(
        AuditEvent.objects.filter(job_uid="back").order_by("pk").values_list("action", "actor")
    )
    assert actions[-2:] == [("job.delete", admin.pk), ("job.restore", admin.pk)]


def test_deleting_twice_records_one_deletion(admin):
    job = make_job(uid="twice")
    services.job_trash(job=job, actor=admin, now=T0)
    services.job_trash(job=job, actor=admin, now=T0 + timedelta(days=3))
    job.refresh_from_db()
    assert job.deleted_at == T0
    assert AuditEvent.objects.filter(job_uid="twice", action="job.delete").count() == 1


def test_a_job_is_purged_with_everything_it_owns_only_after_thirty_days(admin):
    job = _full_job("purged")
    other = _full_job("other")
    before_other = _owned_counts(other.pk)
    assert all(before_other.values())
    services.job_trash(job=job, actor=admin, now=T0)

    early = services.trash_purge(now=T0 + timedelta(days=29, hours=23))
    assert early["jobs"] == [] and early["rows"] == 0
    assert Job.objects.filter(pk=job.pk).exists()

    done = services.trash_purge(now=T0 + timedelta(days=30))
    assert done["jobs"] == ["purged"]
    assert not Job.objects.filter(pk=job.pk).exists()
    assert set(_owned_counts(job.pk).values()) == {0}
    assert _owned_counts(other.pk) == before_other
    purge = AuditEvent.objects.get(job_uid="purged", action="job.purge")
    assert purge.job_id is None  # the job is gone; its uid stays in the trail


def test_the_purge_works_in_bounded_batches_and_resumes_where_it_stopped(admin):
    job = _full_job("batched")
    services.job_trash(job=job, actor=admin, now=T0)
    after = T0 + timedelta(days=31)
    first = services.trash_purge(now=after, batch_size=25, max_batches=3)
    assert first["batches"] == 3 and first["rows"] == 75 and first["jobs"] == []
    assert MetricPoint.objects.filter(job_id=job.pk).count() == 160 - 75
    rest = services.trash_purge(now=after, batch_size=25)
    assert rest["jobs"] == ["batched"] and rest["done"]
    # Every batch deleted at most its size: points, rollups, logs... in more batches.
    assert rest["batches"] >= (160 - 75) // 25
    assert not Job.objects.filter(pk=job.pk).exists()


def test_a_job_past_its_thirty_days_cannot_be_restored(admin):
    job = make_job(uid="late")
    services.job_trash(job=job, actor=admin, now=T0)
    with pytest.raises(Conflict):
        services.job_restore(job=job, actor=admin, now=T0 + timedelta(days=30, seconds=1))
    services.job_restore(job=job, actor=admin, now=T0 + timedelta(days=29))
    assert selectors.job_by_uid("late") is not None


def test_reporting_under_the_uid_of_a_deleted_job_is_a_conflict(admin):
    job = make_job(uid="reused")
    services.job_trash(job=job, actor=admin)
    with pytest.raises(Conflict, match="trash"):
        services.job_create(uid="reused", name="again")


def test_the_purge_command_takes_the_time_it_runs_at(admin):
    job = _full_job("by-command")
    services.job_trash(job=job, actor=admin, now=T0)
    out = StringIO()
    call_command("purge_trash", now=(T0 + timedelta(days=10)).isoformat(), stdout=out)
    assert "Purged 0 job(s)" in out.getvalue()
    assert Job.objects.filter(pk=job.pk).exists()
    call_command(
        "purge_trash",
        now=(T0 + timedelta(days=30)).isoformat(),
        batch_size=50,
        duty=1.0,
        stdout=out,
    )
    assert "Purged 1 job(s)" in out.getvalue() and "by-command" in out.getvalue()
    assert not Job.objects.filter(pk=job.pk).exists()


# --- bulk actions ------------------------------------------------------------------------


def test_bulk_tags_archive_and_delete_change_each_job_and_audit_it(admin):
    a, b = make_job(uid="b-a", tags=["keep"]), make_job(uid="b-b")
    assert services.jobs_bulk(jobs=[a, b], action="add_tag", tag="sweep", actor=admin) == 2
    assert services.jobs_bulk(jobs=[a, b], action="add_tag", tag="sweep", actor=admin) == 0
    a.refresh_from_db()
    assert a.tags == ["keep", "sweep"]
    assert set(query_apply(selectors.jobs_in(None), "tag:sweep")) == {a, b}
    services.jobs_bulk(jobs=[a], action="remove_tag", tag="keep", actor=admin)
    a.refresh_from_db()
    assert a.tags == ["sweep"]
    services.jobs_bulk(jobs=[a, b], action="archive", actor=admin)
    assert not query_apply(selectors.jobs_in(None), "tag:sweep").exists()
    assert set(query_apply(selectors.jobs_in(None), "archived:true tag:sweep")) == {a, b}
    services.jobs_bulk(jobs=[b], action="unarchive", actor=admin)
    services.jobs_bulk(jobs=[b], action="delete", actor=admin)
    assert selectors.job_by_uid("b-b") is None
    actions = set(AuditEvent.objects.filter(job_uid="b-b").values_list("action", flat=True))
    assert {"job.tags", "job.archive", "job.unarchive", "job.delete"} <= actions


def test_bulk_move_puts_the_jobs_in_the_other_project(admin):
    target = services.project_create(name="Target", creator=admin)
    job = make_job(uid="mover")
    services.jobs_bulk(jobs=[job], action="move", project=target, actor=admin)
    job.refresh_from_db()
    assert job.project_id == target.pk
    move = AuditEvent.objects.get(job_uid="mover", action="job.move")
    assert move.detail["to_slug"] == "target"


def test_a_bulk_action_failing_on_one_job_changes_none(admin):
    full = make_job(uid="full", tags=[f"t{i}" for i in range(32)])
    other = make_job(uid="fine")
    with pytest.raises(InvalidInput) as error:
        services.jobs_bulk(jobs=[other, full], action="add_tag", tag="one-more", actor=admin)
    assert "tag" in error.value.detail
    other.refresh_from_db()
    assert other.tags == []
    assert not AuditEvent.objects.filter(job_uid="fine", action="job.tags").exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "explode"}, "action"),
        ({"action": "add_tag"}, "tag"),
        ({"action": "add_tag", "tag": "a,b"}, "tag"),
        ({"action": "move"}, "project"),
    ],
)
def test_a_bad_bulk_action_names_the_field(admin, kwargs, field):
    job = make_job(uid="untouched")
    with pytest.raises(InvalidInput) as error:
        services.jobs_bulk(jobs=[job], actor=admin, **kwargs)
    assert field in error.value.detail


# --- rename and description ---------------------------------------------------------------


def test_renaming_a_job_is_stored_audited_and_pushed(admin, django_capture_on_commit_callbacks):
    job = make_job(uid="named", name="old name")
    with django_capture_on_commit_callbacks() as callbacks:
        services.job_edit(job=job, name="  new name ", description="Sweep over lr.", actor=admin)
    job.refresh_from_db()
    assert (job.name, job.description) == ("new name", "Sweep over lr.")
    rename = AuditEvent.objects.get(job_uid="named", action="job.rename")
    assert rename.detail == {"from": "old name", "to": "new name"} and rename.actor == admin
    assert AuditEvent.objects.filter(job_uid="named", action="job.description").exists()
    assert callbacks, "the change is pushed after commit"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"name": "   "}, "name"), ({"name": "x" * 201}, "name"), ({}, "name")],
)
def test_a_bad_rename_names_the_field_and_changes_nothing(admin, kwargs, field):
    job = make_job(uid="same", name="same name")
    with pytest.raises(InvalidInput) as error:
        services.job_edit(job=job, actor=admin, **kwargs)
    assert field in error.value.detail
    job.refresh_from_db()
    assert job.name == "same name"
