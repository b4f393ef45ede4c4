"""Sample generations and checkpoints: POST and GET /api/jobs/{uid}/samples,
/samples/prompts, /samples/export and /checkpoints."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs import events, services
from jobs.models import Checkpoint, Sample
from tests.factories import make_job, make_token, make_user

pytestmark = pytest.mark.django_db

URL = "/api/jobs/run-1/samples"
CKPT = "/api/jobs/run-1/checkpoints"


@pytest.fixture
def job():
    return make_job(uid="run-1", status="running")


def post(client, body, url=URL):
    return client.post(url, body, format="json")


def generations(step, prompts=("Summarise: the cat sat.", "Translate: bonjour")):
    return [{"prompt": p, "output": f"{p[:9]} answer at {step}"} for p in prompts]


def test_samples_are_stored_per_prompt_and_step(token_client, job):
    response = post(token_client, {"step": 10, "samples": generations(10)})
    assert response.status_code == 200 and response.json() == {"accepted": 2, "ignored": 0}
    post(token_client, {"step": 20, "samples": generations(20)})
    assert Sample.objects.filter(job=job).count() == 4
    page = token_client.get(URL, {"prompt": "Translate: bonjour"}).json()
    assert [(s["step"], s["output"]) for s in page["results"]] == [
        (10, "Translate answer at 10"),
        (20, "Translate answer at 20"),
    ]
    assert page["next"] is None and page["last_step"] == 20


def test_a_resent_sample_is_ignored_and_never_overwrites(token_client, job):
    post(token_client, {"step": 10, "samples": generations(10)})
    again = post(
        token_client,
        {"step": 10, "samples": [{"prompt": "Translate: bonjour", "output": "something else"}]},
    )
    assert again.status_code == 200 and again.json() == {"accepted": 0, "ignored": 1}
    stored = Sample.objects.get(job=job, prompt="Translate: bonjour", step=10)
    assert stored.output == "Translate answer at 10"
    # The same batch re-sent whole (a retry) stores nothing more.
    retry = post(token_client, {"step": 10, "samples": generations(10)})
    assert retry.json() == {"accepted": 0, "ignored": 2}
    assert Sample.objects.filter(job=job).count() == 2


def test_a_sample_may_carry_its_own_step_and_reference_score_meta(token_client, job):
    body = {
        "samples": [
            {
                "prompt": "Q",
                "output": "A",
                "reference": "A!",
                "score": 0.5,
                "meta": {"tokens": 3},
                "step": 7,
            }
        ]
    }
    assert post(token_client, body).status_code == 200
    (sample,) = token_client.get(URL).json()["results"]
    assert sample["reference"] == "A!" and sample["score"] == 0.5
    assert sample["meta"] == {"tokens": 3} and sample["step"] == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt", "p" * 65_537),
        ("output", "o" * 65_537),
        ("reference", "r" * 65_537),
        ("meta", {"blob": "m" * 17_000}),
        ("score", "high"),
        ("prompt", ""),
    ],
)
def test_a_field_beyond_its_limit_is_named_and_nothing_is_stored(token_client, job, field, value):
    samples = [*generations(1), {"prompt": "Q", "output": "A", field: value}]
    response = post(token_client, {"step": 1, "samples": samples})
    assert response.status_code == 400
    assert field in response.json()["samples"]["2"]
    assert Sample.objects.count() == 0


def test_more_than_200_samples_in_one_batch_is_refused(token_client, job):
    samples = [{"prompt": f"p{i}", "output": "o"} for i in range(201)]
    response = post(token_client, {"step": 1, "samples": samples})
    assert response.status_code == 400 and "samples" in response.json()
    assert "200" in str(response.json()["samples"])


def test_a_missing_step_is_named(token_client, job):
    response = post(token_client, {"samples": [{"prompt": "Q", "output": "A"}]})
    assert response.status_code == 400 and "step" in response.json()["samples"]["0"]


def test_pages_follow_next_links_in_step_order(token_client, job):
    for step in range(5):
        services.samples_ingest(job=job, step=step, samples=generations(step))
    seen, url = [], f"{URL}?limit=3"
    while url:
        page = token_client.get(url).json()
        seen += [(s["step"], s["prompt"][:5]) for s in page["results"]]
        url = page["next"]
    assert len(seen) == 10 and [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert len(set(seen)) == 10


def test_since_step_and_step_filter(token_client, job):
    for step in (10, 20, 30):
        services.samples_ingest(job=job, step=step, samples=generations(step))
    later = token_client.get(URL, {"since_step": 10}).json()["results"]
    assert {s["step"] for s in later} == {20, 30}
    at = token_client.get(URL, {"step": 20}).json()["results"]
    assert {s["step"] for s in at} == {20} and len(at) == 2


def test_the_prompt_list_counts_each_prompt_with_its_steps_and_mean_scores(token_client, job):
    for step in (10, 20):
        services.samples_ingest(
            job=job,
            step=step,
            samples=[
                {"prompt": "A" * 300, "output": "x", "score": step / 10, "reference": "y"},
                {"prompt": "B", "output": "x", "score": step / 20},
            ],
        )
    body = token_client.get(f"{URL}/prompts").json()
    first, second = body["prompts"]
    assert first["prompt"] == "A" * 200 and first["prompt_chars"] == 300
    assert first["samples"] == 2 and first["first_step"] == 10 and first["last_step"] == 20
    assert first["has_reference"] and not second["has_reference"]
    assert body["steps"] == [10, 20]
    assert first["scored"] and second["scored"]
    scores = token_client.get(f"{URL}/scores").json()["scores"]
    assert scores == [[10, pytest.approx(0.75)], [20, pytest.approx(1.5)]]
    one = token_client.get(URL, {"prompt_hash": second["prompt_hash"]}).json()["results"]
    assert {s["prompt"] for s in one} == {"B"}


def test_a_job_outside_the_readers_projects_answers_404(api_client):
    owner = make_user("owner")
    closed = services.project_create(name="Closed", creator=owner)
    job = make_job(uid="run-1", status="running", project=closed)
    services.samples_ingest(job=job, step=1, samples=generations(1))
    _, secret = make_token(make_user("outsider"), name="t")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for path in (URL, f"{URL}/prompts", f"{URL}/scores", f"{URL}/export", CKPT):
        assert api_client.get(path).status_code == 404, path
    body = {"step": 2, "samples": generations(2)}
    assert post(api_client, body).status_code == 404
    assert post(api_client, {"step": 1, "path": "x"}, CKPT).status_code == 404
    assert Sample.objects.count() == 2


def test_samples_are_pushed_to_the_jobs_viewers_without_their_texts(
    job, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.job_group("run-1"), channel)
    with django_capture_on_commit_callbacks(execute=True):
        services.samples_ingest(job=job, step=5, samples=[{"prompt": "Q", "output": "A" * 5000}])

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(receive)()["payload"]
    assert message["type"] == events.SAMPLES
    (brief,) = message["samples"]
    assert brief["step"] == 5 and brief["prompt"] == "Q" and "output" not in brief


def test_samples_export_as_json_and_csv(token_client, job):
    services.samples_ingest(job=job, step=1, samples=[{"prompt": "Q, q", "output": 'say "hi"'}])
    as_json = token_client.get(f"{URL}/export?format=json")
    items = json.loads(b"".join(as_json.streaming_content))
    assert items[0]["prompt"] == "Q, q" and items[0]["output"] == 'say "hi"'
    as_csv = b"".join(token_client.get(f"{URL}/export?format=csv").streaming_content).decode()
    assert as_csv.splitlines()[0] == "step,prompt,output,reference,score,meta,time"
    assert '1,"Q, q","say ""hi""",,,,' in as_csv


# --- checkpoints ---------------------------------------------------------------------


def test_a_checkpoint_is_recorded_once_per_step_and_listed(token_client, job):
    body = {"step": 100, "path": "out/checkpoint-100", "size": 1234, "metrics": {"val/loss": 0.5}}
    first = post(token_client, body, CKPT)
    assert first.status_code == 201
    assert first.json()["path"] == "out/checkpoint-100"
    again = post(token_client, body, CKPT)
    assert again.status_code == 200
    post(token_client, {"step": 50, "path": "out/checkpoint-50"}, CKPT)
    listed = token_client.get(CKPT).json()
    assert [(c["step"], c["size"]) for c in listed] == [(50, None), (100, 1234)]
    assert listed[1]["metrics"] == {"val/loss": 0.5} and listed[1]["time"]
    assert Checkpoint.objects.filter(job=job).count() == 2


def test_a_re_reported_checkpoint_gains_size_and_metrics(token_client, job):
    post(token_client, {"step": 10, "path": "c10", "metrics": {"val/loss": 1.0}}, CKPT)
    post(token_client, {"step": 10, "path": "c10", "size": 9, "metrics": {"val/acc": 0.7}}, CKPT)
    (stored,) = token_client.get(CKPT).json()
    assert stored["size"] == 9 and stored["metrics"] == {"val/loss": 1.0, "val/acc": 0.7}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "x"}, "step"),
        ({"step": 1}, "path"),
        ({"step": 1, "path": "x" * 1025}, "path"),
        ({"step": 1, "path": "x", "size": -1}, "size"),
        ({"step": 1, "path": "x", "metrics": {"val/loss": "low"}}, "metrics"),
    ],
)
def test_a_bad_checkpoint_is_named(token_client, job, body, field):
    response = post(token_client, body, CKPT)
    assert response.status_code == 400 and field in response.json()
    assert Checkpoint.objects.count() == 0
