"""The resource sampler: one sample of this host, stored for the jobs running on it.

The readings come from the client package's `tuneboard.sampling` (shared with the host
agent, `python -m tuneboard.agent`), so a host samples the same way whichever reports it.
`Sampler.step` is one pass of the daemon (`manage.py sample_resources`, or the server's
embedded sampler): prune old samples when due, then take and store a sample.
"""

import logging
import time

from django.conf import settings
from tuneboard.sampling import HostSampler

from jobs.models import Job, JobStatus

from .retention import resource_samples_prune
from .services import resource_samples_ingest

logger = logging.getLogger("monitoring.sampler")

RETENTION_EVERY = 3600.0


class Sampler:
    """Samples this host and stores each sample linked to the jobs running on it."""

    def __init__(
        self, *, host, job_uid=None, store=True, sampler=None, retain_days=0, clock=time.monotonic
    ):
        self.host = host
        self.job_uid = job_uid
        self.store = store
        self.sampler = sampler or HostSampler(disk_path=settings.DATA_DIR)
        self.retain_days = retain_days
        self.clock = clock
        self.next_retention = clock()

    def running_jobs(self):
        if self.job_uid:
            return list(Job.objects.filter(uid=self.job_uid))
        return list(
            Job.objects.filter(status=JobStatus.RUNNING, host=self.host, deleted_at__isnull=True)
        )

    def sample_once(self):
        """Take one sample and (unless storing is off) store it; returns the sample."""
        sample = self.sampler.sample()
        if self.store:
            resource_samples_ingest(host=self.host, samples=[sample], jobs=self.running_jobs())
        return sample

    def prune_if_due(self):
        """Fold raw samples older than `retain_days` into minute averages, hourly. A
        failed pass is logged and tried again an hour later; sampling goes on."""
        if not (self.store and self.retain_days) or self.clock() < self.next_retention:
            return
        self.next_retention = self.clock() + RETENTION_EVERY
        try:
            written, deleted = resource_samples_prune(retain_days=self.retain_days)
        except Exception:
            logger.exception("Retention pass failed; trying again in an hour")
            return
        if deleted:
            logger.info(
                "Retention: %d raw samples folded into %d minute averages", deleted, written
            )

    def step(self):
        """One pass of the daemon."""
        self.prune_if_due()
        return self.sample_once()

    def close(self):
        self.sampler.close()
