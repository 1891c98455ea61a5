"""A worker survives a restart of its broker, in the same process.

  test_a_worker_completes_every_task_once_across_a_broker_restart

Runs its own broker (deploy/kafka-local/kafka-local with a dedicated state
dir and ports, never the suite's), a strata-worker whose tasks take a while,
and a stream of dispatch records written with put_record. The broker is
stopped with its data kept while tasks run and are queued, and stays down
until the worker's transaction step has given up (it is bounded by the
transaction timeout; an unbounded one would wait for the broker forever),
then starts again on the same data, and more records follow. Read back
read_committed: every task has exactly one SUCCEEDED event, and the worker
is still the process it was (same PID, never exited). What the worker went
through (aborted transactions, a re-created producer) is printed from its
log.

Usage: test_worker_broker_restart.py BINDIR PUT_RECORD KAFKA_LOCAL
Environment: STRATA_TEST_RESTART_PORT (default 29192; the controller uses
the next port) and STRATA_TEST_RESTART_DIR (default
/tmp/strata-kafka-restart-test) place the test's broker.
"""
import json
import os
import subprocess
import sys
import time

from harness import Failure, Harness, check, run

BIN, PUT, KAFKA_LOCAL = sys.argv[1], sys.argv[2], sys.argv[3]
PORT = int(os.environ.get("STRATA_TEST_RESTART_PORT", "29192"))
STATE = os.environ.get("STRATA_TEST_RESTART_DIR", "/tmp/strata-kafka-restart-test")
# Enough work (40 x 1 s at concurrency 4) that tasks are still running, their
# outcomes uncommitted, when the broker stops a few seconds in: with too
# little, every outcome could be committed before the stop and the worker
# would never need its producer while the broker is down.
FIRST, SECOND = 40, 20


def broker(*args, keep=False, timeout=120):
    env = dict(os.environ, KAFKA_LOCAL_PORT=str(PORT),
               KAFKA_LOCAL_CONTROLLER_PORT=str(PORT + 1), KAFKA_LOCAL_DIR=STATE,
               KAFKA_LOCAL_KEEP_DATA="1" if keep else "0")
    r = subprocess.run([KAFKA_LOCAL] + list(args), env=env, capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise Failure("kafka-local %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                       r.stderr[-2000:]))
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def put_task(h, i):
    now = int(time.time() * 1000)
    rec = {"id": "r%d" % i, "tier": "normal", "created_ms": now, "enqueued_ms": now}
    r = subprocess.run([PUT, h.bootstrap, h.prefix + "dispatch", str(i % 4), "rk-%d" % i,
                        "task"], input=json.dumps(rec), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise Failure("put_record r%d: %s" % (i, r.stderr))


def succeeded(h):
    ids = {}
    for r in h.read("events"):
        v = r.get("value") or {}
        if v.get("kind") == "SUCCEEDED":
            ids[v["task_id"]] = ids.get(v["task_id"], 0) + 1
    return ids


def recovery_lines(h):
    log = os.path.join(h.logdir, "%sworker.log" % h.prefix)
    with open(log, errors="replace") as f:
        return [l.strip() for l in f if "transactional producer" in l or
                "rewound" in l or "transaction (" in l]


def test_a_worker_completes_every_task_once_across_a_broker_restart():
    addr = broker("start")
    os.environ["STRATA_TEST_BOOTSTRAP"] = addr
    h = Harness(BIN, "restart", ["--set", "exec.default=sleep 1",
                                 "--set", "worker.concurrency=4",
                                 "--set", "worker.instance.id=restart-test"])
    try:
        h.ensure_topics()
        w = h.start("worker", "strata-worker")
        for i in range(FIRST):
            put_task(h, i)
        h.wait_for("the first tasks to succeed", lambda: len(succeeded(h)) >= 5, 120)
        # Tasks are running and queued now; their outcomes are not committed.
        t0 = time.monotonic()
        broker("stop", "--keep-data")
        h.wait_for("the worker's transaction step to end without the broker",
                   lambda: recovery_lines(h), 90)
        check(w.poll() is None, "the worker exited while the broker was down")
        broker("start", keep=True)
        print("  broker down and back in %.1f s" % (time.monotonic() - t0))
        for i in range(FIRST, FIRST + SECOND):
            put_task(h, i)
        want = {"r%d" % i for i in range(FIRST + SECOND)}
        done = h.wait_for("every task to succeed",
                          lambda: (lambda s: s if want <= set(s) else None)(succeeded(h)),
                          240)
        twice = {k: n for k, n in done.items() if n != 1}
        check(not twice, "tasks with more than one SUCCEEDED: %s" % twice)
        check(set(done) == want, "unexpected tasks: %s" % (set(done) - want))
        check(w.poll() is None and h.procs["worker"].pid == w.pid,
              "the worker is not the process it was (exit %s)" % w.poll())
        seen = recovery_lines(h)
        print("  %d tasks, each SUCCEEDED once; worker pid %d throughout; %d "
              "recovery line(s) in its log" % (len(done), w.pid, len(seen)))
        for l in seen[:6]:
            print("    " + l[:200])
    finally:
        h.stop_all()
        try:
            broker("stop")
        except Failure as e:
            print("  stopping the test's broker: %s" % e)


if __name__ == "__main__":
    run([test_a_worker_completes_every_task_once_across_a_broker_restart])
