"""Dead-letter tooling on a real broker: `strata dlq list|show|replay`
against dead letters the scheduler wrote.

  test_dlq_lists_shows_and_replays_dead_letters_of_the_scheduler

A hard-deadline task that cannot make it is expired (DEADLINE_EXPIRED) and a
task depending on it fails (DEPENDENCY_FAILED). Undecodable records are not
produced here: the harness has no raw producer; the unit tests cover a dead
letter without a task.

Usage: test_dlq.py BINDIR   (STRATA_TEST_BOOTSTRAP must be set)
"""
import json
import os
import subprocess
import sys

from harness import Harness, check, run

BIN = sys.argv[1]


def strata_rc(h, *args):
    """Runs strata with the harness's settings; returns (exit code, stdout,
    stderr) whatever the exit code."""
    r = subprocess.run([os.path.join(h.bindir, "strata")] + h.common + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def dlq_json(h, *filters):
    out = h.strata("dlq", "list", "--json", *filters)
    return {d["id"]: d for d in (json.loads(l) for l in out.splitlines() if l.strip())}


def tier_attempts(h, tier, task_id):
    return [r["value"] for r in h.read("tier:" + tier)
            if "value" in r and r["value"]["id"] == task_id]


def dispatched(h, task_id, attempt):
    return any(r["value"]["id"] == task_id and r["value"]["attempt"] == attempt
               for r in h.read("dispatch") if "value" in r)


def test_dlq_lists_shows_and_replays_dead_letters_of_the_scheduler():
    h = Harness(BIN, "dlq")
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--set", "scheduler.instance.id=%sdlq" % h.prefix,
                "--set", "admin.listen=127.0.0.1:0", "--log-level", "info")
        port = h.admin_port("scheduler")
        h.wait_for("the scheduler to own and recover its partitions",
                   lambda: (lambda z: z["assigned_partitions"] > 0
                            and z["recovering_partitions"] == 0)(
                       h.http_json(port, "/healthz")), 60)
        h.strata("submit", "--id", "late", "--tier", "high", "--deadline", "1s", "--hard",
                 "--estimate", "5s", "--header", "trace=t-1", "--payload", "hello")
        h.strata("submit", "--id", "child", "--tier", "normal", "--after", "late")

        dead = h.wait_for("both dead letters",
                          lambda: (lambda d: d if {"late", "child"} <= set(d) else None)(
                              dlq_json(h)), 60)
        check(dead["late"]["reason"] == "DEADLINE_EXPIRED", "late: %s" % dead["late"])
        check(dead["child"]["reason"] == "DEPENDENCY_FAILED", "child: %s" % dead["child"])
        check(dead["late"]["tier"] == "high" and dead["late"]["replayed"] == 0,
              "late: %s" % dead["late"])
        check(dead["late"]["dead_lettered"].endswith("Z"), "RFC 3339 UTC: %s" % dead["late"])

        # The table, and each filter.
        table = h.strata("dlq", "list").splitlines()
        check(table[0].startswith("TASK ID") and table[-1] == "2 dead letter(s)",
              "table: %s" % table)
        rows = {l.split()[0]: l.split() for l in table[1:-1]}
        check(rows["late"][1:3] == ["high", "DEADLINE_EXPIRED"], "row: %s" % rows["late"])
        check(set(dlq_json(h, "--reason", "dependency_failed")) == {"child"},
              "--reason filters")
        check(set(dlq_json(h, "--since", "1h")) == {"late", "child"}, "--since 1h keeps both")
        check(dlq_json(h, "--since", "2999-01-01T00:00:00Z") == {}, "--since the future: none")
        rc, _, err = strata_rc(h, "dlq", "list", "--reason", "LATE")
        check(rc == 2 and "DEADLINE_EXPIRED" in err and "EXHAUSTED" in err,
              "unknown reason: exit %d, %s" % (rc, err))

        # show: the whole record.
        shown = json.loads(h.strata("dlq", "show", "late"))
        check(shown["reason"] == "DEADLINE_EXPIRED" and shown["task"]["id"] == "late"
              and shown["task"]["headers"] == {"trace": "t-1"}, "show: %s" % shown)
        rc, _, err = strata_rc(h, "dlq", "show", "nobody")
        check(rc == 1 and "no dead letter" in err, "show missing: exit %d, %s" % (rc, err))

        # A dry run sends nothing.
        out = h.strata("dlq", "replay", "--id", "late", "--dry-run")
        check("would replay late to high as attempt 2" in out, "dry run: %s" % out)
        check(len(tier_attempts(h, "high", "late")) == 1, "dry run wrote to the tier")

        # Replay: attempt 2, no deadline, the same payload and headers.
        out = h.strata("dlq", "replay", "--id", "late")
        check("replayed late to high as attempt 2" in out, "replay: %s" % out)
        again = tier_attempts(h, "high", "late")
        check([t["attempt"] for t in again] == [1, 2], "tier records: %s" % again)
        check(again[1]["deadline_ms"] is None and not again[1]["deadline_hard"]
              and again[1]["retry"]["max_attempts"] == 3
              and again[1]["headers"] == {"trace": "t-1"} and again[1]["payload"] == "aGVsbG8=",
              "replayed task: %s" % again[1])
        check(dlq_json(h)["late"]["replayed"] == 1, "list shows replayed=1")
        # Without its passed deadline, the running scheduler dispatches it.
        h.wait_for("attempt 2 of late on the dispatch topic",
                   lambda: dispatched(h, "late", 2), 60)

        # Replaying again does nothing unless asked.
        rc, out, err = strata_rc(h, "dlq", "replay", "--id", "late")
        check(rc == 0 and "already replayed" in out and "0 replayed" in out,
              "second replay: exit %d, %s %s" % (rc, out, err))
        check(len(tier_attempts(h, "high", "late")) == 2, "second replay wrote a task")
        out = h.strata("dlq", "replay", "--id", "late", "--again", "--reset-attempts")
        check("replayed late to high as attempt 3" in out, "--again: %s" % out)
        third = tier_attempts(h, "high", "late")
        check([t["attempt"] for t in third] == [1, 2, 3], "tier records: %s" % third)
        check(third[2]["retry"]["max_attempts"] == 5, "fresh budget: %s" % third[2]["retry"])
        check(dlq_json(h)["late"]["replayed"] == 2, "list shows replayed=2")

        # Selecting by reason replays the dependent; nothing matched is fine.
        out = h.strata("dlq", "replay", "--reason", "DEPENDENCY_FAILED")
        check("replayed child to normal as attempt 2" in out and "1 replayed" in out,
              "by reason: %s" % out)
        rc, out, err = strata_rc(h, "dlq", "replay", "--id", "nobody")
        check(rc == 1 and "no dead letter" in err, "replay missing: exit %d, %s" % (rc, err))
        rc, _, err = strata_rc(h, "dlq", "replay")
        check(rc == 2 and "--id, --reason or --since" in err, "no selector: %d %s" % (rc, err))
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_dlq_lists_shows_and_replays_dead_letters_of_the_scheduler])
