/*
 * Unit tests of the workload generator (gen.c) and of the baselines'
 * defining orders: same family and seed give the same workload, different
 * seeds differ, each family's load lies in its stated range, and on tiny
 * one-worker scenarios (every task arrives at 0, so the order is the
 * policy's alone) each baseline takes the order that defines it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static char *run_json(const strata_sim_workload_t *wl,
                      strata_sim_policy_t policy) {
  strata_sim_options_t opt = {.policy = policy};
  char err[512];
  strata_sim_result_t *res = strata_sim_run(wl, &opt, err, sizeof(err));
  char *json;

  if (!res)
    fail_msg("run failed: %s", err);
  json = strata_sim_result_json(res);
  strata_sim_result_destroy(res);
  assert_non_null(json);
  return json;
}

static strata_sim_workload_t *gen(strata_sim_family_t f, uint64_t seed) {
  char err[256];
  strata_sim_workload_t *wl =
      strata_sim_workload_generate(f, seed, 20000, err, sizeof(err));
  if (!wl)
    fail_msg("generate: %s", err);
  return wl;
}

static void test_same_family_and_seed_give_the_same_workload(void **state) {
  (void)state;
  for (int f = 0; f < STRATA_SIM_NFAMILIES; f++) {
    strata_sim_workload_t *a = gen((strata_sim_family_t)f, 7);
    strata_sim_workload_t *b = gen((strata_sim_family_t)f, 7);
    char *ja = run_json(a, STRATA_SIM_POLICY_FIFO);
    char *jb = run_json(b, STRATA_SIM_POLICY_FIFO);

    assert_string_equal(ja, jb);
    assert_int_equal(a->nclasses, b->nclasses);
    for (size_t c = 0; c < a->nclasses; c++) {
      assert_true(a->classes[c].rate_per_s == b->classes[c].rate_per_s);
      assert_int_equal(a->classes[c].burst_size, b->classes[c].burst_size);
    }
    free(ja);
    free(jb);
    strata_sim_workload_destroy(a);
    strata_sim_workload_destroy(b);
  }
}

static void test_different_seeds_give_different_workloads(void **state) {
  (void)state;
  for (int f = 0; f < STRATA_SIM_NFAMILIES; f++) {
    strata_sim_workload_t *a = gen((strata_sim_family_t)f, 1);
    strata_sim_workload_t *b = gen((strata_sim_family_t)f, 2);
    char *ja = run_json(a, STRATA_SIM_POLICY_FIFO);
    char *jb = run_json(b, STRATA_SIM_POLICY_FIFO);

    /* The names carry the seed; the runs must differ beyond them. */
    assert_string_not_equal(strchr(ja, ','), strchr(jb, ','));
    assert_true(strata_sim_workload_steady_utilisation(a) !=
                strata_sim_workload_steady_utilisation(b));
    free(ja);
    free(jb);
    strata_sim_workload_destroy(a);
    strata_sim_workload_destroy(b);
  }
}

static void test_each_family_load_is_in_its_range(void **state) {
  (void)state;
  for (int f = 0; f < STRATA_SIM_NFAMILIES; f++) {
    double lo, hi, min = 1e9, max = 0;
    strata_sim_family_load_range((strata_sim_family_t)f, &lo, &hi);
    for (uint64_t seed = 1; seed <= 40; seed++) {
      strata_sim_workload_t *wl = gen((strata_sim_family_t)f, seed);
      double u = strata_sim_workload_steady_utilisation(wl);
      if (u < lo - 1e-9 || u > hi + 1e-9)
        fail_msg("%s seed %llu: load %.4f outside [%.2f, %.2f]",
                 strata_sim_family_name((strata_sim_family_t)f),
                 (unsigned long long)seed, u, lo, hi);
      min = u < min ? u : min;
      max = u > max ? u : max;
      strata_sim_workload_destroy(wl);
    }
    /* The seeds spread over the range, not one point of it. */
    assert_true(max - min > (hi - lo) / 2);
  }
}

static void test_family_names_round_trip(void **state) {
  strata_sim_family_t f;

  (void)state;
  for (int i = 0; i < STRATA_SIM_NFAMILIES; i++) {
    assert_int_equal(strata_sim_family_parse(
                         strata_sim_family_name((strata_sim_family_t)i), &f),
                     0);
    assert_int_equal(f, i);
  }
  assert_int_equal(strata_sim_family_parse("tsunami", &f), -1);
  for (int i = 0; i < STRATA_SIM_NPOLICIES; i++) {
    strata_sim_policy_t p;
    assert_int_equal(strata_sim_policy_parse(
                         strata_sim_policy_name((strata_sim_policy_t)i), &p),
                     0);
    assert_int_equal(p, i);
  }
}

/* A one-worker workload whose classes each arrive once, at 0. `classes` is
 * the JSON of the class array's members; every class gets
 * "arrival": one burst at 0. */
static strata_sim_workload_t *tiny(const char *classes) {
  char text[4096], err[512];
  strata_sim_workload_t *wl;

  snprintf(text, sizeof(text),
           "{\"name\": \"tiny\", \"duration_s\": 1, \"drain_s\": 60,"
           " \"workers\": 1, \"tiers\": ["
           "  {\"name\": \"top\", \"weight\": 40, \"target_wait_ms\": 1000},"
           "  {\"name\": \"bot\", \"weight\": 10, \"target_wait_ms\": 120000}],"
           " \"classes\": [%s]}",
           classes);
  wl = strata_sim_workload_parse(text, "tiny", err, sizeof(err));
  if (!wl)
    fail_msg("tiny workload: %s", err);
  return wl;
}

#define AT0(n) "\"arrival\": {\"burst\": {\"every_s\": 10, \"size\": " #n "}}"

static strata_sim_result_t *run(const strata_sim_workload_t *wl,
                                strata_sim_policy_t p) {
  strata_sim_options_t opt = {.policy = p};
  char err[512];
  strata_sim_result_t *res = strata_sim_run(wl, &opt, err, sizeof(err));
  if (!res)
    fail_msg("run: %s", err);
  return res;
}

/* The first (smallest) wait of a tier: when its first task started. */
static int64_t first_wait(strata_sim_result_t *r, int tier) {
  return strata_sim_samples_pct(&r->tiers[tier].wait, 1);
}

/* llf: a long task with little slack goes before a short one with an
 * earlier deadline; edf does the opposite. */
static void test_llf_takes_least_laxity_edf_earliest_deadline(void **state) {
  strata_sim_workload_t *wl =
      tiny("{\"name\": \"long\", \"tier\": \"top\", " AT0(
          1) ", \"run_ms\": 1000,"
             " \"deadline\": {\"relative_ms\": 1100, \"hard_share\": 0}},"
             "{\"name\": \"short\", \"tier\": \"bot\", " AT0(
                 1) ", \"run_ms\": 100,"
                    " \"deadline\": {\"relative_ms\": 500, \"hard_share\": "
                    "0}}");
  strata_sim_result_t *llf = run(wl, STRATA_SIM_POLICY_LLF);
  strata_sim_result_t *edf = run(wl, STRATA_SIM_POLICY_EDF);

  (void)state;
  assert_int_equal(first_wait(llf, 0), 0);
  assert_int_equal(first_wait(llf, 1), 1000);
  assert_int_equal(first_wait(edf, 1), 0);
  assert_int_equal(first_wait(edf, 0), 100);
  strata_sim_result_destroy(llf);
  strata_sim_result_destroy(edf);
  strata_sim_workload_destroy(wl);
}

/* priority-edf: strict rank across tiers (the bottom tier's earlier
 * deadline does not matter), EDF inside a tier (the top tier's task due at
 * 150 ms goes before the one due at 5 s, so it is not late); priority is
 * FIFO inside the tier and the first-listed task makes the second late. */
static void test_priority_edf_is_rank_then_deadline(void **state) {
  strata_sim_workload_t *wl =
      tiny("{\"name\": \"later\", \"tier\": \"top\", " AT0(
          1) ", \"run_ms\": 100,"
             " \"deadline\": {\"relative_ms\": 5000, \"hard_share\": 0}},"
             "{\"name\": \"sooner\", \"tier\": \"top\", " AT0(
                 1) ", \"run_ms\": 100,"
                    " \"deadline\": {\"relative_ms\": 150, \"hard_share\": 0}},"
                    "{\"name\": \"low\", \"tier\": \"bot\", " AT0(
                        1) ", \"run_ms\": 100,"
                           " \"deadline\": {\"relative_ms\": 120, "
                           "\"hard_share\": 0}}");
  strata_sim_result_t *pe = run(wl, STRATA_SIM_POLICY_PRIORITY_EDF);
  strata_sim_result_t *pr = run(wl, STRATA_SIM_POLICY_PRIORITY);

  (void)state;
  assert_int_equal(first_wait(pe, 1), 200);
  assert_int_equal(pe->tiers[0].misses_soft, 0);
  assert_int_equal(first_wait(pr, 1), 200);
  assert_int_equal(pr->tiers[0].misses_soft, 1);
  strata_sim_result_destroy(pe);
  strata_sim_result_destroy(pr);
  strata_sim_workload_destroy(wl);
}

/* wfq (Virtual Clock): tags advance by work x 50 / weight, so the top
 * tier's k-th 90 ms task is tagged 112.5 k and the bottom tier's first
 * 100 ms task 500: it goes after four top tasks (wait 360), where strict
 * priority keeps it behind all six (540). */
static void test_wfq_interleaves_by_weight(void **state) {
  strata_sim_workload_t *wl = tiny("{\"name\": \"t\", \"tier\": \"top\", " AT0(
      6) ", \"run_ms\": 90},"
         "{\"name\": \"b\", \"tier\": \"bot\", " AT0(1) ", \"run_ms\": 100}");
  strata_sim_result_t *w = run(wl, STRATA_SIM_POLICY_WFQ);
  strata_sim_result_t *p = run(wl, STRATA_SIM_POLICY_PRIORITY);

  (void)state;
  assert_int_equal(first_wait(w, 1), 360);
  assert_int_equal(first_wait(p, 1), 540);
  strata_sim_result_destroy(w);
  strata_sim_result_destroy(p);
  strata_sim_workload_destroy(wl);
}

/* floors: the bottom tier (weight 10 of 50, a 20 % floor) is served as soon
 * as it falls behind its share: its first task goes second, not after the
 * top tier's ten; priority-edf, strict rank, keeps it behind all ten. */
static void test_floors_serve_a_backlogged_tier_its_floor(void **state) {
  strata_sim_workload_t *wl = tiny("{\"name\": \"t\", \"tier\": \"top\", " AT0(
      10) ", \"run_ms\": 100},"
          "{\"name\": \"b\", \"tier\": \"bot\", " AT0(2) ", \"run_ms\": 100}");
  strata_sim_result_t *f = run(wl, STRATA_SIM_POLICY_FLOORS);
  strata_sim_result_t *pe = run(wl, STRATA_SIM_POLICY_PRIORITY_EDF);

  (void)state;
  assert_int_equal(first_wait(f, 1), 100);
  /* Both bottom tasks within the first 12 x 100 ms x 20 % + one task. */
  assert_true(strata_sim_samples_pct(&f->tiers[1].wait, 100) <= 700);
  assert_int_equal(first_wait(pe, 1), 1000);
  strata_sim_result_destroy(f);
  strata_sim_result_destroy(pe);
  strata_sim_workload_destroy(wl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_family_and_seed_give_the_same_workload),
      cmocka_unit_test(test_different_seeds_give_different_workloads),
      cmocka_unit_test(test_each_family_load_is_in_its_range),
      cmocka_unit_test(test_family_names_round_trip),
      cmocka_unit_test(test_llf_takes_least_laxity_edf_earliest_deadline),
      cmocka_unit_test(test_priority_edf_is_rank_then_deadline),
      cmocka_unit_test(test_wfq_interleaves_by_weight),
      cmocka_unit_test(test_floors_serve_a_backlogged_tier_its_floor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
