#!/usr/bin/env python3
"""Backpressure benchmark: the scheduler's memory with a huge backlog in Kafka.

Puts N tasks (default 10,000,000) on the tier topics of a fresh topic prefix,
then starts strata-scheduler with scheduler.max.tasks=M and a one-slot
concurrency pool that every task needs, with no worker: the scheduler fills
its core to M tasks, must stop fetching, and the rest of the backlog has to
stay in Kafka. Samples the scheduler's RSS (VmRSS) once a second for S
seconds after the core is full, and its /metrics (held tasks, consumer lag).
Stops everything it started. Last stdout line is JSON:
  {"bench":"backlog","backlog":N,"max_tasks":M,"held":H,"lag":L,
   "rss_mb_at_full":A,"rss_mb_max":B,"rss_mb_end":C}

Usage: backlog.py --bootstrap B [--bin DIR] [--tasks N] [--max-tasks M]
                  [--seconds S]
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        total = 0.0
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--tasks", type=int, default=10_000_000)
    ap.add_argument("--max-tasks", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    prefix = "backlog%d." % random.randrange(1 << 30)
    common = ["--log-level", "warn", "--set", "bootstrap.servers=" + a.bootstrap,
              "--set", "topic.prefix=" + prefix,
              "--set", "scheduler.group.id=%ssched" % prefix]
    strata = [os.path.join(a.bin, "strata")] + common
    subprocess.run(strata + ["topics", "ensure"], check=True, stdout=subprocess.DEVNULL)

    t0 = time.monotonic()
    tiers = ["critical", "high", "normal", "low", "background"]
    chunk = 200_000
    sent = 0
    while sent < a.tasks:
        n = min(chunk, a.tasks - sent)
        lines = "".join('{"tier":"%s","demands":{"slots":1}}\n' % tiers[i % 5]
                        for i in range(n))
        r = subprocess.run(strata + ["submit", "--jsonl", "-"], input=lines.encode(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode:
            sys.exit("backlog: submit failed: " + r.stderr.decode()[-500:])
        sent += n
        print("submitted %d/%d (%.0f tasks/s)" % (sent, a.tasks, sent / (time.monotonic() - t0)),
              flush=True)

    log = open("/tmp/%sscheduler.log" % prefix, "ab")
    sched = subprocess.Popen(
        [os.path.join(a.bin, "strata-scheduler")] + common +
        ["--log-level", "info", "--set", "admin.listen=127.0.0.1:0",
         "--set", "scheduler.max.tasks=%d" % a.max_tasks,
         "--set", "scheduler.instance.id=" + prefix.rstrip("."),
         "--set", "pool.slots=concurrency:1"], stdout=log, stderr=log, start_new_session=True)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            with open("/tmp/%sscheduler.log" % prefix, errors="replace") as f:
                m = re.search(r"admin endpoint on port (\d+)", f.read())
            port = int(m.group(1)) if m else None
            time.sleep(0.2)
        if port is None:
            sys.exit("backlog: the scheduler did not start; see /tmp/%sscheduler.log" % prefix)
        deadline = time.monotonic() + 300
        while metric(port, "strata_core_full") < 1:
            if time.monotonic() > deadline:
                sys.exit("backlog: the core never filled")
            time.sleep(0.5)
        at_full = rss_mb(sched.pid)
        samples = []
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            samples.append(rss_mb(sched.pid))
            time.sleep(1)
        held = metric(port, "strata_held_tasks")
        lag = metric(port, "strata_consumer_lag")
        print("scheduler RSS: %.1f MB when full, max %.1f MB over %d s, %.1f MB at the end; "
              "held %d tasks, %d still waiting in Kafka (lag)" %
              (at_full, max(samples), a.seconds, samples[-1], held, lag))
        print(json.dumps({"bench": "backlog", "backlog": a.tasks, "max_tasks": a.max_tasks,
                          "held": int(held), "lag": int(lag),
                          "rss_mb_at_full": round(at_full, 1),
                          "rss_mb_max": round(max(samples), 1),
                          "rss_mb_end": round(samples[-1], 1)}))
    finally:
        os.kill(sched.pid, signal.SIGTERM)
        sched.wait(timeout=30)


if __name__ == "__main__":
    main()
