/*
 * The metrics registry: exact text exposition output for each metric type,
 * escaping, cumulative histogram buckets, name validation messages, the
 * collect callback, and exact sums under concurrent updates.
 *
 * Run with --emit-sample it prints a registry using every feature instead,
 * for `promtool check metrics` (see CMakeLists.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/metrics.h"

static const char *const tier_kind[] = {"tier", "kind"};
static const char *const tier_only[] = {"tier"};

/* Renders reg and checks the text equals `want` exactly. */
static void assert_renders(strata_metrics_t *reg, const char *want) {
  char *out = NULL;
  size_t len = 0;

  assert_int_equal(strata_metrics_render(reg, &out, &len), STRATA_OK);
  assert_non_null(out);
  assert_int_equal(len, strlen(out));
  assert_string_equal(out, want);
  free(out);
}

static void test_metrics_empty_registry_renders_nothing(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  char err[256];
  (void)state;

  assert_renders(reg, "");
  /* A labelled family with no children yet has no samples to show. */
  assert_non_null(
      strata_metrics_gauge(reg, "g", "help", 1, tier_only, err, sizeof(err)));
  assert_renders(reg, "");
  strata_metrics_destroy(reg);
  strata_metrics_destroy(NULL);
}

static void
test_metrics_counter_renders_help_type_and_total_suffix(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  char err[256];
  (void)state;

  fam = strata_metrics_counter(reg, "strata_tasks_submitted", "Tasks accepted.",
                               0, NULL, err, sizeof(err));
  assert_non_null(fam);
  assert_string_equal(strata_metrics_family_name(fam),
                      "strata_tasks_submitted_total");
  /* A family without labels shows 0 before anything happened. */
  assert_renders(reg, "# HELP strata_tasks_submitted_total Tasks accepted.\n"
                      "# TYPE strata_tasks_submitted_total counter\n"
                      "strata_tasks_submitted_total 0\n");
  strata_metrics_counter_add(strata_metrics_child(fam), 3);
  strata_metrics_counter_add(strata_metrics_child(fam), 0.5);
  assert_renders(reg, "# HELP strata_tasks_submitted_total Tasks accepted.\n"
                      "# TYPE strata_tasks_submitted_total counter\n"
                      "strata_tasks_submitted_total 3.5\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_counter_keeps_an_existing_total_suffix(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  char err[256];
  (void)state;

  fam = strata_metrics_counter(reg, "x_total", "", 0, NULL, err, sizeof(err));
  assert_non_null(fam);
  assert_string_equal(strata_metrics_family_name(fam), "x_total");
  /* Empty help: no HELP line. */
  assert_renders(reg, "# TYPE x_total counter\n"
                      "x_total 0\n");
  strata_metrics_destroy(reg);
}

static void
test_metrics_counter_children_render_labels_in_creation_order(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  strata_metrics_child_t *crit_hard, *batch_soft;
  char err[256];
  (void)state;

  fam = strata_metrics_counter(reg, "strata_deadline_misses_total",
                               "Tasks that missed a deadline.", 2, tier_kind,
                               err, sizeof(err));
  assert_non_null(fam);
  crit_hard = strata_metrics_child(fam, "critical", "hard");
  batch_soft = strata_metrics_child(fam, "batch", "soft");
  assert_non_null(crit_hard);
  assert_non_null(batch_soft);
  /* Lookups of the same values give the same child, either form. */
  assert_ptr_equal(strata_metrics_child(fam, "critical", "hard"), crit_hard);
  assert_ptr_equal(
      strata_metrics_childv(fam, (const char *const[]){"batch", "soft"}),
      batch_soft);
  assert_ptr_not_equal(strata_metrics_child(fam, "critical", "soft"),
                       crit_hard);
  strata_metrics_counter_add(crit_hard, 2);
  strata_metrics_counter_add(batch_soft, 1);
  strata_metrics_counter_add(crit_hard, 1);
  assert_true(strata_metrics_value(crit_hard) == 3.0);
  assert_renders(
      reg, "# HELP strata_deadline_misses_total Tasks that missed a deadline.\n"
           "# TYPE strata_deadline_misses_total counter\n"
           "strata_deadline_misses_total{tier=\"critical\",kind=\"hard\"} 3\n"
           "strata_deadline_misses_total{tier=\"batch\",kind=\"soft\"} 1\n"
           "strata_deadline_misses_total{tier=\"critical\",kind=\"soft\"} 0\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_counter_ignores_negative_and_nan_adds(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_child_t *c;
  char err[256];
  (void)state;

  c = strata_metrics_child(
      strata_metrics_counter(reg, "c", "h", 0, NULL, err, sizeof(err)));
  strata_metrics_counter_add(c, 5);
  strata_metrics_counter_add(c, -1);
  strata_metrics_counter_add(c, NAN);
  assert_true(strata_metrics_value(c) == 5.0);
  strata_metrics_destroy(reg);
}

static void test_metrics_gauge_values_render_exactly(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  char err[256];
  (void)state;

  fam = strata_metrics_gauge(reg, "strata_queue_depth", "Tasks waiting.", 1,
                             tier_only, err, sizeof(err));
  assert_non_null(fam);
  strata_metrics_gauge_set(strata_metrics_child(fam, "a"), 42);
  strata_metrics_gauge_add(strata_metrics_child(fam, "a"), -50);
  strata_metrics_gauge_set(strata_metrics_child(fam, "b"), 0.1);
  strata_metrics_gauge_set(strata_metrics_child(fam, "c"), 1e21);
  strata_metrics_gauge_set(strata_metrics_child(fam, "d"), 1000000);
  strata_metrics_gauge_set(strata_metrics_child(fam, "e"), INFINITY);
  strata_metrics_gauge_set(strata_metrics_child(fam, "f"), -INFINITY);
  strata_metrics_gauge_set(strata_metrics_child(fam, "g"), NAN);
  strata_metrics_gauge_set(strata_metrics_child(fam, "h"), 1.0 / 3.0);
  assert_renders(reg, "# HELP strata_queue_depth Tasks waiting.\n"
                      "# TYPE strata_queue_depth gauge\n"
                      "strata_queue_depth{tier=\"a\"} -8\n"
                      "strata_queue_depth{tier=\"b\"} 0.1\n"
                      "strata_queue_depth{tier=\"c\"} 1e+21\n"
                      "strata_queue_depth{tier=\"d\"} 1000000\n"
                      "strata_queue_depth{tier=\"e\"} +Inf\n"
                      "strata_queue_depth{tier=\"f\"} -Inf\n"
                      "strata_queue_depth{tier=\"g\"} NaN\n"
                      "strata_queue_depth{tier=\"h\"} 0.3333333333333333\n");
  strata_metrics_destroy(reg);
}

static void
test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  strata_metrics_child_t *c;
  const double bounds[] = {0.25, 0.5, 1};
  char err[256];
  (void)state;

  fam = strata_metrics_histogram(reg, "strata_wait_seconds",
                                 "Time from enqueue to dispatch.", 0, NULL, 3,
                                 bounds, err, sizeof(err));
  assert_non_null(fam);
  c = strata_metrics_child(fam);
  /* 0.25 is on a bound: "le" is inclusive. 0.75 and 1 share a bucket. */
  strata_metrics_histogram_observe(c, 0.125);
  strata_metrics_histogram_observe(c, 0.25);
  strata_metrics_histogram_observe(c, 0.75);
  strata_metrics_histogram_observe(c, 1);
  strata_metrics_histogram_observe(c, 2);
  strata_metrics_histogram_observe(c, 4);
  assert_true(strata_metrics_value(c) == 6.0);
  assert_renders(reg,
                 "# HELP strata_wait_seconds Time from enqueue to dispatch.\n"
                 "# TYPE strata_wait_seconds histogram\n"
                 "strata_wait_seconds_bucket{le=\"0.25\"} 2\n"
                 "strata_wait_seconds_bucket{le=\"0.5\"} 2\n"
                 "strata_wait_seconds_bucket{le=\"1\"} 4\n"
                 "strata_wait_seconds_bucket{le=\"+Inf\"} 6\n"
                 "strata_wait_seconds_sum 8.125\n"
                 "strata_wait_seconds_count 6\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_histogram_puts_le_after_the_labels(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  const double bounds[] = {0.005, 10, INFINITY};
  char err[256];
  (void)state;

  /* A trailing +Inf bound is the implicit one, not a second +Inf bucket. */
  fam = strata_metrics_histogram(reg, "lat_seconds", "Latency.", 1, tier_only,
                                 3, bounds, err, sizeof(err));
  assert_non_null(fam);
  strata_metrics_histogram_observe(strata_metrics_child(fam, "critical"),
                                   0.001);
  strata_metrics_histogram_observe(strata_metrics_child(fam, "batch"), 20);
  assert_renders(reg, "# HELP lat_seconds Latency.\n"
                      "# TYPE lat_seconds histogram\n"
                      "lat_seconds_bucket{tier=\"critical\",le=\"0.005\"} 1\n"
                      "lat_seconds_bucket{tier=\"critical\",le=\"10\"} 1\n"
                      "lat_seconds_bucket{tier=\"critical\",le=\"+Inf\"} 1\n"
                      "lat_seconds_sum{tier=\"critical\"} 0.001\n"
                      "lat_seconds_count{tier=\"critical\"} 1\n"
                      "lat_seconds_bucket{tier=\"batch\",le=\"0.005\"} 0\n"
                      "lat_seconds_bucket{tier=\"batch\",le=\"10\"} 0\n"
                      "lat_seconds_bucket{tier=\"batch\",le=\"+Inf\"} 1\n"
                      "lat_seconds_sum{tier=\"batch\"} 20\n"
                      "lat_seconds_count{tier=\"batch\"} 1\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_histogram_rejects_bad_bounds(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  char err[256];
  (void)state;

  assert_null(strata_metrics_histogram(
      reg, "h1", "", 0, NULL, 3, (const double[]){1, 2, 2}, err, sizeof(err)));
  assert_non_null(strstr(err, "\"h1\""));
  assert_non_null(strstr(err, "increase strictly"));
  assert_null(strata_metrics_histogram(
      reg, "h2", "", 0, NULL, 2, (const double[]){NAN, 2}, err, sizeof(err)));
  assert_non_null(strstr(err, "\"h2\""));
  assert_non_null(strstr(err, "not finite"));
  /* No bounds at all is a histogram with only the +Inf bucket. */
  assert_non_null(
      strata_metrics_histogram(reg, "h3", "", 0, NULL, 0, NULL, err, 256));
  assert_renders(reg, "# TYPE h3 histogram\n"
                      "h3_bucket{le=\"+Inf\"} 0\n"
                      "h3_sum 0\n"
                      "h3_count 0\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_label_values_and_help_are_escaped(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *fam;
  char err[256];
  (void)state;

  fam = strata_metrics_gauge(reg, "g", "A \"quoted\" C:\\path\nsecond line", 1,
                             tier_only, err, sizeof(err));
  assert_non_null(fam);
  strata_metrics_gauge_set(strata_metrics_child(fam, "a\\b\"c\nd"), 1);
  /* HELP escapes backslash and newline only; label values also quotes. */
  assert_renders(reg, "# HELP g A \"quoted\" C:\\\\path\\nsecond line\n"
                      "# TYPE g gauge\n"
                      "g{tier=\"a\\\\b\\\"c\\nd\"} 1\n");
  strata_metrics_destroy(reg);
}

static void test_metrics_invalid_names_are_rejected_naming_them(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  char err[256];
  (void)state;

  assert_null(
      strata_metrics_counter(reg, "9lives", "", 0, NULL, err, sizeof(err)));
  assert_string_equal(err, "metric name \"9lives\": must match "
                           "[a-zA-Z_:][a-zA-Z0-9_:]*");
  assert_null(
      strata_metrics_gauge(reg, "queue-depth", "", 0, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "\"queue-depth\""));
  assert_null(strata_metrics_gauge(reg, "", "", 0, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "metric name \"\""));

  assert_null(strata_metrics_gauge(
      reg, "g", "", 1, (const char *const[]){"__reserved"}, err, sizeof(err)));
  assert_string_equal(err, "label name \"__reserved\" of metric \"g\": names "
                           "starting with \"__\" are reserved");
  assert_null(strata_metrics_gauge(
      reg, "g", "", 2, (const char *const[]){"ok", "a:b"}, err, sizeof(err)));
  assert_string_equal(err, "label name \"a:b\" of metric \"g\": must match "
                           "[a-zA-Z_][a-zA-Z0-9_]*");
  assert_null(strata_metrics_gauge(reg, "g", "", 2,
                                   (const char *const[]){"tier", "tier"}, err,
                                   sizeof(err)));
  assert_non_null(strstr(err, "\"tier\""));
  assert_non_null(strstr(err, "given twice"));
  assert_null(strata_metrics_histogram(
      reg, "h", "", 1, (const char *const[]){"le"}, 0, NULL, err, sizeof(err)));
  assert_non_null(strstr(err, "\"le\""));
  assert_non_null(strstr(err, "\"h\""));

  /* Colons are fine in metric names; "le" is fine outside histograms. */
  assert_non_null(strata_metrics_gauge(reg, "job:rate:5m", "", 1,
                                       (const char *const[]){"le"}, err,
                                       sizeof(err)));
  /* Nothing failed above registered anything. */
  assert_renders(reg, "");
  strata_metrics_destroy(reg);
}

static void test_metrics_duplicate_names_are_rejected(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  char err[256];
  (void)state;

  assert_non_null(
      strata_metrics_counter(reg, "jobs", "", 0, NULL, err, sizeof(err)));
  /* "jobs" became "jobs_total", which a gauge may not take either. */
  assert_null(
      strata_metrics_gauge(reg, "jobs_total", "", 0, NULL, err, sizeof(err)));
  assert_string_equal(err, "metric name \"jobs_total\": already registered");
  assert_null(
      strata_metrics_counter(reg, "jobs", "", 0, NULL, err, sizeof(err)));
  assert_string_equal(err, "metric name \"jobs_total\": already registered");
  strata_metrics_destroy(reg);
}

typedef struct {
  strata_metrics_child_t *gauge;
  int calls;
} collect_state_t;

static void collect_queue_depth(strata_metrics_t *reg, void *opaque) {
  collect_state_t *st = opaque;
  (void)reg;
  st->calls++;
  strata_metrics_gauge_set(st->gauge, 10 * st->calls);
}

static void test_metrics_collect_callback_runs_before_render(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  collect_state_t st = {0};
  char err[256];
  (void)state;

  st.gauge = strata_metrics_child(
      strata_metrics_gauge(reg, "depth", "", 0, NULL, err, sizeof(err)));
  strata_metrics_set_collect(reg, collect_queue_depth, &st);
  assert_renders(reg, "# TYPE depth gauge\ndepth 10\n");
  assert_renders(reg, "# TYPE depth gauge\ndepth 20\n");
  strata_metrics_set_collect(reg, NULL, NULL);
  assert_renders(reg, "# TYPE depth gauge\ndepth 20\n");
  assert_int_equal(st.calls, 2);
  strata_metrics_destroy(reg);
}

enum { N_THREADS = 4, N_ADDS = 50000 };

typedef struct {
  strata_metrics_family_t *counter, *gauge, *hist;
  pthread_barrier_t *start;
} worker_arg_t;

/* Each thread looks its children up itself, so lookups race too. */
static void *add_many(void *p) {
  worker_arg_t *w = p;
  strata_metrics_child_t *c = strata_metrics_child(w->counter, "shared");
  strata_metrics_child_t *g = strata_metrics_child(w->gauge, "shared");
  strata_metrics_child_t *h = strata_metrics_child(w->hist, "shared");

  pthread_barrier_wait(w->start);
  for (int i = 0; i < N_ADDS; i++) {
    strata_metrics_counter_add(c, 1);
    strata_metrics_gauge_add(g, 2);
    strata_metrics_gauge_add(g, -1);
    strata_metrics_histogram_observe(h, 0.5);
  }
  return NULL;
}

static void test_metrics_concurrent_updates_sum_exactly(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  pthread_t threads[N_THREADS];
  pthread_barrier_t start;
  worker_arg_t w;
  char err[256];
  (void)state;

  w.counter =
      strata_metrics_counter(reg, "adds", "", 1, tier_only, err, sizeof(err));
  w.gauge =
      strata_metrics_gauge(reg, "level", "", 1, tier_only, err, sizeof(err));
  w.hist = strata_metrics_histogram(reg, "obs", "", 1, tier_only, 1,
                                    (const double[]){1}, err, sizeof(err));
  w.start = &start;
  pthread_barrier_init(&start, NULL, N_THREADS);
  for (int i = 0; i < N_THREADS; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, add_many, &w), 0);
  for (int i = 0; i < N_THREADS; i++)
    pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&start);

  assert_true(strata_metrics_value(strata_metrics_child(w.counter, "shared")) ==
              (double)N_THREADS * N_ADDS);
  assert_true(strata_metrics_value(strata_metrics_child(w.gauge, "shared")) ==
              (double)N_THREADS * N_ADDS);
  assert_true(strata_metrics_value(strata_metrics_child(w.hist, "shared")) ==
              (double)N_THREADS * N_ADDS);
  assert_renders(reg, "# TYPE adds_total counter\n"
                      "adds_total{tier=\"shared\"} 200000\n"
                      "# TYPE level gauge\n"
                      "level{tier=\"shared\"} 200000\n"
                      "# TYPE obs histogram\n"
                      "obs_bucket{tier=\"shared\",le=\"1\"} 200000\n"
                      "obs_bucket{tier=\"shared\",le=\"+Inf\"} 200000\n"
                      "obs_sum{tier=\"shared\"} 100000\n"
                      "obs_count{tier=\"shared\"} 200000\n");
  strata_metrics_destroy(reg);
}

/* Every feature at once, for promtool's parser and linter. */
static int emit_sample(void) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_metrics_family_t *misses, *depth, *wait, *up;
  const double bounds[] = {0.005, 0.01, 0.1, 1, 10};
  char err[256], *out;
  size_t len;

  misses = strata_metrics_counter(reg, "strata_deadline_misses",
                                  "Tasks that missed a deadline.", 2, tier_kind,
                                  err, sizeof(err));
  depth = strata_metrics_gauge(reg, "strata_queue_depth",
                               "Tasks waiting, by \"tier\"\nC:\\queue.", 1,
                               tier_only, err, sizeof(err));
  wait = strata_metrics_histogram(reg, "strata_wait_seconds",
                                  "Time from enqueue to dispatch.", 1,
                                  tier_only, 5, bounds, err, sizeof(err));
  up = strata_metrics_gauge(reg, "strata_up", "1 when running.", 0, NULL, err,
                            sizeof(err));
  if (!misses || !depth || !wait || !up) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  strata_metrics_counter_add(strata_metrics_child(misses, "critical", "hard"),
                             3);
  strata_metrics_counter_add(strata_metrics_child(misses, "batch", "soft"), 1);
  strata_metrics_gauge_set(strata_metrics_child(depth, "critical"), 7);
  strata_metrics_gauge_set(strata_metrics_child(depth, "odd \"tier\"\\\nx"),
                           0.25);
  strata_metrics_histogram_observe(strata_metrics_child(wait, "critical"),
                                   0.003);
  strata_metrics_histogram_observe(strata_metrics_child(wait, "critical"), 2);
  strata_metrics_histogram_observe(strata_metrics_child(wait, "batch"), 30);
  strata_metrics_gauge_set(strata_metrics_child(up), 1);
  if (strata_metrics_render(reg, &out, &len) != STRATA_OK)
    return 1;
  fwrite(out, 1, len, stdout);
  free(out);
  strata_metrics_destroy(reg);
  return 0;
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_empty_registry_renders_nothing),
      cmocka_unit_test(test_metrics_counter_renders_help_type_and_total_suffix),
      cmocka_unit_test(test_metrics_counter_keeps_an_existing_total_suffix),
      cmocka_unit_test(
          test_metrics_counter_children_render_labels_in_creation_order),
      cmocka_unit_test(test_metrics_counter_ignores_negative_and_nan_adds),
      cmocka_unit_test(test_metrics_gauge_values_render_exactly),
      cmocka_unit_test(
          test_metrics_histogram_buckets_are_cumulative_with_inf_sum_count),
      cmocka_unit_test(test_metrics_histogram_puts_le_after_the_labels),
      cmocka_unit_test(test_metrics_histogram_rejects_bad_bounds),
      cmocka_unit_test(test_metrics_label_values_and_help_are_escaped),
      cmocka_unit_test(test_metrics_invalid_names_are_rejected_naming_them),
      cmocka_unit_test(test_metrics_duplicate_names_are_rejected),
      cmocka_unit_test(test_metrics_collect_callback_runs_before_render),
      cmocka_unit_test(test_metrics_concurrent_updates_sum_exactly),
  };

  if (argc == 2 && strcmp(argv[1], "--emit-sample") == 0)
    return emit_sample();
  return cmocka_run_group_tests(tests, NULL, NULL);
}
