/*
 * Where a held task waits, by state: a READY task in its tier's FIFO and
 * the ready queue of its tier and lane, a DELAYED task and a hard-deadline task
 * not yet dispatched in the timer heap. Entering and leaving READY, re-keying,
 * compaction of stale entries, timers firing (not-before release, hard-deadline
 * expiry), and taking a task out of what its state puts it in before it ends.
 *
 * Invariants (besides those in core_int.h):
 * - Every READY task is in its tier's FIFO in order of `since`, because the
 *   core clamps time to be non-decreasing and stamps `since` with it.
 * - A tier becoming backlogged starts with pass >= vtime: idle time is
 *   lent, not banked. Backlogged here means with ready tasks in a lane with
 *   room (see strata_core_lane_room() for the other way to become so).
 * - Stale entries of a ready queue or the timer heap are counted, and
 *   compacted away once there are at least 1024 and half as many as
 *   entries, so memory stays proportional to held tasks. Each lane's queue
 *   counts its own.
 * - A task that cannot be queued for lack of memory is dropped whole
 *   (state_drop_oom()) and reported as an outcome, never left half-linked.
 */
#include "core_int.h"

/* ------------------------------------------------------------------------ */
/* Ready queues                                                             */
/* ------------------------------------------------------------------------ */

static int push_ready_entry(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  t->hseq = ++c->seq;
  return rq_push(core_task_rq(c, t), core_task_key(c, t), t->hseq, idx);
}

int state_make_ready(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];

  if (push_ready_entry(c, idx))
    return -1;
  tr->nready++;
  if (tr->lane_ready[t->lane]++ == 0) {
    /* Idle time is lent, not banked; so is time spent with ready tasks
       only in lanes without room (with one lane: nready was 0). */
    uint32_t was_open = tier_open_lanes(c, tr);
    tr->busy |= 1u << t->lane;
    if (!was_open && tier_open_lanes(c, tr) && tr->pass < c->vtime)
      tr->pass = c->vtime;
  }
  core_set_state(c, t, TS_READY);
  t->since = now;
  t->fnext = CORE_NIL;
  t->fprev = tr->ftail;
  if (tr->ftail != CORE_NIL)
    core_task(c, tr->ftail)->fnext = idx;
  else
    tr->fhead = idx;
  tr->ftail = idx;
  return 0;
}

void state_leave_ready(strata_core_t *c, uint32_t idx, int entry_popped) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];

  if (t->fprev != CORE_NIL)
    core_task(c, t->fprev)->fnext = t->fnext;
  else
    tr->fhead = t->fnext;
  if (t->fnext != CORE_NIL)
    core_task(c, t->fnext)->fprev = t->fprev;
  else
    tr->ftail = t->fprev;
  t->fprev = t->fnext = CORE_NIL;
  if (!entry_popped)
    tr->rq[t->lane].stale++;
  if (--tr->lane_ready[t->lane] == 0)
    tr->busy &= ~(1u << t->lane);
  if (--tr->nready == 0)
    tier_clear_blocked(tr);
}

void state_rekey(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  if (t->state != TS_READY)
    return;
  core_task_rq(c, t)->stale++;
  if (push_ready_entry(c, idx)) {
    /* Keep the old entry: an older key is better than none. */
    core_task_rq(c, t)->stale--;
    t->hseq--;
  }
}

/* Compacts once stale entries outnumber live ones (and there are at least
   1024), so stale entries cost O(1) amortised and memory stays proportional
   to held tasks. */
void state_compact_ready(strata_core_t *c, rq_t *q) {
  if (q->stale < 1024 || q->stale < q->n / 2)
    return;
  rq_filter(q, c, core_ready_live);
  q->stale = 0;
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */
/* ------------------------------------------------------------------------ */

/* Re-arming bumps the generation so an older entry for the same task turns
   stale. */
int state_timer_arm(strata_core_t *c, uint32_t idx, int64_t at) {
  task_t *t = core_task(c, idx);

  if (t->flags & TF_TIMER)
    c->timers.stale++;
  t->gen++;
  t->flags |= TF_TIMER;
  if (heap_push(&c->timers, at, t->gen, idx)) {
    t->flags &= (uint8_t)~TF_TIMER;
    return -1;
  }
  return 0;
}

static int timer_live(const strata_core_t *c, const heap_ent_t *e) {
  const task_t *t = core_task(c, e->idx);
  return (t->flags & TF_TIMER) && t->gen == e->seq;
}

/* The same rule for the timer heap. */
static void heap_compact(strata_core_t *c, heap_t *h,
                         int (*live)(const strata_core_t *,
                                     const heap_ent_t *)) {
  uint32_t w = 0;

  if (h->stale < 1024 || h->stale < h->n / 2)
    return;
  for (uint32_t r = 0; r < h->n; r++)
    if (live(c, &h->a[r]))
      h->a[w++] = h->a[r];
  h->n = w;
  h->stale = 0;
  heap_heapify(h);
}

/* A live timer is due: a DELAYED task whose not-before time has come
   becomes READY; a hard-deadline task expires, or gets its next timer. */
static void timer_fire(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);

  if (t->state == TS_DELAYED && now >= t->since) {
    if (state_make_ready(c, idx, now)) {
      state_drop_oom(c, idx, now);
      return;
    }
    if (t->dnode != CORE_NIL) {
      dnode_t *d = core_dnode(c, t->dnode);
      if (d->unblocked_at != INT64_MIN && d->unblock_latency < 0)
        deps_note_unblocked(c, t, d, now);
    }
  }
  if (!(t->flags & TF_HARD) || t->state > TS_DELAYED)
    return;
  if (now >= task_hard_expiry(t)) {
    state_expire(c, idx, now);
    return;
  }
  if (state_timer_arm(
          c, idx, t->state == TS_DELAYED ? t->since : task_hard_expiry(t))) {
    if (t->state == TS_READY)
      state_leave_ready(c, idx, 0);
    state_drop_oom(c, idx, now);
  }
}

void state_run_timers(strata_core_t *c, int64_t now) {
  heap_t *h = &c->timers;

  while (h->n && h->a[0].key <= now) {
    heap_ent_t e = h->a[0];
    heap_pop(h);
    if (!timer_live(c, &e)) {
      if (h->stale)
        h->stale--;
      continue;
    }
    core_task(c, e.idx)->flags &= (uint8_t)~TF_TIMER;
    timer_fire(c, e.idx, now);
  }
  heap_compact(c, h, timer_live);
}

strata_epoch_ms_t strata_core_next_wakeup(const strata_core_t *c) {
  int64_t w = STRATA_CORE_NEVER;

  if (!c)
    return w;
  if (c->timers.n)
    w = c->timers.a[0].key;
  for (uint32_t i = 0; i < c->ntiers; i++) {
    const tier_t *tr = &c->tiers[i];
    if (c->paused & (1u << i))
      continue;
    if (tr->nready && tr->st.head_blocked && tr->st.blocked_until < w)
      w = tr->st.blocked_until;
  }
  return w;
}

/* ------------------------------------------------------------------------ */
/* Leaving a state                                                          */
/* ------------------------------------------------------------------------ */

/* Running tasks own no structure. */
void state_leave(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  switch (t->state) {
  case TS_READY:
    state_leave_ready(c, idx, 0);
    break;
  case TS_BLOCKED:
    deps_detach(c, idx);
    break;
  default:
    break;
  }
  core_timer_disarm(c, t);
}

void state_expire(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  /* A ready task that expires leaves a stale entry. Compacted here, not
     only on dispatch: a lane without room may see no dispatch for long
     while its tasks keep expiring. */
  rq_t *q = t->state == TS_READY ? core_task_rq(c, t) : NULL;

  state_leave(c, idx);
  c->tiers[t->tier].st.hard_expiries++;
  outcome_push(c, STRATA_CORE_OUTCOME_EXPIRED, t, now,
               "hard deadline %lld cannot be met: now %lld + estimate %lu ms",
               (long long)t->deadline, (long long)now,
               (unsigned long)t->estimate);
  deps_cascade(c, idx, now, "missed its hard deadline");
  ids_remember(c, idx, TS_DONE_FAIL);
  if (q)
    state_compact_ready(c, q); /* after: the entry counts as stale now */
}

void state_drop_oom(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);

  core_timer_disarm(c, t);
  if (t->state == TS_BLOCKED)
    deps_detach(c, idx);
  outcome_push(c, STRATA_CORE_OUTCOME_NOMEM, t, now,
               "out of memory in the scheduler core");
  deps_cascade(c, idx, now, "was dropped (out of memory)");
  ids_remember(c, idx, TS_DONE_FAIL);
}
