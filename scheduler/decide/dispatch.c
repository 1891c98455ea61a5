/*
 * The turn's decisions out of the core: first what the core gives up on
 * (tasks past their hard deadline or schedule-to-start timeout, dependents
 * of failed tasks), then dispatches in the core's order.
 *
 * A dispatch writes the task's bytes unchanged to the dispatch topic and a
 * DISPATCHED event naming the concurrency units the attempt holds (so a
 * successor that recovers the partition can count them), and starts
 * watching the attempt (running.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"

static void watch_attempt(decide_t *d, const strata_core_dispatch_t *dp,
                          const held_t *h) {
  running_t *r;
  void *copy = NULL;
  /* Keep the record only when a lost heartbeat would make the scheduler
   * write the next attempt. */
  if (h->heartbeat_ms > 0 && (copy = malloc(h->len)))
    memcpy(copy, h->value, h->len);
  if (h->heartbeat_ms > 0 && !copy)
    decide_oom();
  if (!(r = running_add(d->running, dp->id, h->key, h->attempt, h->lane, copy,
                        copy ? h->len : 0)))
    decide_oom();
  r->tier = h->tier;
  r->input = h->input;
  r->partition = h->partition;
  r->offset = h->offset;
  r->npools = h->npools;
  memcpy(r->pools, h->pools, sizeof(r->pools));
  r->heartbeat_ms = copy ? h->heartbeat_ms : 0;
  r->enqueued_ms = h->enqueued_ms;
  r->deadline_ms = h->deadline_ms;
}

static void dispatch_one(decide_t *d, const strata_core_dispatch_t *dp,
                         strata_epoch_ms_t now) {
  held_t *h = &d->held[dp->cookie];
  subject_t who = held_subject(d, dp->cookie, dp->id);
  strata_kv_long_t units[RUNNING_MAX_POOLS];
  pending_decision_t *pd;

  watch_attempt(d, dp, h);
  /* The dispatch record takes the bytes. */
  decide_out_add(d, DECIDE_OUT_DISPATCH, d->cfg.dispatch_topics[h->lane],
                 h->partition, h->key, h->value, h->len);
  h->value = NULL;
  for (int i = 0; i < h->npools; i++)
    units[i] =
        (strata_kv_long_t){borrow(d->pool_names[h->pools[i]]), h->amounts[i]};
  decide_emit_event(d, STRATA_EVENT_DISPATCHED, &who, NULL, false, units,
                    (size_t)h->npools, now);
  pd = decide_pend(d, dp->id, h->attempt);
  pd->kind = PEND_DISPATCHED;
  pd->tier = h->tier;
  pd->enqueued_ms = h->enqueued_ms;
  pd->unblock_ms = dp->unblock_latency_ms;
  pd->soft_missed = dp->soft_missed != 0;
  pd->not_before = h->not_before;
  held_finish(d, dp->cookie);
}

/* A task the core gave up on: expired (its deadline or schedule-to-start
 * timeout) or failed with a dependency. Dead-lettered unless its expiry
 * policy says drop. */
static void outcome_one(decide_t *d, const strata_core_outcome_t *o,
                        strata_epoch_ms_t now) {
  held_t *h = &d->held[o->cookie];
  subject_t who = held_subject(d, o->cookie, o->id);
  bool expired = o->kind == STRATA_CORE_OUTCOME_EXPIRED;
  const char *reason = o->reason;
  strata_task_t t;
  char err[256], why[256];
  bool drop = false;

  /* Decoded again only here, to build the dead letter from it. */
  strata_task_init(&t);
  if (strata_task_decode(h->value, h->len, &t, err, sizeof(err)) == STRATA_OK)
    drop = expired && t.expiry_policy == STRATA_EXPIRY_DROP;
  if (expired && decide_s2s_expired(&t)) {
    snprintf(why, sizeof(why),
             "schedule_to_start_ms %" PRId64 " exceeded: not dispatched "
             "within %" PRId64 " ms of being enqueued",
             t.timeouts.schedule_to_start_ms, t.timeouts.schedule_to_start_ms);
    reason = why;
    decide_emit_event(d, STRATA_EVENT_TIMED_OUT, &who, reason, false, NULL, 0,
                      now);
  } else if (expired) {
    decide_emit_event(d, STRATA_EVENT_DEADLINE_MISSED, &who, reason, false,
                      NULL, 0, now);
  }
  if (!drop) {
    decide_emit_dlq(
        d, expired ? STRATA_DLQ_DEADLINE_EXPIRED : STRATA_DLQ_DEPENDENCY_FAILED,
        reason, &t, h->value, h->len, decide_input_topic(d, h->input),
        h->partition, h->offset, NULL, now);
    decide_emit_event(d, STRATA_EVENT_DEAD_LETTERED, &who, reason, false, NULL,
                      0, now);
  }
  pending_decision_t *pd = decide_pend(d, o->id, h->attempt);
  if (expired) {
    pd->kind = PEND_EXPIRED;
    pd->tier = h->tier;
  }
  held_finish(d, o->cookie);
  strata_task_clear(&t);
}

int decide_turn(decide_t *d, strata_epoch_ms_t now, int max_dispatch) {
  strata_core_outcome_t outs[64];
  strata_core_dispatch_t dp;
  size_t nouts;
  int work = 0, n = 0;

  if (!d->control_ready || !d->core)
    return 0;
  /* Each queue's window bounds its own dispatches; the core passes over a
   * queue with no room without holding back the others. */
  if (d->cfg.window)
    for (int i = 0; i < d->cfg.nqueues; i++)
      strata_core_lane_room(d->core, (uint32_t)i, window_room(d, i, now));
  while ((nouts = strata_core_poll_outcomes(d->core, now, outs, 64)) > 0) {
    for (size_t i = 0; i < nouts; i++)
      outcome_one(d, &outs[i], now);
    work++;
  }
  while (n < max_dispatch && strata_core_next(d->core, now, &dp)) {
    dispatch_one(d, &dp, now);
    n++;
  }
  return work + n;
}
