/*
 * The scheduler core's state machine: submission, the dispatch decision,
 * completion, cancellation, timers and the dependency graph.
 *
 * A task moves READY / BLOCKED / DELAYED -> RUNNING -> gone, or leaves early
 * by cancel, hard-deadline expiry or a failed dependency. Tasks awaited by
 * others but not yet submitted exist as PLACEHOLDER records; completed ids
 * are remembered for a while (recent.c) so late dependents
 * resolve. docs/CORE.md states the policy; the comments here say why the
 * code is shaped the way it is.
 *
 * Invariants (besides those in core_int.h):
 * - set_state() is the only writer of rec->state, so the per-tier depth
 *   gauges, `held` and `placeholders` always match the records.
 * - A BLOCKED task has a dnode with nwait > 0; every unresolved edge is in
 *   both the dependency's out list and the dependent's in list.
 * - Every READY task is in its tier's FIFO in order of `since`, because the
 *   core clamps time to be non-decreasing and stamps `since` with it.
 * - Time never goes backwards inside the core (c->now is a running max).
 */
#include "core_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_SHIFT 30                   /* virtual time units per cost ms */
#define COST_MAX (INT64_C(1) << 24)   /* largest charged cost, ms */
#define VT_RENORM (UINT64_C(1) << 62) /* rebase virtual times past this */
#define DEFAULT_UNKNOWN_ESTIMATE 1000
#define DEFAULT_AGING_SHARE 10
#define TIME_LIMIT (INT64_C(1) << 62)
#define DURATION_LIMIT (INT64_C(1) << 40)
#define LOOKAHEAD_MAX 64

_Static_assert(LOOKAHEAD_MAX <= RQ_SPARE,
               "pick_in_tier() should find room for K without growing");

static const strata_core_tier_config_t default_tiers[] = {
    {"critical", 40, 1000},
    {"high", 25, 5000},
    {"normal", 20, 30000},
    {"low", 10, 120000},
    {"background", 5, 600000}};

void strata_core_config_default(strata_core_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->tiers = default_tiers;
  cfg->ntiers = sizeof(default_tiers) / sizeof(default_tiers[0]);
  cfg->max_tasks = 1u << 20;
  cfg->starvation_bound_ms = 60000;
  cfg->lookahead = 8;
  cfg->dep_bonus_ms = 1000;
  cfg->dep_bonus_max = 16;
  cfg->priority_step_ms = 1000;
  cfg->remember_succeeded = 4096;
  cfg->charge_by_estimate = 1;
  cfg->unknown_estimate_ms = DEFAULT_UNKNOWN_ESTIMATE;
  cfg->aging_max_share_pct = DEFAULT_AGING_SHARE;
  cfg->urgency_horizon_ms = 1000;
}

/* ------------------------------------------------------------------------ */
/* Construction                                                             */
/* ------------------------------------------------------------------------ */

static strata_err_t check_config(const strata_core_config_t *cfg, char *errstr,
                                 size_t size) {
  if (!cfg->tiers || cfg->ntiers < 1 || cfg->ntiers > STRATA_CORE_MAX_TIERS)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "ntiers must be 1..%d, got %zu", STRATA_CORE_MAX_TIERS,
                       cfg->ntiers);
  for (size_t i = 0; i < cfg->ntiers; i++) {
    const strata_core_tier_config_t *t = &cfg->tiers[i];
    size_t len = t->name ? strlen(t->name) : 0;
    if (len < 1 || len > STRATA_CORE_NAME_MAX)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "tiers[%zu].name must be 1..%d bytes", i,
                         STRATA_CORE_NAME_MAX);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(cfg->tiers[j].name, t->name))
        return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                           "tiers[%zu].name \"%s\" is used twice", i, t->name);
    if (t->weight < 1 || t->weight > 1000000)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "tiers[%zu].weight must be 1..1000000, got %u", i,
                         (unsigned)t->weight);
    if (t->target_wait_ms < 0 || t->target_wait_ms > DURATION_LIMIT)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "tiers[%zu].target_wait_ms must be 0..2^40", i);
  }
  if (cfg->max_tasks < 1 || cfg->max_tasks > UINT32_MAX / 2)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "max_tasks must be 1..%u", UINT32_MAX / 2);
  if (cfg->starvation_bound_ms < 0 || cfg->starvation_bound_ms > DURATION_LIMIT)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "starvation_bound_ms must be 0..2^40");
  if (cfg->lookahead < 1 || cfg->lookahead > LOOKAHEAD_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "lookahead must be 1..%d, got %u", LOOKAHEAD_MAX,
                       (unsigned)cfg->lookahead);
  if (cfg->dep_bonus_ms < 0 || cfg->dep_bonus_ms > (1 << 24))
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "dep_bonus_ms must be 0..2^24");
  if (cfg->dep_bonus_max > CORE_MAX_DEPENDENTS)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "dep_bonus_max must be 0..%d", CORE_MAX_DEPENDENTS);
  if (cfg->priority_step_ms < 0 || cfg->priority_step_ms > (1 << 24))
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "priority_step_ms must be 0..2^24");
  if (cfg->remember_succeeded > (1u << 24))
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "remember_succeeded must be 0..2^24");
  if (cfg->charge_by_estimate != 0 && cfg->charge_by_estimate != 1)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "charge_by_estimate must be 0 or 1, got %d",
                       cfg->charge_by_estimate);
  if (cfg->unknown_estimate_ms < 0 || cfg->unknown_estimate_ms > COST_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "unknown_estimate_ms must be 0..2^24");
  if (cfg->urgency_horizon_ms < 0 || cfg->urgency_horizon_ms > COST_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "urgency_horizon_ms must be 0..2^24");
  if (cfg->aging_max_share_pct > 100)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "aging_max_share_pct must be 0..100, got %u",
                       (unsigned)cfg->aging_max_share_pct);
  return STRATA_OK;
}

strata_core_t *strata_core_new(const strata_core_config_t *cfg, char *errstr,
                               size_t size) {
  strata_core_t *c;

  if (!cfg) {
    strata_errf(STRATA_ERR_INVALID_ARG, errstr, size, "cfg is NULL");
    return NULL;
  }
  if (check_config(cfg, errstr, size) != STRATA_OK)
    return NULL;
  c = calloc(1, sizeof(*c));
  if (!c)
    goto nomem;
  c->cfg = *cfg;
  c->cfg.tiers = NULL;
  c->ntiers = (uint32_t)cfg->ntiers;
  if (!c->cfg.unknown_estimate_ms)
    c->cfg.unknown_estimate_ms = DEFAULT_UNKNOWN_ESTIMATE;
  if (!c->cfg.aging_max_share_pct)
    c->cfg.aging_max_share_pct = DEFAULT_AGING_SHARE;
  /* The aging cap may bank at most one bound's worth of cost (at least one
     task without an estimate), so a quiet spell cannot save up a flood. */
  c->age_credit_max = c->cfg.starvation_bound_ms > c->cfg.unknown_estimate_ms
                          ? c->cfg.starvation_bound_ms
                          : c->cfg.unknown_estimate_ms;
  if (c->age_credit_max > COST_MAX)
    c->age_credit_max = COST_MAX;
  c->age_credit_max *= 100;
  c->age_credit = c->age_credit_max;
  for (uint32_t i = 0; i < c->ntiers; i++) {
    tier_t *t = &c->tiers[i];
    snprintf(t->name, sizeof(t->name), "%s", cfg->tiers[i].name);
    t->weight = cfg->tiers[i].weight;
    t->target_wait = cfg->tiers[i].target_wait_ms;
    t->urgent_lead =
        ((uint64_t)c->cfg.urgency_horizon_ms << VT_SHIFT) / t->weight;
    c->weight_sum += t->weight;
    rq_init(&t->rq);
    t->fhead = t->ftail = CORE_NIL;
    t->st.blocked_pool = -1;
  }
  slab_init(&c->tasks, sizeof(task_t));
  slab_init(&c->dnodes, sizeof(dnode_t));
  slab_init(&c->edges, sizeof(edge_t));
  heap_init(&c->timers);
  c->nslots = 1024;
  c->slots = malloc(c->nslots * sizeof(hslot_t));
  if (!c->slots)
    goto nomem;
  memset(c->slots, 0xff, c->nslots * sizeof(hslot_t));
  if (recent_init(c, cfg->remember_succeeded))
    goto nomem;
  c->now = INT64_MIN;
  return c;

nomem:
  strata_core_destroy(c);
  strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory creating core");
  return NULL;
}

void strata_core_destroy(strata_core_t *c) {
  if (!c)
    return;
  for (uint32_t ch = 0; ch < c->tasks.nchunks; ch++) {
    for (uint32_t k = 0; k < SLAB_CHUNK; k++) {
      uint32_t idx = (ch << SLAB_SHIFT) | k;
      task_t *t;
      if (idx >= c->tasks.used_end)
        break;
      t = core_task(c, idx);
      if (t->state == TS_FREE)
        continue;
      if (t->flags & TF_ID_EXT)
        free(t->id.ext);
      if (t->flags & TF_DEM_EXT)
        free(t->dem.ext);
    }
  }
  slab_free_all(&c->tasks);
  slab_free_all(&c->dnodes);
  slab_free_all(&c->edges);
  for (uint32_t i = 0; i < c->ntiers; i++)
    rq_free(&c->tiers[i].rq);
  heap_free(&c->timers);
  for (size_t i = c->out_head; i < c->out_head + c->out_n; i++) {
    free(c->out[i].id);
    free(c->out[i].reason);
  }
  free(c->out);
  free(c->slots);
  recent_free(c);
  free(c->scratch);
  free(c->scratch2);
  free(c);
}

int strata_core_tier_index(const strata_core_t *c, const char *name) {
  if (!c || !name)
    return -1;
  for (uint32_t i = 0; i < c->ntiers; i++)
    if (!strcmp(c->tiers[i].name, name))
      return (int)i;
  return -1;
}

strata_err_t strata_core_tier_pause(strata_core_t *c, int tier, int paused) {
  uint32_t bit;

  if (!c || tier < 0 || (uint32_t)tier >= c->ntiers)
    return STRATA_ERR_INVALID_ARG;
  bit = 1u << tier;
  if (paused) {
    c->paused |= bit;
  } else if (c->paused & bit) {
    tier_t *tr = &c->tiers[tier];
    c->paused &= ~bit;
    if (tr->pass < c->vtime)
      tr->pass = c->vtime; /* paused time is neither owed nor lent */
  }
  return STRATA_OK;
}

int strata_core_tier_paused(const strata_core_t *c, int tier) {
  return c && tier >= 0 && (uint32_t)tier < c->ntiers &&
         (c->paused & (1u << tier)) != 0;
}

/* ------------------------------------------------------------------------ */
/* Pools                                                                    */
/* ------------------------------------------------------------------------ */

strata_err_t strata_core_pool_add(strata_core_t *c, const char *name,
                                  const strata_core_pool_config_t *pc, int *id,
                                  char *errstr, size_t size) {
  pool_t *p;
  size_t len = name ? strlen(name) : 0;

  if (!c || !pc)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "core and pool config are required");
  if (len < 1 || len > STRATA_CORE_NAME_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "pool name must be 1..%d bytes", STRATA_CORE_NAME_MAX);
  if (strata_core_pool_id(c, name) >= 0)
    return strata_errf(STRATA_ERR_EXISTS, errstr, size,
                       "pool \"%s\" already exists", name);
  if (c->npools == STRATA_CORE_MAX_POOLS)
    return strata_errf(STRATA_ERR_FULL, errstr, size, "at most %d pools",
                       STRATA_CORE_MAX_POOLS);
  if (pc->kind == STRATA_CORE_POOL_TOKEN_BUCKET) {
    if (pc->rate < 1 || pc->rate > DURATION_LIMIT)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "pool \"%s\": rate must be 1..2^40", name);
    if (pc->period_ms < 1 || pc->period_ms > DURATION_LIMIT)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "pool \"%s\": period_ms must be 1..2^40", name);
    /* burst * period * 16 (the debt bound) must fit in int64. */
    if (pc->burst < 1 || pc->burst > (INT64_C(1) << 57) / pc->period_ms)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "pool \"%s\": burst must be >= 1 and burst * "
                         "period_ms below 2^57",
                         name);
  } else if (pc->kind == STRATA_CORE_POOL_CONCURRENCY) {
    if (pc->limit < 1 || pc->limit > (INT64_C(1) << 48))
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "pool \"%s\": limit must be 1..2^48", name);
  } else {
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "pool \"%s\": unknown kind %d", name, (int)pc->kind);
  }
  p = &c->pools[c->npools];
  memset(p, 0, sizeof(*p));
  memcpy(p->name, name, len + 1);
  p->kind = pc->kind;
  p->rate = pc->rate;
  p->period = pc->period_ms;
  p->burst = pc->burst;
  p->limit = pc->limit;
  p->scaled =
      pc->kind == STRATA_CORE_POOL_TOKEN_BUCKET ? p->burst * p->period : 0;
  p->last = INT64_MIN;
  if (id)
    *id = (int)c->npools;
  c->npools++;
  return STRATA_OK;
}

int strata_core_pool_id(const strata_core_t *c, const char *name) {
  if (!c || !name)
    return -1;
  for (uint32_t i = 0; i < c->npools; i++)
    if (!strcmp(c->pools[i].name, name))
      return (int)i;
  return -1;
}

strata_err_t strata_core_pool_info(strata_core_t *c, int id,
                                   strata_epoch_ms_t now,
                                   strata_core_pool_info_t *out) {
  pool_t *p;

  if (!c || !out || id < 0 || (uint32_t)id >= c->npools)
    return STRATA_ERR_NOT_FOUND;
  if (now > c->now)
    c->now = now;
  p = &c->pools[id];
  pool_refill(p, c->now);
  out->name = p->name;
  out->kind = p->kind;
  out->available = pool_available(p);
  out->in_use = p->in_use;
  out->reservations = p->reservations;
  return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Id hash                                                                  */
/* ------------------------------------------------------------------------ */

static uint32_t find_hashed(const strata_core_t *c, const char *id, size_t len,
                            uint32_t h) {
  uint32_t m = c->nslots - 1;

  for (uint32_t i = h & m;; i = (i + 1) & m) {
    const hslot_t *s = &c->slots[i];
    if (s->idx == CORE_NIL)
      return CORE_NIL;
    if (s->hash == h) {
      const task_t *t = core_task(c, s->idx);
      if (t->idlen == len && !memcmp(task_id(t), id, len))
        return s->idx;
    }
  }
}

uint32_t core_find(const strata_core_t *c, const char *id, size_t len) {
  return find_hashed(c, id, len, core_id_hash(id, len));
}

static void slot_put(hslot_t *slots, uint32_t m, uint32_t idx, uint32_t h) {
  uint32_t i = h & m;

  while (slots[i].idx != CORE_NIL)
    i = (i + 1) & m;
  slots[i].idx = idx;
  slots[i].hash = h;
}

/* Doubles the table; the stored hashes make this a pass over the slots
   alone, without touching task records. */
static int hash_grow(strata_core_t *c) {
  uint32_t ns = c->nslots * 2;
  hslot_t *s;

  if (ns < c->nslots)
    return -1;
  s = malloc((size_t)ns * sizeof(*s));
  if (!s)
    return -1;
  memset(s, 0xff, (size_t)ns * sizeof(*s));
  for (uint32_t i = 0; i < c->nslots; i++)
    if (c->slots[i].idx != CORE_NIL)
      slot_put(s, ns - 1, c->slots[i].idx, c->slots[i].hash);
  free(c->slots);
  c->slots = s;
  c->nslots = ns;
  return 0;
}

static int hash_insert(strata_core_t *c, uint32_t idx, uint32_t h) {
  /* Load factor at most 1/2 keeps probe sequences short; past it, a failed
     grow is tolerated until the table is 7/8 full. */
  if ((uint64_t)(c->nhashed + 1) * 2 > c->nslots && hash_grow(c) &&
      (uint64_t)(c->nhashed + 1) * 8 > (uint64_t)c->nslots * 7)
    return -1;
  slot_put(c->slots, c->nslots - 1, idx, h);
  c->nhashed++;
  return 0;
}

/* Backward-shift deletion: no tombstones, so lookups never slow down. */
static void hash_remove(strata_core_t *c, uint32_t idx, uint32_t h) {
  uint32_t m = c->nslots - 1, i = h & m, j;

  while (c->slots[i].idx != idx) {
    if (c->slots[i].idx == CORE_NIL)
      return;
    i = (i + 1) & m;
  }
  for (j = i;;) {
    uint32_t k;
    j = (j + 1) & m;
    if (c->slots[j].idx == CORE_NIL)
      break;
    k = c->slots[j].hash & m;
    /* The entry at j may move to the hole at i unless its home k lies
       cyclically in (i, j]. */
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
      continue;
    c->slots[i] = c->slots[j];
    i = j;
  }
  c->slots[i].idx = CORE_NIL;
  c->nhashed--;
}

/* ------------------------------------------------------------------------ */
/* Records and states                                                       */
/* ------------------------------------------------------------------------ */

static void set_state(strata_core_t *c, task_t *t, uint8_t ns) {
  uint8_t os = t->state;

  if (os < STRATA_CORE_STATE__COUNT)
    c->tiers[t->tier].st.depth[os]--;
  if (ns < STRATA_CORE_STATE__COUNT)
    c->tiers[t->tier].st.depth[ns]++;
  c->held +=
      (uint64_t)(ns <= TS_PLACEHOLDER) - (uint64_t)(os <= TS_PLACEHOLDER);
  c->placeholders +=
      (uint64_t)(ns == TS_PLACEHOLDER) - (uint64_t)(os == TS_PLACEHOLDER);
  t->state = ns;
}

/* Allocates a record with its id (whose hash is `h`), hashed, in state
   TS_FREE (the caller sets the real state). CORE_NIL when out of memory. */
static uint32_t task_alloc(strata_core_t *c, const char *id, size_t len,
                           uint32_t h) {
  uint32_t idx = slab_alloc(&c->tasks), gen;
  task_t *t;

  if (idx == CORE_NIL)
    return CORE_NIL;
  t = core_task(c, idx);
  gen = t->gen + 1;
  memset(t, 0, sizeof(*t));
  t->gen = gen;
  t->state = TS_FREE;
  t->dnode = t->fprev = t->fnext = CORE_NIL;
  t->idlen = (uint8_t)len;
  if (len <= CORE_ID_INLINE) {
    memcpy(t->id.inl, id, len);
    t->id.inl[len] = '\0';
  } else {
    t->id.ext = malloc(len + 1);
    if (!t->id.ext) {
      slab_release(&c->tasks, idx);
      return CORE_NIL;
    }
    memcpy(t->id.ext, id, len);
    t->id.ext[len] = '\0';
    t->flags |= TF_ID_EXT;
  }
  if (hash_insert(c, idx, h)) {
    if (t->flags & TF_ID_EXT)
      free(t->id.ext);
    t->flags = 0;
    slab_release(&c->tasks, idx);
    return CORE_NIL;
  }
  return idx;
}

static void task_drop_demands(task_t *t) {
  if (t->flags & TF_DEM_EXT)
    free(t->dem.ext);
  t->flags &= (uint8_t)~TF_DEM_EXT;
  t->ndemand = 0;
}

static void dnode_release(strata_core_t *c, task_t *t) {
  if (t->dnode != CORE_NIL) {
    slab_release(&c->dnodes, t->dnode);
    t->dnode = CORE_NIL;
  }
}

/* Frees a record completely, given the hash of its id. It must be in no
   heap, FIFO or graph list. */
static void task_release_hashed(strata_core_t *c, uint32_t idx, uint32_t h) {
  task_t *t = core_task(c, idx);

  set_state(c, t, TS_FREE);
  hash_remove(c, idx, h);
  dnode_release(c, t);
  task_drop_demands(t);
  if (t->flags & TF_ID_EXT)
    free(t->id.ext);
  t->flags = 0;
  slab_release(&c->tasks, idx);
}

static void task_release(strata_core_t *c, uint32_t idx) {
  const task_t *t = core_task(c, idx);

  task_release_hashed(c, idx, core_id_hash(task_id(t), t->idlen));
}

int64_t core_task_key(const strata_core_t *c, const task_t *t) {
  int64_t k = t->deadline - (int64_t)t->estimate -
              (int64_t)t->priority * c->cfg.priority_step_ms;

  if (t->dnode != CORE_NIL) {
    uint32_t nd = core_dnode(c, t->dnode)->ndependents;
    if (nd > c->cfg.dep_bonus_max)
      nd = c->cfg.dep_bonus_max;
    k -= (int64_t)nd * c->cfg.dep_bonus_ms;
  }
  return k;
}

static int64_t hard_expiry_at(const task_t *t) {
  /* First ms at which now + estimate > deadline. */
  return t->deadline - (int64_t)t->estimate + 1;
}

/* ------------------------------------------------------------------------ */
/* Outcomes                                                                 */
/* ------------------------------------------------------------------------ */

static void outcome_push(strata_core_t *c, strata_core_outcome_kind_t kind,
                         const task_t *t, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void outcome_push(strata_core_t *c, strata_core_outcome_kind_t kind,
                         const task_t *t, int64_t now, const char *fmt, ...) {
  outcome_int_t *o;
  char buf[sizeof(((strata_core_outcome_t *)0)->reason)];
  va_list ap;

  if (c->out_head + c->out_n == c->out_cap) {
    if (c->out_head > 0) {
      memmove(c->out, c->out + c->out_head, c->out_n * sizeof(*c->out));
      c->out_head = 0;
    }
    if (c->out_n == c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap * 2 : 64;
      outcome_int_t *n = realloc(c->out, cap * sizeof(*n));
      if (!n) {
        c->outcomes_lost++;
        return;
      }
      c->out = n;
      c->out_cap = cap;
    }
  }
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  o = &c->out[c->out_head + c->out_n];
  o->kind = kind;
  o->tier = t->tier;
  o->cookie = t->cookie;
  o->at = now;
  o->id = strdup(task_id(t));
  o->reason = strdup(buf);
  if (!o->id || !o->reason) {
    free(o->id);
    free(o->reason);
    c->outcomes_lost++;
    return;
  }
  c->out_n++;
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */
/* ------------------------------------------------------------------------ */

/* Gives the task one live timer at `at`. Re-arming bumps the generation so
   an older entry for the same task turns stale. */
static int timer_arm(strata_core_t *c, uint32_t idx, int64_t at) {
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

static void timer_disarm(strata_core_t *c, task_t *t) {
  if (t->flags & TF_TIMER) {
    t->flags &= (uint8_t)~TF_TIMER;
    c->timers.stale++;
  }
}

static int timer_live(const strata_core_t *c, const heap_ent_t *e) {
  const task_t *t = core_task(c, e->idx);
  return (t->flags & TF_TIMER) && t->gen == e->seq;
}

static int ready_live(const strata_core_t *c, const heap_ent_t *e) {
  const task_t *t = core_task(c, e->idx);
  return t->state == TS_READY && t->hseq == e->seq;
}

/* Drops stale entries once they outnumber live ones, so stale entries cost
   O(1) amortised and memory stays proportional to held tasks. */
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

/* The same rule for a tier's ready queue. */
static void rq_compact(strata_core_t *c, rq_t *q) {
  if (q->stale < 1024 || q->stale < q->n / 2)
    return;
  rq_filter(q, c, ready_live);
  q->stale = 0;
}

/* ------------------------------------------------------------------------ */
/* Ready queues                                                             */
/* ------------------------------------------------------------------------ */

static void tier_clear_blocked(tier_t *tr) {
  tr->st.head_blocked = 0;
  tr->st.blocked_pool = -1;
  tr->st.blocked_since = 0;
  tr->st.blocked_until = 0;
}

static int push_ready_entry(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  t->hseq = ++c->seq;
  return rq_push(&c->tiers[t->tier].rq, core_task_key(c, t), t->hseq, idx);
}

static int make_ready(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];

  if (push_ready_entry(c, idx))
    return -1;
  if (tr->nready++ == 0 && tr->pass < c->vtime)
    tr->pass = c->vtime; /* idle time is lent, not banked */
  set_state(c, t, TS_READY);
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

/* Takes a READY task out of its FIFO. `entry_popped` says whether its heap
   entry was already removed; otherwise the entry turns stale. */
static void leave_ready(strata_core_t *c, uint32_t idx, int entry_popped) {
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
    tr->rq.stale++;
  if (--tr->nready == 0)
    tier_clear_blocked(tr);
}

/* A READY task's key changed (dependents came or went). */
static void rekey(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  if (t->state != TS_READY)
    return;
  c->tiers[t->tier].rq.stale++;
  if (push_ready_entry(c, idx)) {
    /* Keep the old entry: an older key is better than none. */
    c->tiers[t->tier].rq.stale--;
    t->hseq--;
  }
}

/* ------------------------------------------------------------------------ */
/* Dependency graph                                                         */
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

static int edge_add(strata_core_t *c, uint32_t dependent, uint32_t dependency) {
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
    rekey(c, dependency);
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
static void detach_in_edges(strata_core_t *c, uint32_t idx) {
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
        task_release(c, dep);
      else if (bonus_units(c, dp->ndependents) !=
               bonus_units(c, dp->ndependents + 1u))
        rekey(c, dep);
    }
    slab_release(&c->edges, ei);
    ei = next;
  }
}

static void free_in_edges(strata_core_t *c, dnode_t *d) {
  uint32_t ei = d->in_head;

  while (ei != CORE_NIL) {
    uint32_t next = core_edge(c, ei)->in_next;
    slab_release(&c->edges, ei);
    ei = next;
  }
  d->in_head = CORE_NIL;
}

static void remember(strata_core_t *c, uint32_t idx, uint8_t state);
static void cascade(strata_core_t *c, uint32_t root, int64_t now,
                    const char *what);
static void drop_oom(strata_core_t *c, uint32_t idx, int64_t now);

/* Routes a task whose dependencies are all satisfied: DELAYED until its
   not-before time, else READY. Hard tasks keep (or get) their expiry timer. */
static void route_unblocked(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];
  int64_t nb = t->since;

  if (nb > now) {
    set_state(c, t, TS_DELAYED);
    if (timer_arm(c, idx, nb))
      drop_oom(c, idx, now);
    return;
  }
  if (make_ready(c, idx, now)) {
    drop_oom(c, idx, now);
    return;
  }
  if (t->dnode != CORE_NIL) {
    dnode_t *d = core_dnode(c, t->dnode);
    if (d->unblocked_at != INT64_MIN) {
      d->unblock_latency = now - d->unblocked_at;
      tr->st.unblocked++;
      tr->st.unblock_latency_sum_ms += d->unblock_latency;
      if (d->unblock_latency > tr->st.unblock_latency_max_ms)
        tr->st.unblock_latency_max_ms = d->unblock_latency;
    }
  }
  if ((t->flags & TF_HARD) && !(t->flags & TF_TIMER) &&
      timer_arm(c, idx, hard_expiry_at(t))) {
    leave_ready(c, idx, 0);
    drop_oom(c, idx, now);
  }
}

/* The task succeeded: every dependent loses one wait; those with none left
   become ready (or delayed). */
static void resolve_success(strata_core_t *c, uint32_t idx, int64_t now) {
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
      free_in_edges(c, dd);
      route_unblocked(c, dep_idx, now);
    }
    d = core_dnode(c, t->dnode); /* slabs do not move, but be explicit */
  }
}

/* Takes a held task out of whatever structure its state puts it in, so it
   can be dropped, failed or remembered. Running tasks own no structure. */
static void leave_state(strata_core_t *c, uint32_t idx) {
  task_t *t = core_task(c, idx);

  switch (t->state) {
  case TS_READY:
    leave_ready(c, idx, 0);
    break;
  case TS_BLOCKED:
    detach_in_edges(c, idx);
    break;
  default:
    break;
  }
  timer_disarm(c, t);
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

/* Fails every task that waits, directly or transitively, on `root` (which
   the caller has already taken out of its state and finalises afterwards).
   Depth-first with an explicit stack so a long chain cannot overflow the C
   stack; a failed task stays on the stack, alive, until its own dependents
   are failed, so its id can name the path in their reasons. */
static void cascade(strata_core_t *c, uint32_t root, int64_t now,
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
        remember(c, x, TS_DONE_FAIL);
      continue;
    }
    ei = xd->out_head;
    di = core_edge(c, ei)->dependent;
    dt = core_task(c, di);
    out_unlink(c, xd, ei);
    leave_state(c, di); /* unlinks its other edges, frees its in-edges */
    c->tiers[dt->tier].st.dep_failures++;
    if (x == root)
      outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, dt, now,
                   "dependency %s %s", root_id, what);
    else
      outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, dt, now,
                   "dependency %s %s (via %s)", root_id, what, task_id(xt));
    set_state(c, dt, TS_DONE_FAIL);
    if (dt->dnode != CORE_NIL &&
        core_dnode(c, dt->dnode)->out_head != CORE_NIL &&
        scratch_reserve(c, n + 1) == STRATA_OK)
      c->scratch[n++] = di;
    else
      remember(c, di, TS_DONE_FAIL);
  }
}

/* ------------------------------------------------------------------------ */
/* Remembered completions                                                   */
/* ------------------------------------------------------------------------ */

/* Ends a task's life as a held task: its id goes to the set of recent
   completions (so late dependents resolve) and the record is freed. */
static void remember(strata_core_t *c, uint32_t idx, uint8_t state) {
  task_t *t = core_task(c, idx);
  uint32_t h;

  if (t->dnode != CORE_NIL) {
    dnode_t *d = core_dnode(c, t->dnode);
    free_in_edges(c, d);
    if (d->out_head != CORE_NIL) {
      /* Only when a cascade ran out of memory: waiters still point here,
         so keep the record (not held) rather than leave them dangling. */
      task_drop_demands(t);
      set_state(c, t, TS_DONE_FAIL);
      return;
    }
  }
  h = core_id_hash(task_id(t), t->idlen);
  recent_add(c, task_id(t), t->idlen, h, state == TS_DONE_OK);
  task_release_hashed(c, idx, h);
}

/* Removes a held task the core can no longer track for lack of memory; the
   caller learns about it as an outcome. */
static void drop_oom(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);

  timer_disarm(c, t);
  if (t->state == TS_BLOCKED)
    detach_in_edges(c, idx);
  outcome_push(c, STRATA_CORE_OUTCOME_NOMEM, t, now,
               "out of memory in the scheduler core");
  cascade(c, idx, now, "was dropped (out of memory)");
  remember(c, idx, TS_DONE_FAIL);
}

static void expire(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);

  leave_state(c, idx);
  c->tiers[t->tier].st.hard_expiries++;
  outcome_push(c, STRATA_CORE_OUTCOME_EXPIRED, t, now,
               "hard deadline %lld cannot be met: now %lld + estimate %lu ms",
               (long long)t->deadline, (long long)now,
               (unsigned long)t->estimate);
  cascade(c, idx, now, "missed its hard deadline");
  remember(c, idx, TS_DONE_FAIL);
}

static void timer_fire(strata_core_t *c, uint32_t idx, int64_t now) {
  task_t *t = core_task(c, idx);

  if (t->state == TS_DELAYED && now >= t->since) {
    if (make_ready(c, idx, now)) {
      drop_oom(c, idx, now);
      return;
    }
    if (t->dnode != CORE_NIL) {
      dnode_t *d = core_dnode(c, t->dnode);
      tier_t *tr = &c->tiers[t->tier];
      if (d->unblocked_at != INT64_MIN && d->unblock_latency < 0) {
        d->unblock_latency = now - d->unblocked_at;
        tr->st.unblocked++;
        tr->st.unblock_latency_sum_ms += d->unblock_latency;
        if (d->unblock_latency > tr->st.unblock_latency_max_ms)
          tr->st.unblock_latency_max_ms = d->unblock_latency;
      }
    }
  }
  if (!(t->flags & TF_HARD) || t->state > TS_DELAYED)
    return;
  if (now >= hard_expiry_at(t)) {
    expire(c, idx, now);
    return;
  }
  if (timer_arm(c, idx,
                t->state == TS_DELAYED ? t->since : hard_expiry_at(t))) {
    if (t->state == TS_READY)
      leave_ready(c, idx, 0);
    drop_oom(c, idx, now);
  }
}

static void run_timers(strata_core_t *c, int64_t now) {
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

static int64_t clamp_now(strata_core_t *c, int64_t now) {
  if (now > c->now)
    c->now = now;
  return c->now;
}

/* ------------------------------------------------------------------------ */
/* Submission                                                               */
/* ------------------------------------------------------------------------ */

/* Breadth-first walk from `x` over "is awaited by" edges. A dependency of x
   marked TF_TARGET that is reached waits (transitively) on x: a cycle. The
   path is spelled in the "depends on" direction into errstr. */
static strata_err_t check_cycle(strata_core_t *c, uint32_t x, char *errstr,
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

static strata_err_t check_spec(strata_core_t *c,
                               const strata_core_task_spec_t *s, int64_t now,
                               uint16_t *pool_ids, char *errstr, size_t size) {
  size_t len;

  (void)now;
  if (!s->id || (len = strnlen(s->id, STRATA_CORE_ID_MAX + 1)) == 0 ||
      len > STRATA_CORE_ID_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "id must be 1..%d bytes", STRATA_CORE_ID_MAX);
  if (s->tier >= c->ntiers)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "task %s: tier %u does not exist (%u tiers)", s->id,
                       (unsigned)s->tier, (unsigned)c->ntiers);
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
    uint32_t di = core_find(c, s->deps[i], strlen(s->deps[i]));
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
   flags, demands, tier, priority, estimate, cookie, enqueue time and the
   effective deadline (a tier's target wait after max(now, not_before) when
   the spec has none). A filled placeholder starts clean. STRATA_ERR_NOMEM
   when out-of-line demands cannot be allocated (nothing else changed). */
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
  *existing = find_hashed(c, id, len, h);
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
  tier_t *tr;

  now = clamp_now(c, now);
  err = check_spec(c, s, now, pool_ids, errstr, size);
  if (err)
    return err;
  if ((err = id_free(c, s->id, len, h, &existing, &recent, errstr, size)))
    return err;
  if (recent >= 0)
    recent_remove(c, (uint32_t)recent); /* a failed id may run again */

  /* Resolve dependencies without changing anything yet. */
  for (size_t i = 0; i < s->ndeps; i++) {
    size_t dl = strlen(s->deps[i]);
    uint32_t di = core_find(c, s->deps[i], dl);
    task_t *dt;
    if (di == CORE_NIL) {
      int64_t pos =
          recent_find(c, s->deps[i], dl, core_id_hash(s->deps[i], dl));
      if (pos < 0)
        nunknown++;
      else if (!c->rring[pos].ok && !failed_dep)
        failed_dep = s->deps[i];
      continue;
    }
    dt = core_task(c, di);
    if (dt->flags & TF_TARGET)
      continue;
    if (dt->state == TS_DONE_FAIL) {
      if (!failed_dep)
        failed_dep = s->deps[i];
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
    ntargets++;
  }
  if (c->held + (existing == CORE_NIL) + nunknown > c->cfg.max_tasks) {
    clear_targets(c, s);
    return strata_errf(
        STRATA_ERR_FULL, errstr, size, "core holds %llu of at most %llu tasks",
        (unsigned long long)c->held, (unsigned long long)c->cfg.max_tasks);
  }
  if (existing != CORE_NIL && ntargets) {
    err = check_cycle(c, existing, errstr, size);
    if (err) {
      clear_targets(c, s);
      return err;
    }
  }

  /* Commit. */
  if (existing == CORE_NIL) {
    idx = task_alloc(c, s->id, len, h);
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
      task_release(c, idx);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "task %s: out of memory",
                       s->id);
  }
  tr = &c->tiers[s->tier];
  t->since = s->not_before; /* the not-before time until the task is ready */
  set_state(c, t, TS_BLOCKED);
  tr->st.submitted++;

  /* Edges; placeholders for dependencies not seen yet. */
  for (size_t i = 0; i < s->ndeps; i++) {
    size_t dl = strlen(s->deps[i]);
    uint32_t di = core_find(c, s->deps[i], dl);
    task_t *dt;
    if (di == CORE_NIL) {
      if (recent_find(c, s->deps[i], dl, core_id_hash(s->deps[i], dl)) >= 0)
        continue; /* done already */
      di = task_alloc(c, s->deps[i], dl, core_id_hash(s->deps[i], dl));
      if (di == CORE_NIL)
        goto oom;
      dt = core_task(c, di);
      set_state(c, dt, TS_PLACEHOLDER);
      dt->flags |= TF_TARGET;
    } else {
      dt = core_task(c, di);
      if (!(dt->flags & TF_TARGET))
        continue; /* done already, or a duplicate */
    }
    dt->flags &= (uint8_t)~TF_TARGET;
    if (edge_add(c, idx, di))
      goto oom;
  }
  clear_targets(c, s);

  if (failed_dep) {
    leave_state(c, idx);
    tr->st.dep_failures++;
    outcome_push(c, STRATA_CORE_OUTCOME_DEP_FAILED, t, now,
                 "dependency %s failed", failed_dep);
    cascade(c, idx, now, "failed");
    remember(c, idx, TS_DONE_FAIL);
    return STRATA_OK;
  }
  if ((t->flags & TF_HARD) &&
      (now >= hard_expiry_at(t) || s->not_before >= hard_expiry_at(t))) {
    expire(c, idx, now);
    return STRATA_OK;
  }
  if (t->dnode != CORE_NIL && core_dnode(c, t->dnode)->nwait > 0) {
    if ((t->flags & TF_HARD) && timer_arm(c, idx, hard_expiry_at(t)))
      goto oom;
    return STRATA_OK;
  }
  route_unblocked(c, idx, now);
  return STRATA_OK;

oom:
  clear_targets(c, s);
  drop_oom(c, idx, now);
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

/* Batches are taken in groups of this many: enough loads in flight to
   cover the memory latency, few enough that they are still cached when
   used. */
#define BATCH_GROUP 32

size_t strata_core_submit_batch(strata_core_t *c,
                                const strata_core_task_spec_t *specs, size_t n,
                                strata_epoch_ms_t now, strata_err_t *errs,
                                char *errstr, size_t size) {
  uint32_t hs[BATCH_GROUP];
  size_t lens[BATCH_GROUP], ok = 0;
  char scratch[256];
  int failed = 0;

  if (!c || (n && !specs)) {
    for (size_t i = 0; errs && i < n; i++)
      errs[i] = STRATA_ERR_INVALID_ARG;
    strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                "core and specs are required");
    return 0;
  }
  for (size_t g = 0; g < n; g += BATCH_GROUP) {
    size_t m = n - g < BATCH_GROUP ? n - g : BATCH_GROUP;
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
  now = clamp_now(c, now);
  err = check_spec(c, &spec, now, pool_ids, errstr, size);
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
    idx = task_alloc(c, s->id, len, h);
    if (idx == CORE_NIL)
      return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                         "task %s: out of memory", s->id);
    if (recent >= 0)
      recent_remove(c, (uint32_t)recent); /* a failed id may run again */
  }
  t = core_task(c, idx);
  if (task_fill(c, t, &spec, pool_ids, now)) {
    if (existing == CORE_NIL)
      task_release(c, idx);
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
  set_state(c, t, TS_RUNNING);
  t->since = now;
  tr->st.adopted++;
  return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* The dispatch decision                                                    */
/* ------------------------------------------------------------------------ */

/* Whether all of the task's demands fit now. On failure reports the first
   pool that does not fit and the earliest time all of them may fit. */
static int task_fits(strata_core_t *c, const task_t *t, int64_t now, int *pool,
                     int64_t *until) {
  const demand_t *d = task_demands(t);
  int ok = 1;

  *until = now;
  for (uint32_t i = 0; i < t->ndemand; i++) {
    int64_t u;
    if (!pool_fits(&c->pools[d[i].pool], d[i].amount, now, &u)) {
      if (ok)
        *pool = d[i].pool;
      ok = 0;
      if (u > *until)
        *until = u;
    }
  }
  return ok;
}

/* How a decision was taken; decides how it is charged (charge()). */
enum {
  PICK_SHARE, /* the tier was owed its share */
  PICK_LENT,  /* nobody was owed: the most urgent task got the decision */
  PICK_AGED,  /* the starvation bound, ahead of the shares, within the cap */
  PICK_URGENT /* a hard deadline about to be lost, ahead of the shares */
};

static int64_t task_cost(const strata_core_t *c, const task_t *t) {
  if (c->cfg.charge_by_estimate && t->estimate > 0)
    return t->estimate < COST_MAX ? (int64_t)t->estimate : COST_MAX;
  return c->cfg.unknown_estimate_ms;
}

/* Rebases every virtual time when vtime grows large, so passes never
   overflow. Tiers far behind (idle) are clamped at 0: they restart at
   vtime when they become backlogged anyway. */
static void vt_rebase(strata_core_t *c) {
  uint64_t off = c->vtime - (VT_RENORM >> 1);

  c->vtime -= off;
  for (uint32_t i = 0; i < c->ntiers; i++)
    c->tiers[i].pass = c->tiers[i].pass > off ? c->tiers[i].pass - off : 0;
}

/* Charges a dispatch of `cost` ms to its tier and advances virtual time.
   A tier's pass grows by cost / weight, vtime by cost / Σweight, so a tier
   whose pass keeps up with vtime has had exactly weight / Σweight of the
   dispatched cost, and a tier behind vtime is owed.
   - Lent decisions are beyond the share and are not held against the tier
     later: its pass restarts from vtime (no debt), else a tier that was lent
     a quiet system's capacity would be refused its share when the others
     come back.
   - Aged decisions are held against the tier's share (debt), bounded by
     COST_MAX of its own work so the debt cannot grow without limit. */
static void charge(strata_core_t *c, tier_t *tr, int64_t cost, int how) {
  uint64_t ch = ((uint64_t)cost << VT_SHIFT) / tr->weight;

  if (how == PICK_LENT && tr->pass > c->vtime)
    tr->pass = c->vtime;
  tr->pass += ch;
  if (how == PICK_AGED) {
    uint64_t cap = c->vtime + ((uint64_t)COST_MAX << VT_SHIFT) / tr->weight;
    if (tr->pass > cap)
      tr->pass = cap;
    c->age_credit -= cost * 100;
  }
  c->vtime += ((uint64_t)cost << VT_SHIFT) / c->weight_sum;
  c->age_credit += cost * (int64_t)c->cfg.aging_max_share_pct;
  if (c->age_credit > c->age_credit_max)
    c->age_credit = c->age_credit_max;
  if (c->vtime > VT_RENORM)
    vt_rebase(c);
}

/* `popped`: the task's heap entry was already removed (else it turns
   stale). */
static void dispatch(strata_core_t *c, uint32_t idx, int64_t now, int how,
                     int aged, int popped, strata_core_dispatch_t *out) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];
  const demand_t *d = task_demands(t);

  for (uint32_t i = 0; i < t->ndemand; i++)
    pool_take(&c->pools[d[i].pool], d[i].amount);
  leave_ready(c, idx, popped);
  timer_disarm(c, t);
  /* A new generation per dispatch makes the handle name this dispatch
     only; a timer entry of the task is already stale (disarmed above). */
  t->gen++;
  out->handle = ((uint64_t)t->gen << 32) | idx;
  out->id = task_id(t);
  out->cookie = t->cookie;
  out->tier = t->tier;
  out->priority = t->priority;
  out->deadline_kind = (t->flags & TF_HARD)   ? STRATA_CORE_DEADLINE_HARD
                       : (t->flags & TF_SOFT) ? STRATA_CORE_DEADLINE_SOFT
                                              : STRATA_CORE_DEADLINE_NONE;
  out->deadline = t->deadline;
  out->estimate_ms = t->estimate;
  out->submitted_at = t->t_enq;
  out->ready_at = t->since;
  out->wait_ms = now - t->since;
  out->unblock_latency_ms =
      t->dnode != CORE_NIL ? core_dnode(c, t->dnode)->unblock_latency : -1;
  out->soft_missed =
      (t->flags & TF_SOFT) && now + (int64_t)t->estimate > t->deadline;
  out->aged = aged;
  out->lent = how == PICK_LENT;
  out->urgent = how == PICK_URGENT;
  if (out->soft_missed)
    tr->st.soft_misses++;
  if (aged)
    tr->st.aged_dispatches++;
  if (how == PICK_LENT)
    tr->st.lent_dispatches++;
  if (how == PICK_URGENT)
    tr->st.urgent_dispatches++;
  tr->st.dispatched++;
  charge(c, tr, task_cost(c, t), how);
  set_state(c, t, TS_RUNNING);
  t->since = now;
  c->decisions++;
}

static int overdue(const strata_core_t *c, const task_t *t, int64_t now) {
  return c->cfg.starvation_bound_ms > 0 &&
         now - t->since >= c->cfg.starvation_bound_ms;
}

/* The starvation rule across tiers: among ready tasks that have waited at
   least the bound, the oldest admissible one (looking at up to K per tier)
   goes first. Only called while the aging cap has credit. */
static uint32_t pick_aged(strata_core_t *c, int64_t now) {
  int64_t best_since = 0;
  uint32_t best = CORE_NIL;

  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    uint32_t i = c->tiers[ti].fhead;
    if (c->paused & (1u << ti))
      continue;
    for (uint32_t k = 0; k < c->cfg.lookahead && i != CORE_NIL; k++) {
      task_t *t = core_task(c, i);
      int pool;
      int64_t until;
      if (!overdue(c, t, now))
        break;
      if (best != CORE_NIL && t->since >= best_since)
        break;
      if (task_fits(c, t, now, &pool, &until)) {
        best = i;
        best_since = t->since;
        break;
      }
      i = t->fnext;
    }
  }
  return best;
}

/* Drops stale entries from the top of a tier's ready queue; returns the
   entry of its most urgent ready task, or NULL. */
static const heap_ent_t *tier_head(strata_core_t *c, tier_t *tr) {
  rq_t *q = &tr->rq;
  const heap_ent_t *e;

  while ((e = rq_top(q)) && !ready_live(c, e)) {
    rq_pop(q);
    if (q->stale)
      q->stale--;
  }
  return e;
}

static int64_t tier_head_key(strata_core_t *c, tier_t *tr) {
  const heap_ent_t *e = tier_head(c, tr);
  return e ? e->key : INT64_MAX;
}

/* Looks at up to K most urgent tasks of one tier and takes the first that
   fits its pools; the others go back unchanged (same key, same seq). Keeps
   the tier's head-blocked report current. */
static uint32_t pick_in_tier(strata_core_t *c, tier_t *tr, int64_t now) {
  heap_ent_t skipped[LOOKAHEAD_MAX];
  rq_t *q = &tr->rq;
  uint32_t j = 0, chosen = CORE_NIL, kmax = c->cfg.lookahead;

  /* Skipped entries go back into the queue's insertion heap: make room
     first, so putting them back cannot fail. Out of memory, look at the
     head only (it need not leave the queue, see below). */
  if (heap_reserve(&q->buf, q->buf.n + kmax))
    kmax = 1;
  while (j < kmax && q->n) {
    heap_ent_t e = *rq_top(q);
    int pool = -1;
    int64_t until;
    if (!ready_live(c, &e)) {
      rq_pop(q);
      if (q->stale)
        q->stale--;
      continue;
    }
    if (task_fits(c, core_task(c, e.idx), now, &pool, &until)) {
      const heap_ent_t *next;
      chosen = e.idx;
      rq_pop(q);
      /* The next heads are likely the next decisions here: start their
         cache misses now so they overlap with other work. */
      if ((next = rq_top(q)) != NULL)
        __builtin_prefetch(core_task(c, next->idx));
      if ((next = rq_ahead(q, RQ_PREFETCH)) != NULL)
        __builtin_prefetch(core_task(c, next->idx));
      break;
    }
    if (j == 0) {
      if (!tr->st.head_blocked || tr->st.blocked_pool != pool)
        tr->st.blocked_since = now;
      tr->st.head_blocked = 1;
      tr->st.blocked_pool = pool;
      tr->st.blocked_until = until;
    }
    if (j + 1 == kmax)
      break; /* the last one examined: no need to look past it */
    skipped[j++] = e;
    rq_pop(q);
  }
  if (chosen != CORE_NIL && j == 0)
    tier_clear_blocked(tr);
  for (uint32_t k = 0; k < j; k++)
    rq_reinsert(q, &skipped[k]);
  return chosen;
}

/* Serves tier `ti`, chosen by `how`: its oldest task first if that one is
   overdue and fits (aging inside the share), else its most urgent task that
   fits. Returns 0 when nothing of the tier fits now. */
static int serve_tier(strata_core_t *c, uint32_t ti, int64_t now, int how,
                      strata_core_dispatch_t *out) {
  tier_t *tr = &c->tiers[ti];
  uint32_t idx;

  if (how == PICK_SHARE && tr->fhead != CORE_NIL) {
    task_t *t = core_task(c, tr->fhead);
    int pool;
    int64_t until;
    if (overdue(c, t, now) && task_fits(c, t, now, &pool, &until)) {
      dispatch(c, tr->fhead, now, how, 1, 0, out);
      rq_compact(c, &tr->rq);
      return 1;
    }
  }
  idx = pick_in_tier(c, tr, now);
  if (idx == CORE_NIL)
    return 0;
  dispatch(c, idx, now, how, 0, 1, out);
  rq_compact(c, &tr->rq);
  return 1;
}

int strata_core_next(strata_core_t *c, strata_epoch_ms_t now,
                     strata_core_dispatch_t *out) {
  uint32_t tried;

  if (!c || !out)
    return 0;
  tried = c->paused; /* a paused tier is never tried */
  now = clamp_now(c, now);
  run_timers(c, now);

  /* 1. Aging across tiers, within its cap. */
  if (c->cfg.starvation_bound_ms > 0 && c->age_credit >= 0) {
    uint32_t idx = pick_aged(c, now);
    if (idx != CORE_NIL) {
      uint32_t ti = core_task(c, idx)->tier;
      dispatch(c, idx, now, PICK_AGED, 1, 0, out);
      rq_compact(c, &c->tiers[ti].rq);
      return 1;
    }
  }

  /* 2. Urgency override: a tier whose most urgent task has a hard deadline
     it is about to lose goes ahead of the shares, charged to its own pass,
     while that pass is less than the horizon's worth of its own work ahead
     of virtual time (so the override cannot take the others' shares for
     long). The most urgent such task of all tiers goes first. */
  if (c->cfg.urgency_horizon_ms > 0) {
    uint32_t bi = CORE_NIL;
    int64_t bk = INT64_MAX;
    for (uint32_t ti = 0; ti < c->ntiers; ti++) {
      tier_t *tr = &c->tiers[ti];
      const heap_ent_t *e;
      int64_t k;
      if (!tr->nready)
        continue;
      if (tr->pass >= c->vtime + tr->urgent_lead)
        continue;
      e = tier_head(c, tr);
      if (!e)
        continue;
      k = e->key;
      if (k > now + c->cfg.urgency_horizon_ms || k >= bk ||
          !(core_task(c, e->idx)->flags & TF_HARD))
        continue;
      bi = ti;
      bk = k;
    }
    if (bi != CORE_NIL) {
      tried |= 1u << bi;
      if (serve_tier(c, bi, now, PICK_URGENT, out))
        return 1;
    }
  }

  /* 3. Shares: a backlogged tier behind virtual time is owed; the one
     furthest behind goes first. A tier whose candidates all wait on pools
     yields to the next. */
  for (;;) {
    uint32_t bi = CORE_NIL;
    for (uint32_t ti = 0; ti < c->ntiers; ti++) {
      tier_t *tr = &c->tiers[ti];
      if (!tr->nready || (tried & (1u << ti)) || tr->pass >= c->vtime)
        continue;
      if (bi == CORE_NIL || tr->pass < c->tiers[bi].pass)
        bi = ti;
    }
    if (bi == CORE_NIL)
      break;
    tried |= 1u << bi;
    if (serve_tier(c, bi, now, PICK_SHARE, out))
      return 1;
  }

  /* 4. Lending: nobody is owed, so the decision goes to the most urgent
     ready task of any tier (smallest key; ties to the smaller pass, then
     the lower tier). */
  for (;;) {
    uint32_t bi = CORE_NIL;
    int64_t bk = INT64_MAX;
    for (uint32_t ti = 0; ti < c->ntiers; ti++) {
      tier_t *tr = &c->tiers[ti];
      int64_t k;
      if (!tr->nready || (tried & (1u << ti)))
        continue;
      k = tier_head_key(c, tr);
      if (bi == CORE_NIL || k < bk ||
          (k == bk && tr->pass < c->tiers[bi].pass)) {
        bi = ti;
        bk = k;
      }
    }
    if (bi == CORE_NIL)
      return 0;
    tried |= 1u << bi;
    if (serve_tier(c, bi, now, PICK_LENT, out))
      return 1;
  }
}

/* ------------------------------------------------------------------------ */
/* Completion, cancellation, outcomes                                       */
/* ------------------------------------------------------------------------ */

/* Completes the RUNNING task `idx` (found by id or by handle). */
static strata_err_t complete_running(strata_core_t *c, uint32_t idx,
                                     strata_core_result_t result,
                                     const strata_core_usage_t *usage,
                                     size_t nusage, int64_t now, char *errstr,
                                     size_t size) {
  int upool[STRATA_CORE_MAX_POOLS];
  task_t *t = core_task(c, idx);
  const char *id = task_id(t);
  const demand_t *d;

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

  /* Release and reconcile. */
  d = task_demands(t);
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

  switch (result) {
  case STRATA_CORE_SUCCEEDED:
    resolve_success(c, idx, now);
    remember(c, idx, TS_DONE_OK);
    break;
  case STRATA_CORE_FAILED_RETRY:
    if (t->dnode != CORE_NIL && core_dnode(c, t->dnode)->out_head != CORE_NIL) {
      /* Dependents keep waiting for the retry, which fills this record. */
      task_drop_demands(t);
      t->flags &= (uint8_t)(TF_ID_EXT);
      set_state(c, t, TS_PLACEHOLDER);
    } else {
      task_release(c, idx);
    }
    break;
  case STRATA_CORE_CANCELLED:
    c->tiers[t->tier].st.cancelled++;
    cascade(c, idx, now, "was cancelled");
    remember(c, idx, TS_DONE_FAIL);
    break;
  default:
    cascade(c, idx, now, "failed");
    remember(c, idx, TS_DONE_FAIL);
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
  now = clamp_now(c, now);
  idx = core_find(c, id, strnlen(id, STRATA_CORE_ID_MAX + 1));
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
  now = clamp_now(c, now);
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
  for (size_t g = 0; g < n; g += BATCH_GROUP) {
    size_t m = n - g < BATCH_GROUP ? n - g : BATCH_GROUP;
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
  now = clamp_now(c, now);
  idx = core_find(c, id, len);
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
    resolve_success(c, idx, now);
    remember(c, idx, TS_DONE_OK);
    return STRATA_OK;
  case TS_DONE_FAIL:
    return STRATA_ERR_STATE;
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
  now = clamp_now(c, now);
  if (reason && *reason)
    snprintf(what, sizeof(what), "failed: %s", reason);
  else
    snprintf(what, sizeof(what), "failed");
  idx = core_find(c, id, len);
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
    cascade(c, idx, now, what);
    remember(c, idx, TS_DONE_FAIL);
    return STRATA_OK;
  case TS_DONE_FAIL:
    return STRATA_OK; /* already failed; its waiters were failed then */
  default:
    return STRATA_ERR_STATE;
  }
}

strata_err_t strata_core_cancel(strata_core_t *c, const char *id,
                                strata_epoch_ms_t now) {
  uint32_t idx, tier;
  task_t *t;

  if (!c || !id)
    return STRATA_ERR_INVALID_ARG;
  now = clamp_now(c, now);
  idx = core_find(c, id, strnlen(id, STRATA_CORE_ID_MAX + 1));
  if (idx == CORE_NIL)
    return STRATA_ERR_NOT_FOUND;
  t = core_task(c, idx);
  if (t->state == TS_RUNNING)
    return STRATA_ERR_STATE;
  if (t->state > TS_RUNNING)
    return STRATA_ERR_NOT_FOUND;
  tier = t->tier;
  leave_state(c, idx);
  c->tiers[tier].st.cancelled++;
  cascade(c, idx, now, "was cancelled");
  remember(c, idx, TS_DONE_FAIL);
  rq_compact(c, &c->tiers[tier].rq);
  return STRATA_OK;
}

size_t strata_core_poll_outcomes(strata_core_t *c, strata_epoch_ms_t now,
                                 strata_core_outcome_t *out, size_t max) {
  size_t n = 0;

  if (!c)
    return 0;
  run_timers(c, clamp_now(c, now));
  while (n < max && c->out_n) {
    outcome_int_t *o = &c->out[c->out_head];
    strata_core_outcome_t *r = &out[n++];
    r->kind = o->kind;
    snprintf(r->id, sizeof(r->id), "%s", o->id);
    snprintf(r->reason, sizeof(r->reason), "%s", o->reason);
    r->cookie = o->cookie;
    r->tier = o->tier;
    r->at = o->at;
    free(o->id);
    free(o->reason);
    c->out_head++;
    c->out_n--;
  }
  if (!c->out_n)
    c->out_head = 0;
  return n;
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
