/*
 * The scheduler's decision layer: every decision strata-scheduler makes,
 * with no Kafka, no threads and no clock.
 *
 * Inputs are the records as read (a task from a tier topic or a delay step,
 * a worker's or a scheduler's event, a control command), decoded here, plus
 * `now`;
 * the output of each call is a list of effects: records to write in the
 * turn's transaction (dispatch, event, dead letter, retry, ladder hop,
 * preempt), the input offsets that became committable, and ledger marks
 * that take effect once that transaction commits. The daemon
 * (scheduler/daemon/) only moves bytes between Kafka and this layer and
 * commits each turn's effects atomically; strata-sim and the unit tests
 * drive the same code with injected time.
 *
 * It owns the state derived from the current assignment: the scheduler
 * core, the record of every task it holds (held.c), the attempts it saw
 * dispatched and not yet ending (running.c), the ledger of decisions
 * (ledger.c), one offset tracker per input partition and the dispatch
 * window (window.c). A turn's effects
 * are read with decide_outputs() / decide_offsets() and then either
 * confirmed (decide_committed) or dropped with everything derived from the
 * assignment (decide_reset), which is what an aborted transaction needs.
 *
 * It logs through strata/log.h (warnings name the record) but never reads
 * a clock or touches Kafka. Out of memory ends the program (decide_oom).
 * Not thread-safe: one thread owns a decide_t.
 */
#ifndef STRATA_DECIDE_H
#define STRATA_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/core.h"
#include "strata/err.h"
#include "strata/time.h"

#define DECIDE_MAX_TIERS STRATA_CORE_MAX_TIERS
#define DECIDE_MAX_STEPS 64
#define DECIDE_MAX_INPUTS (DECIDE_MAX_TIERS + DECIDE_MAX_STEPS)

typedef struct decide_s decide_t;

/* What happened, for metrics: each callback may be NULL. Called only for
 * facts that are final: counts of committed decisions come from
 * decide_committed(), so an aborted turn counts nothing. */
typedef struct {
  void *opaque;
  void (*dispatched)(void *opaque, int tier, double latency_s,
                     int64_t unblock_ms, bool soft_missed);
  void (*expired)(void *opaque, int tier);
  void (*lateness)(void *opaque, double seconds);
  void (*dead_lettered)(void *opaque, const char *reason);
  void (*duplicate)(void *opaque);
  void (*outcome)(void *opaque, const char *tier, const char *outcome);
  void (*late_result)(void *opaque, const char *tier, const char *outcome);
  void (*undecodable)(void *opaque);
  void (*heartbeat_lost)(void *opaque, int tier);
  void (*preempted)(void *opaque, int tier);
  void (*control)(void *opaque, uint32_t paused_tiers, bool draining);
  /* A worker started an attempt this instance dispatched: from submission
   * (enqueued_ms) to the worker's STARTED time, and whether that was past
   * the task's deadline. */
  void (*started)(void *opaque, int tier, double latency_s,
                  bool after_deadline);
} decide_observer_t;

/* Builds a new scheduler core (tiers, pools). Called at decide_new() and
 * after every decide_reset(). NULL with `err` on failure. */
typedef strata_core_t *(*decide_core_new_fn)(void *opaque, char *err,
                                             size_t size);

typedef struct {
  /* Tier names, most urgent first (borrowed for the life of the layer). */
  char *const *tiers;
  int ntiers;
  int nparts; /* co-partitioned partition count */
  /* Input topics: tier topics in tier order, then the delay steps in the
   * order given; `step_ms` is each step's fixed delay. Borrowed. */
  const char *const *tier_topics;
  const char *const *step_topics;
  const int64_t *step_ms;
  int nsteps;
  /* Queues, the default one first: `queues[i]` is core lane i and its
   * attempts go to `dispatch_topics[i]`. 1..STRATA_CORE_MAX_LANES. */
  const char *const *queues;
  const char *const *dispatch_topics;
  int nqueues;
  const char *events_topic, *dlq_topic, *control_topic;
  const char *instance; /* written as "strata-scheduler <instance>" */
  int64_t window_ms;    /* idempotency window */
  bool preemption;
  /* The dispatch window (window.c): when on, attempts dispatched and not
   * yet reported started are kept within a bound sized from the observed
   * start rate and event latency, between window_min and window_max. */
  bool window;
  uint64_t window_min, window_max;
  uint64_t seed; /* jitter of retries the scheduler writes */
  decide_core_new_fn core_new;
  void *core_opaque;
  decide_observer_t observer;
} decide_config_t;

/* Kind of an output record (what it is for; its topic says where). */
typedef enum {
  DECIDE_OUT_DISPATCH,
  DECIDE_OUT_EVENT,
  DECIDE_OUT_DLQ,
  DECIDE_OUT_RETRY,   /* the next attempt, on its tier topic */
  DECIDE_OUT_HOP,     /* a task moved unchanged onto a delay step */
  DECIDE_OUT_CONTROL, /* PREEMPT */
} decide_out_kind_t;

typedef struct {
  decide_out_kind_t kind;
  const char *topic; /* a name from decide_config_t (borrowed) */
  int32_t partition;
  char *key; /* owned by the layer until decide_committed/reset */
  void *value;
  size_t len;
  int64_t timestamp; /* Kafka timestamp, epoch ms; 0: when produced */
} decide_out_t;

/* A committable position: `offset` is the next record to read on input
 * `input`, partition `partition`; `mark` the events offset a successor
 * must re-read from (the commit metadata). */
typedef struct {
  int input;
  int32_t partition;
  int64_t offset;
  int64_t mark;
} decide_offset_t;

/* NULL with `err` when the core cannot be built or memory is short. */
decide_t *decide_new(const decide_config_t *cfg, char *err, size_t size);
void decide_destroy(decide_t *d);

/* ---- the assignment ------------------------------------------------------*/

/* Drops everything derived from the current assignment (held tasks,
 * trackers, running attempts, the turn's outputs) and builds a new core.
 * Operator state (paused tiers, drain) and the ledger survive. Returns
 * STRATA_ERR_NOMEM when the core cannot be rebuilt. */
strata_err_t decide_reset(decide_t *d);
/* Partition p of every input is owned now. `start` gives, per input, the
 * committed offset at assignment (-1: none), or NULL. When `recover_until`
 * is above `recover_from`, tier records of p are not taken until the events
 * of p were read up to `recover_until` (decide_recovered() then says so). */
void decide_assign(decide_t *d, int32_t p, const int64_t *start,
                   int64_t recover_from, int64_t recover_until);
bool decide_owns(const decide_t *d, int32_t p);
bool decide_recovering(const decide_t *d, int32_t p);
/* The events of p were read up to `next` (exclusive). Returns true exactly
 * once: when this ends the recovery scan of p. */
bool decide_events_read(decide_t *d, int32_t p, int64_t next);
/* Events offset of p known to be read (the mark of new tier records). */
int64_t decide_events_pos(const decide_t *d, int32_t p);

/* The control history up to its end at start-up was read: decisions may
 * start (a cancel or a pause in it must not be overtaken). */
void decide_control_ready(decide_t *d);
bool decide_is_control_ready(const decide_t *d);

/* ---- inputs --------------------------------------------------------------*/

typedef struct {
  int input; /* tier topic index (< ntiers), or ntiers + delay step */
  int32_t partition;
  int64_t offset;
  const void *value;
  size_t len;
} decide_record_t;

/* A task record read from a tier topic or a due delay step. */
void decide_task(decide_t *d, const decide_record_t *r, strata_epoch_ms_t now);
/* A record of the events topic, partition p. */
void decide_event(decide_t *d, int32_t p, int64_t offset, const void *value,
                  size_t len, strata_epoch_ms_t now);
/* A record of the control topic. */
void decide_control(decide_t *d, int64_t offset, const void *value, size_t len,
                    strata_epoch_ms_t now);
/* Expiries and cascades, then at most `max_dispatch` dispatches. Nothing
 * before the control history was read. Returns how many decisions. */
int decide_turn(decide_t *d, strata_epoch_ms_t now, int max_dispatch);
/* Heartbeat timeouts of running attempts, then preemption requests. */
void decide_watch(decide_t *d, strata_epoch_ms_t now);
/* Forgets ledger entries older than the idempotency window. */
void decide_prune(decide_t *d, strata_epoch_ms_t now);

/* ---- outputs -------------------------------------------------------------*/

/* This turn's records, in the order they must be written. */
const decide_out_t *decide_outputs(const decide_t *d, size_t *n);
/* True when the turn has anything to commit (records or offsets). */
bool decide_has_effects(const decide_t *d);
/* Fills `out` (room for ninputs * nparts) with the positions that moved
 * since the last commit; returns how many. */
size_t decide_offsets(const decide_t *d, decide_offset_t *out);
/* The turn's transaction committed at `now`: its ledger marks and metrics
 * take effect, its outputs are dropped. */
void decide_committed(decide_t *d, strata_epoch_ms_t now);

/* ---- views ---------------------------------------------------------------*/

/* The core (NULL only between a failed reset and the next). Borrowed. */
strata_core_t *decide_core(const decide_t *d);
bool decide_is_full(const decide_t *d);
size_t decide_running(const decide_t *d);
/* Next offset to read on (input, p): the last taken + 1, else the
 * committed offset at assignment, else -1. */
int64_t decide_next_offset(const decide_t *d, int input, int32_t p);
uint32_t decide_paused_tiers(const decide_t *d);
bool decide_draining(const decide_t *d);

typedef struct {
  uint64_t dispatched, dead_lettered, duplicates, undecodable, expired;
} decide_totals_t;

/* The dispatch window now: its bound, the attempts it counts, and what it
 * was sized from. */
typedef struct {
  bool on;
  uint64_t limit, unstarted;
  double start_rate; /* starts per second, smoothed */
  double latency_ms; /* a worker's start -> its event read here; < 0: none */
} decide_window_t;
/* Of lane `lane` (index into decide_config_t.queues). */
void decide_window(const decide_t *d, int lane, decide_window_t *out);
void decide_totals(const decide_t *d, decide_totals_t *out);

#endif /* STRATA_DECIDE_H */
