/*
 * Internals shared by the worker runtime's files: the worker and job structs
 * (worker.c, job.c; offsets are tracked with common/offset_tracker.h), event
 * encoding (job.c), outcomes, retries, yields and dead letters (outcome.c), the
 * set of cancelled task ids (cancels.c) and the exec handler (exec.c).
 *
 * Output: nothing but the consume loop touches the transactional producer.
 * Handler threads (and the loop) append encoded STARTED/HEARTBEAT/CHECKPOINT
 * events to the outbox, and a finished job to the done list, both under `lock`;
 * each loop turn takes both lists and writes them, the terminal records of the
 * done jobs and the dispatch offsets in one transaction. Because the outbox
 * is taken before the done list, STARTED, HEARTBEAT and the terminal event of
 * one job leave in that order.
 *
 * Locking: `lock` guards the job queue, the running slots, `busy`,
 * `released`, `acquiring`, the stats, the outbox, the done list and every
 * job's `state`, `last_hb_us`, `deadline_us`, `slot_released` and
 * `yield_reason`. Partition state (`parts`), the cancel set, the PRNG and the
 * producer are touched only by the thread inside strata_worker_run()
 * (consume loop, rebalance and delivery callbacks all run there).
 *
 * Slots: `busy` counts the jobs queued or running that hold a concurrency
 * slot; a job whose handler called strata_job_release_slot() runs on without
 * one (`released` counts those), and the loop takes a record only while
 * busy + acquiring < concurrency, so a handler taking its slot back goes
 * before new records. There are always at least concurrency + released
 * handler threads, so a queued job never waits for a thread.
 */
#ifndef STRATA_WORKER_INT_H
#define STRATA_WORKER_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "offset_tracker.h"
#include "strata/kafka.h"
#include "strata/time.h"
#include "strata/worker.h"

/* ---- worker.c / job.c ----------------------------------------------- */

/* Why a job was asked to stop. */
typedef enum {
  JOB_CANCEL_NONE = 0,
  JOB_CANCEL_USER,    /* strata_worker_cancel_task() */
  JOB_CANCEL_TIMEOUT, /* start_to_close passed */
  JOB_CANCEL_STOP,    /* worker stopping: hand the task back */
} job_cancel_t;

typedef enum {
  JOB_QUEUED,
  JOB_RUNNING,
  JOB_FINISHED,
} job_state_t;

typedef struct {
  char *type;
  strata_handler_fn fn;
  void *opaque;
  void (*free_opaque)(void *opaque);
} handler_entry_t;

/* One record to write in the next transaction. `topic` is owned by the
 * worker (or its layout); key and value are malloc'd and owned. */
typedef struct out_s {
  const char *topic;
  int32_t partition;
  char *key;
  void *value;
  size_t len;
  struct out_s *next;
} out_t;

void out_free(out_t *o);

struct strata_job_s {
  strata_worker_t *w;
  strata_task_t task;
  char *routing_key; /* the dispatch record's key */
  int32_t partition;
  int64_t offset;
  uint32_t gen;                   /* partition generation when received */
  const handler_entry_t *handler; /* NULL: no handler for the type */
  struct strata_job_s *next;      /* job queue / done list link */
  void *orig; /* the dispatch record's value, byte for byte (dead letters) */
  size_t orig_len;
  bool precancelled; /* cancelled before it started: no STARTED, no run */
  strata_handler_status_t status; /* what the handler returned */
  strata_epoch_ms_t started_ms, ended_ms;

  /* Under w->lock. */
  job_state_t state;
  strata_mono_us_t last_hb_us;
  strata_mono_us_t deadline_us; /* start_to_close; 0: none */
  bool slot_released;           /* strata_job_release_slot() in effect */
  char *yield_reason;           /* the PREEMPT's reason; NULL: none given */
  atomic_int cancel_reason;     /* job_cancel_t, read lock-free */
  atomic_bool yield_requested;  /* a PREEMPT arrived; read lock-free */

  /* The handler thread's own (the loop reads them once it finished). */
  bool has_ckpt; /* a checkpoint was saved by this attempt */
  uint8_t *ckpt; /* its latest state */
  size_t ckpt_len;
  strata_kv_long_t *usage;
  size_t usage_count;
  char *error;
  bool retryable;
};

typedef struct {
  bool assigned;
  uint32_t gen; /* bumped on assignment and on a rewind: older jobs are stale */
  tracker_t tracker; /* dispatch offsets taken, finished or not */
  int64_t committed; /* last commit offset sent; -1: none */
} worker_part_t;

/* ---- cancels.c ------------------------------------------------------ */

/* Task ids cancelled within the window, with the time of their cancel. An
 * open-addressing hash set; consume-loop thread only. */
typedef struct {
  char **ids;
  strata_epoch_ms_t *at;
  size_t cap, count;
} cancels_t;

void cancels_init(cancels_t *c);
void cancels_clear(cancels_t *c);
/* Remembers `id` (copied), cancelled at `at`; -1 on OOM. */
int cancels_add(cancels_t *c, const char *id, strata_epoch_ms_t at);
bool cancels_has(const cancels_t *c, const char *id);
/* Forgets cancels older than `before`. */
void cancels_expire(cancels_t *c, strata_epoch_ms_t before);

struct strata_worker_s {
  char *dispatch_topic, *events_topic, *control_topic, *dlq_topic;
  char worker_id[300];
  char txid[400];         /* transactional.id */
  strata_layout_t layout; /* delay ladder and tier topics, for retries */
  int64_t cancel_window_ms;
  cancels_t cancels;
  strata_epoch_ms_t cancels_expired_ms;
  uint64_t prng; /* retry jitter; loop thread only */
  int concurrency;
  int64_t hb_interval_ms, shutdown_ms, kill_grace_ms;
  size_t stderr_tail;
  size_t ckpt_max; /* worker.checkpoint.max.bytes */

  rd_kafka_t *consumer;
  /* The transactional producer; NULL while it is being re-created after a
   * fatal error. Made from a copy of producer_conf each time. */
  rd_kafka_t *producer;
  rd_kafka_conf_t *producer_conf;
  rd_kafka_queue_t *producer_q;   /* its main queue, wired to the wake pipe */
  int txn_timeout_ms;             /* bound of one transaction step */
  bool rewind_pending;            /* stale state dropped, seek still to do */
  strata_mono_us_t recover_at_us; /* next attempt at producer or rewind */
  rd_kafka_t *ctl;                /* <prefix>control, assigned, never commits */
  rd_kafka_queue_t *msgq;         /* every assigned partition forwards here */
  bool cooperative;

  handler_entry_t *handlers;
  int nhandlers;

  int wake[2]; /* [0] read end polled by run(); [1] written to wake it */
  atomic_int stop;
  atomic_int running;
  bool stopping;    /* run() is shutting down: revocation waits no more */
  atomic_int fatal; /* an unrecoverable error ended run() */
  char fatal_msg[512];

  pthread_mutex_t lock;
  pthread_cond_t cond;      /* a job was queued, or quit */
  pthread_cond_t slot_cond; /* a slot freed, or a job was asked to stop */
  strata_job_t *qhead, *qtail;
  strata_job_t **slots; /* [nthreads]: the job each thread runs */
  int busy;             /* jobs queued or running that hold a slot */
  int released;         /* running jobs that released their slot */
  int acquiring;        /* handlers waiting in strata_job_acquire_slot() */
  bool quit;            /* handler threads exit */
  pthread_t *threads;
  int nthreads, threads_cap;
  strata_worker_stats_t stats;
  out_t *out_head, *out_tail;          /* STARTED/HEARTBEAT events */
  strata_job_t *done_head, *done_tail; /* finished, awaiting their outcome */

  worker_part_t *parts;
  int nparts;
  bool commit_dirty;

  /* The committer thread (worker.c, "Output"): one transaction in flight
   * while the loop keeps taking records. Under `clock`: `cpending` is the
   * batch it commits (NULL: idle), `cdone` the one it finished. */
  pthread_mutex_t clock;
  pthread_cond_t ccond;
  struct txn_batch *cpending, *cdone;
  bool cquit, cstarted;
  pthread_t committer;
};

/* Wakes the consume loop; async-signal-safe. */
void worker_wake(strata_worker_t *w);

/* Starts handler threads until there are `n`. Caller holds w->lock; 0, or
 * -1 (logged) when a thread cannot be started. */
int worker_grow_threads(strata_worker_t *w, int n);

/* Asks `job` to stop for `reason` unless it already has a reason (`force`:
 * replace it) and wakes a handler waiting for its slot. Caller holds
 * w->lock. */
void job_request_stop(strata_job_t *job, job_cancel_t reason, bool force);

/*
 * Encodes one event of `kind` for `job`, bound for the job's partition of the
 * events topic and keyed by its routing key. Terminal kinds carry the job's
 * usage; FAILED and TIMED_OUT carry `error` and `retryable`; DEAD_LETTERED and
 * CANCELLED carry `error` when given. NULL (logged) when it cannot be
 * encoded or memory runs out. Caller owns the result.
 */
out_t *job_event(strata_job_t *job, strata_event_kind_t kind, const char *error,
                 bool retryable, strata_epoch_ms_t now);

/*
 * Encodes a CHECKPOINT event of `job` carrying `state` (`len` bytes; state
 * may be NULL only when has_state is false). `error` NULL: a checkpoint
 * taken while running. Non-NULL: the terminal event of an attempt that
 * yielded, with the job's usage and retryable = true. NULL when it cannot be
 * encoded (`*err` says why: STRATA_ERR_TOO_LARGE, ENCODE or NOMEM). Caller
 * owns the result.
 */
out_t *job_checkpoint_event(strata_job_t *job, const char *error,
                            bool has_state, const void *state, size_t len,
                            strata_epoch_ms_t now, strata_err_t *err);

/* The state a requeue or retry of `job` carries: the attempt's latest
 * checkpoint, else the one it was dispatched with. */
void job_latest_state(const strata_job_t *job, bool *has, const uint8_t **state,
                      size_t *len);

/* Appends a STARTED or HEARTBEAT event of `job` to the outbox and wakes the
 * loop. Caller holds w->lock. */
strata_err_t job_emit(strata_job_t *job, strata_event_kind_t kind);

/* ---- outcome.c ------------------------------------------------------ */

/*
 * Builds the records that finish `job` (consume-loop thread): its terminal
 * event and, for a failed attempt, either a retry record (the task again with
 * attempt+1, on the delay ladder or its tier topic) or a dead letter plus a
 * DEAD_LETTERED event. Appends them, in write order, to the list head, tail.
 * Updates the outcome counters. STRATA_ERR_ENCODE/NOMEM when the terminal event
 * cannot be built (nothing appended).
 */
strata_err_t outcome_build(strata_worker_t *w, strata_job_t *job,
                           strata_epoch_ms_t now, out_t **head, out_t **tail);

strata_job_t *job_new(strata_worker_t *w);
void job_destroy(strata_job_t *job);

/* Registers a handler whose `opaque` the worker frees with `free_opaque`. */
strata_err_t worker_register_owned(strata_worker_t *w, const char *type,
                                   strata_handler_fn fn, void *opaque,
                                   void (*free_opaque)(void *));

/* For exec.c: the configured tail size, kill grace, heartbeat interval and
 * checkpoint bound. */
size_t worker_stderr_tail(const strata_worker_t *w);
int64_t worker_kill_grace_ms(const strata_worker_t *w);
int64_t worker_heartbeat_interval_ms(const strata_worker_t *w);
size_t worker_checkpoint_max(const strata_worker_t *w);

/*
 * Asks the attempts of `task_id` running or queued here to yield (PREEMPT):
 * their strata_job_should_yield() turns true and `reason` (copied; NULL for
 * none) is kept for the terminal event. STRATA_ERR_NOT_FOUND when no such
 * attempt is here (nothing is remembered). Thread-safe.
 */
strata_err_t worker_preempt_task(strata_worker_t *w, const char *task_id,
                                 const char *reason);

#endif /* STRATA_WORKER_INT_H */
