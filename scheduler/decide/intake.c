/*
 * Intake: what happens to a task record read from a tier topic or a due
 * delay step. In order: undecodable or invalid records are dead-lettered;
 * a task cancelled before it arrived is cancelled; an attempt already
 * decided (before a restart) or a duplicate idempotency key is skipped; a
 * task far from due hops onto the delay ladder; everything else is held in
 * the core.
 *
 * Invariant: every record read gets an entry in its partition's offset
 * tracker, finished in the same call unless the task is held (then it is
 * finished when the task leaves the core).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"
#include "strata/log.h"

#define COMP "scheduler"

/* The hard deadline standing for a task's schedule-to-start timeout. */
static strata_epoch_ms_t s2s_deadline(const strata_task_t *t) {
  return t->enqueued_ms + t->timeouts.schedule_to_start_ms +
         (t->has_estimate_ms ? t->estimate_ms : 0);
}

/* Fills a core spec from a task; `demands` has room for every demand. */
static void spec_from_task(const strata_task_t *t, int tier, int lane,
                           uint64_t cookie, strata_core_task_spec_t *spec,
                           strata_core_demand_t *demands) {
  memset(spec, 0, sizeof(*spec));
  spec->id = t->id;
  spec->tier = (uint32_t)tier;
  spec->lane = (uint32_t)lane;
  spec->priority = t->priority;
  spec->deadline_kind = !t->has_deadline_ms ? STRATA_CORE_DEADLINE_NONE
                        : t->deadline_hard  ? STRATA_CORE_DEADLINE_HARD
                                            : STRATA_CORE_DEADLINE_SOFT;
  spec->deadline = t->deadline_ms;
  spec->not_before = t->has_not_before_ms ? t->not_before_ms : 0;
  spec->estimate_ms = t->has_estimate_ms ? t->estimate_ms : 0;
  /* A schedule-to-start timeout is a hard limit on the start: the core
   * expires a hard task whose latest start (deadline - estimate) has passed,
   * so the limit becomes a hard deadline one estimate after it (or tightens
   * an earlier hard deadline). A soft deadline gives way to it. */
  if (t->timeouts.has_schedule_to_start_ms) {
    strata_epoch_ms_t limit = s2s_deadline(t);
    if (spec->deadline_kind != STRATA_CORE_DEADLINE_HARD ||
        limit < spec->deadline)
      spec->deadline = limit;
    spec->deadline_kind = STRATA_CORE_DEADLINE_HARD;
  }
  for (size_t i = 0; i < t->demands_count; i++)
    demands[i] = (strata_core_demand_t){t->demands[i].key, t->demands[i].value};
  spec->demands = demands;
  spec->ndemands = t->demands_count;
  spec->deps = (const char *const *)t->depends_on;
  spec->ndeps = t->depends_on_count;
  spec->cookie = cookie;
}

bool decide_s2s_expired(const strata_task_t *t) {
  return t->timeouts.has_schedule_to_start_ms &&
         (!t->has_deadline_ms || !t->deadline_hard ||
          s2s_deadline(t) <= t->deadline_ms);
}

/* The lane of a task's queue; an unknown queue (a refused task) is
 * reported under the default one. */
static int task_lane(const decide_t *d, const strata_task_t *t) {
  int lane = decide_queue_lane(d, t->queue);
  return lane < 0 ? 0 : lane;
}

/* Whom the events about a task record at intake are about. */
static subject_t task_subject(const decide_t *d, const decide_record_t *r,
                              const strata_task_t *t, int tier) {
  return (subject_t){t->id,
                     decide_routing_key(t),
                     t->idempotency_key != NULL,
                     t->attempt,
                     tier,
                     r->partition,
                     task_lane(d, t)};
}

/* Checks the task against its input: a tier topic carries only its own
 * tier; a delay step any configured tier. Sets *tier. A queue must be one
 * this scheduler dispatches to. */
static strata_err_t check_tier(const decide_t *d, const strata_task_t *t,
                               int input, int *tier, char *err, size_t size) {
  if (input >= d->cfg.ntiers) {
    if ((*tier = decide_tier_index(d, t->tier)) < 0)
      return strata_errf(STRATA_ERR_INVALID_TASK, err, size,
                         "Task.tier: \"%s\" is not a configured tier", t->tier);
  } else if (strcmp(t->tier, d->cfg.tiers[input])) {
    return strata_errf(STRATA_ERR_INVALID_TASK, err, size,
                       "Task.tier: \"%s\" does not match the topic %s", t->tier,
                       d->cfg.tier_topics[input]);
  }
  if (decide_queue_lane(d, t->queue) < 0)
    return strata_errf(STRATA_ERR_INVALID_TASK, err, size,
                       "Task.queue: \"%s\" is not a configured queue (see "
                       "`queues`); replay the dead letter once it is",
                       t->queue);
  return STRATA_OK;
}

/* A record the dispatch topic could not take (with its key, within the
 * topic's record limit) would abort every turn's transaction. */
static strata_err_t check_size(size_t len, char *err, size_t size) {
  if (len <= strata_record_budget())
    return STRATA_OK;
  return strata_errf(STRATA_ERR_INVALID_TASK, err, size,
                     "Task: the record is %zu bytes; at most %zu can be "
                     "dispatched (codec.max.record.bytes less 1 KiB for its "
                     "key and Kafka's record overhead)",
                     len, strata_record_budget());
}

/* Dead-letters a task record the scheduler refuses, with its event. */
static void refuse(decide_t *d, const decide_record_t *r,
                   const strata_task_t *t, int tier, const char *why,
                   strata_epoch_ms_t now) {
  const char *topic = decide_input_topic(d, r->input);
  subject_t who = task_subject(d, r, t, tier);
  STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": task %s refused, dead-lettered: %s",
              topic, r->partition, r->offset, t->id, why);
  decide_emit_dlq(d, STRATA_DLQ_INVALID, why, t, r->value, r->len, topic,
                  r->partition, r->offset, NULL, now);
  decide_emit_event(d, STRATA_EVENT_DEAD_LETTERED, &who, why, false, NULL, 0,
                    now);
  decide_pend(d, t->id, t->attempt);
}

/* Steps that end a record at intake. Each returns true when it took the
 * record (and finished its tracker entry). */
static bool take_cancelled(decide_t *d, const decide_record_t *r,
                           const strata_task_t *t, int tier,
                           strata_epoch_ms_t now) {
  subject_t who = task_subject(d, r, t, tier);
  if (!ledger_cancel_pending(d->ledger, t->id))
    return false;
  /* Cancelled before it reached this scheduler (on the ladder, not yet
   * read, or owned elsewhere then): it never runs, gets its one CANCELLED
   * event, and its dependents fail like a held task's. */
  decide_emit_event(d, STRATA_EVENT_CANCELLED, &who,
                    "cancelled before it was scheduled", false, NULL, 0, now);
  decide_pend(d, t->id, t->attempt)->kind = PEND_CANCELLED;
  strata_core_mark_failed(d->core, t->id, now, "cancelled");
  STRATA_INFO(COMP, "%s[%d]@%" PRId64 ": task %s was cancelled; not run",
              decide_input_topic(d, r->input), r->partition, r->offset, t->id);
  return true;
}

static bool take_duplicate(decide_t *d, const decide_record_t *r,
                           const strata_task_t *t, strata_epoch_ms_t now) {
  if (!ledger_is_decided(d->ledger, t->id, t->attempt) &&
      !(t->idempotency_key &&
        !ledger_claim_key(d->ledger, t->idempotency_key, t->id, now)))
    return false;
  /* Decided before a restart, or a duplicate submission. */
  d->totals.duplicates++;
  if (d->cfg.observer.duplicate)
    d->cfg.observer.duplicate(d->cfg.observer.opaque);
  STRATA_DEBUG(COMP,
               "%s[%d]@%" PRId64 ": task %s attempt %d already decided or a "
               "duplicate; skipped",
               decide_input_topic(d, r->input), r->partition, r->offset, t->id,
               t->attempt);
  return true;
}

static bool take_far_delay(decide_t *d, const decide_record_t *r,
                           const strata_task_t *t, strata_epoch_ms_t now) {
  int best = -1;
  if (!t->has_not_before_ms || d->min_step_ms <= 0 ||
      t->not_before_ms - now < d->min_step_ms)
    return false;
  /* Still far from due: wait on the ladder, not in memory. The record
   * moves unchanged to the longest step that does not overshoot. */
  for (int i = 0; i < d->cfg.nsteps; i++)
    if (d->cfg.step_ms[i] <= t->not_before_ms - now &&
        (best < 0 || d->cfg.step_ms[i] > d->cfg.step_ms[best]))
      best = i;
  void *copy = decide_xmalloc(r->len);
  memcpy(copy, r->value, r->len);
  /* Due at timestamp + step: stamped with the time the step was chosen
   * for, not the later produce, so the hop never overshoots not_before. */
  decide_out_add(d, DECIDE_OUT_HOP, d->cfg.step_topics[best], r->partition,
                 decide_routing_key(t), copy, r->len)
      ->timestamp = now;
  return true;
}

/* Fills the held record of a task about to enter the core. */
static void held_fill(decide_t *d, uint64_t slot, const decide_record_t *r,
                      const strata_task_t *t, int tier, uint64_t seq) {
  held_t *h = &d->held[slot];
  h->in_use = true;
  h->value = memcpy(decide_xmalloc(r->len), r->value, r->len);
  h->len = r->len;
  h->key = decide_xstrdup(decide_routing_key(t));
  h->keyed = t->idempotency_key != NULL;
  h->partition = r->partition;
  h->tier = tier;
  h->input = r->input;
  h->not_before = t->has_not_before_ms ? t->not_before_ms : 0;
  h->seq = seq;
  h->attempt = t->attempt;
  h->offset = r->offset;
  h->enqueued_ms = t->enqueued_ms;
  h->deadline_ms = t->has_deadline_ms ? t->deadline_ms : 0;
  h->lane = decide_queue_lane(d, t->queue);
  h->heartbeat_ms = t->timeouts.has_heartbeat_ms ? t->timeouts.heartbeat_ms : 0;
  h->npools = 0;
  for (size_t i = 0; i < t->demands_count && h->npools < RUNNING_MAX_POOLS;
       i++) {
    int id = strata_core_pool_id(d->core, t->demands[i].key);
    if (id >= 0 && t->demands[i].value > 0 &&
        t->demands[i].value <= UINT32_MAX && ((d->conc_pools >> id) & 1u)) {
      h->amounts[h->npools] = (uint32_t)t->demands[i].value;
      h->pools[h->npools++] = id;
    }
  }
}

static strata_err_t submit(decide_t *d, const strata_task_t *t, int tier,
                           uint64_t slot, strata_epoch_ms_t now, char *err,
                           size_t size) {
  strata_core_task_spec_t spec;
  strata_core_demand_t *demands =
      decide_xmalloc((t->demands_count + 1) * sizeof(*demands));
  strata_err_t rc;
  spec_from_task(t, tier, d->held[slot].lane, slot, &spec, demands);
  rc = strata_core_submit(d->core, &spec, now, err, size);
  free(demands);
  return rc;
}

/* Holds the task in the core. */
static void hold(decide_t *d, const decide_record_t *r, const strata_task_t *t,
                 int tier, uint64_t seq, strata_epoch_ms_t now) {
  uint64_t slot = held_alloc(d);
  strata_core_task_info_t info;
  char err[512];
  strata_err_t rc;

  held_fill(d, slot, r, t, tier, seq);
  rc = submit(d, t, tier, slot, now, err, sizeof(err));
  /* The ledger already let this attempt through, so a running task of the
   * same id is an earlier attempt: this record is its retry, read before
   * the worker's FAILED event (both commit in one transaction, read by two
   * consumers). Release the old attempt as retried and admit this one. */
  if (rc == STRATA_ERR_EXISTS &&
      strata_core_lookup(d->core, t->id, &info) == STRATA_OK &&
      info.state == STRATA_CORE_STATE_RUNNING &&
      strata_core_complete(d->core, t->id, STRATA_CORE_FAILED_RETRY, NULL, 0,
                           now, err, sizeof(err)) == STRATA_OK)
    rc = submit(d, t, tier, slot, now, err, sizeof(err));
  if (rc == STRATA_ERR_EXISTS) {
    d->totals.duplicates++;
    if (d->cfg.observer.duplicate)
      d->cfg.observer.duplicate(d->cfg.observer.opaque);
    held_finish(d, slot);
  } else if (rc) {
    refuse(d, r, t, tier, err, now);
    held_finish(d, slot);
  }
}

void decide_task(decide_t *d, const decide_record_t *r, strata_epoch_ms_t now) {
  const char *topic;
  tracker_t *tr;
  strata_task_t t;
  char err[512];
  uint64_t seq;
  /* Known before decoding only for a tier topic. */
  int tier = r->input < d->cfg.ntiers ? r->input : -1;

  if (r->input < 0 || r->input >= d->ninputs || r->partition < 0 ||
      r->partition >= d->cfg.nparts)
    return;
  topic = decide_input_topic(d, r->input);
  tr = decide_tracker(d, r->input, r->partition);
  seq = tracker_push(tr, r->offset, d->events_pos[r->partition]);
  if (seq == TRACKER_NOMEM)
    decide_oom();
  if (seq == TRACKER_STALE)
    return; /* a record at or below one already read: a refetched duplicate */
  strata_task_init(&t);
  if (strata_task_decode(r->value, r->len, &t, err, sizeof(err))) {
    STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": undecodable, dead-lettered: %s",
                topic, r->partition, r->offset, err);
    decide_emit_dlq(d, STRATA_DLQ_UNDECODABLE, err, NULL, r->value, r->len,
                    topic, r->partition, r->offset, NULL, now);
    d->totals.undecodable++;
    if (d->cfg.observer.undecodable)
      d->cfg.observer.undecodable(d->cfg.observer.opaque);
  } else if (strata_task_validate(&t, err, sizeof(err)) ||
             check_tier(d, &t, r->input, &tier, err, sizeof(err)) ||
             check_size(r->len, err, sizeof(err))) {
    refuse(d, r, &t, tier, err, now);
  } else if (!take_cancelled(d, r, &t, tier, now) &&
             !take_duplicate(d, r, &t, now) && !take_far_delay(d, r, &t, now)) {
    hold(d, r, &t, tier, seq, now);
    strata_task_clear(&t);
    return; /* finished when it leaves the core */
  }
  tracker_done(tr, seq);
  strata_task_clear(&t);
}
