/*
 * The dependency graph. A task that waits on others or is awaited has a
 * dnode; an edge ties a dependent to one dependency and sits in the
 * dependency's `out` list (doubly linked, so a leaving dependent unlinks in
 * O(1)) and the dependent's `in` list. Adding edges (and the key bonus they
 * give), rejecting cycles at submission, unblocking waiters on success and
 * failing them, transitively, on failure.
 *
 * Invariants (besides those in core_int.h):
 * - A BLOCKED task has a dnode with nwait > 0; every unresolved edge is in
 *   both the dependency's out list and the dependent's in list.
 * - A placeholder is dropped when no task awaits it any more.
 * - Graph walks keep their stack or queue in c->scratch, so a long chain
 *   cannot overflow the C stack, and clear every TF_VISIT they set.
 */
#include "core_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Nodes and edges                                                          */
/* ------------------------------------------------------------------------ */

static dnode_t *dnode_get(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);
  dnode_t *d;

  if (t->dnode == CORE_NIL) {
    uint32_t di = slab_alloc(&c->dnodes);
    if (di == CORE_NIL)
      return NULL;
    d = core_dnode(c, di);
    d->task = idx;
    d->out_head = d->in_head = CORE_NIL;
    d->nwait = d->ndependents = 0;
    d->unblocked_at = INT64_MIN;
    d->unblock_latency = -1;
    t->dnode = di;
  }
  return core_dnode(c, t->dnode);
}

static uint32_t bonus_units(const strata_core_t *c, uint32_t nd) {
  return nd > c->cfg.dep_bonus_max ? c->cfg.dep_bonus_max : nd;
}

int deps_add_edge(strata_core_t *c, uint32_t dependent, uint32_t dependency) {
  dnode_t *dd, *dp;
  edge_t *e;
  uint32_t ei;

  if (!dnode_get(c, dependent) || !dnode_get(c, dependency))
    return -1;
  ei = slab_alloc(&c->edges);
  if (ei == CORE_NIL)
    return -1;
  dd = core_dnode(c, core_task(c, dependent)->dnode);
  dp = core_dnode(c, core_task(c, dependency)->dnode);
  e = core_edge(c, ei);
  e->dependent = dependent;
  e->dependency = dependency;
  e->out_prev = CORE_NIL;
  e->out_next = dp->out_head;
  if (dp->out_head != CORE_NIL)
    core_edge(c, dp->out_head)->out_prev = ei;
  dp->out_head = ei;
  e->in_next = dd->in_head;
  dd->in_head = ei;
  dd->nwait++;
  dp->ndependents++;
  if (bonus_units(c, dp->ndependents) != bonus_units(c, dp->ndependents - 1u))
    state_rekey(c, dependency);
  return 0;
}

static void out_unlink(strata_core_t *c, dnode_t *dp, uint32_t ei) {
  edge_t *e = core_edge(c, ei);

  if (e->out_prev != CORE_NIL)
    core_edge(c, e->out_prev)->out_next = e->out_next;
  else
    dp->out_head = e->out_next;
  if (e->out_next != CORE_NIL)
    core_edge(c, e->out_next)->out_prev = e->out_prev;
  e->out_prev = e->out_next = CORE_NIL;
  e->dependency = CORE_NIL;
  dp->ndependents--;
}

/* The task leaves the graph as a dependent: unlink its unresolved edges from
   their dependencies (their bonus shrinks; placeholders nobody awaits any
   more are dropped) and free all its in-edges. */
void deps_detach(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);
  dnode_t *d;
  uint32_t ei;

  if (t->dnode == CORE_NIL)
    return;
  d = core_dnode(c, t->dnode);
  ei = d->in_head;
  d->in_head = CORE_NIL;
  d->nwait = 0;
  while (ei != CORE_NIL) {
    edge_t *e = core_edge(c, ei);
    uint32_t next = e->in_next, dep = e->dependency;
    if (dep != CORE_NIL) {
      task_t *pt = core_task(c, dep);
      dnode_t *dp = core_dnode(c, pt->dnode);
      out_unlink(c, dp, ei);
      if (pt->state == TS_PLACEHOLDER && dp->out_head == CORE_NIL)
        ids_release(c, dep);
      else if (bonus_units(c, dp->ndependents) !=
               bonus_units(c, dp->ndependents + 1u))
        state_rekey(c, dep);
    }
    slab_release(&c->edges, ei);
    ei = next;
  }
}

void deps_free_in_edges(strata_core_t *c, dnode_t *d) {
  uint32_t ei = d->in_head;

  while (ei != CORE_NIL) {
    uint32_t next = core_edge(c, ei)->in_next;
    slab_release(&c->edges, ei);
    ei = next;
  }
  d->in_head = CORE_NIL;
}

/* ------------------------------------------------------------------------ */
/* Resolution                                                               */
/* ------------------------------------------------------------------------ */

void deps_note_unblocked(strata_core_t *c, const task_t *t, dnode_t *d,
                         int64_t now) {
  tier_t *tr = &c->tiers[t->tier];

  d->unblock_latency = now - d->unblocked_at;
  tr->st.unblocked++;
  tr->st.unblock_latency_sum_ms += d->unblock_latency;
  if (d->unblock_latency > tr->st.unblock_latency_max_ms)
    tr->st.unblock_latency_max_ms = d->unblock_latency;
}

/* Routes a task whose dependencies are all satisfied: DELAYED until its
   not-before time, else READY. Hard tasks keep (or get) their expiry timer. */
void deps_route_unblocked(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  int64_t nb = t->since;

  if (nb > now) {
    core_set_state(c, t, TS_DELAYED);
    if (state_timer_arm(c, idx, nb))
      state_drop_oom(c, idx, now);
    return;
  }
  if (state_make_ready(c, idx, now)) {
    state_drop_oom(c, idx, now);
    return;
  }
  if (t->dnode != CORE_NIL) {
    dnode_t *d = core_dnode(c, t->dnode);
    if (d->unblocked_at != INT64_MIN)
      deps_note_unblocked(c, t, d, now);
  }
  if ((t->flags & TF_HARD) && !(t->flags & TF_TIMER) &&
      state_timer_arm(c, idx, task_hard_expiry(t))) {
    state_leave_ready(c, idx, 0);
    state_drop_oom(c, idx, now);
  }
}

/* Every dependent loses one wait; those with none left become ready (or
   delayed). */
void deps_resolve_success(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  dnode_t *d;

  if (t->dnode == CORE_NIL)
    return;
  d = core_dnode(c, t->dnode);
  while (d->out_head != CORE_NIL) {
    uint32_t ei = d->out_head, dep_idx = core_edge(c, ei)->dependent;
    dnode_t *dd = core_dnode(c, core_task(c, dep_idx)->dnode);
    out_unlink(c, d, ei);
    dd->unblocked_at = now;
    if (--dd->nwait == 0) {
      deps_free_in_edges(c, dd);
      deps_route_unblocked(c, dep_idx, now);
    }
    d = core_dnode(c, t->dnode); /* slabs do not move, but be explicit */
  }
}

static strata_err_t scratch_reserve(strata_core_t *c, size_t n) {
  if (c->scratch_cap >= n)
    return STRATA_OK;
  size_t cap = c->scratch_cap ? c->scratch_cap : 64;
  while (cap < n)
    cap *= 2;
  uint32_t *a = realloc(c->scratch, cap * sizeof(uint32_t));
  if (!a)
    return STRATA_ERR_NOMEM;
  c->scratch = a;
  uint32_t *b = realloc(c->scratch2, cap * sizeof(uint32_t));
  if (!b)
    return STRATA_ERR_NOMEM;
  c->scratch2 = b;
  c->scratch_cap = cap;
  return STRATA_OK;
}

/* `root` is already out of its state; the caller finalises it afterwards.
   Depth-first with an explicit stack so a long chain cannot overflow the C
   stack; a failed task stays on the stack, alive, until its own dependents
   are failed, so its id can name the path in their reasons. */
void deps_cascade(strata_core_t *c, uint32_t root, int64_t now,
                  const char *what) {
  size_t n = 0;
  const char *root_id;

  if (core_task(c, root)->dnode == CORE_NIL ||
      core_dnode(c, core_task(c, root)->dnode)->out_head == CORE_NIL)
    return;
  if (scratch_reserve(c, 64))
    return;
  root_id = task_id(core_task(c, root));
  c->scratch[n++] = root;
  while (n > 0) {
    uint32_t x = c->scratch[n - 1], ei, di;
    task_t *xt = core_task(c, x), *dt;
    dnode_t *xd = core_dnode(c, xt->dnode);
    if (xd->out_head == CORE_NIL) {
      n--;
      if (x != root)
        ids_remember(c, x, TS_DONE_FAIL);
      continue;
    }
    ei = xd->out_head;
    di = core_edge(c, ei)->dependent;
    dt = core_task(c, di);
    out_unlink(c, xd, ei);
    state_leave(c, di); /* unlinks its other edges, frees its in-edges */
    c->tiers[dt->tier].st.dep_failures++;
    if (x == root)
      outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, dt, now,
                   "dependency %s %s", root_id, what);
    else
      outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, dt, now,
                   "dependency %s %s (via %s)", root_id, what, task_id(xt));
    core_set_state(c, dt, TS_DONE_FAIL);
    if (dt->dnode != CORE_NIL &&
        core_dnode(c, dt->dnode)->out_head != CORE_NIL &&
        scratch_reserve(c, n + 1) == STRATA_OK)
      c->scratch[n++] = di;
    else
      ids_remember(c, di, TS_DONE_FAIL);
  }
}

/* ------------------------------------------------------------------------ */
/* Cycles                                                                   */
/* ------------------------------------------------------------------------ */

/* Breadth-first walk from `x` over "is awaited by" edges. A dependency of x
   marked TF_TARGET that is reached waits (transitively) on x: a cycle. The
   path is spelled in the "depends on" direction into errstr. */
strata_err_t deps_check_cycle(strata_core_t *c, uint32_t x, char *errstr,
                              size_t size) {
  size_t qn = 1;
  strata_err_t err = STRATA_OK;

  if (scratch_reserve(c, 64))
    return STRATA_ERR_NOMEM;
  c->scratch[0] = x;
  c->scratch2[0] = CORE_NIL;
  core_task(c, x)->flags |= TF_VISIT;
  for (size_t h = 0; h < qn && err == STRATA_OK; h++) {
    uint32_t u = c->scratch[h];
    task_t *ut = core_task(c, u);
    if (ut->dnode == CORE_NIL)
      continue;
    for (uint32_t ei = core_dnode(c, ut->dnode)->out_head; ei != CORE_NIL;
         ei = core_edge(c, ei)->out_next) {
      uint32_t v = core_edge(c, ei)->dependent;
      task_t *vt = core_task(c, v);
      if (vt->flags & TF_TARGET) {
        size_t off = 0;
        err = STRATA_ERR_CYCLE;
        if (errstr && size) {
          off += (size_t)snprintf(errstr, size, "%s -> %s",
                                  task_id(core_task(c, x)), task_id(vt));
          for (size_t p = h; p != 0 && off < size; p = (size_t)c->scratch2[p])
            off += (size_t)snprintf(errstr + off, size - off, " -> %s",
                                    task_id(core_task(c, c->scratch[p])));
          if (off < size)
            snprintf(errstr + off, size - off, " -> %s",
                     task_id(core_task(c, x)));
        }
        break;
      }
      if (vt->flags & TF_VISIT)
        continue;
      if (scratch_reserve(c, qn + 1)) {
        err = STRATA_ERR_NOMEM;
        break;
      }
      vt->flags |= TF_VISIT;
      c->scratch[qn] = v;
      c->scratch2[qn] = (uint32_t)h;
      qn++;
    }
  }
  for (size_t i = 0; i < qn; i++)
    core_task(c, c->scratch[i])->flags &= (uint8_t)~TF_VISIT;
  return err;
}
