/*
 * The workload file parser: JSON (via jansson) into strata_sim_workload_t.
 * docs/SIMULATOR.md is the format's reference; this file is its enforcement.
 *
 * The parser is strict: an unknown key is an error (a typo such as
 * "rate_per_sec" would otherwise silently mean "no arrivals"), every number
 * is range-checked, and every message has the form
 * "SOURCE: $.json.path: expected ..., got ..." so the user can go straight
 * to the offending value. A successful parse leaves a workload the
 * simulator can run without further checks: pool and tier references are
 * resolved to indices and every distribution yields values in range.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim.h"

typedef struct {
  const char *source;
  char *errstr;
  size_t size;
} pctx_t;

#define PATH_MAX_LEN 256

__attribute__((format(printf, 3, 4))) static int
fail(pctx_t *c, const char *path, const char *fmt, ...) {
  char msg[384];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->errstr && c->size)
    snprintf(c->errstr, c->size, "%s: %s: %s", c->source, path, msg);
  return -1;
}

static const char *type_name(json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  case JSON_NULL:
    return "null";
  }
  return "something else";
}

/* Paths are bounded by the format's nesting depth, far below PATH_MAX_LEN;
 * truncation would only shorten a message, so it is tolerated. */
static void subpath(char *out, const char *path, const char *key) {
  if (snprintf(out, PATH_MAX_LEN, "%s.%s", path, key) >= PATH_MAX_LEN)
    out[PATH_MAX_LEN - 1] = '\0';
}

static void indexpath(char *out, const char *path, size_t i) {
  if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i) >= PATH_MAX_LEN)
    out[PATH_MAX_LEN - 1] = '\0';
}

/* Rejects keys outside `allowed` (NULL-terminated). */
static int check_keys(pctx_t *c, json_t *obj, const char *path,
                      const char *const *allowed) {
  const char *key;
  json_t *v;

  json_object_foreach(obj, key, v) {
    size_t i;
    char list[256] = "";

    for (i = 0; allowed[i]; i++)
      if (!strcmp(key, allowed[i]))
        break;
    if (allowed[i])
      continue;
    for (i = 0; allowed[i]; i++) {
      strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
      strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
    }
    return fail(c, path, "unknown key \"%s\"; expected one of: %s", key, list);
  }
  return 0;
}

static int want_object(pctx_t *c, json_t *v, const char *path) {
  if (!json_is_object(v))
    return fail(c, path, "expected an object, got %s", type_name(v));
  return 0;
}

/* A number in [lo, hi]. Missing: error if `required`, else *out untouched. */
static int get_number(pctx_t *c, json_t *obj, const char *path, const char *key,
                      int required, double lo, double hi, double *out) {
  char p[PATH_MAX_LEN];
  json_t *v = json_object_get(obj, key);
  double x;

  subpath(p, path, key);
  if (!v) {
    if (required)
      return fail(c, p, "missing; expected a number in [%g, %g]", lo, hi);
    return 0;
  }
  if (!json_is_number(v))
    return fail(c, p, "expected a number in [%g, %g], got %s", lo, hi,
                type_name(v));
  x = json_number_value(v);
  if (!isfinite(x) || x < lo || x > hi)
    return fail(c, p, "expected a number in [%g, %g], got %g", lo, hi, x);
  *out = x;
  return 0;
}

/* An integer in [lo, hi]; same missing rule as get_number(). */
static int get_int(pctx_t *c, json_t *obj, const char *path, const char *key,
                   int required, int64_t lo, int64_t hi, int64_t *out) {
  char p[PATH_MAX_LEN];
  json_t *v = json_object_get(obj, key);

  subpath(p, path, key);
  if (!v) {
    if (required)
      return fail(c, p, "missing; expected an integer in [%lld, %lld]",
                  (long long)lo, (long long)hi);
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo ||
      json_integer_value(v) > hi) {
    if (json_is_integer(v))
      return fail(c, p, "expected an integer in [%lld, %lld], got %lld",
                  (long long)lo, (long long)hi,
                  (long long)json_integer_value(v));
    return fail(c, p, "expected an integer in [%lld, %lld], got %s",
                (long long)lo, (long long)hi, type_name(v));
  }
  *out = json_integer_value(v);
  return 0;
}

/* A name of 1..STRATA_SIM_NAME_MAX bytes. */
static int get_name(pctx_t *c, json_t *obj, const char *path, const char *key,
                    int required, char *out, size_t outsz) {
  char p[PATH_MAX_LEN];
  json_t *v = json_object_get(obj, key);
  size_t len;

  subpath(p, path, key);
  if (!v) {
    if (required)
      return fail(c, p, "missing; expected a string of 1..%d bytes",
                  STRATA_SIM_NAME_MAX);
    return 0;
  }
  if (!json_is_string(v))
    return fail(c, p, "expected a string of 1..%d bytes, got %s",
                STRATA_SIM_NAME_MAX, type_name(v));
  len = json_string_length(v);
  if (len == 0 || len > STRATA_SIM_NAME_MAX || len >= outsz)
    return fail(c, p, "expected a string of 1..%d bytes, got %zu bytes",
                STRATA_SIM_NAME_MAX, len);
  memcpy(out, json_string_value(v), len + 1);
  return 0;
}

/*
 * A distribution: a bare number (constant) or an object naming "dist". Every
 * value the distribution can produce must be >= lo (exponential and
 * lognormal are never negative, so they pass for lo <= 0; for lo > 0 their
 * samples are clamped by the caller, which the format documents). `hi`
 * bounds the parameters.
 */
static int parse_dist(pctx_t *c, json_t *v, const char *path, double lo,
                      double hi, strata_sim_dist_t *out) {
  static const char *const k_const[] = {"dist", "value", NULL};
  static const char *const k_unif[] = {"dist", "min", "max", NULL};
  static const char *const k_exp[] = {"dist", "mean", NULL};
  static const char *const k_logn[] = {"dist", "mean", "sigma", NULL};
  const char *kind;
  json_t *d;
  char p[PATH_MAX_LEN];

  if (json_is_number(v)) {
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
      return fail(c, path, "expected a number in [%g, %g], got %g", lo, hi, x);
    out->kind = STRATA_SIM_DIST_CONSTANT;
    out->a = x;
    out->b = 0;
    return 0;
  }
  if (!json_is_object(v))
    return fail(c, path,
                "expected a number or a distribution object "
                "{\"dist\": \"constant|uniform|exponential|lognormal\", ...}, "
                "got %s",
                type_name(v));
  d = json_object_get(v, "dist");
  subpath(p, path, "dist");
  if (!d || !json_is_string(d))
    return fail(c, p,
                "%s; expected one of \"constant\", \"uniform\", "
                "\"exponential\", \"lognormal\"",
                d ? "not a string" : "missing");
  kind = json_string_value(d);
  out->b = 0;
  if (!strcmp(kind, "constant")) {
    out->kind = STRATA_SIM_DIST_CONSTANT;
    if (check_keys(c, v, path, k_const) ||
        get_number(c, v, path, "value", 1, lo, hi, &out->a))
      return -1;
  } else if (!strcmp(kind, "uniform")) {
    out->kind = STRATA_SIM_DIST_UNIFORM;
    if (check_keys(c, v, path, k_unif) ||
        get_number(c, v, path, "min", 1, lo, hi, &out->a) ||
        get_number(c, v, path, "max", 1, lo, hi, &out->b))
      return -1;
    if (out->b < out->a) {
      subpath(p, path, "max");
      return fail(c, p, "expected max >= min (%g), got %g", out->a, out->b);
    }
  } else if (!strcmp(kind, "exponential")) {
    out->kind = STRATA_SIM_DIST_EXPONENTIAL;
    if (check_keys(c, v, path, k_exp) ||
        get_number(c, v, path, "mean", 1, lo > 0 ? lo : 1e-9, hi, &out->a))
      return -1;
  } else if (!strcmp(kind, "lognormal")) {
    out->kind = STRATA_SIM_DIST_LOGNORMAL;
    if (check_keys(c, v, path, k_logn) ||
        get_number(c, v, path, "mean", 1, lo > 0 ? lo : 1e-9, hi, &out->a) ||
        get_number(c, v, path, "sigma", 1, 0, 4, &out->b))
      return -1;
  } else {
    return fail(c, p,
                "expected one of \"constant\", \"uniform\", \"exponential\", "
                "\"lognormal\", got \"%s\"",
                kind);
  }
  return 0;
}

static int get_dist(pctx_t *c, json_t *obj, const char *path, const char *key,
                    int required, double lo, double hi,
                    strata_sim_dist_t *out) {
  char p[PATH_MAX_LEN];
  json_t *v = json_object_get(obj, key);

  subpath(p, path, key);
  if (!v) {
    if (required)
      return fail(c, p, "missing; expected a number or a distribution");
    return 0;
  }
  return parse_dist(c, v, p, lo, hi, out);
}

static json_t *get_array(pctx_t *c, json_t *obj, const char *path,
                         const char *key, int required, size_t min, size_t max,
                         int *err) {
  char p[PATH_MAX_LEN];
  json_t *v = json_object_get(obj, key);

  *err = 0;
  subpath(p, path, key);
  if (!v) {
    if (required)
      *err =
          fail(c, p, "missing; expected an array of %zu..%zu items", min, max);
    return NULL;
  }
  if (!json_is_array(v)) {
    *err = fail(c, p, "expected an array of %zu..%zu items, got %s", min, max,
                type_name(v));
    return NULL;
  }
  if (json_array_size(v) < min || json_array_size(v) > max) {
    *err = fail(c, p, "expected an array of %zu..%zu items, got %zu", min, max,
                json_array_size(v));
    return NULL;
  }
  return v;
}

static int parse_tiers(pctx_t *c, json_t *root, strata_sim_workload_t *wl) {
  static const char *const keys[] = {"name", "weight", "target_wait_ms", NULL};
  json_t *arr;
  int err;

  arr = get_array(c, root, "$", "tiers", 1, 1, STRATA_CORE_MAX_TIERS, &err);
  if (err)
    return -1;
  for (size_t i = 0; i < json_array_size(arr); i++) {
    json_t *t = json_array_get(arr, i);
    strata_sim_tier_t *tier = &wl->tiers[i];
    char p[PATH_MAX_LEN];
    int64_t w = 0, tw = 0;

    indexpath(p, "$.tiers", i);
    if (want_object(c, t, p) || check_keys(c, t, p, keys) ||
        get_name(c, t, p, "name", 1, tier->name, sizeof(tier->name)) ||
        get_int(c, t, p, "weight", 1, 1, 1000000, &w) ||
        get_int(c, t, p, "target_wait_ms", 1, 0, INT64_C(1) << 40, &tw))
      return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(wl->tiers[j].name, tier->name)) {
        char q[PATH_MAX_LEN];
        subpath(q, p, "name");
        return fail(c, q, "duplicate tier name \"%s\" (also $.tiers[%zu])",
                    tier->name, j);
      }
    tier->weight = (uint32_t)w;
    tier->target_wait_ms = tw;
  }
  wl->ntiers = json_array_size(arr);
  return 0;
}

static int parse_pools(pctx_t *c, json_t *root, strata_sim_workload_t *wl) {
  static const char *const k_tb[] = {"name",      "kind",  "rate",
                                     "period_ms", "burst", NULL};
  static const char *const k_cc[] = {"name", "kind", "limit", NULL};
  json_t *arr;
  int err;

  arr = get_array(c, root, "$", "pools", 0, 0, STRATA_CORE_MAX_POOLS, &err);
  if (err)
    return -1;
  for (size_t i = 0; arr && i < json_array_size(arr); i++) {
    json_t *t = json_array_get(arr, i);
    strata_sim_pool_t *pool = &wl->pools[i];
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    json_t *kind;
    const char *ks;

    indexpath(p, "$.pools", i);
    if (want_object(c, t, p) ||
        get_name(c, t, p, "name", 1, pool->name, sizeof(pool->name)))
      return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(wl->pools[j].name, pool->name)) {
        subpath(q, p, "name");
        return fail(c, q, "duplicate pool name \"%s\" (also $.pools[%zu])",
                    pool->name, j);
      }
    subpath(q, p, "kind");
    kind = json_object_get(t, "kind");
    ks = json_is_string(kind) ? json_string_value(kind) : "";
    memset(&pool->cfg, 0, sizeof(pool->cfg));
    if (!strcmp(ks, "token_bucket")) {
      pool->cfg.kind = STRATA_CORE_POOL_TOKEN_BUCKET;
      if (check_keys(c, t, p, k_tb) ||
          get_int(c, t, p, "rate", 1, 1, INT64_C(1) << 40, &pool->cfg.rate) ||
          get_int(c, t, p, "period_ms", 1, 1, INT64_C(1) << 40,
                  &pool->cfg.period_ms) ||
          get_int(c, t, p, "burst", 1, 1, INT64_C(1) << 40, &pool->cfg.burst))
        return -1;
    } else if (!strcmp(ks, "concurrency")) {
      pool->cfg.kind = STRATA_CORE_POOL_CONCURRENCY;
      if (check_keys(c, t, p, k_cc) ||
          get_int(c, t, p, "limit", 1, 1, INT64_C(1) << 40, &pool->cfg.limit))
        return -1;
    } else {
      return fail(
          c, q, "expected \"token_bucket\" or \"concurrency\", got %s%s%s",
          kind && json_is_string(kind) ? "\"" : "",
          kind ? (json_is_string(kind) ? ks : type_name(kind)) : "nothing",
          kind && json_is_string(kind) ? "\"" : "");
    }
  }
  wl->npools = arr ? json_array_size(arr) : 0;
  return 0;
}

static int parse_core(pctx_t *c, json_t *root, strata_sim_workload_t *wl) {
  static const char *const keys[] = {"starvation_bound_ms", "lookahead",
                                     "dep_bonus_ms",        "dep_bonus_max",
                                     "priority_step_ms",    NULL};
  json_t *o = json_object_get(root, "core");
  const int64_t big = INT64_C(1) << 40;

  wl->starvation_bound_ms = -1;
  wl->lookahead = -1;
  wl->dep_bonus_ms = -1;
  wl->dep_bonus_max = -1;
  wl->priority_step_ms = -1;
  if (!o)
    return 0;
  if (want_object(c, o, "$.core") || check_keys(c, o, "$.core", keys) ||
      get_int(c, o, "$.core", "starvation_bound_ms", 0, 0, big,
              &wl->starvation_bound_ms) ||
      get_int(c, o, "$.core", "lookahead", 0, 1, 1 << 20, &wl->lookahead) ||
      get_int(c, o, "$.core", "dep_bonus_ms", 0, 0, big, &wl->dep_bonus_ms) ||
      get_int(c, o, "$.core", "dep_bonus_max", 0, 0, 1 << 20,
              &wl->dep_bonus_max) ||
      get_int(c, o, "$.core", "priority_step_ms", 0, 0, big,
              &wl->priority_step_ms))
    return -1;
  return 0;
}

static int parse_arrival(pctx_t *c, json_t *o, const char *path,
                         strata_sim_class_t *cl) {
  static const char *const keys[] = {"rate_per_s", "burst", NULL};
  static const char *const kb[] = {"every_s", "size", "start_s", NULL};
  json_t *b;
  char p[PATH_MAX_LEN];
  double every = 0, start = 0;
  int64_t sz = 0;

  if (want_object(c, o, path) || check_keys(c, o, path, keys) ||
      get_number(c, o, path, "rate_per_s", 0, 0, 1e6, &cl->rate_per_s))
    return -1;
  b = json_object_get(o, "burst");
  if (b) {
    subpath(p, path, "burst");
    if (want_object(c, b, p) || check_keys(c, b, p, kb) ||
        get_number(c, b, p, "every_s", 1, 0.001, 1e7, &every) ||
        get_int(c, b, p, "size", 1, 1, 1000000, &sz) ||
        get_number(c, b, p, "start_s", 0, 0, 1e7, &start))
      return -1;
    cl->burst_every_ms = (int64_t)llround(every * 1000.0);
    cl->burst_start_ms = (int64_t)llround(start * 1000.0);
    cl->burst_size = (uint32_t)sz;
  }
  if (cl->rate_per_s <= 0 && !b)
    return fail(c, path,
                "no arrivals: expected \"rate_per_s\" > 0 or a \"burst\"");
  return 0;
}

static int find_tier(const strata_sim_workload_t *wl, const char *name) {
  for (size_t i = 0; i < wl->ntiers; i++)
    if (!strcmp(wl->tiers[i].name, name))
      return (int)i;
  return -1;
}

static int find_pool(const strata_sim_workload_t *wl, const char *name) {
  for (size_t i = 0; i < wl->npools; i++)
    if (!strcmp(wl->pools[i].name, name))
      return (int)i;
  return -1;
}

static int parse_demands(pctx_t *c, json_t *o, const char *path,
                         const strata_sim_workload_t *wl,
                         strata_sim_class_t *cl) {
  static const char *const keys[] = {"pool", "amount", "usage_factor", NULL};
  json_t *arr;
  char ap[PATH_MAX_LEN];
  int err;

  arr = get_array(c, o, path, "demands", 0, 0, STRATA_SIM_MAX_DEMANDS, &err);
  if (err)
    return -1;
  subpath(ap, path, "demands");
  for (size_t i = 0; arr && i < json_array_size(arr); i++) {
    json_t *d = json_array_get(arr, i);
    strata_sim_demand_t *dm = &cl->demands[i];
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    char pool[STRATA_SIM_NAME_MAX + 1];
    const strata_core_pool_config_t *pc;
    double cap;

    indexpath(p, ap, i);
    if (want_object(c, d, p) || check_keys(c, d, p, keys) ||
        get_name(c, d, p, "pool", 1, pool, sizeof(pool)))
      return -1;
    subpath(q, p, "pool");
    dm->pool = find_pool(wl, pool);
    if (dm->pool < 0)
      return fail(c, q, "unknown pool \"%s\"; declare it in $.pools", pool);
    for (size_t j = 0; j < i; j++)
      if (cl->demands[j].pool == dm->pool)
        return fail(c, q, "pool \"%s\" named twice (also %s[%zu])", pool, ap,
                    j);
    pc = &wl->pools[dm->pool].cfg;
    cap = (double)(pc->kind == STRATA_CORE_POOL_TOKEN_BUCKET ? pc->burst
                                                             : pc->limit);
    /* A demand above the pool's capacity could never be admitted: the core
     * rejects it, so the file must not ask for it. */
    if (get_dist(c, d, p, "amount", 1, 1, cap, &dm->amount))
      return -1;
    dm->usage.kind = STRATA_SIM_DIST_CONSTANT;
    dm->usage.a = 1.0;
    dm->usage.b = 0;
    if (get_dist(c, d, p, "usage_factor", 0, 0, 100, &dm->usage))
      return -1;
  }
  cl->ndemands = arr ? json_array_size(arr) : 0;
  return 0;
}

static int parse_class(pctx_t *c, json_t *o, const char *path,
                       const strata_sim_workload_t *wl,
                       strata_sim_class_t *cl) {
  static const char *const keys[] = {
      "name",     "tier",    "priority", "arrival", "run_ms", "estimate_factor",
      "deadline", "demands", "stages",   "lost",    NULL};
  static const char *const kd[] = {"relative_ms", "hard_share", "leaf_only",
                                   NULL};
  static const char *const kl[] = {"share", "heartbeat_ms", NULL};
  char tier[STRATA_SIM_NAME_MAX + 1];
  char p[PATH_MAX_LEN];
  int64_t leaf = 0;
  json_t *v;
  json_t *st;
  int64_t prio = 0;
  int err;

  if (want_object(c, o, path) || check_keys(c, o, path, keys) ||
      get_name(c, o, path, "name", 1, cl->name, sizeof(cl->name)) ||
      get_name(c, o, path, "tier", 1, tier, sizeof(tier)))
    return -1;
  cl->tier = find_tier(wl, tier);
  if (cl->tier < 0) {
    subpath(p, path, "tier");
    return fail(c, p, "unknown tier \"%s\"; declare it in $.tiers", tier);
  }
  if (get_int(c, o, path, "priority", 0, -STRATA_CORE_PRIORITY_MAX,
              STRATA_CORE_PRIORITY_MAX, &prio))
    return -1;
  cl->priority = (int32_t)prio;
  subpath(p, path, "arrival");
  v = json_object_get(o, "arrival");
  if (!v)
    return fail(c, p,
                "missing; expected {\"rate_per_s\": N, \"burst\": "
                "{\"every_s\": S, \"size\": N}}");
  if (parse_arrival(c, v, p, cl))
    return -1;
  /* Run times are whole milliseconds of at least 1 (rounded and clamped
   * when sampled), at most about a day. */
  if (get_dist(c, o, path, "run_ms", 1, 0, 86400000.0, &cl->run_ms))
    return -1;
  cl->estimate_factor.kind = STRATA_SIM_DIST_CONSTANT;
  cl->estimate_factor.a = 1.0;
  if (get_dist(c, o, path, "estimate_factor", 0, 0, 100, &cl->estimate_factor))
    return -1;
  v = json_object_get(o, "deadline");
  if (v) {
    subpath(p, path, "deadline");
    cl->has_deadline = 1;
    if (want_object(c, v, p) || check_keys(c, v, p, kd) ||
        get_dist(c, v, p, "relative_ms", 1, 1, 1e10, &cl->deadline_ms) ||
        get_number(c, v, p, "hard_share", 0, 0, 1, &cl->hard_share) ||
        get_int(c, v, p, "leaf_only", 0, 0, 1, &leaf))
      return -1;
    cl->deadline_leaf_only = (int)leaf;
  }
  v = json_object_get(o, "lost");
  if (v) {
    int64_t hb = 0;
    subpath(p, path, "lost");
    if (want_object(c, v, p) || check_keys(c, v, p, kl) ||
        get_number(c, v, p, "share", 1, 0, 1, &cl->lost_share) ||
        get_int(c, v, p, "heartbeat_ms", 1, 1, 3600000, &hb))
      return -1;
    cl->heartbeat_ms = hb;
  }
  if (parse_demands(c, o, path, wl, cl))
    return -1;
  st = get_array(c, o, path, "stages", 0, 1, STRATA_SIM_MAX_STAGES, &err);
  if (err)
    return -1;
  if (!st) {
    cl->stages[0] = 1;
    cl->nstages = 1;
    return 0;
  }
  subpath(p, path, "stages");
  for (size_t i = 0; i < json_array_size(st); i++) {
    json_t *w = json_array_get(st, i);
    char q[PATH_MAX_LEN];

    indexpath(q, p, i);
    if (!json_is_integer(w) || json_integer_value(w) < 1 ||
        json_integer_value(w) > STRATA_SIM_MAX_WIDTH)
      return fail(c, q, "expected an integer in [1, %d] (tasks in the stage)",
                  STRATA_SIM_MAX_WIDTH);
    cl->stages[i] = (uint32_t)json_integer_value(w);
  }
  cl->nstages = json_array_size(st);
  return 0;
}

static int parse_root(pctx_t *c, json_t *root, strata_sim_workload_t *wl) {
  static const char *const keys[] = {
      "name",  "description", "seed", "duration_s", "drain_s", "workers",
      "tiers", "pools",       "core", "classes",    NULL};
  json_t *arr;
  double dur = 0, drain = 60;
  int64_t seed = 1, workers = 0;
  int err;

  if (want_object(c, root, "$") || check_keys(c, root, "$", keys))
    return -1;
  if (json_object_get(root, "name") &&
      get_name(c, root, "$", "name", 1, wl->name, sizeof(wl->name)))
    return -1;
  if (json_object_get(root, "description") &&
      !json_is_string(json_object_get(root, "description")))
    return fail(c, "$.description", "expected a string, got %s",
                type_name(json_object_get(root, "description")));
  if (get_int(c, root, "$", "seed", 0, 0, INT64_MAX, &seed) ||
      get_number(c, root, "$", "duration_s", 1, 0.001, 1e7, &dur) ||
      get_number(c, root, "$", "drain_s", 0, 0, 1e7, &drain) ||
      get_int(c, root, "$", "workers", 1, 1, 1000000, &workers))
    return -1;
  wl->seed = (uint64_t)seed;
  wl->duration_ms = (int64_t)llround(dur * 1000.0);
  wl->drain_ms = (int64_t)llround(drain * 1000.0);
  wl->workers = (uint32_t)workers;
  if (parse_tiers(c, root, wl) || parse_pools(c, root, wl) ||
      parse_core(c, root, wl))
    return -1;
  arr = get_array(c, root, "$", "classes", 1, 1, STRATA_SIM_MAX_CLASSES, &err);
  if (err)
    return -1;
  for (size_t i = 0; i < json_array_size(arr); i++) {
    char p[PATH_MAX_LEN];

    indexpath(p, "$.classes", i);
    if (parse_class(c, json_array_get(arr, i), p, wl, &wl->classes[i]))
      return -1;
  }
  wl->nclasses = json_array_size(arr);
  return 0;
}

strata_sim_workload_t *strata_sim_workload_parse(const char *text,
                                                 const char *source,
                                                 char *errstr, size_t size) {
  pctx_t c = {source ? source : "<workload>", errstr, size};
  strata_sim_workload_t *wl;
  json_error_t jerr;
  json_t *root;

  root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    if (errstr && size)
      snprintf(errstr, size, "%s:%d:%d: not valid JSON: %s", c.source,
               jerr.line, jerr.column, jerr.text);
    return NULL;
  }
  wl = calloc(1, sizeof(*wl));
  if (!wl) {
    json_decref(root);
    fail(&c, "$", "out of memory");
    return NULL;
  }
  snprintf(wl->name, sizeof(wl->name), "%s", c.source);
  if (parse_root(&c, root, wl)) {
    json_decref(root);
    free(wl);
    return NULL;
  }
  json_decref(root);
  return wl;
}

strata_sim_workload_t *strata_sim_workload_load(const char *path, char *errstr,
                                                size_t size) {
  strata_sim_workload_t *wl;
  FILE *fp = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0;

  if (!fp) {
    if (errstr && size)
      snprintf(errstr, size, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    size_t n;
    if (cap - len < 4096) {
      char *nb = realloc(buf, cap + 65536);
      if (!nb) {
        free(buf);
        fclose(fp);
        if (errstr && size)
          snprintf(errstr, size, "%s: out of memory", path);
        return NULL;
      }
      buf = nb;
      cap += 65536;
    }
    n = fread(buf + len, 1, cap - len - 1, fp);
    len += n;
    if (n == 0)
      break;
  }
  if (ferror(fp)) {
    if (errstr && size)
      snprintf(errstr, size, "%s: read error", path);
    fclose(fp);
    free(buf);
    return NULL;
  }
  fclose(fp);
  buf[len] = '\0';
  wl = strata_sim_workload_parse(buf, path, errstr, size);
  free(buf);
  return wl;
}

void strata_sim_workload_destroy(strata_sim_workload_t *wl) {
  free(wl);
}

double strata_sim_workload_utilisation(const strata_sim_workload_t *wl) {
  double work = 0; /* ms of run time offered per second */

  for (size_t i = 0; i < wl->nclasses; i++) {
    const strata_sim_class_t *cl = &wl->classes[i];
    double flows = cl->rate_per_s, tasks = 0;

    if (cl->burst_every_ms > 0)
      flows += (double)cl->burst_size * 1000.0 / (double)cl->burst_every_ms;
    for (size_t s = 0; s < cl->nstages; s++)
      tasks += cl->stages[s];
    work += flows * tasks * strata_sim_dist_mean(&cl->run_ms);
  }
  return work / 1000.0 / (double)wl->workers;
}
