/*
 * The Strata client library: submit tasks (one or a batch), cancel them, and
 * learn when each submission is durably accepted by Kafka.
 *
 * A submitted task is validated (fields, tier, deadline not in the past),
 * completed with defaults (id, created/enqueued times, attempt 1), encoded
 * with the Avro codec and produced, idempotently and with acks=all, to
 * <prefix>tasks.<tier> (or, when its not-before time is at least the
 * smallest delay step away, to the delay ladder topic of the longest step
 * that does not overshoot it), keyed by its routing key (idempotency key when
 * set, else the task id) with the murmur2 partitioner that Java clients use by
 * default, so a task written by any Kafka client lands on the same partition.
 *
 * Delivery: each submission may carry a callback that runs exactly once, from
 * strata_producer_poll() or strata_producer_flush() on the caller's thread,
 * with STRATA_OK when Kafka has the task, or the error.
 *
 * Threading: submit, cancel and poll may be called from several threads;
 * callbacks run on the thread that polls.
 */
#ifndef STRATA_PRODUCER_H
#define STRATA_PRODUCER_H

#include <stddef.h>

#include "strata/config.h"
#include "strata/err.h"
#include "strata/task.h"

typedef struct strata_producer_s strata_producer_t;

/*
 * Called once per submission. `task_id` is valid only during the call;
 * `errstr` is "" on success.
 */
typedef void (*strata_delivery_cb)(const char *task_id, strata_err_t err,
                                   const char *errstr, void *opaque);

/*
 * Creates a producer for the cluster at `bootstrap.servers` of `cfg` (which
 * must be set; use strata_kafka_resolve_bootstrap() for the embedded broker).
 * `cfg` is read during the call only. NULL with errstr on failure.
 */
strata_producer_t *strata_producer_new(const strata_config_t *cfg, char *errstr,
                                       size_t size);

/* Flushes for up to 10 s, then frees. Accepts NULL. */
void strata_producer_destroy(strata_producer_t *p);

/*
 * Fills the defaults of `task` in place (an id when it has none, created_ms
 * and enqueued_ms, attempt 1 when 0) using `now_ms`, then validates it against
 * the schema rules and this configuration's tiers. Used by submit; public so a
 * caller can check a task without sending it.
 */
strata_err_t strata_producer_prepare(strata_producer_t *p, strata_task_t *task,
                                     strata_epoch_ms_t now_ms, char *errstr,
                                     size_t size);

/*
 * Prepares and enqueues one task for sending; the task stays owned by the
 * caller (it is updated with its defaults, e.g. the generated id). Returns
 * STRATA_OK once queued; the final outcome comes to `cb` (may be NULL). A
 * validation failure returns STRATA_ERR_INVALID_TASK naming the field and
 * calls no callback. STRATA_ERR_FULL when the local queue is full: poll and
 * retry.
 */
strata_err_t strata_producer_submit(strata_producer_t *p, strata_task_t *task,
                                    strata_delivery_cb cb, void *opaque,
                                    char *errstr, size_t size);

/*
 * Validates every task first and sends none if any is invalid (errstr names
 * the index and the field); then enqueues them all. Returns the number queued
 * through *queued (may be NULL).
 */
strata_err_t strata_producer_submit_batch(strata_producer_t *p,
                                          strata_task_t *tasks, size_t n,
                                          strata_delivery_cb cb, void *opaque,
                                          size_t *queued, char *errstr,
                                          size_t size);

/*
 * Writes a cancel request for `task_id` to <prefix>control. Delivery is
 * reported like a submission (with task_id).
 */
strata_err_t strata_producer_cancel(strata_producer_t *p, const char *task_id,
                                    const char *reason, strata_delivery_cb cb,
                                    void *opaque, char *errstr, size_t size);

/*
 * Writes a command to <prefix>control (every scheduler and worker reads it):
 *   CANCEL, PREEMPT  target = task id
 *   PAUSE_TIER       target = a configured tier, or "*" for every tier: its
 *                    tasks are held, not dispatched, until RESUME_TIER
 *   RESUME_TIER      target = a tier or "*"; also ends a drain
 *   DRAIN            target ignored: every tier paused; running attempts
 *                    finish; the scheduler's /healthz then says "drained"
 * `reason` (may be NULL) is kept for the audit trail. STRATA_ERR_INVALID_ARG
 * naming the problem for an empty target or an unknown tier. Delivery is
 * reported like a submission (with the target, or the kind for DRAIN).
 */
strata_err_t strata_producer_control(strata_producer_t *p,
                                     strata_control_kind_t kind,
                                     const char *target, const char *reason,
                                     strata_delivery_cb cb, void *opaque,
                                     char *errstr, size_t size);

/* Serves delivery callbacks for up to timeout_ms; returns how many ran. */
int strata_producer_poll(strata_producer_t *p, int timeout_ms);

/*
 * Waits until every queued submission has its outcome (callbacks served) or
 * timeout_ms passes: STRATA_OK or STRATA_ERR_TIMEOUT.
 */
strata_err_t strata_producer_flush(strata_producer_t *p, int timeout_ms);

/* Generates a random task id (UUID version 4 text) into buf[37]. */
void strata_task_id_generate(char buf[37]);

#endif /* STRATA_PRODUCER_H */
