/*
 * The scheduler core: creating and destroying a core, its configuration
 * (defaults, validation), tiers (lookup, pause), lanes (room) and resource
 * pools (adding, lookup, state).
 *
 * A task moves READY / BLOCKED / DELAYED -> RUNNING -> gone, or leaves early
 * by cancel, hard-deadline expiry or a failed dependency. Tasks awaited by
 * others but not yet submitted exist as PLACEHOLDER records; completed ids
 * are remembered for a while (recent.c) so late dependents resolve. The
 * state machine is in the files named for its parts: submit.c (tasks in),
 * select.c (the dispatch decision), complete.c (tasks out), deps.c (the
 * dependency graph), state.c (ready queues and timers), ids.c (records and
 * the id table), outcome.c (the outcome queue). docs/CORE.md states the
 * policy; the comments say why the code is shaped the way it is.
 *
 * Invariants (besides those in core_int.h):
 * - The configuration is checked once, in strata_core_new(), and does not
 *   change afterwards: the tiers and their weights are fixed, so each
 *   tier's urgent_lead is a constant.
 * - A tier that resumes from a pause has pass >= vtime, as a tier that
 *   returns from idle: paused time is neither owed nor lent.
 * - Pools are added, never removed, so a pool id stays valid.
 * - Every tier has a ready queue for each of the nlanes lanes, from
 *   strata_core_new() to strata_core_destroy().
 */
#include "core_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_UNKNOWN_ESTIMATE 1000
#define DEFAULT_AGING_SHARE 10
#define DURATION_LIMIT (INT64_C(1) << 40)

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
  cfg->lanes = 1;
  cfg->deadlines_first = 1;
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
  if (cfg->lookahead < 1 || cfg->lookahead > CORE_LOOKAHEAD_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "lookahead must be 1..%d, got %u", CORE_LOOKAHEAD_MAX,
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
  if (cfg->unknown_estimate_ms < 0 || cfg->unknown_estimate_ms > CORE_COST_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "unknown_estimate_ms must be 0..2^24");
  if (cfg->urgency_horizon_ms < 0 || cfg->urgency_horizon_ms > CORE_COST_MAX)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "urgency_horizon_ms must be 0..2^24");
  if (cfg->aging_max_share_pct > 100)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "aging_max_share_pct must be 0..100, got %u",
                       (unsigned)cfg->aging_max_share_pct);
  if (cfg->lanes < 1 || cfg->lanes > STRATA_CORE_MAX_LANES)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "lanes must be 1..%d, got %u", STRATA_CORE_MAX_LANES,
                       (unsigned)cfg->lanes);
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
  c->nlanes = cfg->lanes;
  for (uint32_t l = 0; l < c->nlanes; l++)
    c->room[l] = STRATA_CORE_UNLIMITED;
  c->lane_open = (uint32_t)((UINT64_C(1) << c->nlanes) - 1);
  if (!c->cfg.unknown_estimate_ms)
    c->cfg.unknown_estimate_ms = DEFAULT_UNKNOWN_ESTIMATE;
  if (!c->cfg.aging_max_share_pct)
    c->cfg.aging_max_share_pct = DEFAULT_AGING_SHARE;
  /* The aging cap may bank at most one bound's worth of cost (at least one
     task without an estimate), so a quiet spell cannot save up a flood. */
  c->age_credit_max = c->cfg.starvation_bound_ms > c->cfg.unknown_estimate_ms
                          ? c->cfg.starvation_bound_ms
                          : c->cfg.unknown_estimate_ms;
  if (c->age_credit_max > CORE_COST_MAX)
    c->age_credit_max = CORE_COST_MAX;
  c->age_credit_max *= 100;
  c->age_credit = c->age_credit_max;
  for (uint32_t i = 0; i < c->ntiers; i++) {
    tier_t *t = &c->tiers[i];
    snprintf(t->name, sizeof(t->name), "%s", cfg->tiers[i].name);
    t->weight = cfg->tiers[i].weight;
    t->target_wait = cfg->tiers[i].target_wait_ms;
    t->vt_per_ms = (UINT64_C(1) << CORE_VT_SHIFT) / t->weight;
    t->defer_lag = ((uint64_t)(t->target_wait < CORE_COST_MAX ? t->target_wait
                                                              : CORE_COST_MAX)
                    << CORE_VT_SHIFT) /
                   t->weight;
    t->urgent_lead =
        ((uint64_t)c->cfg.urgency_horizon_ms << CORE_VT_SHIFT) / t->weight;
    c->weight_sum += t->weight;
    t->rq = malloc(c->nlanes * sizeof(*t->rq));
    if (!t->rq)
      goto nomem;
    for (uint32_t l = 0; l < c->nlanes; l++)
      rq_init(&t->rq[l]);
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
  for (uint32_t i = 0; i < c->ntiers; i++) {
    tier_t *tr = &c->tiers[i];
    if (!tr->rq)
      continue; /* construction ran out of memory before this tier */
    for (uint32_t l = 0; l < c->nlanes; l++)
      rq_free(&tr->rq[l]);
    free(tr->rq);
  }
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

/* ------------------------------------------------------------------------ */
/* Tiers                                                                    */
/* ------------------------------------------------------------------------ */

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
/* Lanes                                                                    */
/* ------------------------------------------------------------------------ */

/* The decision layer sets the room every turn from its dispatch window, so
   setting it replaces what is left rather than adding to it.

   A tier whose ready tasks all wait in lanes without room is, for the
   shares, like an idle tier: when a lane opens and gives it something to
   run again, its pass restarts from vtime (as in state_make_ready()). Why
   not let it bank the time, as a tier whose heads wait on pools does: a
   lane may stay closed for long (its workers busy or gone), and the banked
   share would come back as a burst that holds every other tier's tasks of
   that lane back until it is paid. */
strata_err_t strata_core_lane_room(strata_core_t *c, uint32_t lane,
                                   uint64_t room) {
  uint32_t bit;

  if (!c || lane >= c->nlanes)
    return STRATA_ERR_INVALID_ARG;
  bit = 1u << lane;
  c->room[lane] = room;
  if (!room) {
    c->lane_open &= ~bit;
    return STRATA_OK;
  }
  if (!(c->lane_open & bit)) {
    for (uint32_t i = 0; i < c->ntiers; i++) {
      tier_t *tr = &c->tiers[i];
      if ((tr->busy & bit) && !tier_open_lanes(c, tr) && tr->pass < c->vtime)
        tr->pass = c->vtime;
    }
    c->lane_open |= bit;
  }
  return STRATA_OK;
}

uint64_t strata_core_lane_room_left(const strata_core_t *c, uint32_t lane) {
  return c && lane < c->nlanes ? c->room[lane] : 0;
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
  /* The first byte decides most mismatches without a call (every demand
     of every submission comes through here). */
  for (uint32_t i = 0; i < c->npools; i++)
    if (c->pools[i].name[0] == name[0] && !strcmp(c->pools[i].name, name))
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
