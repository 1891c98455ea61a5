"""Poison records on a real broker: records too large to dispatch or to
dead-letter whole neither wedge nor crash anything, and none is lost.

  test_oversized_records_are_dead_lettered_and_good_tasks_around_them_run

Among good tasks: a task with a 300 KB id, one with 100 000 dependencies,
a valid task of 1 009 882 bytes (above librdkafka's
default message.max.bytes, below the broker's record limit: it runs), one
of 1 048 000 bytes (above what the dispatch topic takes with its key: it is
dead-lettered, with a prefix of the original), a 600 KB task past its hard
deadline (its dead letter would carry 1.2 MB), and a 600 KB task whose
handler fails with no retries left (the worker's dead letter would carry
1.2 MB). Each lands in the dead-letter topic, bounded; every other task
runs; the scheduler and the worker stay up.

Usage: test_poison.py BINDIR PUT_RECORD   (STRATA_TEST_BOOTSTRAP must be set)
"""
import json
import os
import subprocess
import sys
import time

from harness import Harness, check, run

BIN, PUT_RECORD = sys.argv[1], sys.argv[2]


def put_task(h, topic, partition, task):
    r = subprocess.run([PUT_RECORD, h.bootstrap, h.prefix + topic, str(partition),
                        "=id", "task"], input=json.dumps(task),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "put_record: %s" % r.stderr.strip())


def dead_letters(h):
    out = h.strata("dlq", "list", "--json")
    return {d["task_id"]: d for d in (json.loads(l) for l in out.splitlines() if l.strip())}


def test_oversized_records_are_dead_lettered_and_good_tasks_around_them_run():
    h = Harness(BIN, "poison", ["--set", "exec.default=cat >/dev/null",
                                "--set", "exec.fails=cat >/dev/null; exit 3"])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "admin.listen=")
        h.start("worker", "strata-worker")
        now = int(time.time() * 1000)
        before = h.submit_jsonl([{"tier": "normal", "id": "good-a%d" % i}
                                 for i in range(20)])
        for tid, size in (("big-ok", 1009882), ("big-refused", 1048000)):
            task = {"id": tid, "tier": "normal", "created_ms": now, "enqueued_ms": now,
                    "payload": "A" * ((size - 64) // 3 * 4)}
            put_task(h, "tasks.normal", 0, task)
        # A 300 KB id (the core takes at most 255 bytes) and 100 000
        # dependencies: refused, and their dead letters (keyed by the id,
        # carrying it twice) must still fit.
        long_id = "L" * 300000
        put_task(h, "tasks.normal", 1, {"id": long_id, "tier": "normal",
                                        "created_ms": now, "enqueued_ms": now})
        put_task(h, "tasks.normal", 2, {
            "id": "many-deps", "tier": "normal", "created_ms": now, "enqueued_ms": now,
            "depends_on": ["d%06d" % i for i in range(100000)]})
        pad = os.path.join(h.logdir, h.prefix + "pad")
        with open(pad, "w") as f:
            f.write("x" * 600000)
        h.strata("submit", "--id", "late-big", "--tier", "normal", "--deadline", "1s",
                 "--hard", "--estimate", "5s", "--payload", "@" + pad)
        h.strata("submit", "--id", "fail-big", "--tier", "normal", "--type", "fails",
                 "--retry", "max=1", "--payload", "@" + pad)
        after = h.submit_jsonl([{"tier": "normal", "id": "good-b%d" % i}
                                for i in range(20)])
        good = set(before) | set(after) | {"big-ok"}

        def succeeded():
            ok = {r["value"]["task_id"] for r in h.read("events")
                  if "value" in r and r["value"]["kind"] == "SUCCEEDED"}
            return ok if good <= ok else None
        h.wait_for("the %d good tasks to succeed" % len(good), succeeded, 120)
        want_dl = {"big-refused", "late-big", "fail-big", "many-deps"}
        dl = h.wait_for("the dead letters", lambda: (
            lambda d: d if want_dl <= set(d) and any(
                k.startswith("L" * 100) for k in d) else None)(dead_letters(h)), 60)
        long_dl = [v for k, v in dl.items() if k.startswith("L" * 100)]
        check(len(long_dl) == 1 and long_dl[0]["reason"] == "INVALID",
              "the task with a 300 KB id is dead-lettered once, as INVALID: %s" %
              [(v["task_id"][-20:], v["reason"]) for v in long_dl])
        check(dl["many-deps"]["reason"] == "INVALID",
              "the task with 100 000 dependencies is dead-lettered: %s" %
              {k: v for k, v in dl["many-deps"].items() if k != "detail"})
        check("big-ok" not in dl, "the 1 009 882-byte task ran, not dead-lettered")
        br = dl["big-refused"]
        check(br["reason"] == "INVALID" and "can be dispatched" in br["detail"],
              "the oversized task is dead-lettered as INVALID, naming the limit: %s" % br)
        check(br["original_truncated"],
              "its dead letter holds a prefix of the 1 MB original: %s" % br)
        check(dl["late-big"]["reason"] == "DEADLINE_EXPIRED",
              "the 600 KB late task is dead-lettered: %s" % dl["late-big"])
        check(dl["fail-big"]["reason"] in ("EXHAUSTED", "NON_RETRYABLE"),
              "the 600 KB failing task is dead-lettered by the worker: %s" % dl["fail-big"])
        for name in ("scheduler", "worker"):
            check(h.alive(name), "the %s is still running" % name)
        print("  poison: 40 good tasks and a 1 009 882-byte one ran around a 1 048 000-byte "
              "task and two 600 KB ones; five bounded dead letters (with a 300 KB id and 100 000 "
              "dependencies); scheduler and worker up", flush=True)
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_oversized_records_are_dead_lettered_and_good_tasks_around_them_run])
