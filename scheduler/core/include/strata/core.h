/*
 * The scheduler core: the pure, deterministic decision engine of Strata.
 *
 * The core holds task records (never payload bytes) and decides, one call at a
 * time, which task to dispatch next. It knows tiers with weights (stride
 * scheduling across tiers, work-conserving), deadline urgency within a tier
 * (EDF / least laxity, implicit deadlines, priority, dependency bonus), a
 * starvation bound, resource pools (token buckets and concurrency limits)
 * with atomic multi-pool reservation, a dependency graph with cycle rejection
 * and cascading failure, and timers for not-before times and hard-deadline
 * expiry. docs/CORE.md states every rule precisely.
 *
 * Purity: the core never reads a clock, never sleeps, never logs, never
 * starts a thread and never touches Kafka. Every function that depends on
 * time takes `now` in wall-clock epoch milliseconds (strata_epoch_ms_t). The
 * core clamps `now` to the largest value it has seen, so a caller whose clock
 * steps back cannot reorder its decisions. The same sequence of calls always
 * gives the same decisions, which is what the simulator and the tests rely on.
 *
 * Threading: a strata_core_t is not thread-safe; one thread (or one lock) at
 * a time.
 *
 * Time values: every time is an absolute epoch millisecond except fields and
 * parameters whose name ends in `_ms` and documents a duration.
 */
#ifndef STRATA_CORE_H
#define STRATA_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "strata/err.h"
#include "strata/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of tiers a core can be configured with. */
#define STRATA_CORE_MAX_TIERS 16
/** Largest number of resource pools. */
#define STRATA_CORE_MAX_POOLS 64
/** Longest task id in bytes (ids are byte strings without NUL). */
#define STRATA_CORE_ID_MAX 255
/** Longest pool or tier name in bytes. */
#define STRATA_CORE_NAME_MAX 63
/** Returned by strata_core_next_wakeup() when nothing is scheduled. */
#define STRATA_CORE_NEVER INT64_MAX
/** Largest |priority| accepted by strata_core_submit(). */
#define STRATA_CORE_PRIORITY_MAX 32767
/** Largest number of lanes (queues of workers) a core can be configured
 *  with. */
#define STRATA_CORE_MAX_LANES 16
/** A lane room that never runs out (strata_core_lane_room()); the room of
 *  every lane until it is set. */
#define STRATA_CORE_UNLIMITED UINT64_MAX

/** Opaque core handle. Created by strata_core_new(), owned by the caller. */
typedef struct strata_core_s strata_core_t;

/** One tier: a class of tasks with a share of dispatches. */
typedef struct {
  /** Tier name, copied at strata_core_new(); 1..STRATA_CORE_NAME_MAX bytes. */
  const char *name;
  /** Share weight, 1..1000000. Under saturation a backlogged tier gets at
   *  least weight / (sum of backlogged weights) of the dispatches. */
  uint32_t weight;
  /** Implicit relative deadline for tasks submitted without one, in ms.
   *  A task without a deadline is ordered as if it were due at
   *  max(submitted_at, not_before) + target_wait_ms. Must be >= 0. */
  int64_t target_wait_ms;
} strata_core_tier_config_t;

/** Core configuration. Fill with strata_core_config_default(), then adjust. */
typedef struct {
  /** Tiers, index 0 first. Order does not imply precedence; weights do. The
   *  array and names are copied by strata_core_new(). */
  const strata_core_tier_config_t *tiers;
  /** Number of tiers, 1..STRATA_CORE_MAX_TIERS. */
  size_t ntiers;
  /** Maximum held tasks (ready, blocked, delayed, running, plus placeholder
   *  records for dependencies that have not arrived yet). Submissions beyond
   *  it fail with STRATA_ERR_FULL. 1..UINT32_MAX/2. */
  uint64_t max_tasks;
  /** Starvation bound in ms: a ready task that has waited this long is taken
   *  ahead of the tier shares, oldest first, within the aging cap
   *  (aging_max_share_pct). 0 disables aging. */
  int64_t starvation_bound_ms;
  /** Look-ahead K, 1..64: how many tasks of a tier are examined (urgency order)
   *  when the head does not fit the resource pools. */
  uint32_t lookahead;
  /** Urgency bonus in ms per dependent task waiting on this one. */
  int64_t dep_bonus_ms;
  /** Dependents counted for the bonus are capped at this number. */
  uint32_t dep_bonus_max;
  /** Urgency shift in ms per unit of priority (higher priority = sooner). */
  int64_t priority_step_ms;
  /** How many recently completed task ids (successes and failures) the
   *  core remembers, so that a task submitted later with a dependency on
   *  them resolves at once (satisfied or failed). 0 = none. */
  uint32_t remember_succeeded;
  /** What a dispatch costs its tier's share: 1 = the task's estimated run
   *  time (shares of worker time), 0 = one unit per task (shares of
   *  dispatches). Default 1. */
  int charge_by_estimate;
  /** Cost of a task without an estimate when charge_by_estimate is 1, in ms;
   *  0 means the default, 1000. At most 2^24. */
  int64_t unknown_estimate_ms;
  /** Cap on aging: dispatches taken ahead of the tier shares by the
   *  starvation bound may use at most this percentage of the dispatched
   *  cost, 1..100; 0 means the default, 10. */
  uint32_t aging_max_share_pct;
  /** Urgency override, ms (0 disables; default 1000): the most urgent task
   *  of a tier, if it has a hard deadline and its latest start (deadline -
   *  estimate) is at most this far ahead, goes ahead of the other tiers'
   *  shares. It is charged to its own tier's share, and a tier may run
   *  ahead of its share this way by at most this many ms of its own
   *  (estimated) work. At most 2^24. */
  int64_t urgency_horizon_ms;
  /** Number of lanes (queues of workers), 1..STRATA_CORE_MAX_LANES; default
   *  1. A task names its lane (strata_core_task_spec_t.lane); each lane has
   *  a room, the number of dispatches it may still take
   *  (strata_core_lane_room()), and a lane without room never holds back
   *  another lane's tasks: every tier keeps one ready queue per lane. */
  uint32_t lanes;
  /** Deadlines before floors that can wait (default 1). A tier is owed its
   *  share at once when its most urgent task has no explicit deadline (its
   *  floor is all it has) or is due within urgency_horizon_ms; an owed tier
   *  whose head has an explicit deadline further out waits, and before it,
   *  and before lending, goes the most urgent tier head with an explicit
   *  deadline it can still make (now + estimate <= deadline). 0: owed tiers
   *  are served first whatever their deadlines, and what they leave is lent
   *  by key alone (the rule before). */
  int deadlines_first;
} strata_core_config_t;

/**
 * Fills `cfg` with the defaults: tiers critical(40, 1 s), high(25, 5 s),
 * normal(20, 30 s), low(10, 2 min), background(5, 10 min) as (weight, target
 * wait); max_tasks 1048576; starvation bound 60 s; look-ahead 8; dependency
 * bonus 1000 ms per dependent, at most 16; priority step 1000 ms; remember
 * 4096 succeeded ids; shares charged by estimated run time (1000 ms for a
 * task without an estimate); aging capped at 10 % of the dispatched cost;
 * urgency horizon 1000 ms; one lane; lending prefers feasible real
 * deadlines.
 * The tier array is static and must not be modified.
 */
void strata_core_config_default(strata_core_config_t *cfg);

/**
 * Creates a core. The configuration is copied; `cfg` may be freed after the
 * call. On failure returns NULL and writes the reason (naming the offending
 * field) into `errstr` (caller-owned, may be NULL).
 */
strata_core_t *strata_core_new(const strata_core_config_t *cfg, char *errstr,
                               size_t size);

/** Frees the core and everything it holds. Accepts NULL. Pointers previously
 *  returned by the core (ids in dispatch results) become invalid. */
void strata_core_destroy(strata_core_t *core);

/** Returns the index of the tier called `name`, or -1. O(tiers). */
int strata_core_tier_index(const strata_core_t *core, const char *name);

/**
 * Pauses (`paused` non-zero) or resumes tier `tier`. A paused tier's tasks
 * stay held and keep their timers (not-before release, hard-deadline expiry,
 * dependency cascades) but are never dispatched, and the tier is left out of
 * the share accounting while paused: on resume it starts from the current
 * virtual time, without debt or credit. Idempotent. STRATA_ERR_INVALID_ARG
 * for an unknown tier.
 */
strata_err_t strata_core_tier_pause(strata_core_t *core, int tier, int paused);

/** Non-zero when `tier` is paused. */
int strata_core_tier_paused(const strata_core_t *core, int tier);

/**
 * Sets how many more dispatches `lane` may take (until set again); each
 * dispatch of the lane decrements it; STRATA_CORE_UNLIMITED never runs out
 * (the initial value of every lane). While a lane's room is 0 none of its
 * tasks is dispatched, and they hold back no other lane: a tier whose ready
 * tasks are all in such lanes is passed over as one whose heads do not fit
 * their pools, and for its share it counts as idle meanwhile (when a lane
 * opens, the tier starts from the current virtual time, without debt or
 * credit). Adopted tasks (strata_core_adopt()) do not use room.
 * STRATA_ERR_INVALID_ARG for a bad lane. O(tiers).
 */
strata_err_t strata_core_lane_room(strata_core_t *core, uint32_t lane,
                                   uint64_t room);

/** The room left in `lane` (STRATA_CORE_UNLIMITED, or what remains), 0 for a
 *  bad lane. O(1). */
uint64_t strata_core_lane_room_left(const strata_core_t *core, uint32_t lane);

/* ------------------------------------------------------------------------ */
/* Resource pools                                                           */
/* ------------------------------------------------------------------------ */

typedef enum {
  /** Rate limit: `rate` tokens are added every `period_ms`, continuously
   *  (pro rata per millisecond), up to `burst`. Starts full. */
  STRATA_CORE_POOL_TOKEN_BUCKET = 0,
  /** Counting semaphore: at most `limit` units held by running tasks. */
  STRATA_CORE_POOL_CONCURRENCY = 1
} strata_core_pool_kind_t;

typedef struct {
  strata_core_pool_kind_t kind;
  /** Token bucket: tokens added per period (>= 1). */
  int64_t rate;
  /** Token bucket: period in ms (>= 1), e.g. 60000 for "per minute". */
  int64_t period_ms;
  /** Token bucket: capacity (>= 1). A demand above it is rejected. */
  int64_t burst;
  /** Concurrency: maximum units in use (>= 1). */
  int64_t limit;
} strata_core_pool_config_t;

/**
 * Adds a named resource pool (e.g. "llm.rpm", "llm.tpm", "tool.search").
 * `name` is copied. Fails with STRATA_ERR_EXISTS for a duplicate name,
 * STRATA_ERR_FULL beyond STRATA_CORE_MAX_POOLS, STRATA_ERR_INVALID_ARG for a
 * bad field. Returns the pool id (>= 0) through `*id` when `id` is not NULL.
 */
strata_err_t strata_core_pool_add(strata_core_t *core, const char *name,
                                  const strata_core_pool_config_t *pc, int *id,
                                  char *errstr, size_t size);

/** Returns the id of pool `name`, or -1. O(pools). */
int strata_core_pool_id(const strata_core_t *core, const char *name);

/** A pool's state as of `now` (token buckets are refilled to `now` first). */
typedef struct {
  const char *name; /**< Owned by the core. */
  strata_core_pool_kind_t kind;
  int64_t available;     /**< Tokens available (may be negative after a charge)
                              or free concurrency units. */
  int64_t in_use;        /**< Concurrency: units held by running tasks. */
  uint64_t reservations; /**< Successful reservations so far. */
} strata_core_pool_info_t;

/** Fills `out` for pool `id`. STRATA_ERR_NOT_FOUND for a bad id. */
strata_err_t strata_core_pool_info(strata_core_t *core, int id,
                                   strata_epoch_ms_t now,
                                   strata_core_pool_info_t *out);

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum {
  STRATA_CORE_DEADLINE_NONE = 0, /**< Implicit deadline from the tier. */
  STRATA_CORE_DEADLINE_SOFT = 1, /**< Late tasks run; misses are counted. */
  STRATA_CORE_DEADLINE_HARD = 2  /**< Late tasks never run; they expire. */
} strata_core_deadline_kind_t;

/** One resource demand: `amount` units of pool `pool` (name, not copied
 *  beyond the call). */
typedef struct {
  const char *pool;
  int64_t amount; /**< 1..UINT32_MAX. */
} strata_core_demand_t;

/** What a task asks for. All pointers are borrowed for the call only. */
typedef struct {
  /** Task id, NUL-terminated, 1..STRATA_CORE_ID_MAX bytes. Copied. */
  const char *id;
  /** Tier index (see strata_core_tier_index()). */
  uint32_t tier;
  /** Lane (queue) index, 0..lanes-1; 0 by default (memset spec). */
  uint32_t lane;
  /** Priority within the tier; higher runs sooner. |priority| <=
   *  STRATA_CORE_PRIORITY_MAX. Shifts the urgency key by priority_step_ms
   *  per unit. */
  int32_t priority;
  strata_core_deadline_kind_t deadline_kind;
  /** Absolute deadline (epoch ms); ignored when deadline_kind is NONE. */
  strata_epoch_ms_t deadline;
  /** Not-before time (epoch ms). At or before `now` means ready at once. */
  strata_epoch_ms_t not_before;
  /** Estimated run time in ms; 0 = unknown. Turns EDF into least laxity. */
  int64_t estimate_ms;
  /** Resource demands; at most one per pool. */
  const strata_core_demand_t *demands;
  size_t ndemands;
  /** Ids of tasks that must succeed before this one may run. */
  const char *const *deps;
  size_t ndeps;
  /** Opaque caller value returned with every report about the task (for a
   *  pointer use (uint64_t)(uintptr_t)p). */
  uint64_t cookie;
} strata_core_task_spec_t;

/**
 * Submits a task. O(log n) plus O(deps); cycle detection walks the
 * dependents of `id` only when other tasks were already waiting for it.
 *
 * Errors (errstr names the field): STRATA_ERR_INVALID_ARG (bad field,
 * unknown tier, demand above a pool's burst/limit), STRATA_ERR_NOT_FOUND
 * (unknown pool), STRATA_ERR_EXISTS (id already held or remembered as
 * succeeded), STRATA_ERR_FULL (max_tasks held), STRATA_ERR_CYCLE (the
 * dependencies close a cycle; errstr spells it "a -> b -> c -> a", where
 * "->" reads "depends on"), STRATA_ERR_NOMEM.
 *
 * A dependency on an id the core does not know creates a placeholder that
 * the dependency's own submission later fills. A dependency on an id the
 * core remembers as succeeded is already satisfied. A task submitted with a
 * hard deadline it cannot meet (latest start before now or before its
 * not-before time) is accepted and reported expired at the next poll.
 */
strata_err_t strata_core_submit(strata_core_t *core,
                                const strata_core_task_spec_t *spec,
                                strata_epoch_ms_t now, char *errstr,
                                size_t size);

/**
 * Submits `n` tasks, as if strata_core_submit() were called for specs[0],
 * specs[1], ... in turn at `now` (a later spec sees the earlier ones, e.g.
 * as a duplicate or a dependency), and stores each result in errs[i]
 * (caller-owned array of `n`, may be NULL). Returns how many were accepted.
 * `errstr` (caller-owned, may be NULL) receives the message of the first
 * failure.
 *
 * Why a batch: at a large backlog each submission waits on memory for the
 * id-hash probe (duplicate detection). The batch starts the probes of all
 * ids before submitting the first, so the waits overlap.
 */
size_t strata_core_submit_batch(strata_core_t *core,
                                const strata_core_task_spec_t *specs, size_t n,
                                strata_epoch_ms_t now, strata_err_t *errs,
                                char *errstr, size_t size);

/**
 * Takes in a task that is already running elsewhere, for example one
 * dispatched before a restart whose completion has not been seen: it is
 * held as RUNNING, as if dispatched at `now`, so that strata_core_complete()
 * and strata_core_cancel() treat it like any dispatch and its completion
 * unblocks its dependents. It holds every demand from now on without a fit
 * check, since the units are in use in the world: a concurrency pool may go
 * above its limit (no further task is admitted until it is back below) and
 * a token bucket into debt (bounded as in strata_core_complete()). The
 * caller passes the demands the task actually holds; a rate the task spent
 * long ago should not be charged again. `deps`, `not_before` are ignored.
 * The task keeps `lane`; no dispatch is reported, no share is charged and
 * no lane room is used. O(1) expected.
 *
 * Errors: those of strata_core_submit()'s validation, STRATA_ERR_EXISTS
 * (the id is held, other than as a placeholder, or remembered as
 * succeeded), STRATA_ERR_FULL, STRATA_ERR_NOMEM. A placeholder (dependents
 * waiting for the id) is filled.
 */
strata_err_t strata_core_adopt(strata_core_t *core,
                               const strata_core_task_spec_t *spec,
                               strata_epoch_ms_t now, char *errstr,
                               size_t size);

/** One dispatch decision. */
typedef struct {
  /** The task id, NUL-terminated, owned by the core; valid until the task
   *  is completed or the core destroyed. */
  const char *id;
  uint64_t cookie;
  uint32_t tier;
  /** The task's lane; the dispatch took one of its room. */
  uint32_t lane;
  int32_t priority;
  strata_core_deadline_kind_t deadline_kind;
  /** Effective deadline: the explicit one, or the implicit tier one. */
  strata_epoch_ms_t deadline;
  int64_t estimate_ms;
  strata_epoch_ms_t submitted_at;
  /** When the task became ready (after its not-before time and
   *  dependencies). */
  strata_epoch_ms_t ready_at;
  /** now - ready_at. */
  int64_t wait_ms;
  /** Time from the last dependency success to ready; -1 without deps. */
  int64_t unblock_latency_ms;
  /** Explicit deadline (soft) that will be missed: now + estimate > deadline.
   *  Counted in the tier's soft_misses. */
  int soft_missed;
  /** Taken by the starvation bound (the task had waited at least
   *  starvation_bound_ms). */
  int aged;
  /** Taken beyond its tier's guaranteed share: no tier was owed a dispatch,
   *  so the decision went to the most urgent ready task (lending). */
  int lent;
  /** Taken ahead of the shares by the urgency override (hard deadline
   *  within urgency_horizon_ms); charged to its tier. */
  int urgent;
  /** Names this dispatch for strata_core_complete_handle(), which then
   *  skips the id lookup. Valid until the task is completed; a handle kept
   *  beyond that is rejected (see strata_core_complete_handle()). */
  uint64_t handle;
} strata_core_dispatch_t;

/**
 * Makes one dispatch decision at `now`: fires due timers, then picks the
 * task (see docs/CORE.md), reserves its resources in every pool it names
 * (all or nothing) and marks it running. Returns 1 and fills `out` when a
 * task was dispatched, 0 when nothing can run now (then sleep until
 * strata_core_next_wakeup() or the next submit/complete). A task whose lane
 * has no room is never dispatched. O(log n) for a dispatch, plus O(lanes)
 * for the lanes with room; O(K log n) per lane tried when look-ahead skips
 * resource-blocked tasks.
 */
int strata_core_next(strata_core_t *core, strata_epoch_ms_t now,
                     strata_core_dispatch_t *out);

typedef enum {
  STRATA_CORE_SUCCEEDED = 0,    /**< Done; dependents may run. */
  STRATA_CORE_FAILED = 1,       /**< Failed for good; dependents fail. */
  STRATA_CORE_FAILED_RETRY = 2, /**< Failed; the caller will resubmit the same
                                     id later. Dependents keep waiting. */
  STRATA_CORE_CANCELLED = 3     /**< Stopped by a cancel; dependents fail. */
} strata_core_result_t;

/** Actual usage of one pool reported at completion. */
typedef struct {
  const char *pool;
  int64_t amount; /**< Actual tokens used (>= 0). */
} strata_core_usage_t;

/**
 * Reports the outcome of a running task and releases it. Concurrency units
 * are returned. For token pools listed in `usage` the difference between the
 * actual and the reserved amount is refunded (actual < reserved) or charged
 * (actual > reserved, the bucket may go negative); unlisted pools keep the
 * reservation as the charge. Dependents are unblocked (SUCCEEDED), failed
 * transitively (FAILED, CANCELLED; collected with strata_core_poll_outcomes())
 * or left waiting (FAILED_RETRY). O(log n + dependents).
 *
 * Errors: STRATA_ERR_NOT_FOUND (unknown id or pool), STRATA_ERR_STATE (the
 * task is not running).
 */
strata_err_t strata_core_complete(strata_core_t *core, const char *id,
                                  strata_core_result_t result,
                                  const strata_core_usage_t *usage,
                                  size_t nusage, strata_epoch_ms_t now,
                                  char *errstr, size_t size);

/**
 * As strata_core_complete(), for the dispatch named by `handle` (from
 * strata_core_dispatch_t.handle) instead of an id: no id lookup. A handle
 * is a record slot and a generation bumped on every dispatch and every reuse
 * of the slot, so a handle that outlived its dispatch (the task completed,
 * was retried and dispatched again, or its record went to another task) is
 * rejected with STRATA_ERR_NOT_FOUND rather than completing something else
 * (exact until the same slot has been reused 2^32 times). Same other errors
 * and cost as strata_core_complete(), without the lookup.
 */
strata_err_t strata_core_complete_handle(strata_core_t *core, uint64_t handle,
                                         strata_core_result_t result,
                                         const strata_core_usage_t *usage,
                                         size_t nusage, strata_epoch_ms_t now,
                                         char *errstr, size_t size);

/** One completion for strata_core_complete_batch(). */
typedef struct {
  uint64_t handle; /**< From strata_core_dispatch_t.handle. */
  strata_core_result_t result;
  const strata_core_usage_t *usage; /**< Borrowed for the call; may be NULL. */
  size_t nusage;
  strata_err_t err; /**< Written by the call: what completing this one gave. */
} strata_core_completion_t;

/**
 * Completes `n` dispatches, as if strata_core_complete_handle() were called
 * for items[0], items[1], ... in turn at `now`, and stores each result in
 * items[i].err. Returns how many succeeded. `errstr` (caller-owned, may be
 * NULL) receives the message of the first failure.
 *
 * Why a batch: at a large backlog each completion waits on memory (the task
 * record, then the id-hash slot it frees). The batch loads those for all
 * items before completing the first, so the waits overlap.
 */
size_t strata_core_complete_batch(strata_core_t *core,
                                  strata_core_completion_t *items, size_t n,
                                  strata_epoch_ms_t now, char *errstr,
                                  size_t size);

/**
 * Tells the core that task `id` already succeeded elsewhere (for example
 * before a restart). Waiting dependents are unblocked; later submissions
 * that depend on `id` are not blocked (while remembered). STRATA_ERR_STATE if
 * the task is held and not a placeholder.
 */
strata_err_t strata_core_mark_succeeded(strata_core_t *core, const char *id,
                                        strata_epoch_ms_t now);

/**
 * Tells the core that task `id` failed for good elsewhere (for example a
 * task owned by another scheduler instance, or one the caller dead-lettered).
 * Every task waiting on it, directly or transitively, fails with an outcome
 * STRATA_CORE_OUTCOME_DEP_FAILED whose reason names `id` and `reason`
 * ("dependency <id> failed: <reason>"; `reason` may be NULL). A placeholder
 * for `id` is dropped; an unknown id is remembered as failed, so later
 * dependents fail at once (while remembered). A held task that is running
 * is completed as STRATA_CORE_FAILED (its resources are released, token
 * reservations kept as the charge). STRATA_ERR_STATE if `id` is held ready,
 * blocked or delayed (cancel it instead); STRATA_ERR_INVALID_ARG for a bad id.
 * O(1) expected plus dependents.
 */
strata_err_t strata_core_mark_failed(strata_core_t *core, const char *id,
                                     strata_epoch_ms_t now, const char *reason);

/**
 * Cancels a ready, blocked or delayed task. Its dependents fail with reason
 * "dependency <id> cancelled" (see strata_core_poll_outcomes()). The task
 * itself is not reported as an outcome: the caller asked for it.
 * STRATA_ERR_NOT_FOUND (unknown id or a placeholder), STRATA_ERR_STATE (the
 * task is running: stop it and report STRATA_CORE_CANCELLED through
 * strata_core_complete()). O(1) expected plus dependents.
 */
strata_err_t strata_core_cancel(strata_core_t *core, const char *id,
                                strata_epoch_ms_t now);

/** Why the core gave up a task on its own. */
typedef enum {
  STRATA_CORE_OUTCOME_EXPIRED = 1,    /**< Hard deadline can no longer be met.*/
  STRATA_CORE_OUTCOME_DEP_FAILED = 2, /**< A dependency failed (transitively).*/
  /** The core could not allocate memory to re-queue the task; it was
   *  dropped rather than left in an inconsistent state. */
  STRATA_CORE_OUTCOME_NOMEM = 3
} strata_core_outcome_kind_t;

/** A task the core removed on its own; copied out, owned by the caller. */
typedef struct {
  strata_core_outcome_kind_t kind;
  char id[STRATA_CORE_ID_MAX + 1];
  uint64_t cookie;
  uint32_t tier;
  strata_epoch_ms_t at; /**< When it happened (core time). */
  /** Human text, e.g. "hard deadline 1000 cannot be met: now 950 + estimate
   *  100" or "dependency b failed (via c)". */
  char reason[192];
} strata_core_outcome_t;

/**
 * Fires timers due at `now` and moves up to `max` queued outcomes into
 * `out`, oldest first. Returns how many were written. Outcomes not taken
 * stay queued (they do not count toward max_tasks).
 */
size_t strata_core_poll_outcomes(strata_core_t *core, strata_epoch_ms_t now,
                                 strata_core_outcome_t *out, size_t max);

/**
 * Earliest time at which something changes without outside input: a
 * not-before time comes due, a hard deadline expires, or a token refill
 * makes a resource-blocked tier head admissible. STRATA_CORE_NEVER when
 * nothing is scheduled. Outcomes already queued are not included: poll them.
 * O(1).
 */
strata_epoch_ms_t strata_core_next_wakeup(const strata_core_t *core);

/* ------------------------------------------------------------------------ */
/* Inspection                                                               */
/* ------------------------------------------------------------------------ */

typedef enum {
  STRATA_CORE_STATE_READY = 0,   /**< Waiting for a dispatch decision. */
  STRATA_CORE_STATE_BLOCKED = 1, /**< Waiting for dependencies. */
  STRATA_CORE_STATE_DELAYED = 2, /**< Waiting for its not-before time. */
  STRATA_CORE_STATE_RUNNING = 3, /**< Dispatched, not yet completed. */
  STRATA_CORE_STATE__COUNT = 4
} strata_core_state_t;

/** Bit for `state` in an iteration mask. */
#define STRATA_CORE_STATE_BIT(state) (1u << (state))
#define STRATA_CORE_STATE_ALL 0xFu

/** A snapshot of one held task. `id` is owned by the core and valid until
 *  the task leaves it. */
typedef struct {
  const char *id;
  uint64_t cookie;
  uint32_t tier;
  uint32_t lane; /**< Lane (queue) index. */
  strata_core_state_t state;
  int32_t priority;
  strata_core_deadline_kind_t deadline_kind;
  strata_epoch_ms_t deadline; /**< Effective (explicit or implicit). */
  int64_t estimate_ms;
  strata_epoch_ms_t submitted_at;
  /** DELAYED: the not-before time. READY: when it became ready. RUNNING:
   *  when it was dispatched. BLOCKED: submitted_at. */
  strata_epoch_ms_t since;
  /** Urgency key (lower runs sooner); see docs/CORE.md. */
  int64_t key;
  uint32_t deps_waiting; /**< Dependencies not yet succeeded. */
  uint32_t dependents;   /**< Held tasks waiting for this one. */
} strata_core_task_info_t;

/** Looks up a held task by id. O(1) expected. STRATA_ERR_NOT_FOUND when the
 *  id is not held (placeholders and remembered ids are not tasks). */
strata_err_t strata_core_lookup(const strata_core_t *core, const char *id,
                                strata_core_task_info_t *out);

/** Iteration callback; return non-zero to stop. */
typedef int (*strata_core_iter_cb)(const strata_core_task_info_t *task,
                                   void *opaque);

/**
 * Calls `cb` for each held task of `tier` (or every tier when tier < 0)
 * whose state is in `state_mask`, grouped by tier then state, in dispatch
 * order within a group: READY by urgency key then FIFO (the lanes of a tier
 * interleaved in that order, as they go while every lane has room; filter on
 * `lane` for one lane); DELAYED by
 * not-before time; BLOCKED by submission time; RUNNING by dispatch time.
 * Copies and sorts: O(n log n), not for the hot path. The core must not be
 * modified from `cb`. Returns STRATA_ERR_NOMEM or STRATA_OK.
 */
strata_err_t strata_core_iterate(const strata_core_t *core, int tier,
                                 unsigned state_mask, strata_core_iter_cb cb,
                                 void *opaque);

/** Per-tier counters and gauges. */
typedef struct {
  const char *name; /**< Owned by the core. */
  uint32_t weight;
  uint64_t submitted;
  uint64_t dispatched;
  uint64_t aged_dispatches;   /**< Dispatched by the starvation bound. */
  uint64_t lent_dispatches;   /**< Dispatched beyond the tier's share. */
  uint64_t urgent_dispatches; /**< Dispatched by the urgency override. */
  uint64_t soft_misses;
  uint64_t hard_expiries;
  uint64_t dep_failures; /**< Failed because a dependency failed. */
  uint64_t cancelled;
  uint64_t adopted;   /**< Taken in running by strata_core_adopt(). */
  uint64_t unblocked; /**< Tasks whose dependencies all succeeded. */
  int64_t unblock_latency_max_ms; /**< Largest unblock latency seen. */
  int64_t unblock_latency_sum_ms; /**< Sum, for a mean. */
  uint64_t depth[STRATA_CORE_STATE__COUNT]; /**< Held tasks by state. */
  /** Starvation index: longest current wait of a ready task, ms. */
  int64_t longest_wait_ms;
  /** The most urgent ready task did not fit the resource pools at the last
   *  decision that examined this tier. */
  int head_blocked;
  int blocked_pool; /**< Pool id it waits on (-1 when not blocked). */
  strata_epoch_ms_t blocked_since;
  int paused; /**< strata_core_tier_pause() holds its dispatches. */
  /** Earliest refill time that makes the head admissible; STRATA_CORE_NEVER
   *  when only a completion (concurrency pool) can. */
  strata_epoch_ms_t blocked_until;
} strata_core_tier_stats_t;

typedef struct {
  size_t ntiers;
  strata_core_tier_stats_t tiers[STRATA_CORE_MAX_TIERS];
  uint64_t held; /**< Tasks counted toward max_tasks. */
  uint64_t max_tasks;
  int full;              /**< held >= max_tasks. */
  uint64_t placeholders; /**< Awaited dependencies not yet submitted. */
  uint64_t remembered;   /**< Succeeded ids remembered. */
  uint64_t outcomes_queued;
  uint64_t outcomes_lost; /**< Outcomes dropped for lack of memory. */
  uint64_t decisions;     /**< strata_core_next() calls that dispatched. */
} strata_core_stats_t;

/** Fills `out` as of `now` (for wait gauges). O(tiers). */
void strata_core_stats(const strata_core_t *core, strata_epoch_ms_t now,
                       strata_core_stats_t *out);

/** Non-zero when a submission would fail with STRATA_ERR_FULL. O(1). */
int strata_core_is_full(const strata_core_t *core);

/** Tasks held (counted toward max_tasks). O(1). */
uint64_t strata_core_held(const strata_core_t *core);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_CORE_H */
