#!/usr/bin/env python3
"""The main job, run by scripts/demo on the embedded broker.

Starts `strata dev-broker` (librdkafka's mock cluster), one strata-scheduler
and two strata-worker processes with exec handlers, then a backlog of 1 500
background tasks, then a mixed workload for about 20 seconds: every tier, soft and hard deadlines, an LLM
pool limited in requests and tokens per minute, a dependency chain, a flaky
task type, and duplicate submissions of one idempotency key. While it runs it
prints one progress line per tier from the scheduler's /metrics, with how
many dispatched tasks wait at the workers (the dispatch window keeps that
short however deep the backlog); at the end a summary table. Every process it starts is stopped by PID. Standard library
only. Usage: demo.py BINDIR
"""
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = sys.argv[1]
TIERS = ["critical", "high", "normal", "low", "background"]
BACKLOG = 1500
RUN_SECONDS = 20
procs = []


def start(args, log):
    p = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
    procs.append(p)
    return p


def stop_all():
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit("demo: timed out waiting for " + what)


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def get(mx, name, **labels):
    return mx.get((name, tuple(sorted(labels.items()))), 0.0)


def quantile(mx, tier, q, family="strata_dispatch_latency_seconds"):
    """Upper bound of the histogram bucket holding quantile q, in ms."""
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in mx.items()
                     if k[0] == family + "_bucket"
                     and dict(k[1]).get("tier") == tier)
    total = buckets[-1][1] if buckets else 0
    if not total:
        return "-"
    for le, count in buckets:
        if count >= q * total:
            return "<%gms" % (le * 1000) if le != float("inf") else ">30s"
    return "-"


def workload(strata, submitted, stop):
    """Submits batches of tasks until RUN_SECONDS have passed."""
    rng = random.Random(42)
    t_end = time.monotonic() + RUN_SECONDS
    n = 0
    chain = 0
    while time.monotonic() < t_end and not stop.is_set():
        lines = []
        for _ in range(12):
            tier = rng.choices(TIERS, weights=[2, 3, 4, 3, 2])[0]
            kind = rng.random()
            if tier == "critical" and kind < 0.5:
                # An LLM call with a hard deadline it may not make under the pool.
                lines.append('{"tier":"critical","type":"llm.summarize","deadline":"3s",'
                             '"deadline_hard":true,"estimate_ms":400,'
                             '"demands":{"llm.rpm":1,"llm.tpm":1500}}')
            elif kind < 0.08:
                lines.append('{"tier":"%s","type":"flaky.job","deadline":"20s"}' % tier)
            else:
                t = rng.choice(["demo.echo", "report.render", "payment.retry"])
                lines.append('{"tier":"%s","type":"%s","deadline":"%ds","priority":%d}'
                             % (tier, t, rng.randint(5, 60), rng.randint(0, 2)))
        # A three-step dependency chain and a duplicated idempotent payment.
        chain += 1
        lines.append('{"tier":"normal","id":"etl-%d-extract","type":"etl.step"}' % chain)
        lines.append('{"tier":"normal","id":"etl-%d-transform","type":"etl.step",'
                     '"depends_on":["etl-%d-extract"]}' % (chain, chain))
        lines.append('{"tier":"high","id":"etl-%d-load","type":"etl.step",'
                     '"depends_on":["etl-%d-transform"]}' % (chain, chain))
        lines.append('{"tier":"high","type":"payment.retry","idempotency_key":"invoice-%d"}'
                     % (chain // 2))
        r = subprocess.run(strata + ["submit", "--jsonl", "-"], input="\n".join(lines) + "\n",
                           capture_output=True, text=True)
        if r.returncode:
            print("demo: submit failed: " + r.stderr.strip(), file=sys.stderr)
            stop.set()
            return
        n += len(r.stdout.split())
        submitted[0] = BACKLOG + n
        time.sleep(0.4)  # pacing of the synthetic load, not a wait for a condition


def main():
    work = tempfile.mkdtemp(prefix="strata-demo-")
    log = open(os.path.join(work, "processes.log"), "ab")
    try:
        broker = subprocess.Popen([os.path.join(BIN, "strata"), "--log-level", "error",
                                   "dev-broker"], stdout=subprocess.PIPE, stderr=log,
                                  start_new_session=True)
        procs.append(broker)
        boot = broker.stdout.readline().decode().strip()
        if not boot:
            raise SystemExit("demo: dev-broker printed no address")
        print("embedded broker (librdkafka mock cluster) at %s" % boot)
        conf = os.path.join(work, "strata.properties")
        # A short group session: the mock cluster's coordinator now and then
        # leaves one of two workers that joined together without its
        # assignment until that member's session times out (45 s by
        # default), which would stall the demo for most of a minute.
        with open(conf, "w") as f:
            f.write("bootstrap.servers=%s\n" % boot +
                    "admin.listen=127.0.0.1:0\n"
                    "pool.llm.rpm=rate:60/1m,burst:4\n"
                    "kafka.fetch.wait.max.ms=20\n"
                    "kafka.session.timeout.ms=6000\n"
                    "pool.llm.tpm=rate:120000/1m,burst:9000\n"
                    "worker.concurrency=4\n"
                    "exec.demo.echo=cat >/dev/null\n"
                    "exec.report.render=sleep 0.05\n"
                    "exec.payment.retry=true\n"
                    "exec.etl.step=sleep 0.1\n"
                    "exec.llm.summarize=sleep 0.3; echo '{\"summary\":\"ok\"}'\n"
                    "exec.flaky.job=echo 'upstream returned 503' >&2; exit 1\n")
        common = ["--config", conf]
        sched_log = os.path.join(work, "scheduler.log")
        start([os.path.join(BIN, "strata-scheduler")] + common + ["--log-level", "info"],
              open(sched_log, "ab"))
        for _ in range(2):
            start([os.path.join(BIN, "strata-worker")] + common, log)

        def admin_port():
            with open(sched_log, errors="replace") as f:
                m = re.search(r"admin endpoint on port (\d+)", f.read())
            return int(m.group(1)) if m else None
        port = wait_for("the scheduler's admin endpoint", admin_port, 20)
        wait_for("the scheduler to own its partitions",
                 lambda: get(metrics(port), "strata_assigned_partitions") > 0, 30)
        print("scheduler up (admin http://127.0.0.1:%d/metrics), 2 workers, "
              "submitting for %d s\n" % (port, RUN_SECONDS))

        strata = [os.path.join(BIN, "strata"), "--log-level", "error"] + common
        # A backlog first: background reports, several seconds of work for
        # the two workers. The dispatch window keeps only what the workers
        # will start soon past the dispatch topic, so the critical tasks
        # submitted after it still go first.
        backlog = '{"tier":"background","type":"report.render"}\n' * BACKLOG
        r = subprocess.run(strata + ["submit", "--jsonl", "-"], input=backlog,
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("demo: submitting the backlog failed: " + r.stderr.strip())
        print("a backlog of %d background tasks submitted first\n" % BACKLOG)
        submitted = [BACKLOG]
        stop = threading.Event()
        producer = threading.Thread(target=workload, args=(strata, submitted, stop))
        producer.start()
        t0 = time.monotonic()

        def finished(mx):
            done = sum(v for k, v in mx.items() if k[0] in (
                "strata_task_outcomes_total", "strata_dead_letters_total",
                "strata_duplicates_skipped_total"))
            return done

        most_waiting = 0
        while True:
            time.sleep(1)  # progress display cadence
            mx = metrics(port)
            parts = []
            for t in TIERS:
                ok = get(mx, "strata_task_outcomes_total", tier=t, kind="succeeded")
                fail = get(mx, "strata_task_outcomes_total", tier=t, kind="failed")
                q = sum(get(mx, "strata_queue_depth", tier=t, state=s)
                        for s in ("ready", "blocked", "delayed"))
                parts.append("%s %d ok/%d fail/%d queued" % (t[:4], ok, fail, q))
            waiting = get(mx, "strata_dispatch_unstarted")
            most_waiting = max(most_waiting, waiting)
            print("[%4.0fs] %s | %d at workers" % (time.monotonic() - t0, " | ".join(parts),
                                                   waiting), flush=True)
            idle = not producer.is_alive() and finished(mx) >= submitted[0]
            if idle or time.monotonic() - t0 > 45:
                break
        stop.set()
        producer.join()
        elapsed = time.monotonic() - t0
        mx = metrics(port)
        print("\n%-11s %10s %9s %7s %8s %9s %9s %8s %8s %9s" % (
            "tier", "dispatched", "succeeded", "failed*", "deadlttr", "soft miss",
            "hard miss", "wait p50", "wait p99", "start p99"))
        tot = [0] * 6
        for t in TIERS:
            row = [get(mx, "strata_dispatched_total", tier=t),
                   get(mx, "strata_task_outcomes_total", tier=t, kind="succeeded"),
                   get(mx, "strata_task_outcomes_total", tier=t, kind="failed"),
                   get(mx, "strata_task_outcomes_total", tier=t, kind="dead_lettered"),
                   get(mx, "strata_deadline_misses_total", tier=t, kind="soft"),
                   get(mx, "strata_deadline_misses_total", tier=t, kind="hard")]
            tot = [x + y for x, y in zip(tot, row)]
            print("%-11s %10d %9d %7d %8d %9d %9d %8s %8s %9s" % (
                t, *row, quantile(mx, t, 0.5), quantile(mx, t, 0.99),
                quantile(mx, t, 0.99, "strata_start_latency_seconds")))
        print("%-11s %10d %9d %7d %8d %9d %9d" % ("all", *tot))
        print("* failed attempts; a failed attempt is retried on the delay ladder "
              "until its retry policy is exhausted, then dead-lettered")
        dup = get(mx, "strata_duplicates_skipped_total")
        print("\n%d tasks accepted in %.0f s: %.1f tasks/s succeeded; %d duplicate "
              "submissions skipped; dead letters written by the scheduler: %s" % (
                  submitted[0], elapsed, tot[1] / elapsed, dup,
                  ", ".join("%s %d" % (dict(k[1])["reason"], v) for k, v in mx.items()
                            if k[0] == "strata_dead_letters_total") or "none"))
        print("(wait = submission to committed dispatch, start = submission to the "
              "handler's start; hard misses expired before\ndispatch and went to the "
              "dead-letter topic with a deadline_missed event)")
        crit_started = sum(v for k, v in mx.items()
                           if k[0] == "strata_start_latency_seconds_count"
                           and dict(k[1]).get("tier") == "critical")
        crit_late = get(mx, "strata_started_after_deadline_total", tier="critical")
        print("\ncritical tasks started behind the backlog: %d, %d of them within their "
              "deadline (%d started after it)" % (crit_started, crit_started - crit_late,
                                                   crit_late))
        print("\nthe %d background tasks were submitted before everything else; the "
              "dispatch window kept at most %d of them\ndispatched and waiting at the "
              "workers (\"at workers\" above) and the rest in the scheduler, so each "
              "later task\nwent ahead of the backlog in tier and deadline order instead "
              "of queueing behind it, and a\nhard deadline the scheduler could no longer "
              "meet was reported (hard miss) rather than run late" % (
                  BACKLOG, most_waiting))
    finally:
        stop_all()


if __name__ == "__main__":
    main()
