"""The demo simulator: drives the fixture jobs through their pipeline, live.

Running demo jobs advance through the five stages on a compressed clock (a whole job
takes a few minutes at speed 1); when one finishes, a queued one starts, so two to four
are always moving. Everything is written through `jobs.services` and
`monitoring.services`, exactly as a real reporter's data would be: the dashboard and
job screens cannot tell the difference. A job continues from where its stored history
left off (its latest step and log sequence).
"""

import logging
import math
import random
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from jobs import services
from jobs.models import FINISHED_STATUSES, STAGE_ORDER, Job, JobStatus, LogEntry, StageStatus
from monitoring.services import resource_samples_ingest

from .failures import FAILURES
from .fixtures import fixture_records
from .generations import evaluations_store
from .mockdata import GIB, Curves, learning_rate

logger = logging.getLogger(__name__)

FIXTURE_FILES = ("fixtures/current-jobs.json", "fixtures/past-jobs.json")
# Jobs the simulator created itself carry this tag, so a restart picks them up again.
SIMULATED_TAG = "simulated"
# Finished reruns kept on the dashboard; older ones are deleted as new ones are queued.
KEEP_RERUNS = 12
# Simulated seconds each stage takes at --speed 1; training's length scales with steps.
STAGE_SECONDS = {
    "dataset_loading": 8.0,
    "tokenization": 12.0,
    "validation": 15.0,
    "save_model": 8.0,
}
TRAINING_SECONDS = 150.0
# Real seconds one step() may cover after a stall (a laptop waking from sleep).
MAX_CATCH_UP = 10.0
RESOURCE_EVERY = 5.0
DEMO_HOSTS = ("gpu-node-1", "gpu-node-2", "gpu-node-3", "gpu-node-4", "gpu-node-5")
STAGE_PROGRESS = {"validation": (96.0, 98.0), "save_model": (98.0, 99.9)}


def fixture_uids():
    """Uids of the jobs in the fixture files (the jobs the demo may drive)."""

    uids = set()
    for name in FIXTURE_FILES:
        path = Path(settings.BASE_DIR) / name
        if path.exists():
            uids.update(r["uid"] for r in fixture_records(path) if isinstance(r, dict))
    return uids


@dataclass
class _Run:
    """What the simulator knows about one running job between steps."""

    uid: str
    rng: random.Random
    curves: Curves
    stage: str
    stage_elapsed: float
    step: float
    total: int
    steps_per_second: float
    log_every: int
    eval_every: int
    steps_per_epoch: float
    seq: int
    failure: dict | None = None
    resources_at: float = -math.inf
    pending_lines: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)  # (time, step, val metrics) to store
    evaluated: int = 0  # evaluations stored so far


class DemoSimulator:
    """Advances demo jobs; `step()` is one unit of work (what the daemon loop and tests call).

    `uids` limits the jobs driven (default: the fixture jobs plus those tagged
    `simulated`); jobs reported by real clients are never touched. A job fails with
    probability `fail_rate`, with one of `failure_kinds` (keys of `FAILURES`).
    """

    def __init__(
        self,
        *,
        speed=1.0,
        seed=None,
        fail_rate=0.0,
        uids=None,
        min_running=3,
        max_running=4,
        new_jobs=True,
        failure_kinds=tuple(FAILURES),
        clock=time.monotonic,
    ):
        if speed <= 0:
            raise ValueError("speed must be positive")
        if not 0 <= fail_rate <= 1:
            raise ValueError("fail_rate must be between 0 and 1")
        self.speed = speed
        self.seed = seed if seed is not None else random.randrange(2**31)
        self.fail_rate = fail_rate
        self.failure_kinds = tuple(failure_kinds)
        self.uids = set(uids) if uids is not None else fixture_uids()
        self.include_tagged = uids is None
        self.min_running = min_running
        self.max_running = max_running
        self.new_jobs = new_jobs and uids is None
        self.clock = clock
        self.rng = random.Random(self.seed)
        self.runs = {}
        self._last = None

    # -- which jobs ----------------------------------------------------------------

    def _managed(self):
        query = Q(uid__in=self.uids)
        if self.include_tagged:
            query |= Q(tags_text__contains=f",{SIMULATED_TAG},")
        return Job.objects.filter(query)

    def _job_rng(self, uid):
        return random.Random(self.seed * 1_000_003 + zlib.crc32(uid.encode()))

    # -- one unit of work ------------------------------------------------------------

    def step(self, elapsed=None):
        """Advance every running demo job by `elapsed` real seconds × speed (default: the
        time since the previous step), then start queued jobs if too few run."""
        now = self.clock()
        if elapsed is None:
            elapsed = 0.0 if self._last is None else min(MAX_CATCH_UP, now - self._last)
        self._last = now
        seconds = elapsed * self.speed
        running = list(self._managed().filter(status=JobStatus.RUNNING).order_by("id"))
        for uid in set(self.runs) - {job.uid for job in running}:
            del self.runs[uid]  # cancelled or edited elsewhere
        finished = 0
        for job in running:
            try:
                run = self.runs.get(job.uid) or self._adopt(job)
                self.runs[job.uid] = run
                self._advance(job, run, seconds)
            except services.Conflict as exc:
                # Someone else moved the job (e.g. cancelled it in the admin): let it go.
                logger.info("Leaving %s alone: %s", job.uid, exc.message)
                self.runs.pop(job.uid, None)
                finished += 1
                continue
            if job.status != JobStatus.RUNNING:
                self.runs.pop(job.uid, None)
                finished += 1
        self._fill(finished)

    # -- starting jobs ----------------------------------------------------------------

    def _fill(self, finished):
        """Start a queued job for each one that finished (up to `max_running`), and
        enough to keep `min_running` going, queueing reruns when the queue is empty."""
        running = self._managed().filter(status=JobStatus.RUNNING)
        count = running.count()
        wanted = max(self.min_running, min(self.max_running, count + finished))
        if count >= wanted:
            return
        busy = set(running.values_list("host", flat=True))
        queued = list(self._managed().filter(status=JobStatus.QUEUED).order_by("queue_position"))
        while count < wanted:
            if not queued:
                if not self.new_jobs or count >= self.min_running:
                    return
                queued.append(self._enqueue_copy())
            job = queued.pop(0)
            host = job.host or next((h for h in DEMO_HOSTS if h not in busy), DEMO_HOSTS[0])
            busy.add(host)
            services.job_status_update(job=job, host=host, step=0, epoch=0)
            services.stage_move(job=job, stage=STAGE_ORDER[0], status=StageStatus.ACTIVE)
            job.refresh_from_db()
            self.runs[job.uid] = self._adopt(job)
            self._log(job, self.runs[job.uid], "INFO", f"Tuneboard run {job.uid} on host {host}")
            count += 1

    def _enqueue_copy(self):
        """A new queued demo job modelled on a finished fixture job."""
        models = list(
            self._managed()
            .filter(status=JobStatus.COMPLETED)
            .exclude(tags_text__contains=f",{SIMULATED_TAG},")
        ) or list(self._managed().exclude(status=JobStatus.RUNNING))
        model = self.rng.choice(models)
        base = model.uid[:50]
        job, _ = services.job_create(
            name=f"{base} (rerun)",
            uid=f"{base}-r{self.rng.randrange(16**4):04x}",
            model=model.base_model,
            dataset=model.dataset,
            tags=[*[t for t in model.tags if t != SIMULATED_TAG][:31], SIMULATED_TAG],
            config=model.config,
            total_steps=model.total_steps or 1000,
            total_epochs=model.total_epochs,
        )
        self._prune_reruns()
        return job

    def _prune_reruns(self):
        """Keep the newest KEEP_RERUNS finished reruns, so a long demo stays bounded."""
        finished = (
            self._managed()
            .filter(tags_text__contains=f",{SIMULATED_TAG},", status__in=FINISHED_STATUSES)
            .order_by("-finished_at")[KEEP_RERUNS:]
        )
        for job in finished:
            services.job_delete(job=job)

    def _adopt(self, job):
        """Build the in-memory state of a running job from what is stored."""
        rng = self._job_rng(job.uid)
        config = job.config or {}
        stages = list(job.stages.all())
        active = next((s for s in stages if s.status == StageStatus.ACTIVE), None)
        if active is None:
            pending = next((s for s in stages if s.status == StageStatus.PENDING), None)
            name = pending.name if pending else STAGE_ORDER[-1]
            services.stage_move(job=job, stage=name, status=StageStatus.ACTIVE)
            active = next(s for s in stages if s.name == name)
            active.progress = 0.0
        total = int(job.total_steps or 1000)
        seq = LogEntry.objects.filter(job=job).aggregate(m=Max("seq"))["m"]
        log_every = max(1, int(config.get("logging_steps", 10) or 10))
        eval_every = max(1, int(config.get("eval_steps", 0) or max(1, total // 10)))
        eval_every = min(eval_every, max(log_every, total // 4))
        step = float(job.current_step or 0)
        if active.name in ("validation", "save_model"):
            step = float(total)
        duration = STAGE_SECONDS.get(active.name, 0.0)
        run = _Run(
            uid=job.uid,
            rng=rng,
            curves=self._curves(job, rng, total, int(step)),
            stage=active.name,
            stage_elapsed=duration * (active.progress or 0.0) / 100.0,
            step=step,
            total=total,
            steps_per_second=total / TRAINING_SECONDS * rng.uniform(0.8, 1.2),
            log_every=log_every,
            eval_every=eval_every,
            steps_per_epoch=total / float(job.total_epochs or 1),
            seq=0 if seq is None else seq + 1,
        )
        if self.fail_rate and self.rng.random() < self.fail_rate:
            run.failure = self._plan_failure(run)
        return run

    def _curves(self, job, rng, total, step):
        """Loss curves that continue from the job's latest stored train loss."""
        curves = Curves(rng, total)
        latest = (job.latest_metrics or {}).get(services.LOSS_KEY, {}).get("value")
        if isinstance(latest, (int, float)) and math.isfinite(latest) and 0 < step < total:
            # Solve the curve's start so that it passes through the stored value now.
            shape = curves._decay(step) / (1 - math.exp(-curves.rate))
            curves.final_train = min(curves.final_train, 0.8 * latest)
            curves.final_val = curves.final_train * rng.uniform(1.05, 1.2)
            if shape > 1e-3:
                curves.start_loss = curves.final_train + (latest - curves.final_train) / shape
        return curves

    def _plan_failure(self, run):
        later = STAGE_ORDER[STAGE_ORDER.index(run.stage) :]
        kinds = [k for k in self.failure_kinds if FAILURES[k]["stage"] in later]
        if not kinds:
            return None
        every = run.log_every
        low = max(int(run.step), int(run.total * 0.2)) // every * every + every
        high = (run.total - 1) // every * every
        if low > high:  # too late in training to fail there
            kinds = [k for k in kinds if FAILURES[k]["stage"] != "training"]
        if not kinds:
            return None
        kind = self.rng.choice(kinds)
        if FAILURES[kind]["stage"] != "training":
            return {"kind": kind, "step": None}
        # A multiple of the logging interval, so the failing step is a logged one.
        at_step = self.rng.randint(low // every, high // every) * every
        # NaN: the loss blows up over the last stretch of steps before it turns NaN.
        diverge_from = max(low - every, at_step - max(every * 6, (at_step - low) // 8))
        return {"kind": kind, "step": at_step, "diverge_from": diverge_from}

    # -- advancing a job ------------------------------------------------------------

    def _log(self, job, run, level, message):
        run.pending_lines.append({"seq": run.seq, "level": level, "message": message})
        run.seq += 1

    def _flush_logs(self, job, run):
        if run.pending_lines:
            services.logs_ingest(job=job, lines=run.pending_lines)
            run.pending_lines = []

    def _advance(self, job, run, seconds):
        while seconds > 0 and job.status == JobStatus.RUNNING:
            if run.stage == "training":
                seconds = self._train(job, run, seconds)
            else:
                seconds = self._other_stage(job, run, seconds)
            if run.failure and run.failure.get("due"):
                self._fail(job, run)
                return
            if seconds > 0:
                self._next_stage(job, run)
        self._flush_logs(job, run)
        if job.status == JobStatus.RUNNING:
            self._heartbeat(job, run)
            self._resources(job, run)

    def _stage_progress(self, run):
        duration = STAGE_SECONDS[run.stage]
        return min(100.0, 100.0 * run.stage_elapsed / duration)

    def _other_stage(self, job, run, seconds):
        duration = STAGE_SECONDS[run.stage]
        used = min(seconds, duration - run.stage_elapsed)
        before = run.stage_elapsed
        run.stage_elapsed += used
        failure = run.failure
        fails_here = failure and FAILURES[failure["kind"]]["stage"] == run.stage
        if fails_here and run.stage_elapsed >= duration * 0.6:
            failure["due"] = True
            return 0.0
        if before == 0.0:
            self._stage_opening_lines(job, run)
        if run.stage_elapsed >= duration:
            return seconds - used
        services.stage_move(
            job=job,
            stage=run.stage,
            status=StageStatus.ACTIVE,
            progress=round(self._stage_progress(run), 1),
        )
        return 0.0

    def _stage_opening_lines(self, job, run):
        config = job.config or {}
        rng = run.rng
        if run.stage == "dataset_loading":
            self._log(job, run, "INFO", f"Loading dataset {job.dataset}")
        elif run.stage == "tokenization":
            rows = rng.randint(8, 400) * 1000
            self._log(
                job, run, "INFO", f"Dataset loaded: {rows:,} train rows, {rows // 20:,} validation"
            )
            self._log(job, run, "INFO", f"Loading tokenizer for {job.base_model}")
            self._log(
                job,
                run,
                "INFO",
                f"Tokenizing with max_seq_length={config.get('max_seq_length', 512)}",
            )
        elif run.stage == "validation":
            self._log(job, run, "INFO", "***** Running evaluation *****")
        elif run.stage == "save_model":
            target = f"/mnt/checkpoints/{job.uid}"
            self._log(job, run, "INFO", f"Saving model checkpoint to {target}")

    def _train(self, job, run, seconds):
        if run.step == 0 and run.stage_elapsed == 0:
            self._log(
                job,
                run,
                "INFO",
                f"***** Running training *****  Num epochs = {job.total_epochs or 1}, "
                f"Total optimization steps = {run.total:,}",
            )
            run.stage_elapsed = 1e-9
        target = min(float(run.total), run.step + seconds * run.steps_per_second)
        failure = run.failure
        if failure and failure.get("step") is not None:
            target = min(target, float(failure["step"]))
        used = (target - run.step) / run.steps_per_second
        first = int(run.step) // run.log_every * run.log_every + run.log_every
        points = []
        for step in range(first, int(target) + 1, run.log_every):
            points += self._train_points(job, run, step)
            if len(points) >= 9000:
                services.metrics_ingest(job=job, points=points)
                points = []
        if points:
            services.metrics_ingest(job=job, points=points)
        if run.evaluations:
            # What the model says at each evaluation, and a checkpoint every other one.
            evaluations_store(
                job, run.evaluations, seed=self.seed, total=run.total, first=run.evaluated
            )
            run.evaluated += len(run.evaluations)
            run.evaluations = []
        run.step = target
        if failure and failure.get("step") is not None and run.step >= failure["step"]:
            failure["due"] = True
            return 0.0
        if run.step >= run.total:
            return max(0.0, seconds - used)
        return 0.0

    def _train_points(self, job, run, step):
        rng, curves, total = run.rng, run.curves, run.total
        epoch = round(step / run.steps_per_epoch, 4)
        loss = curves.train_loss(step)
        grad = max(0.05, rng.gauss(1.2 * math.exp(-3 * step / total) + 0.35, 0.08))
        failure = run.failure
        if failure and failure["kind"] == "nan":
            start = failure["diverge_from"]
            if step >= start:
                blow = (step - start) / max(1, failure["step"] - start)
                loss *= 1 + 8 * blow**2
                grad *= 1 + 60 * blow**3
                if step % (run.log_every * 2) == 0:
                    self._log(
                        job, run, "WARNING", f"Gradient overflow at step {step}; grad={grad:.1f}"
                    )
            if step >= failure["step"]:
                loss, grad = math.nan, math.inf
        lr = learning_rate(job.config or {}, step, total)
        points = [
            {"key": "train/loss", "step": step, "value": loss, "epoch": epoch},
            {"key": "learning_rate", "step": step, "value": lr, "epoch": epoch},
            {"key": "grad_norm", "step": step, "value": grad, "epoch": epoch},
        ]
        if step % (run.log_every * 5) == 0 or step == total:
            self._log(
                job,
                run,
                "INFO",
                f"{{'loss': {loss:.4f}, 'grad_norm': {grad:.4f}, "
                f"'learning_rate': {lr:.3e}, 'epoch': {epoch:.2f}}}",
            )
        if step % run.eval_every == 0 or step == total:
            val = curves.val_loss(step) * rng.uniform(0.99, 1.01)
            acc = curves.accuracy(step, curves.final_acc)
            f1 = curves.accuracy(step, curves.final_f1)
            run.evaluations.append(
                (timezone.now(), step, {"val/loss": val, "val/accuracy": acc, "val/f1": f1})
            )
            points += [
                {"key": "val/loss", "step": step, "value": val, "epoch": epoch},
                {"key": "val/accuracy", "step": step, "value": acc, "epoch": epoch},
                {"key": "val/f1", "step": step, "value": f1, "epoch": epoch},
            ]
            self._log(
                job,
                run,
                "INFO",
                f"{{'eval_loss': {val:.4f}, 'eval_accuracy': {acc:.4f}, "
                f"'eval_f1': {f1:.4f}, 'epoch': {epoch:.2f}}}",
            )
        return points

    def _next_stage(self, job, run):
        services.stage_move(job=job, stage=run.stage, status=StageStatus.COMPLETED)
        index = STAGE_ORDER.index(run.stage)
        if index + 1 == len(STAGE_ORDER):
            self._log(job, run, "INFO", f"Training completed for {job.uid}")
            self._flush_logs(job, run)
            job.refresh_from_db()  # the last completed stage completed the job
            if job.status == JobStatus.RUNNING:
                services.job_status_update(job=job, status=JobStatus.COMPLETED)
                job.refresh_from_db()
            return
        run.stage = STAGE_ORDER[index + 1]
        run.stage_elapsed = 0.0
        if run.stage in ("validation", "save_model"):
            run.step = float(run.total)
        services.stage_move(job=job, stage=run.stage, status=StageStatus.ACTIVE, progress=0)

    def _heartbeat(self, job, run):
        step = int(run.step)
        epoch = round(step / run.steps_per_epoch, 4)
        progress = None
        if run.stage in STAGE_PROGRESS:
            low, high = STAGE_PROGRESS[run.stage]
            progress = low + (high - low) * self._stage_progress(run) / 100.0
        elif run.stage == "training":
            progress = min(99.0, 100.0 * step / run.total)
        else:
            progress = 0.0
        if run.stage == "training":
            services.stage_move(
                job=job, stage="training", status=StageStatus.ACTIVE, progress=round(progress, 1)
            )
        services.job_status_update(job=job, step=step, epoch=epoch, progress=round(progress, 2))

    def _fail(self, job, run):
        failure = run.failure
        spec = FAILURES[failure["kind"]]
        step = int(run.step)
        error = {
            "type": spec["type"],
            "message": spec["message"].format(step=step, uid=job.uid),
            "traceback": spec["traceback"].format(step=step, uid=job.uid),
            "stage": run.stage,
            "step": step,
        }
        for line in error["traceback"].splitlines()[-4:]:
            self._log(job, run, "ERROR", line)
        self._flush_logs(job, run)
        services.job_status_update(job=job, status=JobStatus.FAILED, error=error)
        job.refresh_from_db()

    def _resources(self, job, run):
        """A simulated sample of the job's GPU node, every few real seconds."""
        now = self.clock()
        if now - run.resources_at < RESOURCE_EVERY:
            return
        run.resources_at = now
        rng = run.rng
        busy = {"training": 0.96, "validation": 0.7}.get(run.stage, 0.03)
        gpus = []
        for index in range(int((job.config or {}).get("num_gpus", 1) or 1)):
            util = min(100.0, max(0.0, rng.gauss(busy * 100, 3)))
            gpus.append(
                {
                    "index": index,
                    "name": "NVIDIA A100-SXM4-80GB",
                    "util": util,
                    "mem_used": int(80 * GIB * (0.78 if busy > 0.5 else 0.01)),
                    "mem_total": 80 * GIB,
                    "temp": 38 + util * 0.35 + rng.uniform(-1, 1),
                    "power": 60 + util * 3.3 + rng.uniform(-5, 5),
                    "power_limit": 400.0,
                }
            )
        cpu = {"tokenization": 88.0, "dataset_loading": 45.0}.get(run.stage, 22.0)
        resource_samples_ingest(
            host=job.host or DEMO_HOSTS[0],
            jobs=[job],
            samples=[
                {
                    "cpu_percent": max(0.0, rng.gauss(cpu, 4)),
                    "cpu_temp": 45 + cpu * 0.3 + rng.uniform(-1, 1),
                    "ram_used": int(GIB * (48 + rng.uniform(-2, 2))),
                    "ram_total": 256 * GIB,
                    "gpus": gpus,
                    "disk_used": int(1200 * GIB),
                    "disk_total": 2000 * GIB,
                    "disk_read_rate": max(0.0, rng.gauss(20e6, 5e6)),
                    "disk_write_rate": max(
                        0.0, rng.gauss(900e6 if run.stage == "save_model" else 2e6, 1e6)
                    ),
                    "net_rx_rate": max(0.0, rng.gauss(1e6, 2e5)),
                    "net_tx_rate": max(0.0, rng.gauss(5e5, 1e5)),
                }
            ],
        )
