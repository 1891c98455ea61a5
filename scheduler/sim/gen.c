/*
 * The workload generator: builds a workload in memory from (family, seed),
 * so the tournament can run the policies on many workloads nobody tuned the
 * policy for. Each family is a shape (flash crowd, sustained overload,
 * estimate errors, deep backlog, LLM quota squeeze); the seed draws its
 * parameters (loads, deadlines, run times, which class mis-estimates, …)
 * from the ranges stated in docs/SIMULATOR.md.
 *
 * Invariants:
 *  - Same (family, seed, duration) gives the same workload, field for field:
 *    every parameter is drawn from one stream seeded by (seed, family), in a
 *    fixed order, and nothing else is read.
 *  - The workload's own seed is `seed`, so the tasks drawn from it by
 *    strata_sim_run() follow from (family, seed) too.
 *  - The offered utilisation of a family's steady classes (every class but
 *    the one named "backlog") lies in the family's stated range,
 *    strata_sim_family_load_range(): rates are scaled to a drawn target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define GEN_WORKERS 16
#define GEN_STREAM 0x9e3779b9u /* stream of the parameters, per family */

static const char *const family_names[STRATA_SIM_NFAMILIES] = {
    "flash", "overload", "estimate", "backlog", "llm"};

/* Offered utilisation (worker time, actual run times) of the steady
 * classes. */
static const double load_lo[STRATA_SIM_NFAMILIES] = {0.6, 0.9, 1.0, 0.6, 0.5};
static const double load_hi[STRATA_SIM_NFAMILIES] = {1.0, 1.6, 1.6, 0.9, 0.9};

int strata_sim_family_parse(const char *name, strata_sim_family_t *out) {
  for (int i = 0; i < STRATA_SIM_NFAMILIES; i++)
    if (!strcmp(name, family_names[i])) {
      *out = (strata_sim_family_t)i;
      return 0;
    }
  return -1;
}

const char *strata_sim_family_name(strata_sim_family_t f) {
  return (unsigned)f < STRATA_SIM_NFAMILIES ? family_names[f] : "?";
}

void strata_sim_family_load_range(strata_sim_family_t f, double *lo,
                                  double *hi) {
  *lo = load_lo[f];
  *hi = load_hi[f];
}

static strata_sim_dist_t d_const(double v) {
  return (strata_sim_dist_t){STRATA_SIM_DIST_CONSTANT, v, 0};
}
static strata_sim_dist_t d_uni(double a, double b) {
  return (strata_sim_dist_t){STRATA_SIM_DIST_UNIFORM, a, b};
}
static strata_sim_dist_t d_exp(double m) {
  return (strata_sim_dist_t){STRATA_SIM_DIST_EXPONENTIAL, m, 0};
}
static strata_sim_dist_t d_logn(double m, double s) {
  return (strata_sim_dist_t){STRATA_SIM_DIST_LOGNORMAL, m, s};
}

static double uni(strata_sim_rng_t *r, double a, double b) {
  return a + (b - a) * strata_sim_rng_unit(r);
}

/* The default five tiers: what the core ships with. */
static void default_tiers(strata_sim_workload_t *wl) {
  static const struct {
    const char *name;
    uint32_t weight;
    int64_t target;
  } t[] = {{"critical", 40, 1000},
           {"high", 25, 5000},
           {"normal", 20, 30000},
           {"low", 10, 120000},
           {"background", 5, 600000}};

  for (size_t i = 0; i < 5; i++) {
    snprintf(wl->tiers[i].name, sizeof(wl->tiers[i].name), "%s", t[i].name);
    wl->tiers[i].weight = t[i].weight;
    wl->tiers[i].target_wait_ms = t[i].target;
  }
  wl->ntiers = 5;
}

/* A new class with one stage, estimates within ±20 %, no deadline. */
static strata_sim_class_t *add_class(strata_sim_workload_t *wl,
                                     const char *name, int tier, double rate,
                                     strata_sim_dist_t run) {
  strata_sim_class_t *cl = &wl->classes[wl->nclasses++];

  memset(cl, 0, sizeof(*cl));
  snprintf(cl->name, sizeof(cl->name), "%s", name);
  cl->tier = tier;
  cl->rate_per_s = rate;
  cl->run_ms = run;
  cl->estimate_factor = d_uni(0.8, 1.2);
  cl->stages[0] = 1;
  cl->nstages = 1;
  return cl;
}

static void set_deadline(strata_sim_class_t *cl, strata_sim_dist_t rel,
                         double hard) {
  cl->has_deadline = 1;
  cl->deadline_ms = rel;
  cl->hard_share = hard;
}

static int is_backlog(const strata_sim_class_t *cl) {
  return !strcmp(cl->name, "backlog");
}

/* Utilisation of the classes `mask` selects (1 = steady, 2 = backlog). */
static double util_of(const strata_sim_workload_t *wl, int mask) {
  strata_sim_workload_t *tmp = malloc(sizeof(*tmp));
  double u;

  if (!tmp)
    return 0;
  memcpy(tmp, wl, sizeof(*tmp));
  tmp->nclasses = 0;
  for (size_t i = 0; i < wl->nclasses; i++)
    if ((is_backlog(&wl->classes[i]) ? 2 : 1) & mask)
      tmp->classes[tmp->nclasses++] = wl->classes[i];
  u = tmp->nclasses ? strata_sim_workload_utilisation(tmp) : 0;
  free(tmp);
  return u;
}

double strata_sim_workload_steady_utilisation(const strata_sim_workload_t *wl) {
  return util_of(wl, 1);
}

/* Scales the Poisson rates of the steady classes in [first, end) so that
 * the classes in it offer `target` (bursts are kept as they are). */
static void scale_to(strata_sim_workload_t *wl, size_t first, size_t end,
                     double target) {
  strata_sim_workload_t *tmp = malloc(sizeof(*tmp));
  double now, poisson = 0, rest;

  if (!tmp)
    return;
  memcpy(tmp, wl, sizeof(*tmp));
  tmp->nclasses = 0;
  for (size_t i = first; i < end; i++)
    tmp->classes[tmp->nclasses++] = wl->classes[i];
  now = strata_sim_workload_utilisation(tmp);
  for (size_t i = 0; i < tmp->nclasses; i++)
    tmp->classes[i].rate_per_s = 0;
  rest = strata_sim_workload_utilisation(tmp); /* bursts alone */
  poisson = now - rest;
  free(tmp);
  if (poisson <= 0)
    return;
  for (size_t i = first; i < end; i++)
    wl->classes[i].rate_per_s *= (target - rest) / poisson;
}

/* The backend mix shared by several families: critical payments (hard),
 * high notifications, normal webhooks (soft deadlines), low batches and
 * background aggregations (no deadline). */
static void backend_mix(strata_sim_workload_t *wl, strata_sim_rng_t *r,
                        int deadline_less_low) {
  strata_sim_class_t *cl;

  cl = add_class(wl, "payment", 0, 4, d_logn(uni(r, 60, 120), 0.4));
  set_deadline(cl, d_uni(uni(r, 800, 1500), uni(r, 2000, 4000)),
               uni(r, 0.7, 1.0));
  cl = add_class(wl, "notify", 1, 10, d_exp(uni(r, 100, 250)));
  set_deadline(cl, d_uni(uni(r, 2000, 4000), uni(r, 6000, 15000)),
               uni(r, 0.2, 0.5));
  cl = add_class(wl, "webhook", 2, 20, d_exp(uni(r, 200, 500)));
  set_deadline(cl, d_uni(uni(r, 8000, 20000), uni(r, 30000, 60000)), 0);
  cl = add_class(wl, "batch", 3, 1.5, d_uni(1000, uni(r, 2000, 4000)));
  if (!deadline_less_low)
    set_deadline(cl, d_uni(120000, 300000), 0);
  cl = add_class(wl, "aggregate", 4, 0.1, d_uni(8000, uni(r, 12000, 20000)));
}

/* Flash crowd: a steady mix, then at one random instant a crowd of
 * critical and high requests worth several seconds of every worker. */
static void gen_flash(strata_sim_workload_t *wl, strata_sim_rng_t *r) {
  double target = uni(r, load_lo[0], load_hi[0]);
  double crowd_s = uni(r, 2, 6); /* seconds of all workers */
  int64_t at = (int64_t)(uni(r, 0.2, 0.6) * (double)wl->duration_ms);
  strata_sim_class_t *cl;

  backend_mix(wl, r, 0);
  cl = add_class(wl, "crowd", (int)(strata_sim_rng_next(r) % 2), 0,
                 d_logn(uni(r, 80, 200), 0.5));
  set_deadline(cl, d_uni(uni(r, 1500, 3000), uni(r, 4000, 10000)),
               uni(r, 0.5, 1.0));
  cl->burst_every_ms = wl->duration_ms;
  cl->burst_start_ms = at;
  cl->burst_size = (uint32_t)(crowd_s * 1000.0 * GEN_WORKERS /
                              strata_sim_dist_mean(&cl->run_ms));
  /* The crowd counts toward the load at its average over the run: only
   * the Poisson rates are scaled. */
  scale_to(wl, 0, wl->nclasses, target);
}

/* Sustained overload: the deadline tiers need 45-60 % of the offered load
 * (about 80 % of the workers at 145 %), low and background have no
 * deadlines and take the rest. */
static void gen_overload(strata_sim_workload_t *wl, strata_sim_rng_t *r) {
  double target = uni(r, load_lo[1], load_hi[1]);
  double dshare = uni(r, 0.45, 0.6);

  backend_mix(wl, r, 1);
  scale_to(wl, 0, 3, target * dshare);
  scale_to(wl, 3, 5, target * (1 - dshare));
}

/* Estimate errors: one class of the high, normal or low tier runs 3x its
 * estimate, another has a heavy tail (lognormal, sigma 1.2-1.6) that the
 * estimate knows only on average. */
static void gen_estimate(strata_sim_workload_t *wl, strata_sim_rng_t *r) {
  double target = uni(r, load_lo[2], load_hi[2]);
  size_t under = 1 + (size_t)(strata_sim_rng_next(r) % 3);
  size_t tail = 1 + (under % 3);

  backend_mix(wl, r, 1);
  wl->classes[under].estimate_factor = d_uni(0.3, 0.36);
  wl->classes[tail].run_ms =
      d_logn(strata_sim_dist_mean(&wl->classes[tail].run_ms), uni(r, 1.2, 1.6));
  /* The estimate is the class mean, not the task's own run time. */
  wl->classes[tail].estimate_factor = d_uni(0.5, 1.5);
  scale_to(wl, 0, wl->nclasses, target);
}

/* Deep backlog: at 0 a burst of long deadline-less background tasks worth
 * 40-80 run lengths of every worker, then steady mixed traffic. */
static void gen_backlog(strata_sim_workload_t *wl, strata_sim_rng_t *r) {
  double target = uni(r, load_lo[3], load_hi[3]);
  strata_sim_class_t *cl;

  backend_mix(wl, r, 0);
  scale_to(wl, 0, wl->nclasses, target);
  cl = add_class(wl, "backlog", 4, 0, d_uni(12000, 15000));
  cl->burst_every_ms = wl->duration_ms;
  cl->burst_start_ms = 0;
  cl->burst_size = (uint32_t)(uni(r, 40, 80) * GEN_WORKERS);
}

/* LLM quota squeeze: agent workflows behind one provider's limits (the
 * token pool is demanded at 100-140 % of its rate), chains and DAGs with
 * fan-out and fan-in, the deadline on the leaf only. */
static void gen_llm(strata_sim_workload_t *wl, strata_sim_rng_t *r) {
  double target = uni(r, load_lo[4], load_hi[4]);
  double squeeze = uni(r, 1.0, 1.4);
  strata_sim_class_t *cl;
  double tokens_per_s = 0;

  snprintf(wl->pools[0].name, sizeof(wl->pools[0].name), "llm.tpm");
  wl->pools[0].cfg.kind = STRATA_CORE_POOL_TOKEN_BUCKET;
  wl->pools[0].cfg.period_ms = 60000;
  snprintf(wl->pools[1].name, sizeof(wl->pools[1].name), "tool.search");
  wl->pools[1].cfg.kind = STRATA_CORE_POOL_CONCURRENCY;
  wl->pools[1].cfg.limit = 8;
  wl->npools = 2;

  cl = add_class(wl, "chat", 0, 1, d_logn(uni(r, 600, 1200), 0.5));
  set_deadline(cl, d_uni(uni(r, 4000, 6000), uni(r, 8000, 15000)), 0.5);
  cl->stages[1] = 1;
  cl->nstages = 2;
  cl = add_class(wl, "triage", 1, 0.5, d_logn(uni(r, 800, 1500), 0.5));
  set_deadline(cl, d_uni(15000, uni(r, 25000, 45000)), 0.3);
  cl->stages[1] = 3;
  cl->stages[2] = 1;
  cl->nstages = 3;
  cl = add_class(wl, "codegen", 2, 0.2, d_logn(uni(r, 1500, 3000), 0.6));
  set_deadline(cl, d_uni(60000, 180000), 0);
  cl->stages[1] = 4;
  cl->stages[2] = 1;
  cl->stages[3] = 1;
  cl->nstages = 4;
  cl = add_class(wl, "enrich", 3, 1, d_logn(uni(r, 500, 1000), 0.5));
  cl = add_class(wl, "eval", 4, 0, d_uni(1000, 3000));
  cl->burst_every_ms = 60000;
  cl->burst_start_ms = (int64_t)uni(r, 5000, 30000);
  cl->burst_size = (uint32_t)uni(r, 30, 80);
  for (size_t i = 0; i < wl->nclasses; i++) {
    cl = &wl->classes[i];
    cl->deadline_leaf_only = 1;
    cl->demands[0].pool = 0;
    cl->demands[0].amount = d_uni(1000, uni(r, 3000, 8000));
    cl->demands[0].usage = d_uni(0.6, 1.1);
    cl->ndemands = 1;
    if (i == 1 || i == 3) { /* triage and enrichment search */
      cl->demands[1].pool = 1;
      cl->demands[1].amount = d_const(1);
      cl->demands[1].usage = d_const(1);
      cl->ndemands = 2;
    }
  }
  scale_to(wl, 0, wl->nclasses, target);
  for (size_t i = 0; i < wl->nclasses; i++) {
    double stages = 0;
    cl = &wl->classes[i];
    for (size_t s = 0; s < cl->nstages; s++)
      stages += cl->stages[s];
    tokens_per_s += (cl->rate_per_s + (cl->burst_every_ms
                                           ? (double)cl->burst_size * 1000.0 /
                                                 (double)cl->burst_every_ms
                                           : 0)) *
                    stages * strata_sim_dist_mean(&cl->demands[0].amount);
  }
  /* Reserved tokens per minute are `squeeze` times the rate. */
  wl->pools[0].cfg.rate = (int64_t)(tokens_per_s * 60.0 / squeeze);
  wl->pools[0].cfg.burst = wl->pools[0].cfg.rate / 10;
  if (wl->pools[0].cfg.burst < 20000)
    wl->pools[0].cfg.burst = 20000;
}

strata_sim_workload_t *strata_sim_workload_generate(strata_sim_family_t family,
                                                    uint64_t seed,
                                                    int64_t duration_ms,
                                                    char *errstr, size_t size) {
  strata_sim_workload_t *wl;
  strata_sim_rng_t r;

  if ((unsigned)family >= STRATA_SIM_NFAMILIES || duration_ms <= 0) {
    snprintf(errstr, size, "bad family or duration");
    return NULL;
  }
  if (!(wl = calloc(1, sizeof(*wl)))) {
    snprintf(errstr, size, "out of memory");
    return NULL;
  }
  snprintf(wl->name, sizeof(wl->name), "gen-%s-%llu", family_names[family],
           (unsigned long long)seed);
  wl->seed = seed;
  wl->duration_ms = duration_ms;
  wl->drain_ms = 30000;
  wl->workers = GEN_WORKERS;
  wl->starvation_bound_ms = -1;
  wl->lookahead = -1;
  wl->dep_bonus_ms = -1;
  wl->dep_bonus_max = -1;
  wl->priority_step_ms = -1;
  default_tiers(wl);
  strata_sim_rng_seed(&r, seed, GEN_STREAM + (uint64_t)family);
  switch (family) {
  case STRATA_SIM_FAMILY_FLASH:
    gen_flash(wl, &r);
    break;
  case STRATA_SIM_FAMILY_OVERLOAD:
    gen_overload(wl, &r);
    break;
  case STRATA_SIM_FAMILY_ESTIMATE:
    gen_estimate(wl, &r);
    break;
  case STRATA_SIM_FAMILY_BACKLOG:
    gen_backlog(wl, &r);
    break;
  case STRATA_SIM_FAMILY_LLM:
  default:
    gen_llm(wl, &r);
    break;
  }
  return wl;
}
