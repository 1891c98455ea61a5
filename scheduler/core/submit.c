/*
 * Tasks in: checking a spec, resolving its pool names and dependencies,
 * filling the record and placing it (BLOCKED, DELAYED or READY, or failed
 * or expired at once), one at a time or in batches; and adoption of a task
 * that is running elsewhere already.
 *
 * Invariants (besides those in core_int.h):
 * - An id is taken in only if it is not held, other than as a placeholder
 *   (which the submission fills), and not remembered as succeeded.
 * - A submission counts the placeholders it would create before it
 *   allocates anything, so it never takes `held` past max_tasks.
 * - A submission refused before its commit point leaves no record, edge or
 *   TF_TARGET mark behind; past it, only running out of memory fails it,
 *   and then the task is dropped and reported as an outcome.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

#define TIME_LIMIT (INT64_C(1) << 62)

/* Checks the spec's demands and resolves their pool names into pool_ids.
   The spec's id is already checked. */
static strata_err_t check_demands(strata_core_t *c,
                                  const strata_core_task_spec_t *s,
                                  uint16_t *pool_ids, char *errstr,
                                  size_t size) {
  if (s->ndemands > STRATA_CORE_MAX_POOLS || (s->ndemands && !s->demands))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: at most %d demands", s->id,
                       STRATA_CORE_MAX_POOLS);
  for (size_t i = 0; i < s->ndemands; i++) {
    const strata_core_demand_t *d = &s->demands[i];
    int pid = strata_core_pool_id(c, d->pool);
    const pool_t *p;
    if (pid < 0)
      return strata_errf(STRATA_ERR_NOT_FOUND, errstr, size,
                         "task %s: unknown pool \"%s\"", s->id,
                         d->pool ? d->pool : "(null)");
    p = &c->pools[pid];
    if (d->amount < 1 || d->amount > (int64_t)UINT32_MAX)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "task %s: demand on \"%s\" must be 1..%u", s->id,
                         p->name, UINT32_MAX);
    if (d->amount >
        (p->kind == STRATA_CORE_POOL_CONCURRENCY ? p->limit : p->burst))
      return strata_errf(
          STRATA_ERR_INVALID_ARG, errstr, size,
          "task %s: demand %lld on \"%s\" exceeds its %s "
          "%lld and could never be admitted",
          s->id, (long long)d->amount, p->name,
          p->kind == STRATA_CORE_POOL_CONCURRENCY ? "limit" : "burst",
          (long long)(p->kind == STRATA_CORE_POOL_CONCURRENCY ? p->limit
                                                              : p->burst));
    for (size_t j = 0; j < i; j++)
      if (pool_ids[j] == pid)
        return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                           "task %s: pool \"%s\" demanded twice", s->id,
                           p->name);
    pool_ids[i] = (uint16_t)pid;
  }
  return STRATA_OK;
}

/* Checks every field of a spec, resolving pool names into pool_ids. */
static strata_err_t check_spec(strata_core_t *c,
                               const strata_core_task_spec_t *s,
                               uint16_t *pool_ids, char *errstr, size_t size) {
  size_t len;
  strata_err_t err;

  if (!s->id || (len = strnlen(s->id, STRATA_CORE_ID_MAX + 1)) == 0 ||
      len > STRATA_CORE_ID_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "id must be 1..%d bytes", STRATA_CORE_ID_MAX);
  if (s->tier >= c->ntiers)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: tier %u does not exist (%u tiers)", s->id,
                       (unsigned)s->tier, (unsigned)c->ntiers);
  if (s->lane >= c->nlanes)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: lane %u does not exist (%u lanes)", s->id,
                       (unsigned)s->lane, (unsigned)c->nlanes);
  if (s->priority > STRATA_CORE_PRIORITY_MAX ||
      s->priority < -STRATA_CORE_PRIORITY_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: priority %d outside +-%d", s->id,
                       (int)s->priority, STRATA_CORE_PRIORITY_MAX);
  if ((unsigned)s->deadline_kind > STRATA_CORE_DEADLINE_HARD)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: unknown deadline_kind %d", s->id,
                       (int)s->deadline_kind);
  if (s->deadline_kind != STRATA_CORE_DEADLINE_NONE &&
      (s->deadline < -TIME_LIMIT || s->deadline > TIME_LIMIT))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: deadline out of range", s->id);
  if (s->not_before < -TIME_LIMIT || s->not_before > TIME_LIMIT)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: not_before out of range", s->id);
  if (s->estimate_ms < 0 || s->estimate_ms > (int64_t)UINT32_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: estimate_ms must be 0..%u", s->id, UINT32_MAX);
  if ((err = check_demands(c, s, pool_ids, errstr, size)))
    return err;
  if (s->ndeps > CORE_MAX_DEPS || (s->ndeps && !s->deps))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: at most %d dependencies", s->id,
                       CORE_MAX_DEPS);
  for (size_t i = 0; i < s->ndeps; i++) {
    size_t dl = s->deps[i] ? strnlen(s->deps[i], STRATA_CORE_ID_MAX + 1) : 0;
    if (dl == 0 || dl > STRATA_CORE_ID_MAX)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "task %s: deps[%zu] must be 1..%d bytes", s->id, i,
                         STRATA_CORE_ID_MAX);
    if (!strcmp(s->deps[i], s->id))
      return strata_errf(STRATA_ERR_CYCLE, errstr, size, "%s -> %s", s->id,
                         s->id);
  }
  return STRATA_OK;
}

static void clear_targets(strata_core_t *c, const strata_core_task_spec_t *s) {
  for (size_t i = 0; i < s->ndeps; i++) {
    uint32_t di = ids_find(c, s->deps[i], strlen(s->deps[i]));
    if (di != CORE_NIL)
      core_task(c, di)->flags &= (uint8_t)~TF_TARGET;
  }
}

/* The id's length (capped at STRATA_CORE_ID_MAX + 1) and hash, for a
   submission; starts loading the id-hash slot the lookup will probe. */
static uint32_t submit_hash(const strata_core_t *c,
                            const strata_core_task_spec_t *s, size_t *len) {
  uint32_t h;

  *len = s->id ? strnlen(s->id, STRATA_CORE_ID_MAX + 1) : 0;
  h = core_id_hash(s->id ? s->id : "", *len);
  __builtin_prefetch(&c->slots[h & (c->nslots - 1)]);
  return h;
}

/* Fills a task record from a validated spec (pool ids from check_spec()):
   flags, demands, tier, lane, priority, estimate, cookie, enqueue time and
   the effective deadline (a tier's target wait after max(now, not_before)
   when the spec has none). A filled placeholder starts clean.
   STRATA_ERR_NOMEM when out-of-line demands cannot be allocated (nothing
   else changed). */
static strata_err_t task_fill(strata_core_t *c, task_t *t,
                              const strata_core_task_spec_t *s,
                              const uint16_t *pool_ids, int64_t now) {
  tier_t *tr = &c->tiers[s->tier];
  demand_t *d;

  if (s->ndemands > CORE_DEM_INLINE) {
    d = malloc(s->ndemands * sizeof(*d));
    if (!d)
      return STRATA_ERR_NOMEM;
    t->flags &= (uint8_t)TF_ID_EXT;
    t->dem.ext = d;
    t->flags |= TF_DEM_EXT;
  } else {
    t->flags &= (uint8_t)TF_ID_EXT;
    d = t->dem.inl;
  }
  if (t->dnode != CORE_NIL) {
    core_dnode(c, t->dnode)->unblocked_at = INT64_MIN;
    core_dnode(c, t->dnode)->unblock_latency = -1;
  }
  for (size_t i = 0; i < s->ndemands; i++) {
    d[i].pool = pool_ids[i];
    d[i].pad = 0;
    d[i].amount = (uint32_t)s->demands[i].amount;
  }
  t->ndemand = (uint8_t)s->ndemands;
  t->tier = (uint8_t)s->tier;
  t->lane = (uint8_t)s->lane;
  t->priority = (int16_t)s->priority;
  t->estimate = (uint32_t)s->estimate_ms;
  t->cookie = s->cookie;
  t->t_enq = now;
  if (s->deadline_kind == STRATA_CORE_DEADLINE_NONE) {
    t->deadline = (s->not_before > now ? s->not_before : now) + tr->target_wait;
  } else {
    t->deadline = s->deadline;
    t->flags |=
        s->deadline_kind == STRATA_CORE_DEADLINE_HARD ? TF_HARD : TF_SOFT;
  }
  return STRATA_OK;
}

/* Whether the id may be taken in: not held other than as a placeholder
   and not remembered as succeeded. *existing is its placeholder or CORE_NIL,
   *recent its position in the recent ring (a failed run, which may run
   again) or -1. Changes nothing. */
static strata_err_t id_free(strata_core_t *c, const char *id, size_t len,
                            uint32_t h, uint32_t *existing, int64_t *recent,
                            char *errstr, size_t size) {
  *existing = ids_find_hashed(c, id, len, h);
  *recent = -1;
  if (*existing != CORE_NIL) {
    if (core_task(c, *existing)->state != TS_PLACEHOLDER)
      return strata_errf(STRATA_ERR_EXISTS, errstr, size,
                         "task %s is already held", id);
    return STRATA_OK;
  }
  *recent = recent_find(c, id, len, h);
  if (*recent >= 0 && c->rring[*recent].ok)
    return strata_errf(STRATA_ERR_EXISTS, errstr, size,
                       "task %s already succeeded", id);
  return STRATA_OK;
}

/* Resolves the spec's dependencies, changing nothing but TF_TARGET marks:
   each held dependency that is to get an edge is marked and counted in
   *ntargets, each id neither held nor remembered (a placeholder to create)
   in *nunknown, and *failed_dep is the first one known to have failed.
   STRATA_ERR_FULL, with the marks cleared, when a dependency has as many
   dependents as it may have. */
static strata_err_t resolve_deps(strata_core_t *c,
                                 const strata_core_task_spec_t *s,
                                 uint32_t *ntargets, uint32_t *nunknown,
                                 const char **failed_dep, char *errstr,
                                 size_t size) {
  for (size_t i = 0; i < s->ndeps; i++) {
    size_t dl = strlen(s->deps[i]);
    uint32_t di = ids_find(c, s->deps[i], dl);
    task_t *dt;
    if (di == CORE_NIL) {
      int64_t pos =
          recent_find(c, s->deps[i], dl, core_id_hash(s->deps[i], dl));
      if (pos < 0)
        (*nunknown)++;
      else if (!c->rring[pos].ok && !*failed_dep)
        *failed_dep = s->deps[i];
      continue;
    }
    dt = core_task(c, di);
    if (dt->flags & TF_TARGET)
      continue;
    if (dt->state == TS_DONE_FAIL) {
      if (!*failed_dep)
        *failed_dep = s->deps[i];
      continue;
    }
    if (dt->dnode != CORE_NIL &&
        core_dnode(c, dt->dnode)->ndependents >= CORE_MAX_DEPENDENTS) {
      clear_targets(c, s);
      return strata_errf(STRATA_ERR_FULL, errstr, size,
                         "task %s: dependency %s already has %d dependents",
                         s->id, s->deps[i], CORE_MAX_DEPENDENTS);
    }
    dt->flags |= TF_TARGET;
    (*ntargets)++;
  }
  return STRATA_OK;
}

/* Adds the edges of the committed task `idx` to the dependencies that
   resolve_deps() marked, and placeholders for the ones not seen yet. -1
   when out of memory. */
static int link_deps(strata_core_t *c, uint32_t idx,
                     const strata_core_task_spec_t *s) {
  for (size_t i = 0; i < s->ndeps; i++) {
    size_t dl = strlen(s->deps[i]);
    uint32_t di = ids_find(c, s->deps[i], dl);
    task_t *dt;
    if (di == CORE_NIL) {
      if (recent_find(c, s->deps[i], dl, core_id_hash(s->deps[i], dl)) >= 0)
        continue; /* done already */
      di = ids_alloc(c, s->deps[i], dl, core_id_hash(s->deps[i], dl));
      if (di == CORE_NIL)
        return -1;
      dt = core_task(c, di);
      core_set_state(c, dt, TS_PLACEHOLDER);
      dt->flags |= TF_TARGET;
    } else {
      dt = core_task(c, di);
      if (!(dt->flags & TF_TARGET))
        continue; /* done already, or a duplicate */
    }
    dt->flags &= (uint8_t)~TF_TARGET;
    if (deps_add_edge(c, idx, di))
      return -1;
  }
  return 0;
}

/* Places the committed task `idx`: failed at once if a dependency failed,
   expired at once if its hard deadline is lost already, BLOCKED while it
   waits, else DELAYED or READY. -1 when out of memory. */
static int place_submitted(strata_core_t *c, uint32_t idx,
                           const strata_core_task_spec_t *s,
                           const char *failed_dep, int64_t now) {
  task_t *t = core_task(c, idx);

  if (failed_dep) {
    state_leave(c, idx);
    c->tiers[t->tier].st.dep_failures++;
    outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, t, now,
                 "dependency %s failed", failed_dep);
    deps_cascade(c, idx, now, "failed");
    ids_remember(c, idx, TS_DONE_FAIL);
    return 0;
  }
  if ((t->flags & TF_HARD) &&
      (now >= task_hard_expiry(t) || s->not_before >= task_hard_expiry(t))) {
    state_expire(c, idx, now);
    return 0;
  }
  if (t->dnode != CORE_NIL && core_dnode(c, t->dnode)->nwait > 0) {
    if ((t->flags & TF_HARD) && state_timer_arm(c, idx, task_hard_expiry(t)))
      return -1;
    return 0;
  }
  deps_route_unblocked(c, idx, now);
  return 0;
}

/* strata_core_submit() with the id's length and hash from submit_hash(). */
static strata_err_t submit_hashed(strata_core_t *c,
                                  const strata_core_task_spec_t *s, int64_t now,
                                  size_t len, uint32_t h, char *errstr,
                                  size_t size) {
  uint16_t pool_ids[STRATA_CORE_MAX_POOLS];
  uint32_t idx, existing, ntargets = 0, nunknown = 0;
  int64_t recent;
  const char *failed_dep = NULL;
  strata_err_t err;
  task_t *t;

  now = core_clamp_now(c, now);
  err = check_spec(c, s, pool_ids, errstr, size);
  if (err)
    return err;
  if ((err = id_free(c, s->id, len, h, &existing, &recent, errstr, size)))
    return err;
  if (recent >= 0)
    recent_remove(c, (uint32_t)recent); /* a failed id may run again */
  err = resolve_deps(c, s, &ntargets, &nunknown, &failed_dep, errstr, size);
  if (err)
    return err;
  if (c->held + (existing == CORE_NIL) + nunknown > c->cfg.max_tasks) {
    clear_targets(c, s);
    return strata_errf(
        STRATA_ERR_FULL, errstr, size, "core holds %llu of at most %llu tasks",
        (unsigned long long)c->held, (unsigned long long)c->cfg.max_tasks);
  }
  if (existing != CORE_NIL && ntargets) {
    err = deps_check_cycle(c, existing, errstr, size);
    if (err) {
      clear_targets(c, s);
      return err;
    }
  }

  /* Commit. */
  if (existing == CORE_NIL) {
    idx = ids_alloc(c, s->id, len, h);
    if (idx == CORE_NIL) {
      clear_targets(c, s);
      return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                         "task %s: out of memory", s->id);
    }
  } else {
    idx = existing;
  }
  t = core_task(c, idx);
  if (task_fill(c, t, s, pool_ids, now)) {
    clear_targets(c, s);
    if (existing == CORE_NIL)
      ids_release(c, idx);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "task %s: out of memory",
                       s->id);
  }
  t->since = s->not_before; /* the not-before time until the task is ready */
  core_set_state(c, t, TS_BLOCKED);
  c->tiers[s->tier].st.submitted++;
  if (link_deps(c, idx, s))
    goto oom;
  clear_targets(c, s);
  if (place_submitted(c, idx, s, failed_dep, now))
    goto oom;
  return STRATA_OK;

oom:
  clear_targets(c, s);
  state_drop_oom(c, idx, now);
  return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                     "task %s: out of memory (reported as an outcome)", s->id);
}

strata_err_t strata_core_submit(strata_core_t *c,
                                const strata_core_task_spec_t *s,
                                strata_epoch_ms_t now, char *errstr,
                                size_t size) {
  size_t len;
  uint32_t h;

  if (!c || !s)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "core and spec are required");
  /* The probe's cache miss overlaps with the validation in submit_hashed()
     instead of stalling the lookup after it. */
  h = submit_hash(c, s, &len);
  return submit_hashed(c, s, now, len, h, errstr, size);
}

size_t strata_core_submit_batch(strata_core_t *c,
                                const strata_core_task_spec_t *specs, size_t n,
                                strata_epoch_ms_t now, strata_err_t *errs,
                                char *errstr, size_t size) {
  uint32_t hs[CORE_BATCH_GROUP];
  size_t lens[CORE_BATCH_GROUP], ok = 0;
  char scratch[256];
  int failed = 0;

  if (!c || (n && !specs)) {
    for (size_t i = 0; errs && i < n; i++)
      errs[i] = STRATA_ERR_INVALID_ARG;
    strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                "core and specs are required");
    return 0;
  }
  for (size_t g = 0; g < n; g += CORE_BATCH_GROUP) {
    size_t m = n - g < CORE_BATCH_GROUP ? n - g : CORE_BATCH_GROUP;
    for (size_t i = 0; i < m; i++)
      hs[i] = submit_hash(c, &specs[g + i], &lens[i]);
    for (size_t i = 0; i < m; i++) {
      strata_err_t err = submit_hashed(c, &specs[g + i], now, lens[i], hs[i],
                                       failed ? scratch : errstr,
                                       failed ? sizeof(scratch) : size);
      if (errs)
        errs[g + i] = err;
      if (err)
        failed = 1;
      else
        ok++;
    }
  }
  return ok;
}

strata_err_t strata_core_adopt(strata_core_t *c,
                               const strata_core_task_spec_t *s,
                               strata_epoch_ms_t now, char *errstr,
                               size_t size) {
  uint16_t pool_ids[STRATA_CORE_MAX_POOLS];
  strata_core_task_spec_t spec;
  uint32_t idx, existing, h;
  int64_t recent;
  size_t len;
  strata_err_t err;
  task_t *t;
  tier_t *tr;

  if (!c || !s)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "core and spec are required");
  /* A running task's dependencies were met where it was dispatched. */
  spec = *s;
  spec.deps = NULL;
  spec.ndeps = 0;
  spec.not_before = 0;
  now = core_clamp_now(c, now);
  err = check_spec(c, &spec, pool_ids, errstr, size);
  if (err)
    return err;
  len = strnlen(s->id, STRATA_CORE_ID_MAX + 1);
  h = core_id_hash(s->id, len);
  if ((err = id_free(c, s->id, len, h, &existing, &recent, errstr, size)))
    return err;
  if (existing != CORE_NIL) {
    idx = existing;
  } else {
    if (c->held + 1 > c->cfg.max_tasks)
      return strata_errf(STRATA_ERR_FULL, errstr, size,
                         "core holds %llu of at most %llu tasks",
                         (unsigned long long)c->held,
                         (unsigned long long)c->cfg.max_tasks);
    idx = ids_alloc(c, s->id, len, h);
    if (idx == CORE_NIL)
      return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                         "task %s: out of memory", s->id);
    if (recent >= 0)
      recent_remove(c, (uint32_t)recent); /* a failed id may run again */
  }
  t = core_task(c, idx);
  if (task_fill(c, t, &spec, pool_ids, now)) {
    if (existing == CORE_NIL)
      ids_release(c, idx);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "task %s: out of memory",
                       s->id);
  }
  /* In use in the world: held even beyond the limit. */
  for (size_t i = 0; i < s->ndemands; i++) {
    pool_refill(&c->pools[pool_ids[i]], now);
    pool_take_over(&c->pools[pool_ids[i]], s->demands[i].amount);
  }
  tr = &c->tiers[s->tier];
  t->gen++;
  core_set_state(c, t, TS_RUNNING);
  t->since = now;
  tr->st.adopted++;
  return STRATA_OK;
}
