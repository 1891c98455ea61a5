/*
 * Read-only views of the core: lookup by id, iteration of held tasks in
 * dispatch order, per-tier statistics. Iteration copies and sorts, so it is
 * O(n log n) and meant for the pending-task view, not the hot path. Nothing
 * here changes the core's state.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

static void fill_info(const strata_core_t *c, uint32_t idx,
                      strata_core_task_info_t *out) {
  const task_t *t = core_task(c, idx);

  memset(out, 0, sizeof(*out));
  out->id = task_id(t);
  out->cookie = t->cookie;
  out->tier = t->tier;
  out->lane = t->lane;
  out->state = (strata_core_state_t)t->state;
  out->priority = t->priority;
  out->deadline_kind = (t->flags & TF_HARD)   ? STRATA_CORE_DEADLINE_HARD
                       : (t->flags & TF_SOFT) ? STRATA_CORE_DEADLINE_SOFT
                                              : STRATA_CORE_DEADLINE_NONE;
  out->deadline = t->deadline;
  out->estimate_ms = t->estimate;
  out->submitted_at = t->t_enq;
  out->since = t->state == TS_BLOCKED ? t->t_enq : t->since;
  out->key = core_task_key(c, t);
  if (t->dnode != CORE_NIL) {
    const dnode_t *d = core_dnode(c, t->dnode);
    out->deps_waiting = d->nwait;
    out->dependents = d->ndependents;
  }
}

strata_err_t strata_core_lookup(const strata_core_t *c, const char *id,
                                strata_core_task_info_t *out) {
  uint32_t idx;

  if (!c || !id || !out)
    return STRATA_ERR_INVALID_ARG;
  idx = ids_find(c, id, strnlen(id, STRATA_CORE_ID_MAX + 1));
  if (idx == CORE_NIL || core_task(c, idx)->state >= STRATA_CORE_STATE__COUNT)
    return STRATA_ERR_NOT_FOUND;
  fill_info(c, idx, out);
  return STRATA_OK;
}

typedef struct {
  uint32_t tier, state;
  int64_t k1;
  uint32_t k2, idx;
} iter_row_t;

static int iter_cmp(const void *a, const void *b) {
  const iter_row_t *x = a, *y = b;

  if (x->tier != y->tier)
    return x->tier < y->tier ? -1 : 1;
  if (x->state != y->state)
    return x->state < y->state ? -1 : 1;
  if (x->k1 != y->k1)
    return x->k1 < y->k1 ? -1 : 1;
  if (x->k2 != y->k2)
    return (int32_t)(x->k2 - y->k2) < 0 ? -1 : 1;
  return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

strata_err_t strata_core_iterate(const strata_core_t *c, int tier,
                                 unsigned state_mask, strata_core_iter_cb cb,
                                 void *opaque) {
  iter_row_t *rows;
  size_t n = 0;

  if (!c || !cb)
    return STRATA_ERR_INVALID_ARG;
  if (!c->held)
    return STRATA_OK;
  rows = malloc((size_t)c->held * sizeof(*rows));
  if (!rows)
    return STRATA_ERR_NOMEM;
  for (uint32_t idx = 0; idx < c->tasks.used_end && n < c->held; idx++) {
    const task_t *t = core_task(c, idx);
    iter_row_t *r;
    if (t->state >= STRATA_CORE_STATE__COUNT)
      continue;
    if ((tier >= 0 && t->tier != (uint32_t)tier) ||
        !(state_mask & STRATA_CORE_STATE_BIT(t->state)))
      continue;
    r = &rows[n++];
    r->tier = t->tier;
    r->state = t->state;
    r->idx = idx;
    r->k2 = 0;
    switch (t->state) {
    case TS_READY:
      r->k1 = core_task_key(c, t);
      r->k2 = t->hseq;
      break;
    case TS_BLOCKED:
      r->k1 = t->t_enq;
      r->k2 = idx;
      break;
    default: /* DELAYED: not-before; RUNNING: dispatched at */
      r->k1 = t->since;
      r->k2 = idx;
      break;
    }
  }
  qsort(rows, n, sizeof(*rows), iter_cmp);
  for (size_t i = 0; i < n; i++) {
    strata_core_task_info_t info;
    fill_info(c, rows[i].idx, &info);
    if (cb(&info, opaque))
      break;
  }
  free(rows);
  return STRATA_OK;
}

void strata_core_stats(const strata_core_t *c, strata_epoch_ms_t now,
                       strata_core_stats_t *out) {
  memset(out, 0, sizeof(*out));
  if (!c)
    return;
  if (now < c->now)
    now = c->now;
  out->ntiers = c->ntiers;
  for (uint32_t i = 0; i < c->ntiers; i++) {
    const tier_t *tr = &c->tiers[i];
    strata_core_tier_stats_t *s = &out->tiers[i];
    *s = tr->st;
    s->name = tr->name;
    s->weight = tr->weight;
    s->paused = (c->paused & (1u << i)) != 0;
    s->longest_wait_ms =
        tr->fhead != CORE_NIL ? now - core_task(c, tr->fhead)->since : 0;
    if (!s->head_blocked) {
      s->blocked_pool = -1;
      s->blocked_since = 0;
      s->blocked_until = 0;
    }
  }
  out->held = c->held;
  out->max_tasks = c->cfg.max_tasks;
  out->full = c->held >= c->cfg.max_tasks;
  out->placeholders = c->placeholders;
  out->remembered = c->remembered;
  out->outcomes_queued = c->out_n;
  out->outcomes_lost = c->outcomes_lost;
  out->decisions = c->decisions;
}

int strata_core_is_full(const strata_core_t *c) {
  return c && c->held >= c->cfg.max_tasks;
}

uint64_t strata_core_held(const strata_core_t *c) {
  return c ? c->held : 0;
}
