/*
 * The worker runtime: a consumer-group member of <prefix>dispatch that runs
 * each dispatched task in a handler, with at most `worker.concurrency` running
 * at once, and reports every outcome as a TaskEvent on <prefix>events.
 *
 * Events, all keyed by the dispatch record's key and written to the dispatch
 * record's partition number (events are co-partitioned with dispatch, so the
 * scheduler instance owning partition p sees them): STARTED when a handler
 * begins, HEARTBEAT every `worker.heartbeat.interval` while it runs (only for
 * tasks without timeouts.heartbeat_ms, see strata_job_heartbeat()) and on
 * strata_job_heartbeat(), CHECKPOINT on strata_job_checkpoint(), then one of
 * SUCCEEDED, FAILED (error, retryable), CANCELLED, TIMED_OUT (the task's
 * start_to_close timeout passed) or, for an attempt that yielded, CHECKPOINT
 * with a non-null error, carrying the usage the handler reported.
 *
 * Cooperative preemption: a PREEMPT record on <prefix>control for a task
 * running or queued here makes strata_job_should_yield() true; the handler
 * saves its state (strata_job_checkpoint()) and returns
 * STRATA_HANDLER_YIELDED, and the runtime requeues the task as attempt+1 on
 * its tier topic with that state, without using up its retry budget. See
 * docs/ARCHITECTURE.md, "Checkpoints and yielding".
 *
 * At-least-once: a dispatch record's offset is committed only after its
 * terminal event is acknowledged by Kafka, in offset order per partition. A
 * worker that dies mid-task leaves the record uncommitted, and the group
 * hands it to another worker, which runs the same attempt again. Handlers get
 * the idempotency key and the attempt number so they can deduplicate.
 *
 * Threading: strata_worker_run() blocks the calling thread, which runs the
 * consume loop; handlers run on a pool of `worker.concurrency` threads that
 * the runtime starts and joins inside run(). strata_worker_stop() and
 * strata_worker_cancel_task() may be called from any thread;
 * strata_worker_stop() also from a signal handler. The job functions are
 * called from the handler's own thread with the job it was given (any thread
 * may call strata_job_should_yield() and strata_job_cancel_requested() while
 * the handler runs).
 */
#ifndef STRATA_WORKER_H
#define STRATA_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/config.h"
#include "strata/err.h"
#include "strata/task.h"

typedef struct strata_worker_s strata_worker_t;

/* One running attempt of a task, as seen by its handler. Owned by the
 * runtime; valid only until the handler returns. */
typedef struct strata_job_s strata_job_t;

typedef enum {
  STRATA_HANDLER_SUCCEEDED = 0,
  STRATA_HANDLER_FAILED = 1, /* see strata_job_fail(); retryable by default */
  STRATA_HANDLER_CANCELLED = 2,
  /* Stopped early to be resumed later, normally right after
   * strata_job_checkpoint(): the task is requeued as the next attempt with
   * the latest checkpoint, and the retry budget grows by one. Allowed
   * without a PREEMPT (a voluntary yield). A cancel requested meanwhile wins:
   * the attempt is CANCELLED. */
  STRATA_HANDLER_YIELDED = 3,
} strata_handler_status_t;

/* Runs one task on a handler thread. `opaque` is the pointer given to
 * strata_worker_register(). */
typedef strata_handler_status_t (*strata_handler_fn)(strata_job_t *job,
                                                     void *opaque);

/* Counters since strata_worker_new(); read with strata_worker_stats(). */
typedef struct {
  uint64_t received;  /* dispatch records taken from Kafka */
  uint64_t started;   /* handlers begun */
  uint64_t succeeded; /* terminal events written, by kind */
  uint64_t failed;
  uint64_t cancelled;
  uint64_t timed_out;
  uint64_t handed_back;   /* interrupted by stop; left for another worker */
  uint64_t undecodable;   /* dispatch records that did not decode (skipped) */
  uint64_t committed;     /* transactions that carried dispatch offsets */
  uint64_t retried;       /* failed attempts followed by a retry record */
  uint64_t dead_lettered; /* failed attempts that went to <prefix>dlq */
  uint64_t aborted;       /* transactions aborted (consumer rewound) */
  uint64_t yielded;       /* attempts requeued after a yield */
  uint64_t producer_restarts; /* transactional producers re-created after a
                                 fatal error (consumer rewound) */
} strata_worker_stats_t;

/*
 * Creates a worker for the cluster at `bootstrap.servers` of `cfg` (which must
 * be set; use strata_kafka_resolve_bootstrap() for the embedded broker). Reads
 * topic.prefix, worker.* and kafka.* from `cfg` during the call only. Connects
 * lazily: the group is joined by strata_worker_run(). NULL with errstr naming
 * the key or the librdkafka property on failure.
 */
strata_worker_t *strata_worker_new(const strata_config_t *cfg, char *errstr,
                                   size_t size);

/* Frees the worker. Must not be called while strata_worker_run() runs.
 * Accepts NULL. */
void strata_worker_destroy(strata_worker_t *w);

/*
 * Registers the handler for tasks of `type` (Task.type; "default" when the
 * producer set none). "*" registers the fallback for types with no handler of
 * their own; without one, such tasks FAIL, not retryable, with a message
 * naming the type and the registered ones. One handler per type:
 * STRATA_ERR_EXISTS for a second. Call before strata_worker_run() only
 * (STRATA_ERR_STATE otherwise). `type` is copied.
 */
strata_err_t strata_worker_register(strata_worker_t *w, const char *type,
                                    strata_handler_fn fn, void *opaque);

/*
 * Registers the built-in exec handler for each `exec.<type>=<command>` entry
 * of `cfg` (an `exec.*` entry becomes the fallback), plus, unless one is
 * configured, a fallback that fails unknown types, not retryable, naming the
 * configured types. See docs/ARCHITECTURE.md "Workers" for the contract
 * (stdin, STRATA_* environment, exit codes, stderr tail, checkpoint files,
 * SIGUSR1 on PREEMPT, exit 75 to yield). The handler heartbeats on behalf of
 * its command while it runs. STRATA_ERR_CONFIG when `cfg` has no exec entry.
 */
strata_err_t strata_worker_register_exec(strata_worker_t *w,
                                         const strata_config_t *cfg,
                                         char *errstr, size_t size);

/*
 * Validates the `exec.<type>=<command>` entries of `cfg` as
 * strata_worker_register_exec() does, without a worker: STRATA_ERR_CONFIG
 * naming the key for an empty command, or when there is no exec entry. So a
 * program can refuse bad input before it connects to Kafka.
 */
strata_err_t strata_worker_check_exec(const strata_config_t *cfg, char *errstr,
                                      size_t size);

/*
 * Joins the consumer group and runs tasks until strata_worker_stop(). On stop
 * it takes no new task, gives running ones `worker.shutdown.timeout` to
 * finish, then requests their cancellation and hands them back (no terminal
 * event, offset not committed, so another worker runs them), commits what
 * finished and leaves the group. A fatal error of the transactional producer
 * (a broker restart can cause one, or a fencing) does not end it: the
 * producer is re-created, the running tasks are handed back and every
 * partition is rewound to its committed offset. Returns STRATA_OK after a
 * stop, STRATA_ERR_KAFKA (errstr filled) when the first producer cannot be
 * initialised or on a fatal error of the consumer, STRATA_ERR_STATE if
 * called twice. Blocks until every handler has returned: a handler must
 * poll strata_job_cancel_requested() if it can run long.
 */
strata_err_t strata_worker_run(strata_worker_t *w, char *errstr, size_t size);

/* Asks run() to stop. Thread-safe and async-signal-safe; idempotent. */
void strata_worker_stop(strata_worker_t *w);

/*
 * Requests cancellation of the running attempt(s) of `task_id`: their
 * strata_job_cancel_requested() becomes true, and a handler that then returns
 * STRATA_HANDLER_CANCELLED reports CANCELLED. STRATA_ERR_NOT_FOUND when no
 * such task runs here. Thread-safe.
 */
strata_err_t strata_worker_cancel_task(strata_worker_t *w, const char *task_id);

/* Copies the counters. Thread-safe. */
void strata_worker_stats(const strata_worker_t *w, strata_worker_stats_t *out);

/* "hostname:pid", as written in events. Owned by the worker. */
const char *strata_worker_id(const strata_worker_t *w);

/* ---- Inside a handler ----------------------------------------------- */

/* The decoded task (attempt, headers, payload, ...). Owned by the job. */
const strata_task_t *strata_job_task(const strata_job_t *job);

/* The idempotency key, or the task id when the task has none. Never NULL. */
const char *strata_job_idempotency_key(const strata_job_t *job);

/* The 1-based attempt number of this run. */
int32_t strata_job_attempt(const strata_job_t *job);

/* Where the dispatch record came from, for logs. */
int32_t strata_job_partition(const strata_job_t *job);
int64_t strata_job_offset(const strata_job_t *job);

/*
 * Adds `amount` to the usage of `pool` (e.g. "llm.tokens") reported in the
 * terminal event; repeated calls for one pool add up. STRATA_ERR_NOMEM or
 * STRATA_ERR_INVALID_ARG (empty pool, negative amount).
 */
strata_err_t strata_job_report_usage(strata_job_t *job, const char *pool,
                                     int64_t amount);

/*
 * Writes a HEARTBEAT event now. For a task without timeouts.heartbeat_ms the
 * runtime also writes one every worker.heartbeat.interval. For a task with
 * it the runtime does not: the handler itself must call this (or
 * strata_job_checkpoint()) more often than heartbeat_ms, since a heartbeat
 * timeout exists to catch a handler that stopped making progress.
 */
void strata_job_heartbeat(strata_job_t *job);

/*
 * The checkpoint the task was dispatched with (Task.checkpoint: the state a
 * previous attempt saved), `*len` bytes; NULL with *len = 0 when it has none.
 * Owned by the job. Not changed by strata_job_checkpoint().
 */
const void *strata_job_resume_state(const strata_job_t *job, size_t *len);

/*
 * Saves `state` (`len` bytes, copied; NULL allowed when len is 0) as this
 * attempt's latest state: a CHECKPOINT event carrying it is written, and a
 * yield (or a retry) of this attempt hands it to the next attempt as
 * Task.checkpoint. Counts as a heartbeat. STRATA_ERR_INVALID_ARG (logged,
 * naming the limit) when `len` exceeds worker.checkpoint.max.bytes,
 * STRATA_ERR_TOO_LARGE when the event or the requeued task would exceed
 * codec.max.record.bytes, STRATA_ERR_NOMEM, STRATA_ERR_ENCODE; on error the
 * previous state stays the latest.
 */
strata_err_t strata_job_checkpoint(strata_job_t *job, const void *state,
                                   size_t len);

/*
 * True once a PREEMPT for this task has been read from <prefix>control while
 * the attempt was running or queued here. The handler should then checkpoint
 * and return STRATA_HANDLER_YIELDED. Cheap; poll it. Any thread.
 */
bool strata_job_should_yield(const strata_job_t *job);

/*
 * Stops counting this job against worker.concurrency, so the worker may
 * start another task meanwhile, e.g. while this one waits on I/O. The job
 * keeps running and reporting as before. Idempotent.
 */
void strata_job_release_slot(strata_job_t *job);

/*
 * Takes a concurrency slot back after strata_job_release_slot(), blocking
 * (without spinning) until one is free; a waiting handler goes before new
 * records. Returns true at once when the job holds its slot. Returns false,
 * without a slot, when cancellation (strata_job_cancel_requested()) or a
 * yield (strata_job_should_yield()) is requested before a slot is free; the
 * handler should then wind up. A handler may return with its slot released.
 */
bool strata_job_acquire_slot(strata_job_t *job);

/*
 * Sets the error text of a failure and whether a retry may help; the handler
 * then returns STRATA_HANDLER_FAILED. The text is truncated to 4 KiB.
 */
void strata_job_fail(strata_job_t *job, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * True once the task should stop: strata_worker_cancel_task(), its
 * start_to_close timeout, or the worker stopping. Cheap; poll it.
 */
bool strata_job_cancel_requested(const strata_job_t *job);

#endif /* STRATA_WORKER_H */
