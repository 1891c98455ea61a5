"""The pipeline on a real broker: submit -> tiers -> scheduler -> dispatch ->
worker -> events.

  test_end_to_end_all_tiers_run_in_tier_and_deadline_order
  test_scheduler_sigkill_loses_and_duplicates_no_dispatch
  test_idempotency_key_dispatches_once_across_a_restart

Usage: test_pipeline.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import collections
import random
import sys
import time

from harness import Harness, check, run

BIN = sys.argv[1]
TIERS = ["critical", "high", "normal", "low", "background"]


def dispatched_ids(h):
    return [r["value"]["id"] for r in h.read("dispatch") if "value" in r]


def events_of(h, kind):
    return [r["value"] for r in h.read("events")
            if "value" in r and r["value"]["kind"] == kind]


def test_end_to_end_all_tiers_run_in_tier_and_deadline_order():
    # One concurrency slot: the scheduler dispatches one task at a time, each
    # after the worker reported the previous one. A gate task takes the slot
    # first; once the scheduler holds the whole backlog (seen through its
    # /tasks view) the worker starts, so every later decision is the policy's
    # choice over the complete backlog.
    h = Harness(BIN, "e2e", ["--set", "pool.slots=concurrency:1",
                             "--set", "exec.default=cat >/dev/null"])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=e2e",
                "--set", "admin.listen=127.0.0.1:0", "--log-level", "info")
        port = h.admin_port("scheduler")
        h.wait_for("the scheduler to own and recover its partitions",
                   lambda: (lambda z: z["assigned_partitions"] > 0
                            and z["recovering_partitions"] == 0)(
                       h.http_json(port, "/healthz")), 60)
        h.submit_jsonl([{"tier": "background", "id": "gate", "demands": {"slots": 1}}])
        h.wait_for("the gate task to hold the slot",
                   lambda: len(h.http_json(port, "/tasks?state=running")["tasks"]) == 1, 60)
        tasks = []
        for tier in TIERS:
            for i in range(6):
                # Deadlines reversed against submission order within a tier.
                tasks.append({"tier": tier, "id": "%s-%d" % (tier, i),
                              "deadline": "%ds" % (600 - 10 * i),
                              "demands": {"slots": 1}})
        ids = h.submit_jsonl(tasks)
        check(len(ids) == len(tasks), "submitted %d of %d" % (len(ids), len(tasks)))
        h.wait_for("the scheduler to hold the whole backlog",
                   lambda: len(h.http_json(port, "/tasks?state=ready")["tasks"]) == len(tasks),
                   60)
        view = h.http_json(port, "/tasks?state=ready")["tasks"]
        table = h.strata("--set", "admin.listen=127.0.0.1:%d" % port, "tasks",
                         "--tier", "critical", "--state", "ready").splitlines()
        check(table[0].startswith("ID") and table[-1] == "6 task(s)",
              "strata tasks table: %s" % table)
        check([row.split()[0] for row in table[1:-1]] ==
              [t["id"] for t in view if t["tier"] == "critical"],
              "strata tasks lists critical in dispatch order: %s" % table)
        h.start("worker", "strata-worker")
        h.wait_for("every task to succeed",
                   lambda: len(events_of(h, "SUCCEEDED")) >= len(tasks) + 1, 120)
        disp = sorted(events_of(h, "DISPATCHED"), key=lambda e: e["time_ms"])
        order = [e["task_id"] for e in disp]
        check(order[0] == "gate", "the gate went first: %s" % order[:3])
        order = order[1:]
        check(sorted(order) == sorted(t["id"] for t in tasks),
              "each task dispatched exactly once: %s" % collections.Counter(order).most_common(3))
        # The pending view lists each tier's backlog in the order it then ran.
        for tier in TIERS:
            listed = [t["id"] for t in view if t["tier"] == tier]
            ran = [tid for tid in order if tid.startswith(tier + "-")]
            check(listed == ran, "/tasks order %s differs from dispatch order %s" %
                  (listed, ran))
        pos = {tid: i for i, tid in enumerate(order)}
        mean = {t: sum(pos["%s-%d" % (t, i)] for i in range(6)) / 6 for t in TIERS}
        check(order[0].startswith("critical"), "first dispatch is critical: %s" % order[:5])
        check(all(mean[a] < mean[b] for a, b in zip(TIERS, TIERS[1:])),
              "tiers in order of mean dispatch position: %s" % mean)
        for tier in TIERS:
            seq = [pos["%s-%d" % (tier, i)] for i in range(6)]
            check(seq == sorted(seq, reverse=True),
                  "%s dispatched earliest deadline first: %s" % (tier, seq))
        print("  dispatch order: %s" % " ".join(order))
    finally:
        h.stop_all()


def test_scheduler_sigkill_loses_and_duplicates_no_dispatch():
    h = Harness(BIN, "crash", ["--set", "exec.default=cat >/dev/null"])
    rng = random.Random(7)
    kills = 0
    try:
        h.ensure_topics()
        h.start("worker", "strata-worker")
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=crash")
        submitted = []
        deadline = time.monotonic() + 90
        batch = 0
        while (batch < 30 or kills < 5) and time.monotonic() < deadline:
            tasks = [{"tier": rng.choice(TIERS), "id": "c%d-%d" % (batch, i)}
                     for i in range(rng.randrange(20, 80))]
            submitted += h.submit_jsonl(tasks)
            batch += 1
            if rng.random() < 0.35 or (batch >= 30 and kills < 5):
                h.kill("scheduler")  # SIGKILL at a random point of the load
                kills += 1
                h.start("scheduler", "strata-scheduler",
                        "--set", "scheduler.instance.id=crash")
        check(kills >= 5, "killed the scheduler %d times" % kills)
        want = set(submitted)

        def all_dispatched():
            ids = dispatched_ids(h)
            return ids if want <= set(ids) else None

        ids = h.wait_for("every submitted task on the dispatch topic", all_dispatched, 180)
        dups = [k for k, v in collections.Counter(ids).items() if v > 1]
        check(not dups, "dispatched more than once: %s" % dups[:10])
        check(set(ids) == want, "unknown dispatches: %s" % list(set(ids) - want)[:10])
        h.wait_for("every task to succeed",
                   lambda: want <= {e["task_id"] for e in events_of(h, "SUCCEEDED")}, 120)
        print("  %d tasks, %d scheduler kills, 0 duplicate dispatches" % (len(want), kills))
    finally:
        h.stop_all()


def test_idempotency_key_dispatches_once_across_a_restart():
    h = Harness(BIN, "idem")
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=idem")
        h.submit_jsonl([{"tier": "high", "id": "first", "idempotency_key": "order-1"}])
        h.wait_for("the first submission dispatched", lambda: "first" in dispatched_ids(h), 60)
        h.kill("scheduler")
        h.submit_jsonl([{"tier": "high", "id": "again", "idempotency_key": "order-1"},
                        {"tier": "high", "id": "other", "idempotency_key": "order-2"}])
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=idem")
        h.wait_for("the unrelated task dispatched", lambda: "other" in dispatched_ids(h), 60)
        ids = dispatched_ids(h)
        check("again" not in ids, "duplicate of order-1 was dispatched: %s" % ids)
        check(ids.count("first") == 1, "first dispatched %d times" % ids.count("first"))
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_end_to_end_all_tiers_run_in_tier_and_deadline_order,
         test_scheduler_sigkill_loses_and_duplicates_no_dispatch,
         test_idempotency_key_dispatches_once_across_a_restart])
