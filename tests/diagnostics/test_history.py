"""Failures grouped by signature, "failed here before" with what the next successful run
changed, top failure causes, triage for unknown failures, and the API's findings equal to
the page's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import selectors, services
from jobs.diagnostics.history import config_changes, describe_changes
from jobs.diagnostics.rules import job_findings
from jobs.models import Job
from jobs.models.job import failure_signature_of

pytestmark = pytest.mark.django_db
MODEL, DATASET = "meta-llama/Llama-2-7b-hf", "tatsu-lab/alpaca"
CONFIG = {"per_device_train_batch_size": 8, "gradient_checkpointing": False, "seed": 1}


def job(uid, *, config=None, model=MODEL, dataset=DATASET):
    created = services.job_create(
        name=uid, uid=uid, model=model, dataset=dataset, config=config or dict(CONFIG)
    )[0]
    services.stage_move(job=created, stage="training", status="active")
    return created


def failed(uid, message, type_="torch.OutOfMemoryError", **kwargs):
    return services.job_status_update(
        job=job(uid, **kwargs), status="failed", error={"type": type_, "message": message}
    )


def completed(uid, **kwargs):
    return services.job_status_update(job=job(uid, **kwargs), status="completed")


OOM_A = "CUDA out of memory. Tried to allocate 1.95 GiB. GPU 0 has a total capacity of 79.14 GiB"
OOM_B = "CUDA out of memory. Tried to allocate 512.00 MiB (GPU 1; 23.69 GiB total capacity)"


# --- signatures ---


def test_two_ooms_with_different_sizes_share_a_signature():
    a = failure_signature_of("torch.OutOfMemoryError", OOM_A)
    b = failure_signature_of("torch.cuda.OutOfMemoryError", OOM_B)
    assert a == b == "OutOfMemoryError: CUDA out of memory."


def test_an_oom_and_a_nan_loss_do_not_share_a_signature():
    nan = failure_signature_of("RuntimeError", "Loss is NaN at step 1450 (train/loss=nan)")
    assert nan != failure_signature_of("torch.OutOfMemoryError", OOM_A)


def test_paths_numbers_and_ids_are_masked():
    a = failure_signature_of(
        "OSError", "[Errno 28] No space left on device: '/mnt/a/ckpt-10/x.bin'"
    )
    b = failure_signature_of(
        "OSError", "[Errno 28] No space left on device: '/data/b/ckpt-99/y.bin'"
    )
    assert a == b == "OSError: [Errno <n>] No space left on device: '<path>'"
    ids = [
        failure_signature_of("RuntimeError", f"worker {h} failed at 0x{h}")
        for h in ("3f2a9c1b7d", "9e8d7c6b5a")
    ]
    assert ids[0] == ids[1]


def test_a_missing_column_keeps_the_column_name_apart():
    assert failure_signature_of("KeyError", "'text'") != failure_signature_of(
        "KeyError", "'labels'"
    )


def test_the_signature_is_stored_when_a_job_fails_and_cleared_otherwise():
    assert failed("sig-1", OOM_A).failure_signature == "OutOfMemoryError: CUDA out of memory."
    assert completed("sig-2").failure_signature == ""


def test_earlier_failures_with_the_same_signature_are_found_newest_first():
    first = failed("oom-1", OOM_A)
    failed("nan-1", "Loss is NaN at step 3", type_="RuntimeError")
    second = failed("oom-2", OOM_B)
    third = failed("oom-3", OOM_A)
    count, earlier = selectors.failure_earlier(third)
    assert count == 2 and [j.uid for j in earlier] == [second.uid, first.uid]
    scoped = Job.objects.exclude(uid="oom-1")
    assert selectors.failure_earlier(third, jobs=scoped)[0] == 1


# --- what the next successful run changed ---


def test_config_changes_list_changed_added_and_removed_keys_but_not_the_seed():
    before = {"per_device_train_batch_size": 8, "gradient_checkpointing": False, "seed": 1, "x": 1}
    after = {"per_device_train_batch_size": 4, "gradient_checkpointing": True, "seed": 2, "y": 1}
    changes = config_changes(before, after)
    assert [c["key"] for c in changes] == [
        "gradient_checkpointing",
        "per_device_train_batch_size",
        "x",
        "y",
    ]
    assert describe_changes(changes[:2]) == (
        "gradient_checkpointing false → true and per_device_train_batch_size 8 → 4"
    )
    assert changes[2] == {"key": "x", "before": "1", "after": "unset"}


def test_the_next_successful_run_of_the_same_model_and_dataset_is_found():
    failure = failed("oom-a", OOM_A)
    completed("other-model", model="gpt2")
    completed("other-data", dataset="other")
    fixed = completed(
        "fixed", config={**CONFIG, "per_device_train_batch_size": 4, "gradient_checkpointing": True}
    )
    completed("later")
    assert selectors.failure_next_success(failure) == fixed


def test_the_failed_page_shows_earlier_failures_and_the_config_change(session_client):
    failed("oom-x", OOM_B)
    failure = failed("oom-y", OOM_A)
    completed(
        "fixed-y",
        config={**CONFIG, "per_device_train_batch_size": 4, "gradient_checkpointing": True},
    )
    html = session_client.get(f"/job/{failure.uid}").content.decode()
    assert "Failed here before" in html and "/job/oom-x" in html
    assert "per_device_train_batch_size 8 → 4" in html
    assert "gradient_checkpointing false → true" in html


# --- top failure causes ---


def test_top_failure_causes_count_signatures_of_the_last_30_days():
    for n in range(3):
        failed(f"oom-{n}", OOM_A if n % 2 else OOM_B)
    failed("nan", "Loss is NaN at step 3", type_="RuntimeError")
    old = failed("old-nan", "Loss is NaN at step 9", type_="RuntimeError")
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    top = selectors.failure_top_signatures()
    assert [(t["signature"], t["count"]) for t in top] == [
        ("OutOfMemoryError: CUDA out of memory.", 3),
        ("RuntimeError: Loss is NaN at step <n>", 1),
    ]


def test_the_dashboard_links_top_causes_to_the_filtered_list(session_client):
    failed("oom-d1", OOM_A)
    failed("nan-d1", "Loss is NaN at step 3", type_="RuntimeError")
    html = session_client.get("/").content.decode()
    assert "Top failure causes" in html
    assert "signature=OutOfMemoryError%3A%20CUDA%20out%20of%20memory." in html
    listed = session_client.get("/api/jobs", {"signature": "OutOfMemoryError: CUDA out of memory."})
    assert [j["uid"] for j in listed.json()["results"]] == ["oom-d1"]
    page = session_client.get(
        "/", {"status": "failed", "signature": "OutOfMemoryError: CUDA out of memory."}
    )
    assert "oom-d1" in page.content.decode() and "nan-d1" not in page.content.decode()


# --- triage ---


def test_an_unknown_failure_gets_triage_with_its_type_causes_and_first_error_line():
    created = job("weird")
    services.logs_ingest(
        job=created,
        lines=[
            {"seq": 1, "level": "INFO", "message": "step 10"},
            {"seq": 2, "level": "ERROR", "message": "callback on_step_end raised"},
        ],
    )
    weird = services.job_status_update(
        job=created,
        status="failed",
        error={"type": "TypeError", "message": "unsupported operand", "step": 40},
    )
    (triage,) = job_findings(weird)
    assert triage.code == "triage" and triage.severity == "warning"
    assert triage.evidence["stage"] == "training" and triage.evidence["step"] == 40
    assert triage.evidence["log"]["seq"] == 2
    assert any("signature" in fix for fix in triage.suggested_fixes)


# --- the API carries the page's findings ---


def test_the_api_findings_equal_the_page_findings(session_client, token_client):
    failure = services.job_status_update(
        job=job("api-oom"),
        status="failed",
        error={"type": "torch.OutOfMemoryError", "message": OOM_A, "step": 12},
    )
    api = token_client.get(f"/api/jobs/{failure.uid}").json()["findings"]
    page = session_client.get(f"/job/{failure.uid}").context["findings"]
    assert api == page
    assert api[0]["kind"] == "cuda_oom" and api[0]["step"] == 12
    assert api[0]["fixes"] and api[0]["evidence"]["signature"] == "torch.cuda_oom"


def test_a_queued_job_has_no_findings_in_the_api(token_client):
    queued = services.job_create(name="q", uid="q-1")[0]
    assert token_client.get(f"/api/jobs/{queued.uid}").json()["findings"] == []
