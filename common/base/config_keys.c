/*
 * The table of configuration keys: the only place a key is declared. Parsing,
 * validation, every program's --help and docs/CONFIG.md all read this table.
 * Keep rows grouped by prefix and descriptions to one sentence or two.
 */
#include "strata/config.h"

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define DAY(x) ((int64_t)(x)*86400000)

static const strata_cfg_key_t keys[] = {
    {"bootstrap.servers", STRATA_CFG_STRING, "", 0, 0, NULL, STRATA_CFG_ALL,
     "Kafka brokers (host:port,...). Empty: start librdkafka's embedded mock "
     "cluster in-process (development only: no real transactions)."},
    {"topic.prefix", STRATA_CFG_STRING, "strata.", 0, 0, NULL, STRATA_CFG_ALL,
     "Prefix of every topic name."},
    {"topic.partitions", STRATA_CFG_INT, "4", 1, 4096, NULL, STRATA_CFG_ALL,
     "Partition count shared by tier, delay, dispatch and events topics "
     "(they are co-partitioned)."},
    {"topic.replication.factor", STRATA_CFG_INT, "1", 1, 32, NULL,
     STRATA_CFG_ALL, "Replication factor used when creating topics."},
    {"tiers", STRATA_CFG_LIST, "critical,high,normal,low,background", 0, 0,
     NULL, STRATA_CFG_ALL,
     "Priority tiers, most urgent first; one topic each "
     "(<prefix>tasks.<tier>)."},
    {"tier.weights", STRATA_CFG_LIST, "40,25,20,10,5", 0, 0, NULL,
     STRATA_CFG_ALL,
     "Guaranteed share of dispatches per tier, in the order of `tiers`; "
     "shares of idle tiers are lent to the others."},
    {"delay.steps", STRATA_CFG_LIST, "1s,5s,30s,2m,10m,1h", 0, 0, NULL,
     STRATA_CFG_ALL,
     "Delay ladder: one topic (<prefix>delay.<step>) per fixed delay, "
     "ascending."},
    {"queues", STRATA_CFG_LIST, "default", 0, 0, NULL, STRATA_CFG_ALL,
     "Queues of workers a task may name (Task.queue), at most 15 besides "
     "\"default\"; one dispatch topic each: <prefix>dispatch for the "
     "default queue (a task that names none), <prefix>dispatch.<queue> for "
     "the others. The dispatch window counts each queue apart."},
    {"log.level", STRATA_CFG_ENUM, "info", 0, 0, "error|warn|info|debug",
     STRATA_CFG_ALL, "Lowest level of log lines written to stderr."},
    {"admin.listen", STRATA_CFG_STRING, "127.0.0.1:9464", 0, 0, NULL,
     STRATA_CFG_SCHEDULER | STRATA_CFG_CLI,
     "Address of the admin HTTP endpoint (/metrics, /tasks, /healthz); "
     "empty disables it."},
    {"scheduler.group.id", STRATA_CFG_STRING, "strata-scheduler", 0, 0, NULL,
     STRATA_CFG_SCHEDULER | STRATA_CFG_CLI,
     "Consumer group of the scheduler instances."},
    {"tier.target.waits", STRATA_CFG_LIST, "1s,5s,30s,2m,10m", 0, 0, NULL,
     STRATA_CFG_SCHEDULER,
     "Implicit relative deadline per tier (order of `tiers`) for tasks "
     "submitted without one, so they still age."},
    {"scheduler.instance.id", STRATA_CFG_STRING, "", 0, 0, NULL,
     STRATA_CFG_SCHEDULER,
     "Stable name of this scheduler instance (default: the host name); its "
     "transactional.id is strata-scheduler-<id>, so a restarted instance "
     "fences its predecessor at once. Give each instance its own."},
    {"scheduler.starvation.bound", STRATA_CFG_DURATION, "60s", 0, DAY(1), NULL,
     STRATA_CFG_SCHEDULER,
     "A ready task that has waited this long is dispatched ahead of the tier "
     "rotation; 0 disables aging."},
    {"scheduler.batch", STRATA_CFG_INT, "1000", 1, 100000, NULL,
     STRATA_CFG_SCHEDULER,
     "Most dispatch decisions committed in one Kafka transaction."},
    {"scheduler.max.tasks", STRATA_CFG_INT, "1000000", 1, 100000000, NULL,
     STRATA_CFG_SCHEDULER,
     "Most tasks the scheduler holds in memory; beyond it, fetching the tiers "
     "stops and the backlog waits in Kafka."},
    {"scheduler.tick", STRATA_CFG_DURATION, "10ms", MS(1), SEC(1), NULL,
     STRATA_CFG_SCHEDULER,
     "Longest the scheduler loop sleeps between decisions."},
    {"scheduler.preemption", STRATA_CFG_BOOL, "true", 0, 0, NULL,
     STRATA_CFG_SCHEDULER,
     "Ask a running lower-tier task to yield (PREEMPT) when a higher tier "
     "waits for a concurrency pool it holds."},
    {"scheduler.dispatch.window", STRATA_CFG_ENUM, "auto", 0, 0, "auto|off",
     STRATA_CFG_SCHEDULER,
     "auto: keep the attempts dispatched and not yet started by a worker "
     "within a bound sized from the observed start rate and event latency, "
     "so a backlog waits in the scheduler's order instead of in the dispatch "
     "topic's (docs/ARCHITECTURE.md, \"The dispatch window\"); off: dispatch "
     "whatever is ready."},
    {"scheduler.dispatch.window.min", STRATA_CFG_INT, "32", 1, 1000000, NULL,
     STRATA_CFG_SCHEDULER,
     "Smallest bound of the dispatch window (attempts dispatched and not "
     "started), kept even when nothing has started yet."},
    {"scheduler.dispatch.window.max", STRATA_CFG_INT, "100000", 1, 100000000,
     NULL, STRATA_CFG_SCHEDULER, "Largest bound of the dispatch window."},
    {"scheduler.watch.interval", STRATA_CFG_DURATION, "100ms", MS(10), SEC(10),
     NULL, STRATA_CFG_SCHEDULER,
     "How often running attempts are checked for heartbeat timeouts and "
     "preemption."},
    {"scheduler.health.stall", STRATA_CFG_DURATION, "60s", 0, DAY(1), NULL,
     STRATA_CFG_SCHEDULER,
     "/healthz answers 503 \"stalled\" when the loop has not started a turn "
     "for this long (a broker call that does not return); 0 disables the "
     "check."},
    {"idempotency.window", STRATA_CFG_DURATION, "24h", 0, DAY(30), NULL,
     STRATA_CFG_SCHEDULER,
     "How long a submitted idempotency key suppresses duplicates."},
    {"worker.group.id", STRATA_CFG_STRING, "strata-worker", 0, 0, NULL,
     STRATA_CFG_WORKER, "Consumer group of the workers."},
    {"worker.instance.id", STRATA_CFG_STRING, "", 0, 0, NULL, STRATA_CFG_WORKER,
     "Stable name of this worker process (default: host name:pid); its "
     "transactional.id is strata-worker-<id>, so a restarted worker with the "
     "same id aborts its predecessor's open transaction at once. Give each "
     "running worker its own."},
    {"worker.queue", STRATA_CFG_STRING, "default", 0, 0, NULL,
     STRATA_CFG_WORKER,
     "The queue this worker takes tasks from (one of `queues`); it reads "
     "only that queue's dispatch topic, so it never receives another "
     "queue's tasks."},
    {"worker.concurrency", STRATA_CFG_INT, "4", 1, 4096, NULL,
     STRATA_CFG_WORKER, "Tasks one worker process runs at once."},
    {"worker.heartbeat.interval", STRATA_CFG_DURATION, "5s", MS(100), SEC(3600),
     NULL, STRATA_CFG_WORKER,
     "How often a running task's heartbeat event is written."},
    {"worker.stderr.tail", STRATA_CFG_INT, "4096", 0, 1048576, NULL,
     STRATA_CFG_WORKER,
     "Bytes of an exec handler's stderr kept in its failure event."},
    {"worker.shutdown.timeout", STRATA_CFG_DURATION, "10s", 0, SEC(3600), NULL,
     STRATA_CFG_WORKER,
     "How long a stopping worker, or one losing a partition, waits for "
     "running tasks before handing them back to the group."},
    {"worker.kill.grace", STRATA_CFG_DURATION, "5s", 0, SEC(600), NULL,
     STRATA_CFG_WORKER,
     "Time between SIGTERM and SIGKILL to a cancelled exec command's process "
     "group."},
    {"worker.checkpoint.max.bytes", STRATA_CFG_INT, "262144", 0, 67104768, NULL,
     STRATA_CFG_WORKER,
     "Largest checkpoint state a handler may save; it travels inside a task "
     "and an event, so keep it well below codec.max.record.bytes and the "
     "broker's message.max.bytes."},
    {"codec.max.record.bytes", STRATA_CFG_INT, "1048576", 1024, 67108864, NULL,
     STRATA_CFG_ALL,
     "Largest record accepted for decoding; larger ones go to the DLQ."},
    {NULL, STRATA_CFG_STRING, NULL, 0, 0, NULL, 0, NULL},
};

const strata_cfg_key_t *strata_config_keys(void) {
  return keys;
}
