/*
 * The scheduler's settings (scheduler/daemon/settings.c): the defaults load
 * as documented, every bad pool or tier value is refused with the key named,
 * everything load accepts builds a core, and the core's pools are the
 * configured ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"

/* A configuration of the defaults plus `kv` ("key=value", NULL-terminated). */
static strata_config_t *config_with(const char *const *kv) {
  strata_config_t *cfg = strata_config_new();
  char err[512];

  assert_non_null(cfg);
  for (; kv && *kv; kv++)
    if (strata_config_set_kv(cfg, *kv, err, sizeof(err)) != STRATA_OK)
      fail_msg("--set %s: %s", *kv, err);
  return cfg;
}

static bool is_zeroed(const sched_settings_t *s) {
  static const sched_settings_t zero;
  return !memcmp(s, &zero, sizeof(zero));
}

/* Loading `kv` fails with STRATA_ERR_CONFIG, a message holding `key` and
 * `what`, and cleared settings. */
static void expect_refused(const char *const *kv, const char *key,
                           const char *what) {
  strata_config_t *cfg = config_with(kv);
  sched_settings_t s;
  char err[512] = "";

  memset(&s, 0xa5, sizeof(s));
  assert_int_equal(sched_settings_load(&s, cfg, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  if (!strstr(err, key) || !strstr(err, what))
    fail_msg("%s: message \"%s\" lacks \"%s\" or \"%s\"", kv[0], err, key,
             what);
  assert_true(is_zeroed(&s));
  strata_config_destroy(cfg);
}

/* Loads `kv` (which must succeed) into `s`; returns the configuration. */
static strata_config_t *load_ok(sched_settings_t *s, const char *const *kv) {
  strata_config_t *cfg = config_with(kv);
  char err[512] = "";

  if (sched_settings_load(s, cfg, err, sizeof(err)) != STRATA_OK)
    fail_msg("load: %s", err);
  return cfg;
}

static strata_core_t *core_ok(const sched_settings_t *s) {
  char err[512] = "";
  strata_core_t *core = sched_settings_core(s, err, sizeof(err));
  if (!core)
    fail_msg("sched_settings_core: %s", err);
  return core;
}

static void test_defaults_load_the_documented_values(void **state) {
  static const char *const names[] = {"critical", "high", "normal", "low",
                                      "background"};
  static const uint32_t weights[] = {40, 25, 20, 10, 5};
  static const int64_t waits[] = {1000, 5000, 30000, 120000, 600000};
  strata_core_config_t def;
  sched_settings_t s;
  strata_config_t *cfg = load_ok(&s, NULL);

  (void)state;
  assert_int_equal(s.ntiers, 5);
  for (int i = 0; i < 5; i++) {
    assert_string_equal(s.tiers[i], names[i]);
    assert_ptr_equal(s.tier[i].name, s.tiers[i]);
    assert_int_equal(s.tier[i].weight, weights[i]);
    assert_int_equal(s.tier[i].target_wait_ms, waits[i]);
  }
  assert_int_equal(s.npools, 0);
  assert_int_equal(s.nparts, 4);
  assert_int_equal(s.batch, 1000);
  assert_int_equal(s.max_tasks, 1000000);
  assert_int_equal(s.tick_ms, 10);
  assert_int_equal(s.window_ms, 24 * 3600 * 1000);
  assert_int_equal(s.watch_ms, 100);
  assert_true(s.preemption);
  assert_true(s.instance[0] != '\0');
  assert_string_equal(s.group, "strata-scheduler");
  assert_string_equal(s.prefix, "strata.");

  strata_core_config_default(&def);
  assert_ptr_equal(s.core.tiers, s.tier);
  assert_int_equal(s.core.ntiers, 5);
  assert_int_equal(s.core.max_tasks, 1000000);
  assert_int_equal(s.core.starvation_bound_ms, 60000);
  assert_int_equal(s.core.lookahead, def.lookahead);
  assert_int_equal(s.core.urgency_horizon_ms, def.urgency_horizon_ms);

  sched_settings_clear(&s);
  assert_true(is_zeroed(&s));
  strata_config_destroy(cfg);
}

static void test_scalar_keys_and_instance_id_are_read(void **state) {
  const char *const kv[] = {"scheduler.instance.id=sched-a",
                            "scheduler.group.id=g1",
                            "topic.prefix=acme.",
                            "topic.partitions=12",
                            "scheduler.batch=7",
                            "scheduler.max.tasks=500",
                            "scheduler.tick=250ms",
                            "idempotency.window=1h",
                            "scheduler.watch.interval=2s",
                            "scheduler.preemption=false",
                            "scheduler.starvation.bound=0",
                            NULL};
  sched_settings_t s;
  strata_config_t *cfg = load_ok(&s, kv);

  (void)state;
  assert_string_equal(s.instance, "sched-a");
  assert_string_equal(s.group, "g1");
  assert_string_equal(s.prefix, "acme.");
  assert_int_equal(s.nparts, 12);
  assert_int_equal(s.batch, 7);
  assert_int_equal(s.max_tasks, 500);
  assert_int_equal(s.core.max_tasks, 500);
  assert_int_equal(s.tick_ms, 250);
  assert_int_equal(s.window_ms, 3600 * 1000);
  assert_int_equal(s.watch_ms, 2000);
  assert_false(s.preemption);
  assert_int_equal(s.core.starvation_bound_ms, 0);
  sched_settings_clear(&s);
  strata_config_destroy(cfg);
}

static void test_bad_pool_values_are_refused_naming_the_key(void **state) {
  static const struct {
    const char *value, *what;
  } bad[] = {
      {"bogus", "is not a pool; allowed: rate:<N>/<duration>"},
      {"", "is not a pool"},
      {"rate:10", "is not a pool"},
      {"rate:10/", "is not a pool"},
      {"rate:10/1x", "is not a pool"},
      {"rate:0/1s", "is not a pool"},
      {"rate:-5/1s", "is not a pool"},
      {"rate:10/0s", "is not a pool"},
      {"rate:99999999999999999999/1s", "is not a pool"},
      {"rate:10/1s,burst:0", "bad burst"},
      {"rate:10/1s,burst:-1", "bad burst"},
      {"rate:10/1s,burst:", "bad burst"},
      {"rate:10/1s,burst:5x", "bad burst"},
      {"rate:10/1s,bust:5", "bad burst"},
      {"rate:10/1s extra", "trailing text"},
      {"rate:10/1s;", "trailing text"},
      {"concurrency:0", "is not a pool"},
      {"concurrency:-2", "is not a pool"},
      {"concurrency:", "is not a pool"},
      {"concurrency:3x", "is not a pool"},
      {"rate:1099511627777/1ms", "the rate is out of range"},
      {"rate:1/1099511627777ms", "the duration is out of range"},
      {"rate:1/1s,burst:144115188075856", "burst (default: the rate)"},
      {"rate:1099511627776/1000s", "burst (default: the rate)"},
      {"concurrency:281474976710657", "the limit is out of range"},
  };
  char kv[128];

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *const set[] = {"pool.ok=concurrency:1", kv, NULL};
    snprintf(kv, sizeof(kv), "pool.gpu=%s", bad[i].value);
    expect_refused(set, "pool.gpu: \"", bad[i].what);
    expect_refused(set, bad[i].value, bad[i].what);
  }
}

static void test_pools_at_the_bounds_load_accepts_build_a_core(void **state) {
  const char *const kv[] = {"pool.a=rate:1099511627776/1ms",
                            "pool.b=rate:1/1099511627776ms",
                            "pool.c=rate:1/1s,burst:144115188075855",
                            "pool.d=concurrency:281474976710656", NULL};
  sched_settings_t s;
  strata_config_t *cfg = load_ok(&s, kv);
  strata_core_t *core = core_ok(&s);
  strata_core_pool_info_t pi;

  (void)state;
  assert_int_equal(s.npools, 4);
  assert_int_equal(strata_core_pool_info(core, 3, 0, &pi), STRATA_OK);
  assert_string_equal(pi.name, "d");
  assert_int_equal(pi.available, INT64_C(1) << 48);
  strata_core_destroy(core);
  sched_settings_clear(&s);
  strata_config_destroy(cfg);
}

static void test_settings_core_has_the_configured_pools(void **state) {
  const char *const kv[] = {"pool.gpu=concurrency:4",
                            "pool.llm.rpm=rate:100/1m,burst:200",
                            "pool.search=rate:5/1s", NULL};
  sched_settings_t s;
  strata_config_t *cfg = load_ok(&s, kv);
  strata_core_t *core;
  strata_core_pool_info_t pi;

  (void)state;
  assert_int_equal(s.npools, 3);
  assert_string_equal(s.pools[1].name, "llm.rpm");
  assert_int_equal(s.pools[1].config.kind, STRATA_CORE_POOL_TOKEN_BUCKET);
  assert_int_equal(s.pools[1].config.rate, 100);
  assert_int_equal(s.pools[1].config.period_ms, 60000);
  assert_int_equal(s.pools[1].config.burst, 200);
  assert_int_equal(s.pools[2].config.burst, 5);

  core = core_ok(&s);
  /* The core copies names: the settings may go before it. */
  sched_settings_clear(&s);
  strata_config_destroy(cfg);

  assert_int_equal(strata_core_pool_info(core, 0, 0, &pi), STRATA_OK);
  assert_string_equal(pi.name, "gpu");
  assert_int_equal(pi.kind, STRATA_CORE_POOL_CONCURRENCY);
  assert_int_equal(pi.available, 4);
  assert_int_equal(pi.in_use, 0);
  assert_int_equal(strata_core_pool_info(core, 1, 0, &pi), STRATA_OK);
  assert_string_equal(pi.name, "llm.rpm");
  assert_int_equal(pi.kind, STRATA_CORE_POOL_TOKEN_BUCKET);
  assert_int_equal(pi.available, 200);
  assert_int_equal(strata_core_pool_info(core, 2, 0, &pi), STRATA_OK);
  assert_string_equal(pi.name, "search");
  assert_int_equal(pi.available, 5);
  assert_int_equal(strata_core_pool_info(core, 3, 0, &pi),
                   STRATA_ERR_NOT_FOUND);
  assert_int_equal(strata_core_pool_id(core, "llm.rpm"), 1);
  assert_int_equal(strata_core_tier_index(core, "normal"), 2);
  strata_core_destroy(core);
}

static void test_duplicate_pool_is_refused(void **state) {
  const char *const kv[] = {"pool.gpu=concurrency:4", NULL};
  sched_settings_t s;
  strata_config_t *cfg = load_ok(&s, kv);
  char err[512] = "";

  (void)state;
  assert_int_equal(
      sched_settings_add_pool(&s, "gpu", "concurrency:8", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "pool.gpu"));
  assert_non_null(strstr(err, "defined twice"));
  assert_int_equal(s.npools, 1);
  assert_int_equal(s.pools[0].config.limit, 4);
  assert_int_equal(
      sched_settings_add_pool(&s, "cpu", "concurrency:8", err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(s.npools, 2);
  sched_settings_clear(&s);
  strata_config_destroy(cfg);

  /* Through the configuration a second pool.gpu replaces the first. */
  {
    const char *const twice[] = {"pool.gpu=concurrency:4",
                                 "pool.gpu=concurrency:6", NULL};
    cfg = load_ok(&s, twice);
    assert_int_equal(s.npools, 1);
    assert_int_equal(s.pools[0].config.limit, 6);
    sched_settings_clear(&s);
    strata_config_destroy(cfg);
  }
}

static void test_more_pools_than_the_core_holds_are_refused(void **state) {
  char kv[STRATA_CORE_MAX_POOLS + 2][64];
  const char *set[STRATA_CORE_MAX_POOLS + 2];
  sched_settings_t s;
  strata_config_t *cfg;
  strata_core_t *core;

  (void)state;
  for (int i = 0; i <= STRATA_CORE_MAX_POOLS; i++) {
    snprintf(kv[i], sizeof(kv[i]), "pool.p%d=concurrency:1", i);
    set[i] = kv[i];
  }
  set[STRATA_CORE_MAX_POOLS] = NULL;
  cfg = load_ok(&s, set);
  assert_int_equal(s.npools, STRATA_CORE_MAX_POOLS);
  core = core_ok(&s);
  assert_int_equal(strata_core_pool_id(core, "p63"), 63);
  strata_core_destroy(core);
  sched_settings_clear(&s);
  strata_config_destroy(cfg);

  set[STRATA_CORE_MAX_POOLS] = kv[STRATA_CORE_MAX_POOLS];
  set[STRATA_CORE_MAX_POOLS + 1] = NULL;
  expect_refused(set, "pool.p64", "more than 64 pools");
}

static void test_pool_name_longer_than_the_core_takes_is_refused(void **state) {
  char kv[128];
  const char *const set[] = {kv, NULL};
  sched_settings_t s;
  strata_config_t *cfg;

  (void)state;
  snprintf(kv, sizeof(kv), "pool.%.*s=concurrency:1", STRATA_CORE_NAME_MAX,
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  cfg = load_ok(&s, set);
  strata_core_destroy(core_ok(&s));
  sched_settings_clear(&s);
  strata_config_destroy(cfg);

  snprintf(kv, sizeof(kv), "pool.%.*s=concurrency:1", STRATA_CORE_NAME_MAX + 1,
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  expect_refused(set, "pool.aaaa", "allowed: 1..63 bytes");
}

static void test_tier_list_counts_must_match_tiers(void **state) {
  const char *const weights[] = {"tier.weights=1,2", NULL};
  const char *const waits[] = {"tier.target.waits=1s", NULL};
  const char *const more[] = {"tier.weights=1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
                              NULL};
  const char *const fewer_tiers[] = {"tiers=a,b", NULL};

  (void)state;
  expect_refused(weights, "tier.weights",
                 "has 2 items but `tiers` has 5; give one per tier");
  expect_refused(waits, "tier.target.waits", "has 1 items but `tiers` has 5");
  expect_refused(more, "tier.weights", "has 17 items");
  expect_refused(fewer_tiers, "tier.weights", "has 5 items but `tiers` has 2");
}

static void test_tier_weights_out_of_range_are_refused(void **state) {
  const char *const zero[] = {"tier.weights=40,0,20,10,5", NULL};
  const char *const big[] = {"tier.weights=40,25,1000001,10,5", NULL};
  const char *const word[] = {"tier.weights=40,25,20,ten,5", NULL};
  const char *const top[] = {"tier.weights=1000000,25,20,10,1", NULL};
  sched_settings_t s;
  strata_config_t *cfg;

  (void)state;
  expect_refused(zero, "tier.weights: \"0\" (tier high)",
                 "allowed: integer 1..1000000");
  expect_refused(big, "tier.weights: \"1000001\" (tier normal)",
                 "allowed: integer 1..1000000");
  expect_refused(word, "tier.weights: \"ten\"", "allowed");
  cfg = load_ok(&s, top);
  assert_int_equal(s.tier[0].weight, 1000000);
  strata_core_destroy(core_ok(&s));
  sched_settings_clear(&s);
  strata_config_destroy(cfg);
}

static void test_bad_target_waits_are_refused(void **state) {
  const char *const word[] = {"tier.target.waits=1s,5s,soon,2m,10m", NULL};
  const char *const huge[] = {"tier.target.waits=1s,5s,30s,2m,1099511627777ms",
                              NULL};
  const char *const top[] = {"tier.target.waits=0,5s,30s,2m,1099511627776ms",
                             NULL};
  sched_settings_t s;
  strata_config_t *cfg;

  (void)state;
  expect_refused(word, "tier.target.waits: \"soon\" (tier normal)",
                 "is not a duration");
  expect_refused(huge, "tier.target.waits: \"1099511627777ms\"",
                 "out of range");
  cfg = load_ok(&s, top);
  assert_int_equal(s.tier[0].target_wait_ms, 0);
  strata_core_destroy(core_ok(&s));
  sched_settings_clear(&s);
  strata_config_destroy(cfg);
}

static void test_bad_tier_lists_are_refused(void **state) {
  const char *const twice[] = {"tiers=a,b,a", "tier.weights=1,1,1",
                               "tier.target.waits=1s,1s,1s", NULL};
  const char *const slash[] = {"tiers=a,b/c", "tier.weights=1,1",
                               "tier.target.waits=1s,1s", NULL};
  const char *const many[] = {"tiers=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", NULL};
  char kv[128];
  const char *const longname[] = {kv, "tier.weights=1", "tier.target.waits=1s",
                                  NULL};
  strata_config_t *cfg = strata_config_new();
  char err[512] = "";

  (void)state;
  expect_refused(twice, "tiers: \"a\"", "appears twice");
  expect_refused(slash, "tiers: \"b/c\"",
                 "allowed: letters, digits, '.', '_' and '-'");
  expect_refused(many, "tiers: more than 16 tiers", "allowed: 1..16");
  snprintf(kv, sizeof(kv), "tiers=%.*s", STRATA_CORE_NAME_MAX + 1,
           "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt");
  expect_refused(longname, "tiers: \"tttt", "longer than 63 bytes");
  /* An empty list never reaches load: the key table refuses it. */
  assert_non_null(cfg);
  assert_int_equal(strata_config_set(cfg, "tiers", "", err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "tiers"));
  assert_int_equal(strata_config_set(cfg, "tiers", "a,,b", err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "tiers"));
  strata_config_destroy(cfg);
}

static void test_bad_names_and_overlong_strings_are_refused(void **state) {
  char kv[400];
  const char *const group[] = {kv, NULL};
  const char *const prefix[] = {"topic.prefix=a/b", NULL};

  (void)state;
  expect_refused(prefix, "topic.prefix: \"a/b\"", "allowed");
  snprintf(kv, sizeof(kv), "scheduler.group.id=%0300d", 0);
  expect_refused(group, "scheduler.group.id", "allowed: at most 255");
}

static void test_clear_is_idempotent_and_takes_a_zeroed_struct(void **state) {
  const char *const kv[] = {"pool.gpu=concurrency:4", NULL};
  sched_settings_t s;
  strata_config_t *cfg;

  (void)state;
  memset(&s, 0, sizeof(s));
  sched_settings_clear(&s);
  assert_true(is_zeroed(&s));
  cfg = load_ok(&s, kv);
  sched_settings_clear(&s);
  sched_settings_clear(&s);
  assert_true(is_zeroed(&s));
  strata_config_destroy(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_load_the_documented_values),
      cmocka_unit_test(test_scalar_keys_and_instance_id_are_read),
      cmocka_unit_test(test_bad_pool_values_are_refused_naming_the_key),
      cmocka_unit_test(test_pools_at_the_bounds_load_accepts_build_a_core),
      cmocka_unit_test(test_settings_core_has_the_configured_pools),
      cmocka_unit_test(test_duplicate_pool_is_refused),
      cmocka_unit_test(test_more_pools_than_the_core_holds_are_refused),
      cmocka_unit_test(test_pool_name_longer_than_the_core_takes_is_refused),
      cmocka_unit_test(test_tier_list_counts_must_match_tiers),
      cmocka_unit_test(test_tier_weights_out_of_range_are_refused),
      cmocka_unit_test(test_bad_target_waits_are_refused),
      cmocka_unit_test(test_bad_tier_lists_are_refused),
      cmocka_unit_test(test_bad_names_and_overlong_strings_are_refused),
      cmocka_unit_test(test_clear_is_idempotent_and_takes_a_zeroed_struct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
