/*
 * Events read back from the events topic: what workers report (started,
 * heartbeats, checkpoints, outcomes) and what schedulers decided (this
 * instance's own, and a predecessor's during a recovery scan). They feed
 * the ledger (decided attempts, claimed idempotency keys, cancels, lost
 * attempts), the core (completions release pools and unblock dependents)
 * and the running attempts.
 *
 * Rules: a result of an attempt presumed lost is recorded but applies
 * nothing; a terminal event of an attempt older than the last dispatched
 * one touches nothing; usage read again by a recovery scan is not charged
 * twice; each events offset is counted in the metrics once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "decide_int.h"
#include "strata/log.h"

#define COMP "scheduler"

/* A CHECKPOINT event with an error ends an attempt that yielded (the worker
 * wrote the requeue record with it); without one it is a progress report. */
static bool is_yield(const strata_event_t *e) {
  return e->kind == STRATA_EVENT_CHECKPOINT && e->error && e->worker_id;
}

/* What a worker reports as the end of an attempt. */
static bool is_terminal(const strata_event_t *e) {
  return e->worker_id &&
         (e->kind == STRATA_EVENT_SUCCEEDED || e->kind == STRATA_EVENT_FAILED ||
          e->kind == STRATA_EVENT_TIMED_OUT ||
          e->kind == STRATA_EVENT_CANCELLED || is_yield(e));
}

/*
 * A DISPATCHED event read by the recovery scan of a partition this instance
 * owns, for an attempt the core does not hold: the attempt was dispatched
 * before this instance took the partition (a restart or a rebalance) and
 * its end has not been read yet, so it may still be running. It is adopted:
 * held as running in the core with the concurrency units the event lists,
 * and watched for preemption, until its terminal event (later in the same
 * partition, read in order) releases it. Rate pools are not charged: the
 * attempt spent its rate when it was dispatched. Heartbeats are not
 * watched: the task record needed to write a next attempt is not in the
 * event.
 */
static void adopt_running(decide_t *d, const strata_event_t *e, int32_t p,
                          strata_epoch_ms_t now) {
  strata_core_demand_t dem[RUNNING_MAX_POOLS];
  int ids[RUNNING_MAX_POOLS];
  strata_core_task_spec_t spec;
  strata_core_task_info_t info;
  running_t *r;
  char err[256];
  int tier = decide_tier_index(d, e->tier), n = 0;
  int lane = decide_queue_lane(d, e->queue);

  if (tier < 0)
    return;
  if (lane < 0) {
    /* Dispatched under a configuration with this queue: counted in the
     * default queue's window until it ends. */
    STRATA_WARN(COMP,
                "task %s attempt %d: queue \"%s\" of its DISPATCHED event is "
                "not configured here; counted in the default queue",
                e->task_id, e->attempt, e->queue);
    lane = 0;
  }
  if (strata_core_lookup(d->core, e->task_id, &info) == STRATA_OK) {
    /* Held already: an earlier attempt adopted in this scan that a newer
     * one replaces (the scheduler presumed it lost). */
    r = running_find(d->running, e->task_id);
    if (r && r->attempt < e->attempt)
      r->attempt = e->attempt;
    return;
  }
  for (size_t i = 0; i < e->usage_count && n < RUNNING_MAX_POOLS; i++) {
    int id = strata_core_pool_id(d->core, e->usage[i].key);
    if (id < 0 || !((d->conc_pools >> id) & 1u) || e->usage[i].value < 1) {
      STRATA_WARN(COMP,
                  "task %s attempt %d: \"%s\" of its DISPATCHED event is "
                  "not a concurrency pool here or holds no units; not counted",
                  e->task_id, e->attempt, e->usage[i].key);
      continue;
    }
    ids[n] = id;
    dem[n++] = (strata_core_demand_t){e->usage[i].key, e->usage[i].value};
  }
  memset(&spec, 0, sizeof(spec));
  spec.id = e->task_id;
  spec.tier = (uint32_t)tier;
  spec.lane = (uint32_t)lane;
  spec.demands = dem;
  spec.ndemands = (size_t)n;
  spec.cookie = UINT64_MAX; /* no held record */
  if (strata_core_adopt(d->core, &spec, now, err, sizeof(err))) {
    STRATA_WARN(COMP, "task %s attempt %d may still run but is not counted: %s",
                e->task_id, e->attempt, err);
    return;
  }
  if (!(r = running_add(d->running, e->task_id, e->routing_key, e->attempt,
                        lane, NULL, 0)))
    decide_oom();
  r->tier = tier;
  r->input = -1;
  r->partition = p;
  r->offset = -1;
  r->npools = n;
  memcpy(r->pools, ids, (size_t)n * sizeof(*ids));
  r->heartbeat_ms = 0;
}

/* Counts a worker's outcome in the metrics, once per events offset. */
static void count_outcome(decide_t *d, const strata_event_t *e, bool late) {
  const decide_observer_t *ob = &d->cfg.observer;
  char outcome[32];
  snprintf(outcome, sizeof(outcome), "%s",
           is_yield(e) ? "yielded" : strata_event_kind_name(e->kind));
  for (size_t i = 0; outcome[i]; i++)
    if (outcome[i] >= 'A' && outcome[i] <= 'Z')
      outcome[i] = (char)(outcome[i] - 'A' + 'a');
  if (late && is_terminal(e)) {
    if (ob->late_result)
      ob->late_result(ob->opaque, e->tier, outcome);
    STRATA_INFO(COMP,
                "task %s attempt %d: late %s from %s after the attempt was "
                "presumed lost; recorded, not applied",
                e->task_id, e->attempt, outcome, e->worker_id);
  } else if (ob->outcome) {
    ob->outcome(ob->opaque, e->tier, outcome);
  }
}

/* DISPATCHED, DEADLINE_MISSED, DEAD_LETTERED, CANCELLED: decisions. */
static void on_decision(decide_t *d, const strata_event_t *e, int32_t p,
                        strata_epoch_ms_t now) {
  char err[256];
  decide_must(ledger_decided(d->ledger, e->task_id, e->attempt, e->time_ms));
  if (e->idempotency_key)
    ledger_claim_key(d->ledger, e->idempotency_key, e->task_id, e->time_ms);
  /* Only the recovery scan can meet an attempt dispatched by an earlier
   * owner; afterwards every DISPATCHED event read back is this instance's
   * own, already held. */
  if (e->kind == STRATA_EVENT_DISPATCHED && !e->worker_id &&
      decide_recovering(d, p))
    adopt_running(d, e, p, now);
  if (e->kind == STRATA_EVENT_CANCELLED && e->worker_id) {
    strata_core_complete(d->core, e->task_id, STRATA_CORE_CANCELLED, NULL, 0,
                         now, err, sizeof(err));
    running_done(d->running, e->task_id, e->attempt);
  } else if (e->kind == STRATA_EVENT_CANCELLED) {
    decide_must(ledger_cancel_reported(d->ledger, e->task_id, e->time_ms));
  }
}

/* STARTED, HEARTBEAT, CHECKPOINT: progress, or a yield. */
static void on_progress(decide_t *d, const strata_event_t *e, int32_t p,
                        strata_epoch_ms_t now) {
  running_t *r = running_find(d->running, e->task_id);
  char err[256];
  if (is_yield(e)) {
    /* The attempt checkpointed and yielded; its requeue record (attempt +
     * 1) was committed with this event and brings the task back. */
    strata_core_complete(d->core, e->task_id, STRATA_CORE_FAILED_RETRY, NULL, 0,
                         now, err, sizeof(err));
    running_done(d->running, e->task_id, e->attempt);
  } else if (r && r->attempt == e->attempt) {
    if (!r->begun) {
      /* Out of the dispatch topic: the window may refill. A start re-read
       * by a recovery scan says nothing about today's latency. */
      running_begin(d->running, r);
      if (e->kind == STRATA_EVENT_STARTED && r->enqueued_ms > 0 &&
          d->cfg.observer.started)
        d->cfg.observer.started(d->cfg.observer.opaque, r->tier,
                                (double)(e->time_ms - r->enqueued_ms) / 1000.0,
                                r->deadline_ms > 0 &&
                                    e->time_ms > r->deadline_ms);
      window_started(d, r->lane,
                     e->kind == STRATA_EVENT_STARTED && !decide_recovering(d, p)
                         ? e->time_ms
                         : 0,
                     now);
    }
    if (e->kind == STRATA_EVENT_STARTED && !r->started_ms)
      r->started_ms = now;
    if (e->kind == STRATA_EVENT_CHECKPOINT && e->has_checkpoint && r->len)
      running_checkpoint(r, e->checkpoint, e->checkpoint_len);
    running_seen(r, e->worker_id, now);
  }
}

static void on_succeeded(decide_t *d, const strata_event_t *e, int32_t p,
                         strata_epoch_ms_t now) {
  strata_core_usage_t usage[64];
  char err[256];
  /* Usage read again in a recovery scan was charged by whoever ran the
   * scheduler then; the buckets here have refilled since. */
  size_t n = decide_recovering(d, p) ? 0
             : e->usage_count < 64   ? e->usage_count
                                     : 64;
  for (size_t i = 0; i < n; i++)
    usage[i] = (strata_core_usage_t){e->usage[i].key, e->usage[i].value};
  if (strata_core_complete(d->core, e->task_id, STRATA_CORE_SUCCEEDED, usage, n,
                           now, err, sizeof(err)))
    strata_core_mark_succeeded(d->core, e->task_id, now);
  running_done(d->running, e->task_id, e->attempt);
}

static void on_failed(decide_t *d, const strata_event_t *e,
                      strata_epoch_ms_t now) {
  char err[256];
  if (!e->worker_id) {
    /* The scheduler's own timeouts: schedule-to-start (the attempt never
     * ran) or heartbeat (the attempt is presumed lost; the next one was
     * written with this event). Either way, results that still arrive for
     * this attempt are late. */
    decide_must(ledger_lost(d->ledger, e->task_id, e->attempt, e->time_ms));
    return;
  }
  running_done(d->running, e->task_id, e->attempt);
  /* The worker sets `retryable` only when it also wrote the next attempt
   * (to the delay ladder): dependents keep waiting for it. Otherwise the
   * attempt was final and tasks waiting on it fail too. */
  if (e->retryable)
    strata_core_complete(d->core, e->task_id, STRATA_CORE_FAILED_RETRY, NULL, 0,
                         now, err, sizeof(err));
  else if (strata_core_complete(d->core, e->task_id, STRATA_CORE_FAILED, NULL,
                                0, now, err, sizeof(err)))
    strata_core_mark_failed(d->core, e->task_id, now, e->error);
}

void decide_event(decide_t *d, int32_t p, int64_t offset, const void *value,
                  size_t len, strata_epoch_ms_t now) {
  strata_event_t e;
  char err[256];
  bool terminal, fresh, late;
  bool mine = p >= 0 && p < d->cfg.nparts;

  if (mine && offset + 1 > d->events_pos[p])
    d->events_pos[p] = offset + 1;
  strata_event_init(&e);
  if (strata_event_decode(value, len, &e, err, sizeof(err))) {
    STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": undecodable event ignored: %s",
                d->cfg.events_topic, p, offset, err);
    return;
  }
  terminal = is_terminal(&e);
  /* A recovery scan re-reads events: count each offset once. */
  fresh = mine && offset >= d->events_counted[p];
  /* A result of an attempt this scheduler presumed lost (heartbeat timeout)
   * and retried: recorded, but it completes nothing. */
  late = e.worker_id && ledger_is_lost(d->ledger, e.task_id, e.attempt);
  if ((terminal || (e.kind == STRATA_EVENT_DEAD_LETTERED && e.worker_id)) &&
      e.tier && fresh) {
    count_outcome(d, &e, late);
    d->events_counted[p] = offset + 1;
  }
  /* An outcome of an attempt older than one already dispatched (a retry
   * that overtook its FAILED event) must not touch the newer attempt. */
  if (late || (terminal && ledger_attempt(d->ledger, e.task_id) > e.attempt)) {
    strata_event_clear(&e);
    return;
  }
  switch (e.kind) {
  case STRATA_EVENT_DISPATCHED:
  case STRATA_EVENT_DEADLINE_MISSED:
  case STRATA_EVENT_DEAD_LETTERED:
  case STRATA_EVENT_CANCELLED:
    on_decision(d, &e, p, now);
    break;
  case STRATA_EVENT_STARTED:
  case STRATA_EVENT_HEARTBEAT:
  case STRATA_EVENT_CHECKPOINT:
    on_progress(d, &e, p, now);
    break;
  case STRATA_EVENT_SUCCEEDED:
    on_succeeded(d, &e, p, now);
    break;
  case STRATA_EVENT_FAILED:
  case STRATA_EVENT_TIMED_OUT:
    on_failed(d, &e, now);
    break;
  default:
    break;
  }
  strata_event_clear(&e);
}
