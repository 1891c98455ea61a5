/*
 * Tasks out: completion of a RUNNING task (by id or by dispatch handle,
 * alone or in batches) with the reconciliation of its pool usage; success
 * and failure marks for ids that ran elsewhere; cancellation of a task that
 * has not started.
 *
 * Invariants (besides those in core_int.h):
 * - A dispatch's reservations are released once: the handle's generation
 *   changes on every dispatch and every reuse of the slot, so a stale
 *   handle is refused, and completion by id needs the task RUNNING.
 * - SUCCEEDED resolves the waiters; FAILED_RETRY keeps them waiting on a
 *   placeholder that the retry fills; every other end fails them,
 *   transitively.
 */
#include "core_int.h"

#include <stdio.h>
#include <string.h>

/* Releases the reservations of a completed task and reconciles them with
   the usage reported (pools resolved in upool): a reported pool is charged
   its actual usage, an unreported one the reservation, and usage of a pool
   the task did not reserve is charged in full. */
static void reconcile(strata_core_t *c, const task_t *t, const int *upool,
                      const strata_core_usage_t *usage, size_t nusage,
                      int64_t now) {
  const demand_t *d = task_demands(t);

  for (uint32_t k = 0; k < t->ndemand; k++) {
    int has = 0;
    int64_t actual = 0;
    for (size_t i = 0; i < nusage; i++)
      if (upool[i] == d[k].pool) {
        has = 1;
        actual = usage[i].amount;
      }
    pool_refill(&c->pools[d[k].pool], now);
    pool_release(&c->pools[d[k].pool], d[k].amount, actual, has);
  }
  for (size_t i = 0; i < nusage; i++) {
    int declared = 0;
    for (uint32_t k = 0; k < t->ndemand; k++)
      declared |= d[k].pool == upool[i];
    if (!declared) { /* usage of a pool it did not reserve: charge it */
      pool_refill(&c->pools[upool[i]], now);
      pool_release(&c->pools[upool[i]], 0, usage[i].amount, 1);
    }
  }
}

/* Completes the RUNNING task `idx` (found by id or by handle). */
static strata_err_t complete_running(strata_core_t *c, uint32_t idx,
                                     strata_core_result_t result,
                                     const strata_core_usage_t *usage,
                                     size_t nusage, int64_t now, char *errstr,
                                     size_t size) {
  int upool[STRATA_CORE_MAX_POOLS];
  task_t *t = core_task(c, idx);
  const char *id = task_id(t);

  if (nusage > STRATA_CORE_MAX_POOLS || (nusage && !usage))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: at most %d usage entries", id,
                       STRATA_CORE_MAX_POOLS);
  for (size_t i = 0; i < nusage; i++) {
    upool[i] = strata_core_pool_id(c, usage[i].pool);
    if (upool[i] < 0)
      return strata_errf(STRATA_ERR_NOT_FOUND, errstr, size,
                         "task %s: unknown pool \"%s\" in usage", id,
                         usage[i].pool ? usage[i].pool : "(null)");
    if (usage[i].amount < 0)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "task %s: usage of \"%s\" is negative", id,
                         usage[i].pool);
  }

  reconcile(c, t, upool, usage, nusage, now);
  if (t->flags & TF_CHARGED)
    select_settle(c, t, now);

  switch (result) {
  case STRATA_CORE_SUCCEEDED:
    deps_resolve_success(c, idx, now);
    ids_remember(c, idx, TS_DONE_OK);
    break;
  case STRATA_CORE_FAILED_RETRY:
    if (t->dnode != CORE_NIL && core_dnode(c, t->dnode)->out_head != CORE_NIL) {
      /* Dependents keep waiting for the retry, which fills this record. */
      task_drop_demands(t);
      t->flags &= (uint8_t)(TF_ID_EXT);
      core_set_state(c, t, TS_PLACEHOLDER);
    } else {
      ids_release(c, idx);
    }
    break;
  case STRATA_CORE_CANCELLED:
    c->tiers[t->tier].st.cancelled++;
    deps_cascade(c, idx, now, "was cancelled");
    ids_remember(c, idx, TS_DONE_FAIL);
    break;
  default:
    deps_cascade(c, idx, now, "failed");
    ids_remember(c, idx, TS_DONE_FAIL);
    break;
  }
  return STRATA_OK;
}

strata_err_t strata_core_complete(strata_core_t *c, const char *id,
                                  strata_core_result_t result,
                                  const strata_core_usage_t *usage,
                                  size_t nusage, strata_epoch_ms_t now,
                                  char *errstr, size_t size) {
  uint32_t idx;

  if (!c || !id)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "core and id are required");
  if ((unsigned)result > STRATA_CORE_CANCELLED)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: unknown result %d", id, (int)result);
  now = core_clamp_now(c, now);
  idx = ids_find(c, id, strnlen(id, STRATA_CORE_ID_MAX + 1));
  if (idx == CORE_NIL || core_task(c, idx)->state > TS_RUNNING)
    return strata_errf(STRATA_ERR_NOT_FOUND, errstr, size,
                       "task %s is not held", id);
  if (core_task(c, idx)->state != TS_RUNNING)
    return strata_errf(STRATA_ERR_STATE, errstr, size, "task %s is not running",
                       id);
  return complete_running(c, idx, result, usage, nusage, now, errstr, size);
}

/* The running task a handle names, or CORE_NIL. The generation is checked
   before the state: a stale handle may point at a slot now used by another
   (running) task. */
static uint32_t handle_task(const strata_core_t *c, uint64_t handle) {
  uint32_t idx = (uint32_t)handle;
  const task_t *t;

  if (idx >= c->tasks.used_end)
    return CORE_NIL;
  t = core_task(c, idx);
  if (t->gen != (uint32_t)(handle >> 32) || t->state != TS_RUNNING)
    return CORE_NIL;
  return idx;
}

strata_err_t strata_core_complete_handle(strata_core_t *c, uint64_t handle,
                                         strata_core_result_t result,
                                         const strata_core_usage_t *usage,
                                         size_t nusage, strata_epoch_ms_t now,
                                         char *errstr, size_t size) {
  uint32_t idx;

  if (!c)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "core is required");
  if ((unsigned)result > STRATA_CORE_CANCELLED)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "handle %#llx: unknown result %d",
                       (unsigned long long)handle, (int)result);
  idx = handle_task(c, handle);
  if (idx == CORE_NIL)
    return strata_errf(STRATA_ERR_NOT_FOUND, errstr, size,
                       "handle %#llx does not name a running dispatch",
                       (unsigned long long)handle);
  now = core_clamp_now(c, now);
  return complete_running(c, idx, result, usage, nusage, now, errstr, size);
}

size_t strata_core_complete_batch(strata_core_t *c,
                                  strata_core_completion_t *items, size_t n,
                                  strata_epoch_ms_t now, char *errstr,
                                  size_t size) {
  char scratch[256];
  size_t ok = 0;
  int failed = 0;

  if (!c || (n && !items)) {
    strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                "core and items are required");
    return 0;
  }
  for (size_t g = 0; g < n; g += CORE_BATCH_GROUP) {
    size_t m = n - g < CORE_BATCH_GROUP ? n - g : CORE_BATCH_GROUP;
    strata_core_completion_t *it = items + g;
    /* Two rounds of loads: the records, then (from the ids in them) the
       id-hash slots that the completions free. */
    for (size_t i = 0; i < m; i++)
      if ((uint32_t)it[i].handle < c->tasks.used_end)
        __builtin_prefetch(core_task(c, (uint32_t)it[i].handle));
    for (size_t i = 0; i < m; i++) {
      uint32_t idx = handle_task(c, it[i].handle);
      if (idx != CORE_NIL) {
        const task_t *t = core_task(c, idx);
        uint32_t h = core_id_hash(task_id(t), t->idlen);
        __builtin_prefetch(&c->slots[h & (c->nslots - 1)]);
      }
    }
    for (size_t i = 0; i < m; i++) {
      it[i].err = strata_core_complete_handle(
          c, it[i].handle, it[i].result, it[i].usage, it[i].nusage, now,
          failed ? scratch : errstr, failed ? sizeof(scratch) : size);
      if (it[i].err)
        failed = 1;
      else
        ok++;
    }
  }
  return ok;
}

strata_err_t strata_core_mark_succeeded(strata_core_t *c, const char *id,
                                        strata_epoch_ms_t now) {
  size_t len;
  uint32_t idx;
  task_t *t;

  if (!c || !id || (len = strnlen(id, STRATA_CORE_ID_MAX + 1)) == 0 ||
      len > STRATA_CORE_ID_MAX)
    return STRATA_ERR_INVALID_ARG;
  now = core_clamp_now(c, now);
  idx = ids_find(c, id, len);
  if (idx == CORE_NIL) {
    uint32_t h = core_id_hash(id, len);
    int64_t pos = recent_find(c, id, len, h);
    if (pos >= 0)
      c->rring[pos].ok = 1;
    else
      recent_add(c, id, len, h, 1);
    return STRATA_OK;
  }
  t = core_task(c, idx);
  switch (t->state) {
  case TS_PLACEHOLDER:
    deps_resolve_success(c, idx, now);
    ids_remember(c, idx, TS_DONE_OK);
    return STRATA_OK;
  default:
    return STRATA_ERR_STATE;
  }
}

strata_err_t strata_core_mark_failed(strata_core_t *c, const char *id,
                                     strata_epoch_ms_t now,
                                     const char *reason) {
  char what[128];
  size_t len;
  uint32_t idx;
  task_t *t;

  if (!c || !id || (len = strnlen(id, STRATA_CORE_ID_MAX + 1)) == 0 ||
      len > STRATA_CORE_ID_MAX)
    return STRATA_ERR_INVALID_ARG;
  now = core_clamp_now(c, now);
  if (reason && *reason)
    snprintf(what, sizeof(what), "failed: %s", reason);
  else
    snprintf(what, sizeof(what), "failed");
  idx = ids_find(c, id, len);
  if (idx == CORE_NIL) {
    uint32_t h = core_id_hash(id, len);
    int64_t pos = recent_find(c, id, len, h);
    if (pos >= 0)
      c->rring[pos].ok = 0;
    else
      recent_add(c, id, len, h, 0);
    return STRATA_OK;
  }
  t = core_task(c, idx);
  switch (t->state) {
  case TS_RUNNING: {
    /* As complete(FAILED) without usage: reservations are the charge. */
    const demand_t *d = task_demands(t);
    for (uint32_t k = 0; k < t->ndemand; k++) {
      pool_refill(&c->pools[d[k].pool], now);
      pool_release(&c->pools[d[k].pool], d[k].amount, 0, 0);
    }
  }
  /* fall through */
  case TS_PLACEHOLDER:
    deps_cascade(c, idx, now, what);
    ids_remember(c, idx, TS_DONE_FAIL);
    return STRATA_OK;
  case TS_DONE_FAIL:
    return STRATA_OK; /* already failed; its waiters were failed then */
  default:
    return STRATA_ERR_STATE;
  }
}

strata_err_t strata_core_cancel(strata_core_t *c, const char *id,
                                strata_epoch_ms_t now) {
  uint32_t idx;
  rq_t *q;
  task_t *t;

  if (!c || !id)
    return STRATA_ERR_INVALID_ARG;
  now = core_clamp_now(c, now);
  idx = ids_find(c, id, strnlen(id, STRATA_CORE_ID_MAX + 1));
  if (idx == CORE_NIL)
    return STRATA_ERR_NOT_FOUND;
  t = core_task(c, idx);
  if (t->state == TS_RUNNING)
    return STRATA_ERR_STATE;
  if (t->state > TS_RUNNING)
    return STRATA_ERR_NOT_FOUND;
  q = core_task_rq(c, t);
  state_leave(c, idx);
  c->tiers[t->tier].st.cancelled++;
  deps_cascade(c, idx, now, "was cancelled");
  ids_remember(c, idx, TS_DONE_FAIL);
  state_compact_ready(c, q);
  return STRATA_OK;
}
