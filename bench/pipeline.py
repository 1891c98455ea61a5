"""Shared plumbing of the Python benchmarks (lateness.py, retry.py): one
strata-scheduler and one strata-worker on a fresh topic prefix of a real
broker, stopped by PID, and a percentile. Standard library only."""
import os
import random
import signal
import subprocess


def pct(xs, q):
    """The q-quantile of xs (nearest rank), None when empty."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


class Pipeline:
    """Creates the topics of a fresh prefix and starts the scheduler and one
    worker with `settings` (KEY=VALUE) for every program. `strata` is the CLI
    command with the same settings. Use as a context manager: it stops what
    it started."""

    def __init__(self, bootstrap, bindir, name, settings):
        self.prefix = "%s%d." % (name, random.randrange(1 << 30))
        self.bindir = bindir
        self.common = ["--log-level", "warn", "--set", "bootstrap.servers=" + bootstrap,
                       "--set", "topic.prefix=" + self.prefix,
                       "--set", "scheduler.group.id=%ssched" % self.prefix,
                       "--set", "worker.group.id=%sworker" % self.prefix]
        for kv in settings:
            self.common += ["--set", kv]
        self.strata = [os.path.join(bindir, "strata")] + self.common
        self.procs = []

    def __enter__(self):
        subprocess.run(self.strata + ["topics", "ensure"], check=True,
                       stdout=subprocess.DEVNULL)
        log = open("/tmp/%sprocs.log" % self.prefix, "ab")
        for prog, extra in (("strata-scheduler",
                             ["--set", "scheduler.instance.id=" + self.prefix]),
                            ("strata-worker", [])):
            self.procs.append(subprocess.Popen(
                [os.path.join(self.bindir, prog)] + self.common + extra,
                stdout=log, stderr=log, start_new_session=True))
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return False
