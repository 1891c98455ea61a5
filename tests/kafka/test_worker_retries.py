"""Retries, dead letters and cancellation on a real broker, through the public
interfaces only (strata submit/cancel/read, strata-scheduler, strata-worker).

  test_failing_task_retries_after_its_backoff_until_it_succeeds
  test_short_backoff_retry_through_the_tier_topic_is_not_lost
  test_retry_record_waits_on_the_ladder_with_its_history
  test_exhausted_retries_dead_letter_with_every_attempt
  test_non_retryable_failure_dead_letters_after_one_attempt
  test_cancel_terminates_a_running_command_once
  test_cancel_before_the_dispatch_arrives_never_starts_it
  test_worker_sigkill_during_failing_attempts_loses_and_doubles_no_retry

Usage: test_worker_retries.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import collections
import json
import os
import sys
import tempfile
import time

from harness import Harness, check, run

BIN = sys.argv[1]


def values(h, topic):
    return [r["value"] for r in h.read(topic) if "value" in r]


def events(h, task_id, kind=None):
    return [e for e in values(h, "events")
            if e["task_id"] == task_id and (kind is None or e["kind"] == kind)]


def start_scheduler(h, name):
    # No admin endpoint: tests running at once must not compete for its port.
    h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=" + name,
            "--set", "admin.listen=")


def submit(h, *args):
    out = h.strata("submit", *args)
    return out.split()[0]


def test_failing_task_retries_after_its_backoff_until_it_succeeds():
    # Attempts 1 and 2 fail, attempt 3 succeeds; each retry waits 1 s on the
    # delay ladder and the scheduler brings it back.
    h = Harness(BIN, "retry", ["--set", 'exec.default=test "$STRATA_ATTEMPT" -ge 3'])
    try:
        h.ensure_topics()
        start_scheduler(h, "retry")
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "flaky", "--tier", "high",
                     "--retry", "max=3,backoff=fixed,base=1s")
        h.wait_for("attempt 3 to succeed",
                   lambda: events(h, tid, "SUCCEEDED"), 120)
        evs = events(h, tid)
        started = {e["attempt"]: e["time_ms"] for e in evs if e["kind"] == "STARTED"}
        failed = {e["attempt"]: e for e in evs if e["kind"] == "FAILED"}
        ok = [e for e in evs if e["kind"] == "SUCCEEDED"]
        check(sorted(started) == [1, 2, 3], "attempts started: %s" % sorted(started))
        check(len(ok) == 1 and ok[0]["attempt"] == 3, "SUCCEEDED: %s" % ok)
        for a in (1, 2):
            check(failed[a]["retryable"] is True, "FAILED %d retryable: %s" % (a, failed[a]))
            waited = started[a + 1] - failed[a]["time_ms"]
            check(waited >= 1000, "attempt %d started %d ms after attempt %d failed, "
                  "before its 1 s backoff" % (a + 1, waited, a))
            print("  attempt %d started %d ms after attempt %d failed (backoff 1000 ms)"
                  % (a + 1, waited, a))
    finally:
        h.stop_all()


def test_short_backoff_retry_through_the_tier_topic_is_not_lost():
    # A backoff shorter than the smallest delay step sends the retry straight
    # to the tier topic, in the same transaction as the FAILED event; the
    # scheduler may read the retry first, while it still holds attempt 1 as
    # running. Every attempt must still run.
    h = Harness(BIN, "sretry", ["--set", 'exec.default=test "$STRATA_ATTEMPT" -ge 4'])
    try:
        h.ensure_topics()
        start_scheduler(h, "sretry")
        h.start("worker", "strata-worker")
        ids = [submit(h, "--id", "fast-%d" % i, "--tier", "normal",
                      "--retry", "max=4,backoff=fixed,base=100ms") for i in range(5)]

        def done():
            ok = {e["task_id"] for e in values(h, "events") if e["kind"] == "SUCCEEDED"}
            return set(ids) <= ok
        h.wait_for("attempt 4 of every task to succeed", done, 120)
        for tid in ids:
            ok = events(h, tid, "SUCCEEDED")
            check([e["attempt"] for e in ok] == [4], "%s SUCCEEDED: %s" % (tid, ok))
            starts = sorted(e["attempt"] for e in events(h, tid, "STARTED"))
            check(starts == [1, 2, 3, 4], "%s attempts started: %s" % (tid, starts))
    finally:
        h.stop_all()


def test_retry_record_waits_on_the_ladder_with_its_history():
    # The worker's side alone: the retry record on delay.1s (the longest step
    # not longer than the 1 s backoff) carries attempt 2, a not-before at least
    # the backoff after the failure, and the first attempt's history.
    h = Harness(BIN, "rrec", ["--set", "exec.default=echo boom >&2; exit 3"])
    try:
        h.ensure_topics()
        start_scheduler(h, "rrec")
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "rrec", "--tier", "low",
                     "--retry", "max=5,backoff=fixed,base=1s")
        f = h.wait_for("attempt 1 to fail", lambda: [e for e in events(h, tid, "FAILED")
                                                     if e["attempt"] == 1], 60)[0]
        check(f["retryable"] is True and f["worker_id"], "FAILED event: %s" % f)
        recs = h.wait_for("the retry record on delay.1s",
                          lambda: [t for t in values(h, "delay:1s")
                                   if t["id"] == tid and t["attempt"] == 2], 30)
        check(len(recs) == 1, "one retry record for attempt 2: %s" % recs)
        r = recs[0]
        check(r["not_before_ms"] >= f["time_ms"] + 1000,
              "not_before %d < failure %d + 1000" % (r["not_before_ms"], f["time_ms"]))
        hist = json.loads(r["headers"]["strata.attempt.1"])
        check(hist["outcome"] == "FAILED" and "boom" in hist["error"] and
              hist["started_ms"] <= hist["ended_ms"], "history header: %s" % hist)
    finally:
        h.stop_all()


def test_exhausted_retries_dead_letter_with_every_attempt():
    h = Harness(BIN, "exh", ["--set", "exec.default=exit 1"])
    try:
        h.ensure_topics()
        start_scheduler(h, "exh")
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "exh", "--tier", "normal",
                     "--retry", "max=2,backoff=fixed,base=1s")
        dl = h.wait_for("the dead letter", lambda: [d for d in values(h, "dlq")
                                                    if d["task_id"] == tid], 90)
        check(len(dl) == 1, "one dead letter: %s" % dl)
        d = dl[0]
        check(d["reason"] == "EXHAUSTED", "reason: %s" % d["reason"])
        check([a["attempt"] for a in d["attempts"]] == [1, 2] and
              all(a["outcome"] == "FAILED" for a in d["attempts"]),
              "attempts history: %s" % d["attempts"])
        check(d["original_topic"] == h.prefix + "dispatch" and d["task"]["attempt"] == 2,
              "original record: %s %s" % (d["original_topic"], d["task"]["attempt"]))
        evs = events(h, tid)
        failed = [e for e in evs if e["kind"] == "FAILED"]
        check([(e["attempt"], e["retryable"]) for e in failed] == [(1, True), (2, False)],
              "FAILED events: %s" % [(e["attempt"], e["retryable"]) for e in failed])
        check(len([e for e in evs if e["kind"] == "DEAD_LETTERED" and e["worker_id"]]) == 1,
              "one DEAD_LETTERED from the worker")
    finally:
        h.stop_all()


def test_non_retryable_failure_dead_letters_after_one_attempt():
    h = Harness(BIN, "nonr", ["--set", "exec.default=exit 65"])
    try:
        h.ensure_topics()
        start_scheduler(h, "nonr")
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "nonr", "--tier", "normal", "--retry", "max=5")
        dl = h.wait_for("the dead letter", lambda: [d for d in values(h, "dlq")
                                                    if d["task_id"] == tid], 60)
        check(dl[0]["reason"] == "NON_RETRYABLE" and len(dl[0]["attempts"]) == 1,
              "dead letter: %s %s" % (dl[0]["reason"], dl[0]["attempts"]))
        time.sleep(2)  # a wrong retry would have started by now
        evs = events(h, tid)
        check(len([e for e in evs if e["kind"] == "STARTED"]) == 1, "one attempt ran")
        f = [e for e in evs if e["kind"] == "FAILED"]
        check(len(f) == 1 and f[0]["retryable"] is False, "FAILED: %s" % f)
    finally:
        h.stop_all()


def test_cancel_terminates_a_running_command_once():
    d = tempfile.mkdtemp(prefix="strata-cancel-")
    cmd = 'echo $$ > %s/$STRATA_TASK_ID.pid; sleep 60; touch %s/$STRATA_TASK_ID.done' % (d, d)
    h = Harness(BIN, "crun", ["--set", "exec.default=" + cmd,
                              "--set", "worker.kill.grace=2s"])
    try:
        h.ensure_topics()
        start_scheduler(h, "crun")
        h.start("worker", "strata-worker")
        tid = submit(h, "--id", "long", "--tier", "high")
        h.wait_for("the command to start",
                   lambda: events(h, tid, "STARTED") and
                   os.path.exists("%s/%s.pid" % (d, tid)), 60)
        pid = int(open("%s/%s.pid" % (d, tid)).read())
        t0 = time.monotonic()
        h.strata("cancel", tid, "--reason", "test")
        h.wait_for("CANCELLED", lambda: events(h, tid, "CANCELLED"), 30)
        took = time.monotonic() - t0
        time.sleep(1)
        evs = events(h, tid)
        kinds = collections.Counter(e["kind"] for e in evs)
        check(kinds["CANCELLED"] == 1 and not kinds["SUCCEEDED"] and not kinds["FAILED"],
              "events: %s" % dict(kinds))
        check([e for e in evs if e["kind"] == "CANCELLED"][0]["worker_id"],
              "CANCELLED from the worker")
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        check(not alive, "the command %d still runs" % pid)
        check(not os.path.exists("%s/%s.done" % (d, tid)), "the command finished")
        print("  cancelled %.1f s after `strata cancel`; command terminated" % took)
    finally:
        h.stop_all()


def test_cancel_before_the_dispatch_arrives_never_starts_it():
    h = Harness(BIN, "cpre", ["--set", "exec.default=true"])
    try:
        h.ensure_topics()
        start_scheduler(h, "cpre")
        tid = submit(h, "--id", "pre", "--tier", "high")
        h.wait_for("the dispatch", lambda: events(h, tid, "DISPATCHED"), 60)
        h.strata("cancel", tid)
        h.start("worker", "strata-worker")
        h.wait_for("CANCELLED from the worker",
                   lambda: [e for e in events(h, tid, "CANCELLED") if e["worker_id"]], 60)
        time.sleep(1)
        evs = events(h, tid)
        kinds = collections.Counter(e["kind"] for e in evs)
        check(not kinds["STARTED"] and not kinds["SUCCEEDED"], "events: %s" % dict(kinds))
        check(kinds["CANCELLED"] == 1, "one CANCELLED: %s" % dict(kinds))
    finally:
        h.stop_all()


def test_worker_sigkill_during_failing_attempts_loses_and_doubles_no_retry():
    # Every first attempt fails after 0.5 s; the worker is killed with SIGKILL
    # while attempts run and restarted with the same worker.instance.id (which
    # fences the dead one's open transaction). The scheduler is stopped once
    # everything is dispatched, so only the worker writes delay.1s: each task
    # must have exactly one retry record (attempt 2) there, read committed.
    h = Harness(BIN, "rkill", ["--set", "exec.default=sleep 0.5; exit 1",
                               "--set", "worker.concurrency=4"])
    wargs = ("--set", "kafka.session.timeout.ms=6000",
             "--set", "worker.instance.id=rkill-w")
    n = 24
    kills = 0
    try:
        h.ensure_topics()
        start_scheduler(h, "rkill")
        ids = h.submit_jsonl([{"tier": "normal", "id": "k%d" % i,
                               "retry": {"max_attempts": 2, "backoff": "FIXED",
                                         "base_ms": 2000, "cap_ms": 2000}}
                              for i in range(n)])
        h.wait_for("every task dispatched",
                   lambda: len({e["task_id"] for e in values(h, "events")
                                if e["kind"] == "DISPATCHED"}) == n, 60)
        h.kill("scheduler")
        h.start("worker", "strata-worker", *wargs)
        for _ in range(4):
            before = len([e for e in values(h, "events") if e["kind"] == "STARTED"])
            h.wait_for("more attempts to start",
                       lambda: len([e for e in values(h, "events")
                                    if e["kind"] == "STARTED"]) > before, 60)
            time.sleep(0.2)
            h.kill("worker")  # SIGKILL while attempts run
            kills += 1
            h.start("worker", "strata-worker", *wargs)

        def all_failed():
            f = {e["task_id"] for e in values(h, "events")
                 if e["kind"] == "FAILED" and e["attempt"] == 1}
            return f if f >= set(ids) else None
        h.wait_for("attempt 1 of every task to fail", all_failed, 180)
        h.kill("worker", sig=15)
        recs = collections.Counter(t["id"] for t in values(h, "delay:1s") if t["attempt"] == 2)
        missing = set(ids) - set(recs)
        doubled = {k: v for k, v in recs.items() if v > 1}
        check(not missing, "lost retries: %s" % sorted(missing))
        check(not doubled, "doubled retries: %s" % doubled)
        failed = collections.Counter(e["task_id"] for e in values(h, "events")
                                     if e["kind"] == "FAILED" and e["attempt"] == 1)
        check(all(v == 1 for v in failed.values()),
              "one committed FAILED per attempt: %s" % failed.most_common(3))
        starts = collections.Counter(e["task_id"] for e in values(h, "events")
                                     if e["kind"] == "STARTED")
        reruns = sum(v - 1 for v in starts.values())
        print("  %d tasks, %d worker kills, %d attempts re-run; exactly one retry "
              "record each" % (n, kills, reruns))
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_failing_task_retries_after_its_backoff_until_it_succeeds,
         test_short_backoff_retry_through_the_tier_topic_is_not_lost,
         test_retry_record_waits_on_the_ladder_with_its_history,
         test_exhausted_retries_dead_letter_with_every_attempt,
         test_non_retryable_failure_dead_letters_after_one_attempt,
         test_cancel_terminates_a_running_command_once,
         test_cancel_before_the_dispatch_arrives_never_starts_it,
         test_worker_sigkill_during_failing_attempts_loses_and_doubles_no_retry])
