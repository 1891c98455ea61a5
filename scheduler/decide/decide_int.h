/*
 * Internal interface of the decision layer (scheduler/decide/): the
 * ledger (ledger.c: what was already decided, for recovery and
 * idempotency), the running attempts (running.c), the held tasks, and the
 * state every file of the layer shares (decide_t). Nothing here is seen by
 * the daemon but through decide.h.
 */
#ifndef STRATA_DECIDE_INT_H
#define STRATA_DECIDE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "decide.h"
#include "offset_tracker.h"
#include "strata/codec.h"
#include "strata/err.h"
#include "strata/task.h"
#include "strata/time.h"

/* ---- Ledger ----------------------------------------------------------------
 *
 * Decisions already made for (task id, attempt), learnt from the events topic
 * during a recovery scan and from this process's own committed transactions,
 * and idempotency keys seen within the window, with the task id that claimed
 * each one.
 */
typedef struct ledger_s ledger_t;

ledger_t *ledger_new(void);
void ledger_destroy(ledger_t *l);
/* Records that (id, attempt) was decided at `at`. */
strata_err_t ledger_decided(ledger_t *l, const char *id, int32_t attempt,
                            strata_epoch_ms_t at);
bool ledger_is_decided(const ledger_t *l, const char *id, int32_t attempt);
/* Highest attempt of `id` decided so far, 0 when none. */
int32_t ledger_attempt(const ledger_t *l, const char *id);
/* Records that attempts of `id` up to `attempt` were presumed lost (their
 * heartbeat timed out and the scheduler retried the task): their late
 * results are recorded but change nothing. */
strata_err_t ledger_lost(ledger_t *l, const char *id, int32_t attempt,
                         strata_epoch_ms_t at);
/* A CANCEL command for a task not held: every attempt of `id` that arrives
 * later is cancelled (ledger_is_decided() is true for all of them, while
 * ledger_attempt() still names the last attempt dispatched, so the outcome
 * of a cancelled running attempt is still applied). */
strata_err_t ledger_cancelled(ledger_t *l, const char *id,
                              strata_epoch_ms_t at);
/* True when `id` was cancelled and no CANCELLED event was written for it
 * yet: the first attempt to arrive gets one. */
bool ledger_cancel_pending(const ledger_t *l, const char *id);
/* Records that a CANCELLED event was written for `id` (by this process or,
 * as a recovery scan shows, a predecessor). */
strata_err_t ledger_cancel_reported(ledger_t *l, const char *id,
                                    strata_epoch_ms_t at);
/* True when `attempt` of `id` was presumed lost. */
bool ledger_is_lost(const ledger_t *l, const char *id, int32_t attempt);
/* Claims idempotency key `key` for task `id`. Returns true when the key is
 * free or already claimed by the same id, false when another task holds it
 * (a duplicate submission). */
bool ledger_claim_key(ledger_t *l, const char *key, const char *id,
                      strata_epoch_ms_t at);
/* Forgets entries older than `before`. */
void ledger_prune(ledger_t *l, strata_epoch_ms_t before);
uint64_t ledger_size(const ledger_t *l);

/* ---- Running attempts (running.c) -----------------------------------------
 *
 * The attempts this instance dispatched and has not seen finish: what the
 * heartbeat timeout and preemption look at. One entry per task id (the
 * current attempt). Lost on a restart: see docs/ARCHITECTURE.md.
 */
#define RUNNING_MAX_POOLS 8

typedef struct running_s running_t;
struct running_s {
  UT_hash_handle hh;
  char *id;  /* task id (owned) */
  char *key; /* routing key (owned) */
  int32_t attempt;
  int tier;
  int input; /* input topic the task record came from */
  int32_t partition;
  int64_t offset;               /* of the task record on `input` */
  int pools[RUNNING_MAX_POOLS]; /* concurrency pools the task holds */
  int npools;
  strata_epoch_ms_t started_ms;   /* 0 until STARTED is seen */
  strata_epoch_ms_t last_seen_ms; /* last STARTED/HEARTBEAT/CHECKPOINT */
  int64_t heartbeat_ms;           /* Task.timeouts.heartbeat_ms; 0: none */
  void *value; /* the task record, kept while heartbeat_ms > 0 (owned) */
  size_t len;
  char *worker;  /* worker id of the last event (owned) */
  uint8_t *ckpt; /* state of the attempt's last CHECKPOINT (owned) */
  size_t ckpt_len;
  bool has_ckpt;
  bool preempted; /* a PREEMPT was written for this attempt */
  bool begun;     /* a worker reported it started (the dispatch window) */
  int lane;       /* its queue (the dispatch window counts each apart) */
  /* For the start-latency metric; 0: unknown (an adopted attempt). */
  strata_epoch_ms_t enqueued_ms, deadline_ms;
};

typedef struct running_table_s running_table_t;

running_table_t *running_new(void);
void running_destroy(running_table_t *t);
/* Adds an entry (replacing one of the same id); takes `value` (may be
 * NULL). NULL on OOM. */
running_t *running_add(running_table_t *t, const char *id, const char *key,
                       int32_t attempt, int lane, void *value, size_t len);
running_t *running_find(running_table_t *t, const char *id);
void running_del(running_table_t *t, running_t *r);
void running_clear(running_table_t *t);
size_t running_count(const running_table_t *t);
/* Entries that keep their task record, i.e. whose heartbeats are watched. */
size_t running_watched(const running_table_t *t);
/* A worker reported progress for `r` (STARTED, HEARTBEAT, CHECKPOINT): it
 * no longer waits in the dispatch topic or a worker's queue. */
void running_begin(running_table_t *t, running_t *r);
/* Entries no worker reported progress for: dispatched and not started; of
 * one lane. */
size_t running_unstarted(const running_table_t *t);
size_t running_unstarted_lane(const running_table_t *t, int lane);
/* Calls cb for every entry; cb may delete the entry it is given. */
void running_each(running_table_t *t, void (*cb)(running_t *r, void *opaque),
                  void *opaque);
/* Keeps a copy of the attempt's latest checkpoint state (OOM: unchanged). */
void running_checkpoint(running_t *r, const uint8_t *state, size_t len);
/* Records a worker id on `r`. */
void running_seen(running_t *r, const char *worker, strata_epoch_ms_t now);

/* ---- Held tasks (held.c) --------------------------------------------------
 *
 * One record per task the core holds, allocated when the task is read and
 * freed when it leaves the core (dispatched, expired, cancelled, refused);
 * the core's cookie is its slot. It keeps the task's bytes (the dispatch
 * record is those bytes) and what the layer needs without decoding them
 * again.
 */
typedef struct {
  void *value; /* the original Task record (owned) */
  size_t len;
  char *key;  /* routing key (owned) */
  bool keyed; /* the key is the task's idempotency key (not its id) */
  int32_t partition;
  int tier;  /* core tier */
  int input; /* input topic the record came from (tracker index) */
  strata_epoch_ms_t not_before; /* 0: none; for the lateness metric */
  uint64_t seq;                 /* tracker sequence */
  int32_t attempt;
  int64_t offset;
  strata_epoch_ms_t enqueued_ms;
  strata_epoch_ms_t deadline_ms;       /* 0: none */
  int64_t heartbeat_ms;                /* Task.timeouts.heartbeat_ms; 0: none */
  int pools[RUNNING_MAX_POOLS];        /* concurrency pools it demands */
  uint32_t amounts[RUNNING_MAX_POOLS]; /* units of each */
  int npools;
  int lane; /* core lane: index into decide_config_t.queues */
  bool in_use;
} held_t;

/* What a committed transaction makes true: a ledger entry, and the metric
 * it counts toward (only once the transaction commits, so an aborted turn
 * counts nothing). */
typedef enum {
  PEND_DECIDED,
  PEND_DISPATCHED,
  PEND_EXPIRED,
  PEND_LOST,     /* an attempt presumed lost to its heartbeat timeout */
  PEND_CANCELLED /* a CANCELLED event for a task cancelled before it came */
} pend_kind_t;

typedef struct {
  char *id;
  int32_t attempt;
  pend_kind_t kind;
  int tier;
  strata_epoch_ms_t enqueued_ms;
  int64_t unblock_ms;
  bool soft_missed;
  strata_epoch_ms_t not_before; /* 0: none */
} pending_decision_t;

/* Whom an event or a record is about. */
typedef struct {
  const char *id;
  const char *key; /* routing key */
  bool keyed;      /* key is the idempotency key */
  int32_t attempt;
  int tier; /* -1: unknown */
  int32_t partition;
  int lane; /* its queue, written into scheduler events */
} subject_t;

/* One lane's dispatch window (window.c). */
typedef struct {
  uint64_t limit;          /* current bound on unstarted attempts */
  double rate;             /* starts per second, smoothed */
  double latency_ms;       /* worker start -> its event read; < 0: none */
  strata_epoch_ms_t since; /* start of the current rate bucket */
  uint64_t starts;         /* starts seen in the current bucket */
} window_state_t;

struct decide_s {
  decide_config_t cfg;
  int ninputs; /* ntiers + nsteps */
  int64_t min_step_ms;

  strata_core_t *core;
  ledger_t *ledger;
  running_table_t *running;
  held_t *held;
  uint64_t nheld_cap;
  uint64_t *free_slots;
  uint64_t nfree;

  tracker_t *trackers; /* [input * nparts + p] */
  bool *assigned;      /* [p] */
  bool *recovering;    /* [p]: tier records wait until events scanned */
  int64_t *recover_until;
  int64_t *events_pos;     /* [p]: events offset known to be read */
  int64_t *events_counted; /* [p]: outcomes counted below this offset */

  decide_out_t *out;
  size_t nout, capout;
  pending_decision_t *pend;
  size_t npend, cappend;
  uint32_t dlq_turn[STRATA_DLQ_CANCELLED + 1]; /* dead letters this turn */

  /* The dispatch window (window.c), one per lane (queue). */
  window_state_t window[STRATA_CORE_MAX_LANES];

  uint64_t rng;
  /* Operator state from the control topic: it outlives resets (the core
   * is rebuilt; the bits are applied to each new core). */
  uint32_t paused_tiers;
  bool draining;
  bool control_ready;
  uint64_t conc_pools; /* bit per concurrency pool id */
  const char *pool_names[STRATA_CORE_MAX_POOLS]; /* owned by the core */
  decide_totals_t totals;
};

/* The record structs own their members, but encoding only reads them; a
 * borrowed pointer lets the hot path encode without copying strings. The
 * struct is never cleared while it borrows. */
static inline char *borrow(const char *s) {
  union {
    const char *c;
    char *m;
  } u = {s};
  return u.m;
}

/* decide.c: outputs and common helpers. */
/* Out of memory in the decision layer ends the program (see decide.c). */
_Noreturn void decide_oom(void);
/* decide_oom() when `rc` is STRATA_ERR_NOMEM: a ledger entry that cannot be
 * recorded is the exactly-once record of a decision. */
void decide_must(strata_err_t rc);
void *decide_xmalloc(size_t n);
void *decide_xrealloc(void *p, size_t n);
char *decide_xstrdup(const char *s);
tracker_t *decide_tracker(decide_t *d, int input, int32_t p);
int decide_tier_index(const decide_t *d, const char *tier);
/* Queues a record for the current transaction; takes `value`. */
decide_out_t *decide_out_add(decide_t *d, decide_out_kind_t kind,
                             const char *topic, int32_t partition,
                             const char *key, void *value, size_t len);
pending_decision_t *decide_pend(decide_t *d, const char *id, int32_t attempt);
/* Writes an event about `who`; `retryable` only for a next attempt the
 * scheduler itself wrote; usage may be NULL. */
void decide_emit_event(decide_t *d, strata_event_kind_t kind,
                       const subject_t *who, const char *error, bool retryable,
                       strata_kv_long_t *usage, size_t nusage,
                       strata_epoch_ms_t now);
void decide_emit_control(decide_t *d, strata_control_kind_t kind,
                         const char *task_id, const char *reason,
                         strata_epoch_ms_t now);
/* Writes a dead letter. `task` may be NULL (undecodable); `last` is the
 * attempt that ended here (may be NULL). */
void decide_emit_dlq(decide_t *d, strata_dlq_reason_t reason,
                     const char *detail, const strata_task_t *task,
                     const void *orig, size_t origlen, const char *topic,
                     int32_t p, int64_t offset,
                     const strata_attempt_record_t *last,
                     strata_epoch_ms_t now);
/* The name of input topic `input`. */
const char *decide_input_topic(const decide_t *d, int input);
void decide_apply_pauses(decide_t *d);
/* The routing key rule: the idempotency key when the task has one, else
 * its id. */
const char *decide_routing_key(const strata_task_t *t);

/* intake.c: true when the schedule-to-start timeout, not the task's own
 * hard deadline, is what expires the task. */
bool decide_s2s_expired(const strata_task_t *t);

/* window.c: a start of an attempt of `lane` was read (`started_ms`: the
 * worker's time of it, 0 if unknown); the room the lane's window leaves for
 * dispatches now. */
void window_started(decide_t *d, int lane, strata_epoch_ms_t started_ms,
                    strata_epoch_ms_t now);
uint64_t window_room(decide_t *d, int lane, strata_epoch_ms_t now);

/* decide.c: the lane of a task's queue (NULL: the default queue, lane 0), or
 * -1 when the queue is not configured. */
int decide_queue_lane(const decide_t *d, const char *queue);

/* held.c */
uint64_t held_alloc(decide_t *d);
void held_free(decide_t *d, uint64_t slot);
/* Finishes a held record: its tracker entry becomes committable. */
void held_finish(decide_t *d, uint64_t slot);
void held_clear(decide_t *d);
subject_t held_subject(const decide_t *d, uint64_t slot, const char *id);

/* running.c helper: the attempt `attempt` of `id` ended (or moved on). */
void running_done(running_table_t *t, const char *id, int32_t attempt);

#endif /* STRATA_DECIDE_INT_H */
