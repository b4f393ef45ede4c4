"""The catalogue against the corpus of real failure messages (tests/diagnostics/corpus.json):
each message, as its library prints it, gets its kind of finding and at least one fix;
each kind has a near miss that does not raise it."""

import json
from pathlib import Path

import pytest

from jobs import services
from jobs.diagnostics.catalogue import KINDS, SIGNATURES, SIGNATURES_BY_ID
from jobs.diagnostics.rules import job_findings

pytestmark = pytest.mark.django_db
CORPUS = json.loads((Path(__file__).parent / "corpus.json").read_text())
CONFIG = {
    "learning_rate": 2e-4,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_seq_length": 2048,
    "fp16": True,
}


def failed_job(uid, *, type_, message, log=None, stage=None, config=None):
    job = services.job_create(
        name=uid, uid=uid, model="meta-llama/Llama-2-7b-hf", config={**CONFIG, **(config or {})}
    )[0]
    services.stage_move(job=job, stage=stage or "training", status="active")
    if log:
        services.logs_ingest(job=job, lines=[{"seq": 1, "level": "ERROR", "message": log}])
    return services.job_status_update(
        job=job,
        status="failed",
        error={"type": type_, "message": message or "", "stage": stage},
    )


def diagnose(n, entry):
    job = failed_job(
        f"corpus-{n}",
        type_=entry["type"],
        message=entry["message"],
        log=entry.get("log"),
        stage=entry.get("stage"),
        config=entry.get("config"),
    )
    return job_findings(job)


def test_every_signature_has_a_source_and_a_corpus_message():
    assert len(SIGNATURES) >= 60
    assert all(sig.source for sig in SIGNATURES)
    assert len({sig.id for sig in SIGNATURES}) == len(SIGNATURES)
    covered = {entry["signature"] for entry in CORPUS["failures"]}
    assert {sig.id for sig in SIGNATURES} - covered == set()


def test_every_kind_has_a_documentation_link():
    assert all(kind.doc.startswith("https://") for kind in KINDS.values())


def test_the_corpus_is_diagnosed_with_a_specific_finding_and_a_fix(capsys):
    misses = []
    for n, entry in enumerate(CORPUS["failures"]):
        findings = diagnose(n, entry)
        first = findings[0]
        if first.code != entry["kind"] or not first.suggested_fixes:
            misses.append((entry["signature"], entry["message"][:80], first.code))
    total = len(CORPUS["failures"])
    figure = 100 * (total - len(misses)) / total
    with capsys.disabled():
        print(f"\ncorpus: {total - len(misses)}/{total} diagnosed ({figure:.1f} %)")
    assert figure >= 95, misses
    assert misses == [], misses


@pytest.mark.parametrize(
    "entry",
    CORPUS["failures"],
    ids=[f"{e['signature']}-{i}" for i, e in enumerate(CORPUS["failures"])],
)
def test_each_message_is_recognised_by_its_own_signature(entry):
    """The row the corpus cites matches the message (robust wording); the finding names
    the row that won (an earlier row of the same kind may), its source and a stage."""
    own = SIGNATURES_BY_ID[entry["signature"]]
    text = f"{entry['type']}: {entry['message']}"
    assert own.regex.search(text) or own.regex.search(entry.get("log") or "")
    assert own.kind.code == entry["kind"]
    first = diagnose(0, entry)[0]
    assert SIGNATURES_BY_ID[first.evidence["signature"]].kind.code == entry["kind"]
    assert first.evidence["source"]
    assert first.evidence["stage"], "a failure point names a stage"


@pytest.mark.parametrize(
    "near", CORPUS["near_misses"], ids=[n["not_kind"] for n in CORPUS["near_misses"]]
)
def test_a_near_miss_does_not_raise_the_kind(near):
    job = failed_job("near", type_=near["type"], message=near["message"], log=near["log"])
    assert near["not_kind"] not in [f.code for f in job_findings(job)]


def test_every_kind_has_a_near_miss():
    assert set(KINDS) - {n["not_kind"] for n in CORPUS["near_misses"]} == set()
