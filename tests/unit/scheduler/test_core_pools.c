/*
 * Admission control of the scheduler core: token buckets, concurrency
 * limits, atomic multi-pool reservation, reconciliation, look-ahead past a
 * resource-blocked head and the head-blocked report.
 */
#include "core_test_util.h"

static int add_bucket(strata_core_t *c, const char *name, int64_t rate,
                      int64_t period, int64_t burst) {
  strata_core_pool_config_t pc = {STRATA_CORE_POOL_TOKEN_BUCKET, rate, period,
                                  burst, 0};
  char err[256] = "";
  int id = -1;
  if (strata_core_pool_add(c, name, &pc, &id, err, sizeof(err)) != STRATA_OK)
    fail_msg("pool_add %s: %s", name, err);
  return id;
}

static int add_slots(strata_core_t *c, const char *name, int64_t limit) {
  strata_core_pool_config_t pc = {STRATA_CORE_POOL_CONCURRENCY, 0, 0, 0, limit};
  char err[256] = "";
  int id = -1;
  if (strata_core_pool_add(c, name, &pc, &id, err, sizeof(err)) != STRATA_OK)
    fail_msg("pool_add %s: %s", name, err);
  return id;
}

static int64_t available(strata_core_t *c, int id, int64_t now) {
  strata_core_pool_info_t pi;
  assert_int_equal(strata_core_pool_info(c, id, now, &pi), STRATA_OK);
  return pi.available;
}

static void submit_demanding(strata_core_t *c, const char *id, uint32_t tier,
                             const strata_core_demand_t *dem, size_t n,
                             int64_t now) {
  strata_core_task_spec_t s = test_spec(id, tier);
  s.demands = dem;
  s.ndemands = n;
  test_submit_spec(c, &s, now);
}

static void test_reservation_is_atomic_across_pools(void **state) {
  strata_core_t *c = test_core(NULL);
  int tpm = add_bucket(c, "llm.tpm", 1000, 60000, 1000);
  int slots = add_slots(c, "llm.slots", 1);
  strata_core_demand_t hold[] = {{"llm.slots", 1}};
  strata_core_demand_t both[] = {{"llm.tpm", 600}, {"llm.slots", 1}};
  strata_core_pool_info_t pi;

  (void)state;
  submit_demanding(c, "holder", 2, hold, 1, 0);
  test_expect_next(c, 0, "holder");
  submit_demanding(c, "both", 2, both, 2, 0);
  /* Tokens are there, the slot is not: neither is taken. */
  test_expect_none(c, 1);
  assert_int_equal(available(c, tpm, 1), 1000);
  assert_int_equal(strata_core_pool_info(c, slots, 1, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 1);
  /* The slot comes back: both pools are reserved together. */
  test_complete(c, "holder", STRATA_CORE_SUCCEEDED, 2);
  test_expect_next(c, 2, "both");
  assert_int_equal(available(c, tpm, 2), 400);
  assert_int_equal(strata_core_pool_info(c, slots, 2, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 1);
  strata_core_destroy(c);
}

static void test_token_refill_timing_and_next_wakeup(void **state) {
  strata_core_t *c = test_core(NULL);
  int rpm = add_bucket(c, "llm.rpm", 10, 1000, 10); /* 1 token per 100 ms */
  strata_core_demand_t ten[] = {{"llm.rpm", 10}};
  strata_core_demand_t five[] = {{"llm.rpm", 5}};
  strata_core_stats_t st;

  (void)state;
  submit_demanding(c, "first", 2, ten, 1, 0);
  submit_demanding(c, "second", 2, five, 1, 0);
  test_expect_next(c, 0, "first");
  test_expect_none(c, 0);
  /* Five tokens need 500 ms of refill. */
  assert_int_equal(strata_core_next_wakeup(c), 500);
  strata_core_stats(c, 0, &st);
  assert_true(st.tiers[2].head_blocked);
  assert_int_equal(st.tiers[2].blocked_pool, rpm);
  assert_int_equal(st.tiers[2].blocked_until, 500);
  test_expect_none(c, 499);
  assert_int_equal(available(c, rpm, 499), 4);
  test_expect_next(c, 500, "second");
  assert_int_equal(available(c, rpm, 500), 0);
  strata_core_stats(c, 500, &st);
  assert_false(st.tiers[2].head_blocked);
  /* Refill stops at the burst. */
  assert_int_equal(available(c, rpm, 100000), 10);
  strata_core_destroy(c);
}

static void test_completion_reconciles_actual_usage(void **state) {
  strata_core_t *c = test_core(NULL);
  int tpm = add_bucket(c, "llm.tpm", 1, 1000000, 1000); /* ~no refill */
  strata_core_demand_t est[] = {{"llm.tpm", 800}};
  strata_core_demand_t est2[] = {{"llm.tpm", 600}};
  strata_core_usage_t used_less[] = {{"llm.tpm", 300}};
  strata_core_usage_t used_more[] = {{"llm.tpm", 900}};
  char err[128];

  (void)state;
  submit_demanding(c, "a", 2, est, 1, 0);
  test_expect_next(c, 0, "a");
  assert_int_equal(available(c, tpm, 0), 200);
  /* Used 300 of 800 reserved: 500 come back. */
  assert_int_equal(strata_core_complete(c, "a", STRATA_CORE_SUCCEEDED,
                                        used_less, 1, 0, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(available(c, tpm, 0), 700);
  submit_demanding(c, "b", 2, est2, 1, 0);
  test_expect_next(c, 0, "b");
  assert_int_equal(available(c, tpm, 0), 100);
  /* Used 900 of 600: 300 more are charged; the bucket owes 200. */
  assert_int_equal(strata_core_complete(c, "b", STRATA_CORE_SUCCEEDED,
                                        used_more, 1, 0, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(available(c, tpm, 0), -200);
  strata_core_destroy(c);
}

static void test_concurrency_slots_are_released_on_completion(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_demand_t one[] = {{"tool.search", 1}};
  char id[8];

  (void)state;
  add_slots(c, "tool.search", 2);
  for (int i = 0; i < 4; i++) {
    snprintf(id, sizeof(id), "s%d", i);
    submit_demanding(c, id, 2, one, 1, 0);
  }
  test_expect_next(c, 0, "s0");
  test_expect_next(c, 0, "s1");
  test_expect_none(c, 0);
  /* Only a completion frees a slot: no refill time to sleep until. */
  assert_int_equal(strata_core_next_wakeup(c), STRATA_CORE_NEVER);
  test_complete(c, "s0", STRATA_CORE_FAILED, 5);
  test_expect_next(c, 5, "s2");
  test_expect_none(c, 5);
  strata_core_destroy(c);
}

static void
test_lookahead_skips_resource_blocked_head_and_reports_it(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_demand_t gpu[] = {{"gpu", 1}};
  strata_core_task_spec_t s;
  strata_core_stats_t st;
  int pool;

  (void)state;
  strata_core_config_default(&cfg);
  cfg.lookahead = 3;
  c = test_core(&cfg);
  pool = add_slots(c, "gpu", 1);
  submit_demanding(c, "holder", 2, gpu, 1, 0);
  test_expect_next(c, 0, "holder");
  /* Three urgent tasks need the busy pool; two later ones need nothing. */
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof(id), "g%d", i);
    s = test_spec(id, 2);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = 100 + i;
    s.demands = gpu;
    s.ndemands = 1;
    test_submit_spec(c, &s, 10);
  }
  s = test_spec("free3", 2);
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = 200;
  test_submit_spec(c, &s, 10);
  /* K = 3: the fourth task is beyond the look-ahead bound. */
  test_expect_none(c, 20);
  strata_core_stats(c, 20, &st);
  assert_true(st.tiers[2].head_blocked);
  assert_int_equal(st.tiers[2].blocked_pool, pool);
  assert_int_equal(st.tiers[2].blocked_since, 20);
  assert_int_equal(st.tiers[2].blocked_until, STRATA_CORE_NEVER);
  /* Another tier is not held up by this one. */
  test_submit(c, "other-tier", 3, 20);
  test_expect_next(c, 21, "other-tier");
  /* With K = 3 a free task within reach is taken past the blocked head. */
  assert_int_equal(strata_core_cancel(c, "g2", 22), STRATA_OK);
  test_expect_next(c, 22, "free3");
  strata_core_stats(c, 22, &st);
  assert_true(st.tiers[2].head_blocked);
  assert_int_equal(st.tiers[2].blocked_since, 20); /* still the same wait */
  /* The skipped tasks keep their order once the pool frees up. */
  test_complete(c, "holder", STRATA_CORE_SUCCEEDED, 30);
  test_expect_next(c, 30, "g0");
  strata_core_stats(c, 30, &st);
  assert_false(st.tiers[2].head_blocked);
  test_complete(c, "g0", STRATA_CORE_SUCCEEDED, 31);
  test_expect_next(c, 31, "g1");
  strata_core_destroy(c);
}

static void test_demand_beyond_pool_capacity_is_rejected(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_demand_t big[] = {{"llm.rpm", 11}};
  strata_core_demand_t unknown[] = {{"nope", 1}};
  strata_core_demand_t twice[] = {{"llm.rpm", 1}, {"llm.rpm", 1}};
  strata_core_task_spec_t s = test_spec("x", 2);
  char err[256];

  (void)state;
  add_bucket(c, "llm.rpm", 10, 60000, 10);
  s.demands = big;
  s.ndemands = 1;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "llm.rpm"));
  s.demands = unknown;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  s.demands = twice;
  s.ndemands = 2;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_int_equal(strata_core_held(c), 0);
  strata_core_destroy(c);
}

static void test_pool_add_validates_and_rejects_duplicates(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_pool_config_t bad = {STRATA_CORE_POOL_TOKEN_BUCKET, 0, 1000, 10,
                                   0};
  char err[256];

  (void)state;
  assert_int_equal(strata_core_pool_add(c, "p", &bad, NULL, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "rate"));
  add_slots(c, "p", 3);
  assert_int_equal(strata_core_pool_id(c, "p"), 0);
  bad.rate = 1;
  assert_int_equal(strata_core_pool_add(c, "p", &bad, NULL, err, sizeof(err)),
                   STRATA_ERR_EXISTS);
  strata_core_destroy(c);
}

static void test_many_demands_are_stored_out_of_line(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_demand_t d[] = {{"a", 1}, {"b", 2}, {"c", 3}};

  (void)state;
  add_slots(c, "a", 1);
  add_slots(c, "b", 2);
  add_bucket(c, "c", 1, 1000000, 3);
  submit_demanding(c, "three", 2, d, 3, 0);
  submit_demanding(c, "again", 2, d, 3, 0);
  test_expect_next(c, 0, "three");
  test_expect_none(c, 0);
  assert_int_equal(available(c, 0, 0), 0);
  assert_int_equal(available(c, 1, 0), 0);
  assert_int_equal(available(c, 2, 0), 0);
  strata_core_destroy(c);
}

static void adopt(strata_core_t *c, const char *id, uint32_t tier,
                  const strata_core_demand_t *dem, size_t n, int64_t now) {
  strata_core_task_spec_t s = test_spec(id, tier);
  char err[256] = "";
  strata_err_t rc;
  s.demands = dem;
  s.ndemands = n;
  rc = strata_core_adopt(c, &s, now, err, sizeof(err));
  if (rc != STRATA_OK)
    fail_msg("adopt %s: %s: %s", id, strata_err_name(rc), err);
}

/* A task running since before a restart holds its slot: nothing else that
 * needs the slot runs until it completes. */
static void test_adopted_task_holds_its_slots_until_completed(void **state) {
  strata_core_t *c = test_core(NULL);
  int gpu = add_slots(c, "gpu", 1);
  strata_core_demand_t one[] = {{"gpu", 1}};
  strata_core_task_info_t info;
  strata_core_stats_t st;
  strata_core_pool_info_t pi;

  (void)state;
  adopt(c, "running", 3, one, 1, 10);
  assert_int_equal(strata_core_lookup(c, "running", &info), STRATA_OK);
  assert_int_equal(info.state, STRATA_CORE_STATE_RUNNING);
  assert_int_equal(strata_core_pool_info(c, gpu, 10, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 1);
  strata_core_stats(c, 10, &st);
  assert_int_equal(st.tiers[3].adopted, 1);
  assert_int_equal(st.tiers[3].dispatched, 0); /* not a dispatch here */
  assert_int_equal(st.tiers[3].depth[STRATA_CORE_STATE_RUNNING], 1);

  submit_demanding(c, "waiting", 0, one, 1, 11);
  test_expect_none(c, 12);
  test_complete(c, "running", STRATA_CORE_SUCCEEDED, 13);
  assert_int_equal(strata_core_pool_info(c, gpu, 13, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 0);
  test_expect_next(c, 13, "waiting");
  strata_core_destroy(c);
}

/* Units in use in the world are held even beyond the limit (the limit may
 * have been lowered): nothing is admitted until usage is back below it. */
static void test_adopting_beyond_the_limit_blocks_until_below(void **state) {
  strata_core_t *c = test_core(NULL);
  int gpu = add_slots(c, "gpu", 1);
  strata_core_demand_t one[] = {{"gpu", 1}};
  strata_core_pool_info_t pi;

  (void)state;
  adopt(c, "a", 2, one, 1, 0);
  adopt(c, "b", 2, one, 1, 0);
  assert_int_equal(strata_core_pool_info(c, gpu, 0, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 2);
  assert_int_equal(pi.available, -1);
  submit_demanding(c, "c", 2, one, 1, 1);
  test_complete(c, "a", STRATA_CORE_FAILED, 2);
  test_expect_none(c, 2);
  test_complete(c, "b", STRATA_CORE_SUCCEEDED, 3);
  test_expect_next(c, 3, "c");
  strata_core_destroy(c);
}

/* Adoption fills a placeholder: the dependents waiting for the id run once
 * the adopted task succeeds. A held or succeeded id is not adopted. */
static void
test_adoption_fills_a_placeholder_and_refuses_known_ids(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t dep = test_spec("child", 1);
  strata_core_task_spec_t s = test_spec("parent", 1);
  const char *const deps[] = {"parent"};
  char err[256];

  (void)state;
  dep.deps = deps;
  dep.ndeps = 1;
  test_submit_spec(c, &dep, 0);
  test_expect_none(c, 1);
  adopt(c, "parent", 1, NULL, 0, 1);
  assert_int_equal(strata_core_adopt(c, &s, 2, err, sizeof(err)),
                   STRATA_ERR_EXISTS);
  assert_non_null(strstr(err, "parent"));
  test_expect_none(c, 2);
  test_complete(c, "parent", STRATA_CORE_SUCCEEDED, 3);
  test_expect_next(c, 3, "child");
  assert_int_equal(strata_core_adopt(c, &s, 4, err, sizeof(err)),
                   STRATA_ERR_EXISTS);
  assert_non_null(strstr(err, "succeeded"));
  strata_core_destroy(c);
}

/* A pool the most urgent candidate waits on is held for it for the rest
   of the decision: a background task that would fit cannot take the tokens
   a critical task is waiting to accumulate. Without it, small demands of
   lower tiers took every refill and the large critical demand starved. */
static void test_blocked_urgent_head_holds_its_pool(void **state) {
  strata_core_t *c = test_core(NULL);
  int tpm = add_bucket(c, "llm.tpm", 6, 6000, 6); /* 1 token per second */
  strata_core_demand_t four[] = {{"llm.tpm", 4}};
  strata_core_demand_t six[] = {{"llm.tpm", 6}};
  strata_core_demand_t two[] = {{"llm.tpm", 2}};

  strata_core_task_spec_t s = test_spec("normal", 2);

  (void)state;
  /* crit-a takes 4 tokens; a normal task of 1.5 s brings virtual time up
     to critical's pass, so critical is owed again (and ahead of bg by
     finish tag) when crit-b and bg arrive. */
  submit_demanding(c, "crit-a", 0, four, 1, 0);
  s.estimate_ms = 1500;
  test_submit_spec(c, &s, 0);
  test_expect_next(c, 0, "crit-a");
  test_expect_next(c, 0, "normal");
  submit_demanding(c, "crit-b", 0, six, 1, 0);
  submit_demanding(c, "bg", 4, two, 1, 0);
  /* 2 tokens left: bg would fit, crit-b would not. Nothing goes. */
  test_expect_none(c, 0);
  assert_int_equal(available(c, tpm, 0), 2);
  /* After 4 s of refill crit-b fits and goes first. */
  test_expect_none(c, 3999);
  test_expect_next(c, 4000, "crit-b");
  test_expect_none(c, 4000);
  test_expect_next(c, 6000, "bg");
  strata_core_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reservation_is_atomic_across_pools),
      cmocka_unit_test(test_token_refill_timing_and_next_wakeup),
      cmocka_unit_test(test_blocked_urgent_head_holds_its_pool),
      cmocka_unit_test(test_completion_reconciles_actual_usage),
      cmocka_unit_test(test_concurrency_slots_are_released_on_completion),
      cmocka_unit_test(
          test_lookahead_skips_resource_blocked_head_and_reports_it),
      cmocka_unit_test(test_demand_beyond_pool_capacity_is_rejected),
      cmocka_unit_test(test_pool_add_validates_and_rejects_duplicates),
      cmocka_unit_test(test_many_demands_are_stored_out_of_line),
      cmocka_unit_test(test_adopted_task_holds_its_slots_until_completed),
      cmocka_unit_test(test_adopting_beyond_the_limit_blocks_until_below),
      cmocka_unit_test(test_adoption_fills_a_placeholder_and_refuses_known_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
