/*
 * Internals shared by the worker runtime's files: the offset tracker
 * (offsets.c), the worker and job structs (worker.c, job.c), event output
 * (job.c) and the exec handler (exec.c).
 *
 * Locking: `lock` guards the job queue, the running slots, `busy`, the stats
 * and every job's `state`, `cancel_reason`, `last_hb_us` and `deadline_us`.
 * Events of one job are produced while holding `lock`, so STARTED, HEARTBEAT
 * and the terminal event leave in that order. Partition state (`parts`) is
 * touched only by the thread inside strata_worker_run() (consume loop,
 * rebalance and delivery callbacks all run there).
 */
#ifndef STRATA_WORKER_INT_H
#define STRATA_WORKER_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/time.h"
#include "strata/worker.h"

/* ---- offsets.c ------------------------------------------------------ */

typedef struct {
  int64_t offset;
  bool done;
} strata_offq_entry_t;

typedef struct {
  strata_offq_entry_t *v;
  size_t head, len, cap;
  int64_t next; /* one past the highest offset pushed; -1 before any */
} strata_offq_t;

void strata_offq_init(strata_offq_t *q);
void strata_offq_clear(strata_offq_t *q);
/* Appends `offset`, which must exceed every earlier one: -1 otherwise or on
 * OOM. */
int strata_offq_push(strata_offq_t *q, int64_t offset);
/* Marks `offset` finished; false when it is not in flight. */
bool strata_offq_done(strata_offq_t *q, int64_t offset);
/* The offset to commit (lowest unfinished, else next); -1 before any. */
int64_t strata_offq_commit_point(strata_offq_t *q);
size_t strata_offq_inflight(const strata_offq_t *q);

/* ---- worker.c / job.c ----------------------------------------------- */

/* Why a job was asked to stop. */
typedef enum {
  STRATA_JOB_CANCEL_NONE = 0,
  STRATA_JOB_CANCEL_USER,    /* strata_worker_cancel_task() */
  STRATA_JOB_CANCEL_TIMEOUT, /* start_to_close passed */
  STRATA_JOB_CANCEL_STOP,    /* worker stopping: hand the task back */
} strata_job_cancel_t;

typedef enum {
  STRATA_JOB_QUEUED,
  STRATA_JOB_RUNNING,
  STRATA_JOB_FINISHED,
} strata_job_state_t;

typedef struct {
  char *type;
  strata_handler_fn fn;
  void *opaque;
  void (*free_opaque)(void *opaque);
} strata_handler_entry_t;

struct strata_job_s {
  strata_worker_t *w;
  strata_task_t task;
  char *routing_key; /* the dispatch record's key */
  int32_t partition;
  int64_t offset;
  uint32_t gen; /* partition generation when received */
  const strata_handler_entry_t *handler; /* NULL: no handler for the type */
  struct strata_job_s *next;             /* job queue link */

  /* Under w->lock. */
  strata_job_state_t state;
  strata_mono_us_t last_hb_us;
  strata_mono_us_t deadline_us; /* start_to_close; 0: none */
  atomic_int cancel_reason;     /* strata_job_cancel_t, read lock-free */

  /* The handler thread's own. */
  strata_kv_long_t *usage;
  size_t usage_count;
  char *error;
  bool retryable;
};

typedef struct {
  bool assigned;
  uint32_t gen;
  strata_offq_t q;
  int64_t committed; /* last commit point sent; -1: none */
} strata_worker_part_t;

struct strata_worker_s {
  char *dispatch_topic, *events_topic;
  char worker_id[300];
  int concurrency;
  int64_t hb_interval_ms, shutdown_ms, kill_grace_ms;
  size_t stderr_tail;

  rd_kafka_t *consumer, *producer;
  rd_kafka_queue_t *msgq; /* every assigned partition forwards here */
  bool cooperative;

  strata_handler_entry_t *handlers;
  int nhandlers;

  int wake[2]; /* [0] read end polled by run(); [1] written to wake it */
  atomic_int stop;
  atomic_int running;
  bool stopping;    /* run() is shutting down: revocation waits no more */
  atomic_int fatal; /* a fatal Kafka error ended run() */
  char fatal_msg[512];

  pthread_mutex_t lock;
  pthread_cond_t cond;
  strata_job_t *qhead, *qtail;
  strata_job_t **slots; /* [concurrency]: the job each thread runs */
  int busy;             /* jobs queued or running */
  bool quit;            /* handler threads exit */
  pthread_t *threads;
  int nthreads;
  strata_worker_stats_t stats;

  strata_worker_part_t *parts;
  int nparts;
  bool commit_dirty;
};

/* Wakes the consume loop; async-signal-safe. */
void strata_worker_wake(strata_worker_t *w);

/*
 * Produces one event of `kind` for `job` to the job's partition of the events
 * topic. Terminal kinds carry the job's usage and, for FAILED and TIMED_OUT,
 * `error` and `retryable`; their delivery report marks the offset done.
 * Caller holds w->lock. Returns STRATA_OK, or STRATA_ERR_KAFKA with the
 * reason logged.
 */
strata_err_t strata_job_emit(strata_job_t *job, strata_event_kind_t kind,
                             const char *error, bool retryable);

strata_job_t *strata_job_new(strata_worker_t *w);
void strata_job_destroy(strata_job_t *job);

/* Registers a handler whose `opaque` the worker frees with `free_opaque`. */
strata_err_t strata_worker_register_owned(strata_worker_t *w, const char *type,
                                          strata_handler_fn fn, void *opaque,
                                          void (*free_opaque)(void *));

/* For exec.c: the configured tail size and kill grace. */
size_t strata_worker_stderr_tail(const strata_worker_t *w);
int64_t strata_worker_kill_grace_ms(const strata_worker_t *w);

#endif /* STRATA_WORKER_INT_H */
