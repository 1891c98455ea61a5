/*
 * Internal interface of strata-scheduler: the offset tracker (what may be
 * committed on each input partition), the ledger (what was already decided,
 * for recovery and idempotency), and the daemon loop.
 */
#ifndef STRATA_SCHED_INT_H
#define STRATA_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "strata/config.h"
#include "strata/err.h"
#include "strata/time.h"

/* ---- Offset tracker ------------------------------------------------------
 *
 * One per consumed input partition. Records arrive in offset order and are
 * finished (dispatched, dead-lettered, skipped) in any order. The committable
 * offset is the first unfinished one: everything below it is finished, so a
 * restart that resumes there loses nothing. Each entry also keeps the events
 * partition position seen when the record was consumed (its "mark"): any
 * event the scheduler writes about that record or a later one lies at or
 * after the mark, so a recovery scan of the events partition from the mark
 * of the first unfinished record sees every decision that matters.
 */
typedef struct {
  int64_t offset;
  int64_t mark;
  bool done;
} tracker_entry_t;

typedef struct {
  tracker_entry_t *ring;
  uint64_t cap, head, count; /* ring indices; seq = head_seq + i */
  uint64_t head_seq;         /* sequence number of ring[head] */
  int64_t next_offset;       /* last consumed offset + 1; -1 before any */
  int64_t start_offset;      /* committed offset at assignment; -1: none */
  bool dirty;                /* committable position moved since commit */
} tracker_t;

void tracker_init(tracker_t *t);
void tracker_clear(tracker_t *t);
/* Appends a consumed record; returns its sequence number, or UINT64_MAX on
 * OOM. */
uint64_t tracker_push(tracker_t *t, int64_t offset, int64_t mark);
/* Marks record `seq` finished. */
void tracker_done(tracker_t *t, uint64_t seq);
/* The offset to commit (-1 when nothing was consumed) and its mark (the
 * current events position when everything is finished). */
int64_t tracker_commit_offset(const tracker_t *t);
int64_t tracker_commit_mark(const tracker_t *t, int64_t current_mark);

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
};

typedef struct running_table_s running_table_t;

running_table_t *running_new(void);
void running_destroy(running_table_t *t);
/* Adds an entry (replacing one of the same id); takes `value` (may be
 * NULL). NULL on OOM. */
running_t *running_add(running_table_t *t, const char *id, const char *key,
                       int32_t attempt, void *value, size_t len);
running_t *running_find(running_table_t *t, const char *id);
void running_del(running_table_t *t, running_t *r);
void running_clear(running_table_t *t);
size_t running_count(const running_table_t *t);
/* Entries that keep their task record, i.e. whose heartbeats are watched. */
size_t running_watched(const running_table_t *t);
/* Calls cb for every entry; cb may delete the entry it is given. */
void running_each(running_table_t *t, void (*cb)(running_t *r, void *opaque),
                  void *opaque);
/* Keeps a copy of the attempt's latest checkpoint state (OOM: unchanged). */
void running_checkpoint(running_t *r, const uint8_t *state, size_t len);
/* Records a worker id on `r`. */
void running_seen(running_t *r, const char *worker, strata_epoch_ms_t now);

/* ---- Views (views.c): metrics and admin endpoints ------------------------*/
#include "strata/core.h"

typedef struct views_s views_t;

/* Starts the admin server on `listen` (empty: disabled) with the metric
 * families; `tiers` is borrowed for the life of the views. */
views_t *views_new(const char *listen, char **tiers, int ntiers, char *err,
                   size_t size);
strata_err_t views_routes(views_t *v);
void views_destroy(views_t *v);
int views_port(const views_t *v);
/* Daemon thread only: refreshes gauges and answers a pending /tasks
 * request from `core` (may be NULL). */
void views_turn(views_t *v, strata_core_t *core, strata_epoch_ms_t now);
void views_dispatched(views_t *v, int tier, double latency_s,
                      int64_t unblock_ms, bool soft_missed);
void views_expired(views_t *v, int tier);
void views_lateness(views_t *v, double seconds);
void views_dead_lettered(views_t *v, const char *reason);
void views_duplicate(views_t *v);
void views_outcome(views_t *v, const char *tier, const char *outcome);
void views_undecodable(views_t *v);
void views_lag(views_t *v, int tier, int64_t lag);
void views_partitions(views_t *v, int assigned, int recovering);
/* Operator state: paused tiers (bit per tier) and whether draining. */
void views_control(views_t *v, uint32_t paused, bool draining);
/* Attempts dispatched and not yet finished. */
void views_running(views_t *v, size_t running);
void views_late_result(views_t *v, const char *tier, const char *outcome);
void views_heartbeat_lost(views_t *v, int tier);
void views_preempted(views_t *v, int tier);

/* ---- Daemon --------------------------------------------------------------*/

/* Runs the scheduler until *stop becomes non-zero. Returns an exit code. */
int sched_run(strata_config_t *cfg, volatile int *stop);

#endif /* STRATA_SCHED_INT_H */
