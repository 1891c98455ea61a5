/*
 * Watching running attempts, once per scheduler.watch.interval:
 *  - heartbeat timeouts: an attempt whose worker went quiet for longer than
 *    its Task.timeouts.heartbeat_ms is presumed lost, and the scheduler
 *    writes its next attempt (or its dead letter) itself;
 *  - preemption: for each tier (most urgent first) whose most urgent ready
 *    task waits for a concurrency pool, one running attempt of a lower tier
 *    that holds the pool is asked to yield (a PREEMPT control record). One
 *    request per pool at a time: the next is sent once the asked attempt
 *    has ended (yielded, or finished anyway).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"
#include "strata/backoff.h"
#include "strata/log.h"

#define COMP "scheduler"

/* The retry of a lost attempt: the task's next attempt, resuming from the
 * lost one's last checkpoint as a worker's own retry would, written to its
 * tier topic (the ladder takes it from there). False when out of memory:
 * the attempt stays watched and the next check tries again. */
static bool write_retry(decide_t *d, running_t *r, strata_task_t *t,
                        const char *why, strata_epoch_ms_t now) {
  int64_t backoff =
      strata_retry_backoff_ms(&t->retry, t->attempt, strata_prng_next(&d->rng));
  char *hist =
      strata_attempt_history_json("TIMED_OUT", r->started_ms, now, why);
  char err[256];
  void *buf = NULL;
  size_t len = 0;

  if (r->has_ckpt) {
    uint8_t *c = decide_xmalloc(r->ckpt_len);
    if (r->ckpt_len)
      memcpy(c, r->ckpt, r->ckpt_len);
    free(t->checkpoint);
    t->checkpoint = c;
    t->checkpoint_len = r->ckpt_len;
    t->has_checkpoint = true;
  }
  t->has_not_before_ms = true;
  t->not_before_ms = now + backoff;
  if (!hist ||
      strata_task_next_attempt(t, STRATA_HEADER_ATTEMPT_PREFIX, hist, now) ||
      strata_task_encode(t, &buf, &len, err, sizeof(err))) {
    STRATA_ERROR(COMP, "task %s: building the retry record failed", r->id);
    free(hist);
    return false;
  }
  free(hist);
  decide_out_add(d, DECIDE_OUT_RETRY, d->cfg.tier_topics[r->tier], r->partition,
                 r->key, buf, len);
  return true;
}

/* Attempts exhausted: TIMED_OUT, the dead letter, DEAD_LETTERED. */
static void write_exhausted(decide_t *d, running_t *r, const strata_task_t *t,
                            const subject_t *who, const char *why,
                            strata_epoch_ms_t now) {
  char detail[600], err[256];
  strata_attempt_record_t last = {
      .attempt = r->attempt,
      .has_started_ms = r->started_ms > 0,
      .started_ms = r->started_ms,
      .has_ended_ms = true,
      .ended_ms = now,
      .outcome = (char *)(uintptr_t) "TIMED_OUT",
      .error = (char *)(uintptr_t)why,
  };
  decide_emit_event(d, STRATA_EVENT_TIMED_OUT, who, why, false, NULL, 0, now);
  decide_emit_dlq(d, STRATA_DLQ_EXHAUSTED, why, t, r->value, r->len,
                  decide_input_topic(d, r->input), r->partition, r->offset,
                  &last, now);
  snprintf(detail, sizeof(detail), "EXHAUSTED: %s", why);
  decide_emit_event(d, STRATA_EVENT_DEAD_LETTERED, who, detail, false, NULL, 0,
                    now);
  if (strata_core_complete(d->core, r->id, STRATA_CORE_FAILED, NULL, 0, now,
                           err, sizeof(err)))
    strata_core_mark_failed(d->core, r->id, now, why);
}

/*
 * The heartbeat timeout of a running attempt passed: presume it lost. In the
 * turn's transaction: a TIMED_OUT event (no worker_id: the scheduler's
 * decision) and either the next attempt or, when attempts are exhausted, a
 * dead letter. The pools it held are released now. A result that the lost
 * attempt still reports later is recorded and ignored (events.c).
 */
static void lost_attempt(decide_t *d, running_t *r, strata_epoch_ms_t now) {
  subject_t who = {r->id,      r->key,  strcmp(r->key, r->id) != 0,
                   r->attempt, r->tier, r->partition,
                   r->lane};
  strata_task_t t;
  char err[256], why[512];
  bool retry;

  strata_task_init(&t);
  /* Decoded again only here, to write the next attempt from it; it decoded
   * when it was read, so only a lack of memory fails. */
  if (strata_task_decode(r->value, r->len, &t, err, sizeof(err))) {
    STRATA_ERROR(COMP, "task %s: re-decoding for a retry: %s", r->id, err);
    running_del(d->running, r);
    return;
  }
  snprintf(why, sizeof(why),
           "heartbeat_ms %" PRId64 " exceeded: no heartbeat for %" PRId64
           " ms from %s; attempt %" PRId32 " presumed lost",
           r->heartbeat_ms, now - r->last_seen_ms,
           r->worker ? r->worker : "its worker", r->attempt);
  retry = t.attempt < t.retry.max_attempts;
  STRATA_WARN(COMP, "task %s: %s; %s", r->id, why,
              retry ? "retrying" : "attempts exhausted, dead-lettered");
  if (retry) {
    if (!write_retry(d, r, &t, why, now)) {
      strata_task_clear(&t);
      return;
    }
    decide_emit_event(d, STRATA_EVENT_TIMED_OUT, &who, why, true, NULL, 0, now);
    strata_core_complete(d->core, r->id, STRATA_CORE_FAILED_RETRY, NULL, 0, now,
                         err, sizeof(err));
  } else {
    write_exhausted(d, r, &t, &who, why, now);
  }
  decide_pend(d, r->id, r->attempt)->kind = PEND_LOST;
  if (d->cfg.observer.heartbeat_lost)
    d->cfg.observer.heartbeat_lost(d->cfg.observer.opaque, r->tier);
  strata_task_clear(&t);
  running_del(d->running, r);
}

typedef struct {
  decide_t *d;
  strata_epoch_ms_t now;
  int pool;         /* preemption: the pool a higher tier waits on */
  int tier;         /* ... and that tier */
  bool outstanding; /* a PREEMPT for this pool is still unanswered */
  running_t *victim;
} watch_ctx_t;

static void check_heartbeat(running_t *r, void *opaque) {
  watch_ctx_t *w = opaque;
  if (r->heartbeat_ms > 0 && r->started_ms > 0 &&
      w->now - r->last_seen_ms > r->heartbeat_ms)
    lost_attempt(w->d, r, w->now);
}

static bool holds_pool(const running_t *r, int pool) {
  for (int i = 0; i < r->npools; i++)
    if (r->pools[i] == pool)
      return true;
  return false;
}

/* The victim: a started attempt of a lower tier holding the pool; the
 * lowest tier first, then the most recently started (least work lost). */
static void pick_victim(running_t *r, void *opaque) {
  watch_ctx_t *w = opaque;
  if (!holds_pool(r, w->pool))
    return;
  if (r->preempted) {
    w->outstanding = true;
    return;
  }
  if (r->tier <= w->tier || !r->started_ms)
    return;
  if (!w->victim || r->tier > w->victim->tier ||
      (r->tier == w->victim->tier && r->started_ms > w->victim->started_ms))
    w->victim = r;
}

static void preempt(decide_t *d, strata_epoch_ms_t now) {
  watch_ctx_t w = {d, now, -1, -1, false, NULL};
  strata_core_stats_t st;
  uint64_t asked = 0; /* pools preempted for in this pass */

  strata_core_stats(d->core, now, &st);
  for (int ti = 0; ti < d->cfg.ntiers && (size_t)ti < st.ntiers; ti++) {
    const strata_core_tier_stats_t *ts = &st.tiers[ti];
    char reason[256];
    strata_core_pool_info_t pi;
    if (!ts->head_blocked || ts->paused || ts->blocked_pool < 0 ||
        ts->blocked_until != STRATA_CORE_NEVER ||
        ts->depth[STRATA_CORE_STATE_READY] == 0 ||
        (asked & (1ull << ts->blocked_pool)))
      continue;
    w.pool = ts->blocked_pool;
    w.tier = ti;
    w.outstanding = false;
    w.victim = NULL;
    running_each(d->running, pick_victim, &w);
    if (w.outstanding || !w.victim ||
        strata_core_pool_info(d->core, w.pool, now, &pi) != STRATA_OK)
      continue;
    snprintf(reason, sizeof(reason),
             "tier %s waits for pool %s held by this %s task", d->cfg.tiers[ti],
             pi.name, d->cfg.tiers[w.victim->tier]);
    STRATA_INFO(COMP, "asking task %s attempt %d to yield: %s", w.victim->id,
                w.victim->attempt, reason);
    decide_emit_control(d, STRATA_CONTROL_PREEMPT, w.victim->id, reason, now);
    w.victim->preempted = true;
    asked |= 1ull << w.pool;
    if (d->cfg.observer.preempted)
      d->cfg.observer.preempted(d->cfg.observer.opaque, w.victim->tier);
  }
}

void decide_watch(decide_t *d, strata_epoch_ms_t now) {
  watch_ctx_t w = {d, now, -1, -1, false, NULL};
  if (!d->core)
    return;
  /* Most tasks set no heartbeat timeout; then the table, which holds every
   * attempt dispatched and not yet seen ending, is not walked. */
  if (running_watched(d->running))
    running_each(d->running, check_heartbeat, &w);
  if (d->cfg.preemption && running_count(d->running) > 0)
    preempt(d, now);
}
