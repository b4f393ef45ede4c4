"""`python -m tuneboard.agent --server URL --token TOKEN`: report this host's resources.

For GPU hosts that cannot reach Tuneboard's database: it samples the machine with the
shared sampling module (`tuneboard.sampling`, the same code `manage.py sample_resources`
uses) every `--interval` seconds and posts the samples to `/api/resources` through the
client's transport, so an unreachable server only delays them. Needs the `agent`
extra: `pip install "./client[agent]"` (psutil, nvidia-ml-py).

SIGTERM or Ctrl-C stops it within a second, after a final flush.
"""

import argparse
import os
import signal
import sys
import time

from .transport import Transport, hostname

TICK_SECONDS = 0.2


class Agent:
    """Samples the host and queues each sample for delivery; `sample_once` is one unit."""

    def __init__(self, *, server, token, host=None, job=None, sampler=None, **transport_options):
        if sampler is None:
            from .sampling import HostSampler

            sampler = HostSampler()
        self.sampler = sampler
        self.host = host or hostname()
        self.job = job
        self.transport = Transport(server, token, **transport_options)
        self.stopping = False

    def sample_once(self):
        """Take one sample and queue it; returns the sample."""
        sample = {k: v for k, v in self.sampler.sample().items() if v is not None}
        self.transport.put(("r", self.host, self.job, sample))
        return sample

    def run(self, *, interval, count=None):
        """Sample every `interval` seconds until stopped (or `count` samples)."""
        taken = 0
        next_at = time.monotonic()
        while not self.stopping and (count is None or taken < count):
            if time.monotonic() >= next_at:
                self.sample_once()
                taken += 1
                next_at += interval
                continue
            # Short ticks so a signal is honoured within a second.
            time.sleep(min(TICK_SECONDS, max(0.0, next_at - time.monotonic())))

    def stop(self, *_):
        self.stopping = True

    def close(self, timeout=10.0):
        delivered = self.transport.close(timeout=timeout)
        close = getattr(self.sampler, "close", None)
        if close:
            close()
        return delivered


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m tuneboard.agent",
        description="Report this host's CPU, GPU, memory, disk and network to Tuneboard.",
    )
    parser.add_argument("--server", default=os.environ.get("TUNEBOARD_SERVER"))
    parser.add_argument("--token", default=os.environ.get("TUNEBOARD_TOKEN"))
    parser.add_argument("--host", default=None, help="name to report (default: hostname)")
    parser.add_argument("--job", default=None, help="uid of the job running on this host")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--count", type=int, default=None, help="stop after this many samples")
    parser.add_argument(
        "--flush-interval", type=float, default=5.0, help="seconds between deliveries"
    )
    args = parser.parse_args(argv)
    if not args.server:
        parser.error("--server (or TUNEBOARD_SERVER) is required")
    if not args.token:
        parser.error("--token (or TUNEBOARD_TOKEN) is required")
    if args.interval <= 0:
        parser.error("--interval must be positive")
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        agent = Agent(
            server=args.server,
            token=args.token,
            host=args.host,
            job=args.job,
            flush_interval=min(args.flush_interval, args.interval),
        )
    except ImportError as exc:
        print(
            f"tuneboard agent: {exc}. Install the agent extra: pip install 'tuneboard[agent]'",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, agent.stop)
    signal.signal(signal.SIGINT, agent.stop)
    print(
        f"tuneboard agent: sampling {agent.host} every {args.interval:g}s → {args.server}",
        file=sys.stderr,
        flush=True,
    )
    agent.run(interval=args.interval, count=args.count)
    return 0 if agent.close() else 1


if __name__ == "__main__":
    sys.exit(main())
