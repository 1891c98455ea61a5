/*
 * The four record kinds Strata puts on Kafka, as plain C structs: Task,
 * TaskEvent (strata_event_t), Control and DeadLetter. Their Avro schemas are
 * the .avsc files in schemas/; field names here are the Avro field names, so a
 * reader of the schema can read this header and the other way round.
 *
 * Ownership: every struct owns all its members. Strings, byte buffers and
 * arrays are malloc'd, and strata_<kind>_clear() frees them. A caller that
 * fills a struct by hand gives it malloc'd members (or uses the
 * strata_task_add_* helpers) and must not share a pointer between two structs.
 *
 * Absent values: an optional string (Avro null|string) is NULL when absent.
 * An optional long (null|long) has a `has_<name>` flag beside it; the value is
 * meaningful only when the flag is true. Optional bytes likewise carry
 * `has_<name>`, because an empty buffer and "no buffer" differ.
 * A required string left NULL is encoded as its schema default (`type` →
 * "default") or, without one, as the empty string, which validation rejects
 * for the fields that must not be empty.
 *
 * Times stored in records are wall-clock epoch milliseconds (strata_epoch_ms_t,
 * Avro logical type timestamp-millis); durations are plain milliseconds.
 *
 * Thread-safety: the functions here touch only their arguments.
 */
#ifndef STRATA_TASK_H
#define STRATA_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/err.h"
#include "strata/time.h"

/* One entry of a map<long> (demands, usage). `key` is owned. */
typedef struct strata_kv_long {
  char *key;
  int64_t value;
} strata_kv_long_t;

/* One entry of a map<string> (headers). Both strings are owned. */
typedef struct strata_kv_str {
  char *key;
  char *value;
} strata_kv_str_t;

/*
 * The enums below mirror the Avro enum symbols one to one and in the same
 * order; the codec checks that at start-up. Adding a symbol is additive at
 * the end of both the schema and the C enum.
 */

/* Task.expiry_policy: what happens to a hard-deadline task that can't make it.
 */
typedef enum {
  STRATA_EXPIRY_DEAD_LETTER = 0,
  STRATA_EXPIRY_DROP = 1,
} strata_expiry_policy_t;

/* RetryPolicy.backoff. */
typedef enum {
  STRATA_BACKOFF_FIXED = 0,
  STRATA_BACKOFF_EXPONENTIAL = 1,
  STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER = 2,
} strata_backoff_t;

/* TaskEvent.kind. */
typedef enum {
  STRATA_EVENT_ACCEPTED = 0,
  STRATA_EVENT_DISPATCHED = 1,
  STRATA_EVENT_STARTED = 2,
  STRATA_EVENT_HEARTBEAT = 3,
  STRATA_EVENT_CHECKPOINT = 4,
  STRATA_EVENT_SUCCEEDED = 5,
  STRATA_EVENT_FAILED = 6,
  STRATA_EVENT_TIMED_OUT = 7,
  STRATA_EVENT_CANCELLED = 8,
  STRATA_EVENT_DEADLINE_MISSED = 9,
  STRATA_EVENT_DEAD_LETTERED = 10,
} strata_event_kind_t;

/* Control.kind. */
typedef enum {
  STRATA_CONTROL_CANCEL = 0,
  STRATA_CONTROL_PAUSE_TIER = 1,
  STRATA_CONTROL_RESUME_TIER = 2,
  STRATA_CONTROL_DRAIN = 3,
  STRATA_CONTROL_PREEMPT = 4,
} strata_control_kind_t;

/* DeadLetter.reason. */
typedef enum {
  STRATA_DLQ_EXHAUSTED = 0,
  STRATA_DLQ_NON_RETRYABLE = 1,
  STRATA_DLQ_DEADLINE_EXPIRED = 2,
  STRATA_DLQ_UNDECODABLE = 3,
  STRATA_DLQ_INVALID = 4,
  STRATA_DLQ_DEPENDENCY_FAILED = 5,
  STRATA_DLQ_CANCELLED = 6,
} strata_dlq_reason_t;

/* Task.retry (Avro record io.strata.RetryPolicy). */
typedef struct strata_retry_policy {
  int32_t max_attempts;     /* total attempts including the first; default 3 */
  strata_backoff_t backoff; /* default EXPONENTIAL_FULL_JITTER */
  int64_t base_ms;          /* first retry delay; default 1000 */
  int64_t cap_ms;           /* largest delay; default 300000 */
} strata_retry_policy_t;

/* Task.timeouts (Avro record io.strata.Timeouts); each optional. */
typedef struct strata_timeouts {
  bool has_schedule_to_start_ms;
  int64_t schedule_to_start_ms; /* enqueue → start */
  bool has_start_to_close_ms;
  int64_t start_to_close_ms; /* one attempt's run time */
  bool has_heartbeat_ms;
  int64_t heartbeat_ms; /* longest silence while running */
} strata_timeouts_t;

/* io.strata.Task: one unit of work. */
/* Longest queue name in bytes: a queue is part of its dispatch topic's name
 * (<prefix>dispatch.<queue>), which Kafka caps at 249 characters. */
#define STRATA_QUEUE_MAX 200

typedef struct strata_task {
  char *id;
  char *idempotency_key; /* NULL: none; the task id is the routing key */
  char *type;            /* handler name; NULL encodes as "default" */
  char *tier;
  int32_t priority; /* within the tier, higher runs first; default 0 */
  bool has_deadline_ms;
  strata_epoch_ms_t deadline_ms;        /* absolute */
  bool deadline_hard;                   /* default false */
  strata_expiry_policy_t expiry_policy; /* default DEAD_LETTER */
  bool has_not_before_ms;
  strata_epoch_ms_t not_before_ms; /* do not start before (delay) */
  bool has_estimate_ms;
  int64_t estimate_ms;       /* expected run time */
  strata_kv_long_t *demands; /* pool name → amount, e.g. llm.tokens: 1800 */
  size_t demands_count;
  char **depends_on; /* task ids that must succeed first */
  size_t depends_on_count;
  strata_retry_policy_t retry;
  int32_t attempt; /* 1-based; default 1 */
  strata_timeouts_t timeouts;
  strata_epoch_ms_t created_ms;
  strata_epoch_ms_t enqueued_ms;
  strata_kv_str_t *headers;
  size_t headers_count;
  uint8_t *payload; /* opaque to Strata; may be NULL when payload_len is 0 */
  size_t payload_len;
  bool has_checkpoint;
  uint8_t *checkpoint; /* handler state saved at a checkpoint */
  size_t checkpoint_len;
  char *queue; /* the workers that run it; NULL: the default queue */
} strata_task_t;

/* io.strata.TaskEvent: something that happened to one attempt of a task. */
typedef struct strata_event {
  char *task_id;
  char *idempotency_key; /* NULL: none */
  int32_t attempt;
  strata_event_kind_t kind;
  strata_epoch_ms_t time_ms;
  char *tier;
  char *worker_id;         /* NULL: none */
  char *error;             /* NULL: none */
  bool retryable;          /* default true */
  strata_kv_long_t *usage; /* actual resource usage, e.g. llm.tokens */
  size_t usage_count;
  bool has_checkpoint;
  uint8_t *checkpoint;
  size_t checkpoint_len;
  char *routing_key; /* the Kafka key the event was written with */
  char *queue;       /* the attempt's queue; NULL: the default queue */
} strata_event_t;

/* io.strata.Control: an operator's or a client's command. */
typedef struct strata_control {
  strata_control_kind_t kind;
  char *task_id; /* NULL: none (CANCEL and PREEMPT need one) */
  char *tier;    /* NULL: none (PAUSE_TIER and RESUME_TIER need one) */
  char *reason;  /* NULL: none */
  strata_epoch_ms_t issued_ms;
  char *issued_by; /* NULL: none */
} strata_control_t;

/* io.strata.AttemptRecord: one past attempt of a dead-lettered task. */
typedef struct strata_attempt_record {
  int32_t attempt;
  bool has_started_ms;
  strata_epoch_ms_t started_ms;
  bool has_ended_ms;
  strata_epoch_ms_t ended_ms;
  char *outcome; /* e.g. "FAILED", "TIMED_OUT" */
  char *error;   /* NULL: none */
} strata_attempt_record_t;

/* Task headers with the history of earlier attempts, one per attempt i
 * ("strata.attempt.1"), compact JSON: a failed or timed-out attempt
 * {"outcome","started_ms","ended_ms","error"}, a yielded one
 * {"started_ms","ended_ms","reason"}. See docs/ARCHITECTURE.md. */
#define STRATA_HEADER_ATTEMPT_PREFIX "strata.attempt."
#define STRATA_HEADER_YIELD_PREFIX "strata.yield."

/* io.strata.DeadLetter: a record that Strata gave up on, and why. */
typedef struct strata_deadletter {
  char *task_id; /* NULL when the original did not decode */
  strata_dlq_reason_t reason;
  char *detail;
  char *last_error; /* NULL: none */
  strata_attempt_record_t *attempts;
  size_t attempts_count;
  strata_task_t *task; /* NULL: none; owned, malloc'd */
  uint8_t *original;   /* the original record value, byte for byte */
  size_t original_len;
  char *original_topic;
  int32_t original_partition;
  int64_t original_offset;
  strata_epoch_ms_t dead_lettered_ms;
  int32_t replayed; /* times replayed; default 0 */
  /* `original` is only a prefix of the record (the dead letter would not
   * fit the maximum record size otherwise); default false. */
  bool original_truncated;
} strata_deadletter_t;

/*
 * Lifecycle, the same for each kind:
 *   _init(x)   sets every member to the schema default (no allocation, cannot
 *              fail); call it before first use.
 *   _clear(x)  frees every member and re-initialises, so `x` is reusable.
 *              NULL is accepted.
 *   _copy(dst, src, errstr, size)  deep copy; `dst` is cleared first and owns
 *              its copy afterwards. STRATA_ERR_NOMEM leaves `dst` cleared.
 */
void strata_task_init(strata_task_t *t);
void strata_task_clear(strata_task_t *t);
strata_err_t strata_task_copy(strata_task_t *dst, const strata_task_t *src,
                              char *errstr, size_t size);

void strata_event_init(strata_event_t *e);
void strata_event_clear(strata_event_t *e);
strata_err_t strata_event_copy(strata_event_t *dst, const strata_event_t *src,
                               char *errstr, size_t size);

void strata_control_init(strata_control_t *c);
void strata_control_clear(strata_control_t *c);
strata_err_t strata_control_copy(strata_control_t *dst,
                                 const strata_control_t *src, char *errstr,
                                 size_t size);

void strata_deadletter_init(strata_deadletter_t *d);
void strata_deadletter_clear(strata_deadletter_t *d);
strata_err_t strata_deadletter_copy(strata_deadletter_t *dst,
                                    const strata_deadletter_t *src,
                                    char *errstr, size_t size);

/*
 * Checks what the schema cannot: non-empty id and tier, a non-empty type when
 * set, non-negative times and estimate, a known expiry policy and backoff,
 * max_attempts >= 1, 0 <= base_ms <= cap_ms, attempt >= 1, positive timeouts,
 * non-empty unique demand keys with non-negative amounts, unique header keys,
 * non-empty dependency ids other than the task's own, a hard deadline only
 * with a deadline. Whether the tier exists is the caller's business.
 * Returns STRATA_OK or STRATA_ERR_INVALID_TASK with errstr naming the field,
 * e.g. "Task.retry.cap_ms: 10 is below base_ms 1000".
 */
strata_err_t strata_task_validate(const strata_task_t *t, char *errstr,
                                  size_t size);

/*
 * Control needs a task_id for CANCEL and PREEMPT and a tier for PAUSE_TIER and
 * RESUME_TIER. Returns STRATA_OK or STRATA_ERR_INVALID_ARG naming the field.
 */
strata_err_t strata_control_validate(const strata_control_t *c, char *errstr,
                                     size_t size);

/*
 * Builders for the repeated members. Each copies its string arguments; the
 * struct owns the copies. STRATA_ERR_NOMEM leaves the struct unchanged.
 */
strata_err_t strata_task_add_demand(strata_task_t *t, const char *pool,
                                    int64_t amount);
strata_err_t strata_task_add_header(strata_task_t *t, const char *key,
                                    const char *value);
strata_err_t strata_task_add_dependency(strata_task_t *t, const char *task_id);
strata_err_t strata_event_add_usage(strata_event_t *e, const char *pool,
                                    int64_t amount);

/* Symbol text of an enum value as spelled in the schema, or NULL if unknown. */
const char *strata_backoff_name(strata_backoff_t b);
const char *strata_expiry_policy_name(strata_expiry_policy_t p);
const char *strata_event_kind_name(strata_event_kind_t k);
const char *strata_control_kind_name(strata_control_kind_t k);
const char *strata_dlq_reason_name(strata_dlq_reason_t r);

#endif /* STRATA_TASK_H */
