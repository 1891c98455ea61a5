/*
 * The scheduler's settings (settings.h): the tiers with their weights and
 * target waits, the resource pools (pool.<name>=rate:N/D[,burst:M] |
 * concurrency:N) and the scalar scheduler keys, read from a configuration
 * and validated once.
 *
 * The configuration table has already checked each key on its own (types,
 * ranges, non-empty list items). What is checked here is what only the
 * scheduler knows: the syntax of a pool, how the tier lists relate to each
 * other, and every bound strata_core_new() and strata_core_pool_add() would
 * enforce, so that a configuration load accepts is one the core accepts
 * and every refusal names the key.
 */
#include "settings.h"

#include "strata/kafka.h"

#include <ctype.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The core's bounds (scheduler/core/core.c: check_config() and
 * strata_core_pool_add()), repeated so that load refuses with the key's
 * name what the core would refuse with a field's. test_settings.c builds a
 * core at each of them. */
#define CORE_DURATION_MAX (INT64_C(1) << 40)     /* target wait, rate, period */
#define CORE_BURST_PERIOD_MAX (INT64_C(1) << 57) /* burst * period_ms */
#define CORE_LIMIT_MAX (INT64_C(1) << 48)        /* concurrency limit */
#define WEIGHT_MAX 1000000

#define RATE_FORM "rate:<N>/<duration>[,burst:<M>]"

/* Items of LIST key `key`; the table guarantees they are non-empty. */
static int list_count(const strata_config_t *cfg, const char *key) {
  int n = 1;
  for (const char *p = strata_config_get_str(cfg, key); *p; p++)
    n += *p == ',';
  return n;
}

static void free_list(char **items, int n) {
  for (int i = 0; i < n; i++)
    free(items[i]);
}

/* Copies string key `key` into `out` (256 bytes). */
static strata_err_t copy_str(const strata_config_t *cfg, const char *key,
                             char *out, size_t outsize, char *err,
                             size_t size) {
  const char *v = strata_config_get_str(cfg, key);
  size_t len = strlen(v);
  if (len >= outsize)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "%s: \"%.32s...\" is %zu bytes; allowed: at most %zu",
                       key, v, len, outsize - 1);
  memcpy(out, v, len + 1);
  return STRATA_OK;
}

/* ---- pools -------------------------------------------------------------*/

/* A decimal count without sign or spaces, as written in a pool value.
 * Returns the first byte after it, or NULL when there is no number or it
 * does not fit in int64. */
static const char *parse_count(const char *p, int64_t *out) {
  int64_t v = 0;
  if (!isdigit((unsigned char)*p))
    return NULL;
  for (; isdigit((unsigned char)*p); p++) {
    int d = *p - '0';
    if (v > (INT64_MAX - d) / 10)
      return NULL;
    v = v * 10 + d;
  }
  *out = v;
  return p;
}

static strata_err_t not_a_pool(const char *name, const char *value, char *err,
                               size_t size) {
  return strata_errf(STRATA_ERR_CONFIG, err, size,
                     "pool.%s: \"%s\" is not a pool; allowed: " RATE_FORM
                     " or concurrency:<N>",
                     name, value);
}

/* "concurrency:<N>", N 1..CORE_LIMIT_MAX. */
static strata_err_t parse_concurrency(const char *name, const char *value,
                                      strata_core_pool_config_t *pc, char *err,
                                      size_t size) {
  const char *p = parse_count(value + strlen("concurrency:"), &pc->limit);

  if (!p || *p || pc->limit < 1)
    return not_a_pool(name, value, err, size);
  if (pc->limit > CORE_LIMIT_MAX)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: \"%s\": the limit is out of range; allowed: "
                       "concurrency:<N> with N 1..%lld",
                       name, value, (long long)CORE_LIMIT_MAX);
  pc->kind = STRATA_CORE_POOL_CONCURRENCY;
  return STRATA_OK;
}

/* "rate:<N>/<duration>[,burst:<M>]": a token bucket of N tokens per
 * duration, holding at most M (default N). */
static strata_err_t parse_rate(const char *name, const char *value,
                               strata_core_pool_config_t *pc, char *err,
                               size_t size) {
  const char *p = parse_count(value + strlen("rate:"), &pc->rate);
  char unit[32];
  size_t len;

  if (!p || *p != '/' || pc->rate < 1)
    return not_a_pool(name, value, err, size);
  p++;
  len = strspn(p, "0123456789");
  len += strspn(p + len, "abcdefghijklmnopqrstuvwxyz");
  if (len == 0 || len >= sizeof(unit))
    return not_a_pool(name, value, err, size);
  memcpy(unit, p, len);
  unit[len] = '\0';
  if (!strata_parse_duration_ms(unit, &pc->period_ms) || pc->period_ms < 1)
    return not_a_pool(name, value, err, size);
  p += len;
  pc->burst = pc->rate;
  if (*p == ',') {
    p = strncmp(p, ",burst:", 7) ? NULL : parse_count(p + 7, &pc->burst);
    if (!p || *p || pc->burst < 1)
      return strata_errf(STRATA_ERR_CONFIG, err, size,
                         "pool.%s: \"%s\": bad burst; allowed: " RATE_FORM,
                         name, value);
  } else if (*p) {
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: \"%s\": trailing text; allowed: " RATE_FORM,
                       name, value);
  }
  if (pc->rate > CORE_DURATION_MAX)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: \"%s\": the rate is out of range; allowed: "
                       "rate:<N>/<duration> with N 1..%lld",
                       name, value, (long long)CORE_DURATION_MAX);
  if (pc->period_ms > CORE_DURATION_MAX)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: \"%s\": the duration is out of range; "
                       "allowed: 1ms..%lldms",
                       name, value, (long long)CORE_DURATION_MAX);
  /* The core bounds a bucket's debt by burst * period * 16 in int64. */
  if (pc->burst > CORE_BURST_PERIOD_MAX / pc->period_ms)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: \"%s\": the burst (default: the rate) is "
                       "too large for the duration; allowed: at most %lld "
                       "for a duration of %lldms",
                       name, value,
                       (long long)(CORE_BURST_PERIOD_MAX / pc->period_ms),
                       (long long)pc->period_ms);
  pc->kind = STRATA_CORE_POOL_TOKEN_BUCKET;
  return STRATA_OK;
}

strata_err_t sched_settings_add_pool(sched_settings_t *s, const char *name,
                                     const char *value, char *err,
                                     size_t size) {
  strata_core_pool_config_t pc;
  size_t len = strlen(name);
  strata_err_t rc;
  char *copy;

  if (len < 1 || len > STRATA_CORE_NAME_MAX)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: the pool name is %zu bytes; allowed: "
                       "1..%d bytes",
                       name, len, STRATA_CORE_NAME_MAX);
  for (int i = 0; i < s->npools; i++)
    if (!strcmp(s->pools[i].name, name))
      return strata_errf(STRATA_ERR_CONFIG, err, size,
                         "pool.%s: the pool is defined twice; allowed: one "
                         "pool.<name> key per pool",
                         name);
  if (s->npools == STRATA_CORE_MAX_POOLS)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "pool.%s: more than %d pools; allowed: at most %d "
                       "pool.<name> keys",
                       name, STRATA_CORE_MAX_POOLS, STRATA_CORE_MAX_POOLS);
  memset(&pc, 0, sizeof(pc));
  if (!strncmp(value, "concurrency:", strlen("concurrency:")))
    rc = parse_concurrency(name, value, &pc, err, size);
  else if (!strncmp(value, "rate:", strlen("rate:")))
    rc = parse_rate(name, value, &pc, err, size);
  else
    rc = not_a_pool(name, value, err, size);
  if (rc)
    return rc;
  if (!(copy = strdup(name)))
    return strata_errf(STRATA_ERR_NOMEM, err, size, "out of memory");
  s->pools[s->npools].name = copy;
  s->pools[s->npools].config = pc;
  s->npools++;
  return STRATA_OK;
}

typedef struct {
  sched_settings_t *s;
  char *err;
  size_t size;
  strata_err_t rc;
} pool_ctx_t;

static void add_pool_entry(const char *name, const char *value, void *opaque) {
  pool_ctx_t *ctx = opaque;
  if (!ctx->rc)
    ctx->rc = sched_settings_add_pool(ctx->s, name, value, ctx->err, ctx->size);
}

/* ---- tiers -------------------------------------------------------------*/

static strata_err_t load_tier_names(sched_settings_t *s,
                                    const strata_config_t *cfg, char *err,
                                    size_t size) {
  int n = list_count(cfg, "tiers");

  if (n > STRATA_CORE_MAX_TIERS)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tiers: more than %d tiers in \"%s\"; allowed: 1..%d "
                       "tiers",
                       STRATA_CORE_MAX_TIERS,
                       strata_config_get_str(cfg, "tiers"),
                       STRATA_CORE_MAX_TIERS);
  if ((s->ntiers = strata_config_get_list(cfg, "tiers", s->tiers,
                                          STRATA_CORE_MAX_TIERS)) < 0) {
    s->ntiers = 0;
    return strata_errf(STRATA_ERR_NOMEM, err, size, "out of memory");
  }
  for (int i = 0; i < s->ntiers; i++) {
    if (!strata_topic_part_valid(s->tiers[i]))
      return strata_errf(STRATA_ERR_CONFIG, err, size,
                         "tiers: \"%s\" is not a valid tier name; allowed: "
                         "letters, digits, '.', '_' and '-'",
                         s->tiers[i]);
    if (strlen(s->tiers[i]) > STRATA_CORE_NAME_MAX)
      return strata_errf(STRATA_ERR_CONFIG, err, size,
                         "tiers: \"%s\" is longer than %d bytes; allowed: "
                         "tier names of 1..%d bytes",
                         s->tiers[i], STRATA_CORE_NAME_MAX,
                         STRATA_CORE_NAME_MAX);
    for (int j = 0; j < i; j++)
      if (!strcmp(s->tiers[i], s->tiers[j]))
        return strata_errf(STRATA_ERR_CONFIG, err, size,
                           "tiers: \"%s\" appears twice", s->tiers[i]);
  }
  return STRATA_OK;
}

/* tier.weights and tier.target.waits: one item per tier, in its order. */
static strata_err_t load_tier_configs(sched_settings_t *s,
                                      const strata_config_t *cfg, char *err,
                                      size_t size) {
  char *weights[STRATA_CORE_MAX_TIERS], *waits[STRATA_CORE_MAX_TIERS];
  int nw = list_count(cfg, "tier.weights");
  int nt = list_count(cfg, "tier.target.waits");
  strata_err_t rc = STRATA_OK;

  if (nw != s->ntiers || nt != s->ntiers)
    return strata_errf(STRATA_ERR_CONFIG, err, size,
                       "%s: has %d items but `tiers` has %d; give one per tier",
                       nw != s->ntiers ? "tier.weights" : "tier.target.waits",
                       nw != s->ntiers ? nw : nt, s->ntiers);
  nw = strata_config_get_list(cfg, "tier.weights", weights, s->ntiers);
  nt = strata_config_get_list(cfg, "tier.target.waits", waits, s->ntiers);
  if (nw < 0 || nt < 0) {
    rc = strata_errf(STRATA_ERR_NOMEM, err, size, "out of memory");
    goto done;
  }
  for (int i = 0; i < s->ntiers; i++) {
    strata_core_tier_config_t *tc = &s->tier[i];
    char *end;
    long w = strtol(weights[i], &end, 10);
    if (*end || w < 1 || w > WEIGHT_MAX) {
      rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tier.weights: \"%s\" (tier %s) is not allowed; "
                       "allowed: integer 1..1000000",
                       weights[i], s->tiers[i]);
      goto done;
    }
    tc->name = s->tiers[i];
    tc->weight = (uint32_t)w;
    if (!strata_parse_duration_ms(waits[i], &tc->target_wait_ms)) {
      rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tier.target.waits: \"%s\" (tier %s) is not a "
                       "duration",
                       waits[i], s->tiers[i]);
      goto done;
    }
    if (tc->target_wait_ms > CORE_DURATION_MAX) {
      rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tier.target.waits: \"%s\" (tier %s) is out of range; "
                       "allowed: 0ms..%lldms",
                       waits[i], s->tiers[i], (long long)CORE_DURATION_MAX);
      goto done;
    }
  }
done:
  free_list(weights, nw);
  free_list(waits, nt);
  return rc;
}

/* ---- the rest ----------------------------------------------------------*/

/* scheduler.instance.id, else the host name, else "default". */
static strata_err_t load_instance(sched_settings_t *s,
                                  const strata_config_t *cfg, char *err,
                                  size_t size) {
  strata_err_t rc = copy_str(cfg, "scheduler.instance.id", s->instance,
                             sizeof(s->instance), err, size);
  if (rc || s->instance[0])
    return rc;
  if (gethostname(s->instance, sizeof(s->instance)))
    s->instance[0] = '\0';
  s->instance[sizeof(s->instance) - 1] = '\0';
  if (!s->instance[0])
    snprintf(s->instance, sizeof(s->instance), "default");
  return STRATA_OK;
}

strata_err_t sched_settings_load(sched_settings_t *s,
                                 const strata_config_t *cfg, char *err,
                                 size_t size) {
  pool_ctx_t ctx = {s, err, size, STRATA_OK};
  strata_err_t rc;

  memset(s, 0, sizeof(*s));
  if ((rc = load_tier_names(s, cfg, err, size)) ||
      (rc = load_tier_configs(s, cfg, err, size)))
    goto fail;
  strata_config_foreach_prefix(cfg, "pool.", add_pool_entry, &ctx);
  if ((rc = ctx.rc))
    goto fail;
  if ((rc = load_instance(s, cfg, err, size)) ||
      (rc = copy_str(cfg, "scheduler.group.id", s->group, sizeof(s->group), err,
                     size)) ||
      (rc = copy_str(cfg, "topic.prefix", s->prefix, sizeof(s->prefix), err,
                     size)))
    goto fail;
  if (!strata_topic_part_valid(s->prefix)) {
    rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                     "topic.prefix: \"%s\" is not allowed; allowed: "
                     "letters, digits, '.', '_' and '-'",
                     s->prefix);
    goto fail;
  }
  s->nparts = (int)strata_config_get_int(cfg, "topic.partitions");
  s->batch = (int)strata_config_get_int(cfg, "scheduler.batch");
  s->max_tasks = (uint64_t)strata_config_get_int(cfg, "scheduler.max.tasks");
  s->tick_ms = strata_config_get_int(cfg, "scheduler.tick");
  s->window_ms = strata_config_get_int(cfg, "idempotency.window");
  s->watch_ms = strata_config_get_int(cfg, "scheduler.watch.interval");
  s->stall_ms = strata_config_get_int(cfg, "scheduler.health.stall");
  s->preemption = strata_config_get_bool(cfg, "scheduler.preemption");
  s->window =
      !strcmp(strata_config_get_str(cfg, "scheduler.dispatch.window"), "auto");
  s->window_min =
      (uint64_t)strata_config_get_int(cfg, "scheduler.dispatch.window.min");
  s->window_max =
      (uint64_t)strata_config_get_int(cfg, "scheduler.dispatch.window.max");
  if (s->window_min > s->window_max) {
    rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                     "scheduler.dispatch.window.min: %" PRIu64
                     " is above scheduler.dispatch.window.max (%" PRIu64
                     "); give a minimum at or below the maximum",
                     s->window_min, s->window_max);
    goto fail;
  }
  strata_core_config_default(&s->core);
  s->core.tiers = s->tier;
  s->core.ntiers = (size_t)s->ntiers;
  s->core.max_tasks = s->max_tasks;
  s->core.starvation_bound_ms =
      strata_config_get_int(cfg, "scheduler.starvation.bound");
  return STRATA_OK;

fail:
  sched_settings_clear(s);
  return rc;
}

void sched_settings_clear(sched_settings_t *s) {
  free_list(s->tiers, s->ntiers);
  for (int i = 0; i < s->npools; i++)
    free(s->pools[i].name);
  memset(s, 0, sizeof(*s));
}

strata_core_t *sched_settings_core(const sched_settings_t *s, char *err,
                                   size_t size) {
  strata_core_config_t cc = s->core;
  strata_core_t *core;
  char inner[256];

  cc.tiers = s->tier;
  if (!(core = strata_core_new(&cc, inner, sizeof(inner)))) {
    strata_errf(STRATA_ERR_CONFIG, err, size,
                "tiers, tier.weights, tier.target.waits, scheduler.max.tasks, "
                "scheduler.starvation.bound: no scheduler core from these "
                "settings: %s",
                inner);
    return NULL;
  }
  for (int i = 0; i < s->npools; i++) {
    if (strata_core_pool_add(core, s->pools[i].name, &s->pools[i].config, NULL,
                             inner, sizeof(inner))) {
      strata_errf(STRATA_ERR_CONFIG, err, size, "pool.%s: %s", s->pools[i].name,
                  inner);
      strata_core_destroy(core);
      return NULL;
    }
  }
  return core;
}
