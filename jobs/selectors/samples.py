"""Reads of sample generations and checkpoints: what the samples panel shows.

The panel opens on the prompt list (one row per prompt, a grouped read of the unique
index) and the selected prompt's outputs; every other output is read only when asked
for, a page at a time, so a job with thousands of generations opens as fast as one
with ten.
"""

from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import Length, Substr

from jobs.events import SAMPLE_PREVIEW_CHARS, checkpoint_payload, sample_payload
from jobs.models import Checkpoint, Sample, prompt_hash_of

SAMPLE_PAGE_DEFAULT = 200
SAMPLE_PAGE_MAX = 1000
PROMPT_LIST_MAX = 1000
SCORE_STEPS_MAX = 2000


def sample_cursor(step, sample_id):
    return f"{step}.{sample_id}"


def sample_cursor_parse(text):
    """`(step, id)` from a cursor `"<step>.<id>"`; ValueError when it is not one."""
    step, sep, sample_id = str(text).partition(".")
    if not sep or not step.isdigit() or not sample_id.isdigit():
        raise ValueError("Not a cursor from a `next` link.")
    return int(step), int(sample_id)


def sample_page(
    *,
    job,
    prompt=None,
    prompt_hash=None,
    step=None,
    since_step=None,
    after=None,
    limit=SAMPLE_PAGE_DEFAULT,
):
    """One page of a job's generations ordered by (step, id).

    `prompt` (the exact text) or `prompt_hash` keeps one prompt; `step` keeps one
    step; `since_step` keeps later steps (live catch-up); `after` is the `(step, id)`
    of the last sample of the previous page. Returns `{"results", "next_after",
    "last_step"}`: `next_after` is set when the page is full.
    """
    samples = Sample.objects.filter(job_id=job.pk)
    if prompt is not None:
        prompt_hash = prompt_hash_of(prompt)
    if prompt_hash is not None:
        samples = samples.filter(prompt_hash=prompt_hash)
    if step is not None:
        samples = samples.filter(step=step)
    if since_step is not None:
        samples = samples.filter(step__gt=since_step)
    if after is not None:
        after_step, after_id = after
        samples = samples.filter(step__gte=after_step).exclude(step=after_step, id__lte=after_id)
    page = list(samples.order_by("step", "id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [sample_payload(sample) for sample in page],
        "next_after": sample_cursor(page[-1].step, page[-1].pk) if more else None,
        "last_step": page[-1].step if page else since_step,
    }


def sample_prompts(*, job, limit=PROMPT_LIST_MAX):
    """The prompts of a job's generations, in the order they were first logged, with
    counts and step range, and every step logged.

    `{"prompts": [{"prompt_hash", "prompt" (first 200 characters), "prompt_chars",
    "samples", "first_step", "last_step", "scored", "has_reference"}], "steps": [...],
    "truncated"}`. The groups and the steps are read from the indexes alone (no text
    is touched but the first sample of each prompt), whatever the number of samples;
    `scored` and `has_reference` are those of a prompt's first sample.
    """
    samples = Sample.objects.filter(job_id=job.pk)
    groups = list(
        samples.values("prompt_hash")
        .annotate(
            count=Count("id"),
            first_step=Min("step"),
            last_step=Max("step"),
            first_id=Min("id"),
        )
        .order_by("first_id")[: limit + 1]
    )
    truncated = len(groups) > limit
    groups = groups[:limit]
    heads = {
        row["id"]: row
        for row in Sample.objects.filter(id__in=[g["first_id"] for g in groups])
        .annotate(
            preview=Substr("prompt", 1, SAMPLE_PREVIEW_CHARS),
            chars=Length("prompt"),
            reference_chars=Length("reference"),
        )
        .values("id", "preview", "chars", "reference_chars", "score")
    }
    prompts = []
    for group in groups:
        head = heads.get(group["first_id"], {})
        prompts.append(
            {
                "prompt_hash": group["prompt_hash"],
                "prompt": head.get("preview", ""),
                "prompt_chars": head.get("chars", 0),
                "samples": group["count"],
                "first_step": group["first_step"],
                "last_step": group["last_step"],
                "scored": head.get("score") is not None,
                "has_reference": bool(head.get("reference_chars")),
            }
        )
    steps = samples.values_list("step", flat=True).distinct().order_by("step")
    return {"prompts": prompts, "steps": list(steps[:SCORE_STEPS_MAX]), "truncated": truncated}


def sample_scores(*, job):
    """`[[step, mean score of the step's scored samples]]` in step order (reads every
    score: the samples panel asks for it only when it shows the mean)."""
    by_step = (
        Sample.objects.filter(job_id=job.pk, score__isnull=False)
        .values("step")
        .annotate(mean=Avg("score"))
        .order_by("step")[:SCORE_STEPS_MAX]
    )
    return [[row["step"], row["mean"]] for row in by_step]


def checkpoint_list(*, job):
    """Every checkpoint of the job in step order (a job keeps a few dozen at most)."""
    checkpoints = Checkpoint.objects.filter(job_id=job.pk).order_by("step")
    return [checkpoint_payload(checkpoint) for checkpoint in checkpoints]


def sample_export_rows(job):
    """Every generation of the job in (step, id) order, streamed."""
    return Sample.objects.filter(job_id=job.pk).order_by("step", "id").iterator(chunk_size=500)
