"""System metrics of a run: the host's CPU, memory, disk, network and GPUs, sampled in
the training process and delivered with the run's other events.

`tuneboard.init(system_metrics=True)` (the default; `TUNEBOARD_SYSTEM_METRICS=0` turns it
off) starts a `SystemMetrics` thread. It reads the host with `tuneboard.sampling` — the
module the host agent and the server's own sampler use — about one second after the run
starts, then every `interval` seconds (10 by default) and once more when the run ends,
and queues each sample on the run's transport as `POST /api/resources` with the run's
`host` and `job`. Samples therefore wait in the same queue and spool as the metrics.

Each sample names the host (`TUNEBOARD_HOST` or the host name, as the agent does) and
the job: the server stores resource samples per (host, job), so a host agent running
beside the job without `--job` (whose samples the server links to the host's running
jobs) feeds the very same series, and the job page shows that host once.

psutil and nvidia-ml-py are optional (`pip install "tuneboard[system]"`): without psutil
the readings come from /proc on Linux; without nvidia-ml-py, or without an NVIDIA
driver, the samples carry no GPU readings.
"""

import ctypes.util
import sys
import threading
import time

__all__ = ["SystemMetrics"]

DEFAULT_INTERVAL = 10.0
# psutil's CPU percentages are deltas between two calls: the first sample waits this long
# after the sampler was built, so a short run still has a meaningful one.
FIRST_SAMPLE_SECONDS = 1.0


def default_sampler():
    """A `HostSampler` of this host; GPUs only when an NVIDIA driver is there."""
    from .sampling import HostSampler, NvmlReader, nvml_reader

    # On a host without the NVIDIA driver NVML's failure is expected, not news: skip it
    # instead of logging a warning in every training script.
    nvml = nvml_reader() if ctypes.util.find_library("nvidia-ml") else NvmlReader(None, quiet=True)
    return HostSampler(nvml=nvml)


class SystemMetrics:
    """A daemon thread sampling the host for a job into `transport`'s queue."""

    def __init__(self, transport, *, host, job, interval=DEFAULT_INTERVAL, sampler=None):
        if interval <= 0:
            raise ValueError("system_metrics_interval must be positive")
        self.transport = transport
        self.host = host
        self.job = job
        self.interval = float(interval)
        self.sampler = sampler
        self.samples = 0
        self._stop = threading.Event()
        self._last_at = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="tuneboard-system", daemon=True)
        self._thread.start()

    def _loop(self):
        try:
            if self.sampler is None:
                self.sampler = default_sampler()
        except Exception as exc:  # no psutil and no /proc: say so once, sample nothing
            print(f"tuneboard: system metrics are off: {exc}", file=sys.__stderr__, flush=True)
            return
        wait = min(FIRST_SAMPLE_SECONDS, self.interval)
        while not self._stop.wait(wait):
            self.sample_once()
            wait = self.interval

    def sample_once(self):
        """Take one sample now and queue it; returns it (None when sampling failed)."""
        with self._lock:
            if self.sampler is None:
                return None
            try:
                raw = self.sampler.sample()
            except Exception:  # sampling never raises, but a training run must not die of it
                return None
            sample = {key: value for key, value in raw.items() if value is not None}
            self._last_at = time.monotonic()
            self.samples += 1
        self.transport.put(("r", self.host, self.job, sample))
        return sample

    def stop(self, *, final_sample=True):
        """Stop the thread; with `final_sample`, take a last sample unless one was just
        taken, so even a run shorter than the interval reports its host."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        if final_sample and (self._last_at is None or time.monotonic() - self._last_at >= 1.0):
            self.sample_once()
        with self._lock:
            close = getattr(self.sampler, "close", None)
            if close is not None:
                close()
            self.sampler = None
