/*
 * Dependency graph of the scheduler core: blocking until dependencies
 * succeed, out-of-order arrival, remembered and known successes, cycle
 * rejection, cascading failure and unblock latency.
 */
#include "core_test_util.h"

static void submit_deps(strata_core_t *c, const char *id, const char **deps,
                        size_t n, int64_t now) {
  strata_core_task_spec_t s = test_spec(id, 2);
  s.deps = deps;
  s.ndeps = n;
  test_submit_spec(c, &s, now);
}

static strata_core_state_t state_of(strata_core_t *c, const char *id) {
  strata_core_task_info_t info;
  assert_int_equal(strata_core_lookup(c, id, &info), STRATA_OK);
  return info.state;
}

static void test_task_waits_until_all_dependencies_succeed(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *deps[] = {"a", "b"};

  (void)state;
  test_submit(c, "a", 2, 0);
  test_submit(c, "b", 2, 0);
  submit_deps(c, "c", deps, 2, 0);
  assert_int_equal(state_of(c, "c"), STRATA_CORE_STATE_BLOCKED);
  test_expect_next(c, 1, "a");
  test_expect_next(c, 1, "b");
  test_expect_none(c, 1);
  test_complete(c, "a", STRATA_CORE_SUCCEEDED, 2);
  assert_int_equal(state_of(c, "c"), STRATA_CORE_STATE_BLOCKED);
  test_expect_none(c, 2);
  test_complete(c, "b", STRATA_CORE_SUCCEEDED, 3);
  assert_int_equal(state_of(c, "c"), STRATA_CORE_STATE_READY);
  test_expect_next(c, 3, "c");
  strata_core_destroy(c);
}

static void test_dependency_may_arrive_after_its_dependent(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *deps[] = {"later"};
  strata_core_stats_t st;

  (void)state;
  submit_deps(c, "early", deps, 1, 0);
  strata_core_stats(c, 0, &st);
  assert_int_equal(st.placeholders, 1);
  assert_int_equal(st.held, 2); /* placeholders count toward max_tasks */
  assert_int_equal(
      strata_core_lookup(c, "later", &(strata_core_task_info_t){0}),
      STRATA_ERR_NOT_FOUND);
  test_expect_none(c, 1);
  test_submit(c, "later", 2, 2);
  strata_core_stats(c, 2, &st);
  assert_int_equal(st.placeholders, 0);
  test_expect_next(c, 3, "later");
  test_complete(c, "later", STRATA_CORE_SUCCEEDED, 4);
  test_expect_next(c, 4, "early");
  strata_core_destroy(c);
}

static void test_known_succeeded_dependency_does_not_block(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_x[] = {"x"};
  const char *on_y[] = {"y"};
  const char *on_z[] = {"z"};

  (void)state;
  /* Told by the caller (e.g. after a restart). */
  assert_int_equal(strata_core_mark_succeeded(c, "x", 0), STRATA_OK);
  submit_deps(c, "after-x", on_x, 1, 0);
  assert_int_equal(state_of(c, "after-x"), STRATA_CORE_STATE_READY);
  /* Remembered from a completion the core saw. */
  test_submit(c, "y", 2, 0);
  test_expect_next(c, 1, "after-x");
  test_expect_next(c, 1, "y");
  test_complete(c, "y", STRATA_CORE_SUCCEEDED, 2);
  submit_deps(c, "after-y", on_y, 1, 3);
  assert_int_equal(state_of(c, "after-y"), STRATA_CORE_STATE_READY);
  /* Marked while a dependent already waits on a placeholder. */
  submit_deps(c, "after-z", on_z, 1, 3);
  assert_int_equal(state_of(c, "after-z"), STRATA_CORE_STATE_BLOCKED);
  assert_int_equal(strata_core_mark_succeeded(c, "z", 4), STRATA_OK);
  assert_int_equal(state_of(c, "after-z"), STRATA_CORE_STATE_READY);
  /* A remembered success is a duplicate if submitted again. */
  assert_int_equal(
      strata_core_submit(c, &(strata_core_task_spec_t){.id = "y"}, 5, NULL, 0),
      STRATA_ERR_EXISTS);
  strata_core_destroy(c);
}

static void test_cycle_is_rejected_with_path_in_message(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_b[] = {"b"}, *on_c[] = {"c"}, *on_a[] = {"a"};
  const char *self[] = {"s"};
  strata_core_task_spec_t s;
  char err[256] = "";

  (void)state;
  submit_deps(c, "a", on_b, 1, 0);
  submit_deps(c, "b", on_c, 1, 0);
  s = test_spec("c", 2);
  s.deps = on_a;
  s.ndeps = 1;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_CYCLE);
  assert_string_equal(err, "c -> a -> b -> c");
  /* Nothing of the rejected task was kept; "c" is still awaited. */
  assert_int_equal(strata_core_lookup(c, "c", &(strata_core_task_info_t){0}),
                   STRATA_ERR_NOT_FOUND);
  assert_int_equal(strata_core_held(c), 3);
  /* Self-dependency. */
  s = test_spec("s", 2);
  s.deps = self;
  s.ndeps = 1;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_CYCLE);
  assert_string_equal(err, "s -> s");
  /* Without the back edge the chain is fine. */
  test_submit(c, "c", 2, 1);
  test_expect_next(c, 1, "c");
  strata_core_destroy(c);
}

static void test_dependency_failure_cascades_with_reason(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_a[] = {"a"}, *on_b[] = {"b"}, *on_c[] = {"c"};
  const char *two[] = {"a", "other"};
  strata_core_outcome_t out[8];
  strata_core_stats_t st;
  size_t n;

  (void)state;
  test_submit(c, "a", 2, 0);
  submit_deps(c, "b", on_a, 1, 0);
  submit_deps(c, "c", on_b, 1, 0);
  submit_deps(c, "d", on_c, 1, 0);
  submit_deps(c, "e", two, 2, 0);
  test_submit(c, "other", 2, 0);
  test_expect_next(c, 1, "a");
  test_complete(c, "a", STRATA_CORE_FAILED, 2);
  n = strata_core_poll_outcomes(c, 2, out, 8);
  assert_int_equal(n, 4);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(out[i].kind, STRATA_CORE_OUTCOME_DEP_FAILED);
    assert_int_equal(out[i].at, 2);
    if (!strcmp(out[i].id, "b") || !strcmp(out[i].id, "e"))
      assert_string_equal(out[i].reason, "dependency a failed");
    else if (!strcmp(out[i].id, "c"))
      assert_string_equal(out[i].reason, "dependency a failed (via b)");
    else if (!strcmp(out[i].id, "d"))
      assert_string_equal(out[i].reason, "dependency a failed (via c)");
    else
      fail_msg("unexpected outcome for %s", out[i].id);
  }
  strata_core_stats(c, 2, &st);
  assert_int_equal(st.tiers[2].dep_failures, 4);
  /* "other" lost its dependent but is otherwise untouched. */
  test_expect_next(c, 3, "other");
  assert_int_equal(strata_core_held(c), 1);
  /* A late dependent of a remembered failure fails at once. */
  submit_deps(c, "late", on_a, 1, 4);
  n = strata_core_poll_outcomes(c, 4, out, 8);
  assert_int_equal(n, 1);
  assert_string_equal(out[0].id, "late");
  assert_string_equal(out[0].reason, "dependency a failed");
  strata_core_destroy(c);
}

static void test_retry_keeps_dependents_waiting(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_a[] = {"a"};

  (void)state;
  test_submit(c, "a", 2, 0);
  submit_deps(c, "b", on_a, 1, 0);
  test_expect_next(c, 1, "a");
  test_complete(c, "a", STRATA_CORE_FAILED_RETRY, 2);
  assert_int_equal(state_of(c, "b"), STRATA_CORE_STATE_BLOCKED);
  test_expect_none(c, 3);
  test_submit(c, "a", 2, 10); /* the retry */
  test_expect_next(c, 10, "a");
  test_complete(c, "a", STRATA_CORE_SUCCEEDED, 11);
  test_expect_next(c, 11, "b");
  strata_core_destroy(c);
}

static void test_unblock_latency_is_reported(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_a[] = {"a"};
  strata_core_task_spec_t s;
  strata_core_dispatch_t d;
  strata_core_stats_t st;

  (void)state;
  test_submit(c, "a", 2, 0);
  submit_deps(c, "now", on_a, 1, 0);
  s = test_spec("delayed", 2);
  s.deps = on_a;
  s.ndeps = 1;
  s.not_before = 150;
  test_submit_spec(c, &s, 0);
  test_expect_next(c, 1, "a");
  test_complete(c, "a", STRATA_CORE_SUCCEEDED, 100);
  assert_int_equal(strata_core_next(c, 120, &d), 1);
  assert_string_equal(d.id, "now");
  assert_int_equal(d.unblock_latency_ms, 0);
  assert_int_equal(d.ready_at, 100);
  assert_int_equal(d.wait_ms, 20);
  test_expect_none(c, 149);
  assert_int_equal(strata_core_next(c, 150, &d), 1);
  assert_string_equal(d.id, "delayed");
  assert_int_equal(d.unblock_latency_ms, 50);
  strata_core_stats(c, 150, &st);
  assert_int_equal(st.tiers[2].unblocked, 2);
  assert_int_equal(st.tiers[2].unblock_latency_max_ms, 50);
  assert_int_equal(st.tiers[2].unblock_latency_sum_ms, 50);
  /* A task without dependencies reports -1. */
  test_submit(c, "plain", 2, 150);
  assert_int_equal(strata_core_next(c, 150, &d), 1);
  assert_int_equal(d.unblock_latency_ms, -1);
  strata_core_destroy(c);
}

static void test_cancelled_dependency_fails_dependents(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_a[] = {"a"};
  strata_core_outcome_t out[2];

  (void)state;
  test_submit(c, "a", 2, 0);
  submit_deps(c, "b", on_a, 1, 0);
  assert_int_equal(strata_core_cancel(c, "a", 1), STRATA_OK);
  assert_int_equal(strata_core_poll_outcomes(c, 1, out, 2), 1);
  assert_string_equal(out[0].id, "b");
  assert_string_equal(out[0].reason, "dependency a was cancelled");
  assert_int_equal(strata_core_held(c), 0);
  strata_core_destroy(c);
}

/* A dependency owned elsewhere (a placeholder here) fails for good: its
   waiters fail transitively, naming it and the reason; later dependents of
   the same id fail at once. */
static void test_mark_failed_fails_waiters_of_a_placeholder(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_x[] = {"x"}, *on_b[] = {"b"};
  strata_core_outcome_t out[4];

  (void)state;
  submit_deps(c, "b", on_x, 1, 0); /* x is a placeholder */
  submit_deps(c, "c", on_b, 1, 0);
  assert_int_equal(strata_core_mark_failed(c, "x", 1, "dead-lettered"),
                   STRATA_OK);
  assert_int_equal(strata_core_poll_outcomes(c, 1, out, 4), 2);
  assert_int_equal(out[0].kind, STRATA_CORE_OUTCOME_DEP_FAILED);
  assert_string_equal(out[0].id, "b");
  assert_string_equal(out[0].reason, "dependency x failed: dead-lettered");
  assert_string_equal(out[1].id, "c");
  assert_string_equal(out[1].reason,
                      "dependency x failed: dead-lettered (via b)");
  assert_int_equal(strata_core_held(c), 0);
  /* Remembered: a later dependent fails at once. */
  submit_deps(c, "d", on_x, 1, 2);
  assert_int_equal(strata_core_poll_outcomes(c, 2, out, 4), 1);
  assert_string_equal(out[0].id, "d");
  strata_core_destroy(c);
}

/* Unknown ids are remembered as failed; a held running task is completed
   as failed, releasing its resources; a ready one is refused. */
static void test_mark_failed_of_unknown_running_and_ready_tasks(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_u[] = {"u"}, *on_r[] = {"r"};
  strata_core_pool_config_t pc = {.kind = STRATA_CORE_POOL_CONCURRENCY,
                                  .limit = 1};
  strata_core_demand_t dem = {"slots", 1};
  strata_core_pool_info_t pi;
  strata_core_task_spec_t s;
  strata_core_outcome_t out[4];
  char err[128];
  int pid;

  (void)state;
  assert_int_equal(strata_core_mark_failed(c, "u", 1, NULL), STRATA_OK);
  submit_deps(c, "after-u", on_u, 1, 1);
  assert_int_equal(strata_core_poll_outcomes(c, 1, out, 4), 1);
  assert_string_equal(out[0].reason, "dependency u failed");

  assert_int_equal(
      strata_core_pool_add(c, "slots", &pc, &pid, err, sizeof(err)), STRATA_OK);
  s = test_spec("r", 2);
  s.demands = &dem;
  s.ndemands = 1;
  test_submit_spec(c, &s, 2);
  submit_deps(c, "after-r", on_r, 1, 2);
  test_expect_next(c, 2, "r");
  assert_int_equal(strata_core_mark_failed(c, "r", 3, "worker lost"),
                   STRATA_OK);
  assert_int_equal(strata_core_poll_outcomes(c, 3, out, 4), 1);
  assert_string_equal(out[0].id, "after-r");
  assert_string_equal(out[0].reason, "dependency r failed: worker lost");
  assert_int_equal(strata_core_pool_info(c, pid, 3, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 0);
  assert_int_equal(strata_core_held(c), 0);

  test_submit(c, "ready", 2, 4);
  assert_int_equal(strata_core_mark_failed(c, "ready", 4, NULL),
                   STRATA_ERR_STATE);
  assert_int_equal(strata_core_mark_failed(c, "", 4, NULL),
                   STRATA_ERR_INVALID_ARG);
  strata_core_destroy(c);
}

static void test_expired_dependency_fails_dependents(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_h[] = {"h"};
  strata_core_task_spec_t s = test_spec("h", 2);
  strata_core_outcome_t out[4];

  (void)state;
  s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
  s.deadline = 50;
  test_submit_spec(c, &s, 0);
  submit_deps(c, "w", on_h, 1, 0);
  assert_int_equal(strata_core_poll_outcomes(c, 100, out, 4), 2);
  assert_int_equal(out[0].kind, STRATA_CORE_OUTCOME_EXPIRED);
  assert_string_equal(out[0].id, "h");
  assert_int_equal(out[1].kind, STRATA_CORE_OUTCOME_DEP_FAILED);
  assert_string_equal(out[1].reason, "dependency h missed its hard deadline");
  strata_core_destroy(c);
}

static void
test_remembered_ids_are_forgotten_after_the_ring_fills(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  const char *on_a[] = {"a"}, *on_c[] = {"c"};
  strata_core_stats_t st;

  (void)state;
  strata_core_config_default(&cfg);
  cfg.remember_succeeded = 2;
  c = test_core(&cfg);
  test_submit(c, "a", 2, 0);
  test_submit(c, "b", 2, 0);
  test_submit(c, "c", 2, 0);
  for (int i = 0; i < 3; i++) {
    strata_core_dispatch_t d;
    assert_int_equal(strata_core_next(c, 1, &d), 1);
    test_complete(c, d.id, STRATA_CORE_SUCCEEDED, 2);
  }
  strata_core_stats(c, 2, &st);
  assert_int_equal(st.remembered, 2);
  /* "a" fell out of the ring: a new dependent waits for it again. */
  submit_deps(c, "after-a", on_a, 1, 3);
  assert_int_equal(state_of(c, "after-a"), STRATA_CORE_STATE_BLOCKED);
  submit_deps(c, "after-c", on_c, 1, 3);
  assert_int_equal(state_of(c, "after-c"), STRATA_CORE_STATE_READY);
  strata_core_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_task_waits_until_all_dependencies_succeed),
      cmocka_unit_test(test_dependency_may_arrive_after_its_dependent),
      cmocka_unit_test(test_known_succeeded_dependency_does_not_block),
      cmocka_unit_test(test_cycle_is_rejected_with_path_in_message),
      cmocka_unit_test(test_dependency_failure_cascades_with_reason),
      cmocka_unit_test(test_retry_keeps_dependents_waiting),
      cmocka_unit_test(test_unblock_latency_is_reported),
      cmocka_unit_test(test_cancelled_dependency_fails_dependents),
      cmocka_unit_test(test_mark_failed_fails_waiters_of_a_placeholder),
      cmocka_unit_test(test_mark_failed_of_unknown_running_and_ready_tasks),
      cmocka_unit_test(test_expired_dependency_fails_dependents),
      cmocka_unit_test(test_remembered_ids_are_forgotten_after_the_ring_fills),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
