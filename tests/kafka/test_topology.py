"""Partitions added to a tier topic at run time, on a real broker.

  test_added_partitions_are_reported_and_strata_clients_avoid_them

The tier topic `tasks.low` grows from 4 to 6 partitions while the scheduler
runs. The scheduler reports the two it will never read
(strata_unread_partitions, and an error line naming the topic and the
remedy), and tasks submitted afterwards with Strata's client all run: it
writes only to the configured partitions.

Usage: test_topology.py BINDIR ADD_PARTITIONS   (STRATA_TEST_BOOTSTRAP set)
"""
import subprocess
import sys
import urllib.request

from harness import Harness, check, run

BIN, ADD = sys.argv[1], sys.argv[2]


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_added_partitions_are_reported_and_strata_clients_avoid_them():
    # A short metadata refresh, so the consumer sees the new partitions (and
    # rebalances) within seconds rather than 5 minutes.
    h = Harness(BIN, "topo", ["--set", "exec.default=true",
                              "--set", "kafka.topic.metadata.refresh.interval.ms=1000"])
    try:
        h.ensure_topics()
        h.start("scheduler", "strata-scheduler", "--log-level", "info")
        h.start("worker", "strata-worker")
        port = h.admin_port("scheduler")
        h.wait_for("the scheduler to own its partitions",
                   lambda: h.http_json(port, "/healthz")["assigned_partitions"] > 0, 60)
        r = subprocess.run([ADD, h.bootstrap, h.prefix + "tasks.low", "6"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "add_partitions: %s" % r.stderr.strip())
        h.wait_for("strata_unread_partitions to report the 2 new partitions",
                   lambda: metric(port, "strata_unread_partitions") == 2, 60)
        log = open("%s/%sscheduler.log" % (h.logdir, h.prefix), errors="replace").read()
        check("tasks.low has partition 4 but topic.partitions is 4" in log
              and "Remedy" in log, "the scheduler names the topic and the remedy")
        ids = h.submit_jsonl([{"tier": "low", "id": "after-%d" % i} for i in range(60)])
        ok = h.wait_for("the 60 tasks submitted after the change to succeed", lambda: (
            lambda s: s if set(ids) <= s else None)(
                {rec["value"]["task_id"] for rec in h.read("events")
                 if "value" in rec and rec["value"]["kind"] == "SUCCEEDED"}), 90)
        parts = {rec["partition"] for rec in h.read("tier:low") if "value" in rec}
        check(parts <= {0, 1, 2, 3}, "Strata's client wrote only to partitions 0-3: %s"
              % sorted(parts))
        print("  topology: 2 partitions added at run time reported; %d tasks after it "
              "all ran on partitions %s" % (len(ok & set(ids)), sorted(parts)), flush=True)
    finally:
        h.stop_all()


if __name__ == "__main__":
    run([test_added_partitions_are_reported_and_strata_clients_avoid_them])
