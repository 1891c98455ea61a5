/*
 * The scheduler core's bookkeeping API: short timers, cancellation, lookup,
 * iteration order, capacity, configuration checks and teardown.
 */
#include "core_test_util.h"

#include <stdlib.h>

static void test_not_before_timer_holds_task_until_due(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("later", 2);
  strata_core_task_info_t info;
  strata_core_dispatch_t d;

  (void)state;
  s.not_before = 250;
  test_submit_spec(c, &s, 0);
  assert_int_equal(strata_core_lookup(c, "later", &info), STRATA_OK);
  assert_int_equal(info.state, STRATA_CORE_STATE_DELAYED);
  assert_int_equal(info.since, 250);
  assert_int_equal(strata_core_next_wakeup(c), 250);
  test_expect_none(c, 0);
  test_expect_none(c, 249);
  assert_int_equal(strata_core_next(c, 250, &d), 1);
  assert_string_equal(d.id, "later");
  assert_int_equal(d.ready_at, 250);
  assert_int_equal(d.wait_ms, 0);
  assert_int_equal(strata_core_next_wakeup(c), STRATA_CORE_NEVER);
  strata_core_destroy(c);
}

static void test_timers_fire_in_time_order(void **state) {
  strata_core_t *c = test_core(NULL);
  const int64_t at[] = {300, 100, 200, 100};
  const char *ids[] = {"t300", "t100a", "t200", "t100b"};

  (void)state;
  for (int i = 0; i < 4; i++) {
    strata_core_task_spec_t s = test_spec(ids[i], 2);
    s.not_before = at[i];
    test_submit_spec(c, &s, 0);
  }
  test_expect_none(c, 99);
  test_expect_next(c, 100, "t100a");
  test_expect_next(c, 100, "t100b");
  test_expect_none(c, 100);
  assert_int_equal(strata_core_next_wakeup(c), 200);
  test_expect_next(c, 1000, "t200");
  test_expect_next(c, 1000, "t300");
  strata_core_destroy(c);
}

static void test_cancel_in_ready_blocked_and_delayed_states(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_x[] = {"x"};
  strata_core_task_spec_t s;
  strata_core_stats_t st;

  (void)state;
  test_submit(c, "ready", 2, 0);
  s = test_spec("blocked", 2);
  s.deps = on_x;
  s.ndeps = 1;
  test_submit_spec(c, &s, 0);
  s = test_spec("delayed", 2);
  s.not_before = 100;
  test_submit_spec(c, &s, 0);
  assert_int_equal(strata_core_held(c), 4); /* with placeholder x */

  assert_int_equal(strata_core_cancel(c, "ready", 1), STRATA_OK);
  assert_int_equal(strata_core_cancel(c, "blocked", 1), STRATA_OK);
  assert_int_equal(strata_core_cancel(c, "delayed", 1), STRATA_OK);
  /* Nothing left, not even the placeholder nobody awaits now. */
  assert_int_equal(strata_core_held(c), 0);
  test_expect_none(c, 1000);
  assert_int_equal(strata_core_cancel(c, "ready", 2), STRATA_ERR_NOT_FOUND);
  assert_int_equal(strata_core_cancel(c, "x", 2), STRATA_ERR_NOT_FOUND);
  strata_core_stats(c, 2, &st);
  assert_int_equal(st.tiers[2].cancelled, 3);
  for (int i = 0; i < STRATA_CORE_STATE__COUNT; i++)
    assert_int_equal(st.tiers[2].depth[i], 0);
  strata_core_destroy(c);
}

static void test_cancel_of_running_task_is_refused(void **state) {
  strata_core_t *c = test_core(NULL);
  char err[128];

  (void)state;
  test_submit(c, "r", 2, 0);
  test_expect_next(c, 0, "r");
  assert_int_equal(strata_core_cancel(c, "r", 1), STRATA_ERR_STATE);
  assert_int_equal(strata_core_complete(c, "r", STRATA_CORE_CANCELLED, NULL, 0,
                                        2, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_core_complete(c, "r", STRATA_CORE_SUCCEEDED, NULL, 0,
                                        3, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  strata_core_destroy(c);
}

static void test_complete_requires_a_running_task(void **state) {
  strata_core_t *c = test_core(NULL);
  char err[128];

  (void)state;
  test_submit(c, "q", 2, 0);
  assert_int_equal(strata_core_complete(c, "q", STRATA_CORE_SUCCEEDED, NULL, 0,
                                        1, err, sizeof(err)),
                   STRATA_ERR_STATE);
  assert_int_equal(strata_core_complete(c, "nope", STRATA_CORE_SUCCEEDED, NULL,
                                        0, 1, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  strata_core_destroy(c);
}

static void test_complete_by_handle_releases_the_dispatch(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_info_t info;
  strata_core_dispatch_t d;
  char err[128];

  (void)state;
  test_submit(c, "h1", 2, 0);
  test_submit(c, "h2", 2, 0);
  assert_int_equal(strata_core_next(c, 1, &d), 1);
  assert_string_equal(d.id, "h1");
  assert_int_equal(strata_core_complete_handle(c, d.handle,
                                               STRATA_CORE_SUCCEEDED, NULL, 0,
                                               2, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_core_lookup(c, "h1", &info), STRATA_ERR_NOT_FOUND);
  assert_int_equal(strata_core_held(c), 1);
  /* A remembered success: a dependent of h1 is not blocked. */
  {
    const char *deps[] = {"h1"};
    strata_core_task_spec_t s = test_spec("h3", 2);
    s.deps = deps;
    s.ndeps = 1;
    test_submit_spec(c, &s, 3);
  }
  test_expect_next(c, 4, "h2");
  test_expect_next(c, 4, "h3");
  strata_core_destroy(c);
}

static void test_stale_handle_is_rejected(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_dispatch_t d, d2;
  uint64_t old;
  char err[128];

  (void)state;
  test_submit(c, "s1", 2, 0);
  assert_int_equal(strata_core_next(c, 1, &d), 1);
  old = d.handle;
  /* Completed once: the same handle no longer names anything. */
  assert_int_equal(strata_core_complete_handle(c, old, STRATA_CORE_SUCCEEDED,
                                               NULL, 0, 2, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_core_complete_handle(c, old, STRATA_CORE_SUCCEEDED,
                                               NULL, 0, 2, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  /* The freed record is reused by the next task: the old handle must not
     complete it. */
  test_submit(c, "s2", 2, 3);
  assert_int_equal(strata_core_next(c, 4, &d2), 1);
  assert_string_equal(d2.id, "s2");
  assert_int_equal((uint32_t)d2.handle, (uint32_t)old);
  assert_int_equal(strata_core_complete_handle(c, old, STRATA_CORE_FAILED, NULL,
                                               0, 5, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  /* A retried task dispatched again gets a new handle; the first one is
     stale. */
  assert_int_equal(strata_core_complete_handle(c, d2.handle,
                                               STRATA_CORE_FAILED_RETRY, NULL,
                                               0, 6, err, sizeof(err)),
                   STRATA_OK);
  test_submit(c, "s2", 2, 7);
  assert_int_equal(strata_core_next(c, 8, &d), 1);
  assert_string_equal(d.id, "s2");
  assert_true(d.handle != d2.handle);
  assert_int_equal(strata_core_complete_handle(c, d2.handle,
                                               STRATA_CORE_SUCCEEDED, NULL, 0,
                                               9, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  /* A handle of a slot never handed out, and one of a ready task. */
  assert_int_equal(strata_core_complete_handle(c, UINT64_C(0x100000000) | 999,
                                               STRATA_CORE_SUCCEEDED, NULL, 0,
                                               9, err, sizeof(err)),
                   STRATA_ERR_NOT_FOUND);
  test_submit(c, "s3", 2, 9);
  assert_int_equal(strata_core_complete_handle(c, d.handle,
                                               STRATA_CORE_SUCCEEDED, NULL, 0,
                                               10, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_core_held(c), 1);
  strata_core_destroy(c);
}

static void test_handle_and_id_completion_release_pools_alike(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_pool_config_t pc = {STRATA_CORE_POOL_CONCURRENCY, 0, 0, 0, 1};
  strata_core_demand_t dem = {"slots", 1};
  strata_core_pool_info_t pi;
  strata_core_dispatch_t d;
  char err[128];

  (void)state;
  assert_int_equal(
      strata_core_pool_add(c, "slots", &pc, NULL, err, sizeof(err)), STRATA_OK);
  for (int i = 0; i < 2; i++) {
    char id[8];
    strata_core_task_spec_t s;
    snprintf(id, sizeof(id), "p%d", i);
    s = test_spec(id, 2);
    s.demands = &dem;
    s.ndemands = 1;
    test_submit_spec(c, &s, 0);
  }
  assert_int_equal(strata_core_next(c, 1, &d), 1);
  test_expect_none(c, 1);
  assert_int_equal(strata_core_pool_info(c, 0, 1, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 1);
  assert_int_equal(strata_core_complete_handle(c, d.handle,
                                               STRATA_CORE_SUCCEEDED, NULL, 0,
                                               2, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_core_pool_info(c, 0, 2, &pi), STRATA_OK);
  assert_int_equal(pi.in_use, 0);
  test_expect_next(c, 3, "p1");
  strata_core_destroy(c);
}

static void test_submit_batch_equals_submits_one_by_one(void **state) {
  enum { N = 300 };
  static strata_core_task_spec_t specs[N];
  static char ids[N][16];
  strata_err_t errs[N];
  strata_core_t *a = test_core(NULL), *b = test_core(NULL);
  strata_core_dispatch_t da, db;
  char err[128] = "";
  size_t ok = 0;

  (void)state;
  for (int i = 0; i < N; i++) {
    /* A duplicate id (i % 97 == 50 repeats task i - 1), an unknown tier
       and a dependency on an earlier spec of the same batch. */
    snprintf(ids[i], sizeof(ids[i]), "x%d", i % 97 == 50 ? i - 1 : i);
    specs[i] = test_spec(ids[i], (uint32_t)(i % 5));
    if (i == 7)
      specs[i].tier = 99;
    specs[i].priority = i % 3 - 1;
    if (i % 4 == 1) {
      specs[i].deadline_kind = STRATA_CORE_DEADLINE_SOFT;
      specs[i].deadline = 5000 + (i * 37) % 1000;
    }
  }
  {
    static const char *dep[] = {"x10"};
    specs[20].deps = dep;
    specs[20].ndeps = 1;
  }
  for (int i = 0; i < N; i++) {
    strata_err_t rc = strata_core_submit(a, &specs[i], 0, NULL, 0);
    ok += rc == STRATA_OK;
  }
  assert_int_equal(
      strata_core_submit_batch(b, specs, N, 0, errs, err, sizeof(err)), ok);
  assert_int_equal(errs[7], STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "tier 99")); /* the first failure's message */
  assert_int_equal(errs[50], STRATA_ERR_EXISTS);
  assert_int_equal(errs[20], STRATA_OK);
  assert_int_equal(strata_core_held(a), strata_core_held(b));
  for (;;) {
    int na = strata_core_next(a, 1, &da), nb = strata_core_next(b, 1, &db);
    assert_int_equal(na, nb);
    if (!na)
      break;
    assert_string_equal(da.id, db.id);
    test_complete(a, da.id, STRATA_CORE_SUCCEEDED, 1);
    test_complete(b, db.id, STRATA_CORE_SUCCEEDED, 1);
  }
  assert_int_equal(strata_core_held(b), 0);
  strata_core_destroy(a);
  strata_core_destroy(b);
}

static void test_complete_batch_reports_each_item(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_completion_t items[4];
  strata_core_dispatch_t d[3];
  char err[128] = "";

  (void)state;
  test_submit(c, "c0", 2, 0);
  test_submit(c, "c1", 2, 0);
  test_submit(c, "c2", 2, 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(strata_core_next(c, 1, &d[i]), 1);
  memset(items, 0, sizeof(items));
  items[0].handle = d[0].handle;
  items[1].handle = d[1].handle;
  items[1].result = STRATA_CORE_FAILED;
  items[2].handle = d[0].handle; /* already completed by items[0] */
  items[3].handle = d[2].handle;
  assert_int_equal(strata_core_complete_batch(c, items, 4, 2, err, sizeof(err)),
                   3);
  assert_int_equal(items[0].err, STRATA_OK);
  assert_int_equal(items[1].err, STRATA_OK);
  assert_int_equal(items[2].err, STRATA_ERR_NOT_FOUND);
  assert_int_equal(items[3].err, STRATA_OK);
  assert_non_null(strstr(err, "does not name a running dispatch"));
  assert_int_equal(strata_core_held(c), 0);
  /* c1 failed: a new dependent of it fails at once. */
  {
    const char *deps[] = {"c1"};
    strata_core_task_spec_t s = test_spec("c3", 2);
    strata_core_outcome_t o;
    s.deps = deps;
    s.ndeps = 1;
    test_submit_spec(c, &s, 3);
    assert_int_equal(strata_core_poll_outcomes(c, 3, &o, 1), 1);
    assert_int_equal(o.kind, STRATA_CORE_OUTCOME_DEP_FAILED);
  }
  strata_core_destroy(c);
}

static void test_lookup_reports_task_state_and_fields(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s =
      test_spec("a-rather-long-task-id-that-does-not-fit-inline-0123456789", 1);
  strata_core_task_info_t info;

  (void)state;
  s.priority = 3;
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = 9000;
  s.estimate_ms = 1000;
  s.cookie = 0xfeedULL;
  test_submit_spec(c, &s, 10);
  assert_int_equal(strata_core_lookup(c, s.id, &info), STRATA_OK);
  assert_string_equal(info.id, s.id);
  assert_int_equal(info.tier, 1);
  assert_int_equal(info.state, STRATA_CORE_STATE_READY);
  assert_int_equal(info.priority, 3);
  assert_int_equal(info.deadline, 9000);
  assert_int_equal(info.estimate_ms, 1000);
  assert_int_equal(info.cookie, 0xfeed);
  assert_int_equal(info.submitted_at, 10);
  assert_int_equal(info.key, 9000 - 1000 - 3 * 1000);
  test_expect_next(c, 20, s.id);
  assert_int_equal(strata_core_lookup(c, s.id, &info), STRATA_OK);
  assert_int_equal(info.state, STRATA_CORE_STATE_RUNNING);
  assert_int_equal(info.since, 20);
  assert_int_equal(strata_core_lookup(c, "missing", &info),
                   STRATA_ERR_NOT_FOUND);
  strata_core_destroy(c);
}

typedef struct {
  char ids[16][16];
  int n;
} seen_t;

static int collect(const strata_core_task_info_t *t, void *opaque) {
  seen_t *s = opaque;
  snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", t->id);
  return s->n == 16;
}

static void test_iteration_follows_dispatch_order(void **state) {
  strata_core_t *c = test_core(NULL);
  const char *on_x[] = {"x"};
  strata_core_task_spec_t s;
  seen_t seen = {0};

  (void)state;
  /* tier 2 ready: keys 500, 300 (x2, FIFO), 400 */
  const int64_t dl[] = {500, 300, 300, 400};
  const char *rid[] = {"r500", "r300a", "r300b", "r400"};
  for (int i = 0; i < 4; i++) {
    s = test_spec(rid[i], 2);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = dl[i];
    test_submit_spec(c, &s, 0);
  }
  s = test_spec("d20", 2);
  s.not_before = 20;
  test_submit_spec(c, &s, 0);
  s = test_spec("d10", 2);
  s.not_before = 10;
  test_submit_spec(c, &s, 0);
  s = test_spec("blk", 2);
  s.deps = on_x;
  s.ndeps = 1;
  test_submit_spec(c, &s, 0);
  test_submit(c, "other-tier", 0, 0);

  assert_int_equal(
      strata_core_iterate(c, 2, STRATA_CORE_STATE_BIT(STRATA_CORE_STATE_READY),
                          collect, &seen),
      STRATA_OK);
  assert_int_equal(seen.n, 4);
  assert_string_equal(seen.ids[0], "r300a");
  assert_string_equal(seen.ids[1], "r300b");
  assert_string_equal(seen.ids[2], "r400");
  assert_string_equal(seen.ids[3], "r500");

  memset(&seen, 0, sizeof(seen));
  assert_int_equal(
      strata_core_iterate(c, -1, STRATA_CORE_STATE_ALL, collect, &seen),
      STRATA_OK);
  assert_int_equal(seen.n, 8); /* the placeholder x is not a task */
  assert_string_equal(seen.ids[0], "other-tier");
  assert_string_equal(seen.ids[5], "blk");
  assert_string_equal(seen.ids[6], "d10");
  assert_string_equal(seen.ids[7], "d20");

  /* The order within a tier is the order strata_core_next() follows.
     Every tier that became backlogged at the current virtual time is
     eligible for its share at once (WF2Q: start tag <= virtual time), and
     the owed tier whose head finishes first in virtual time goes first:
     critical (cost 1000 / weight 40) before tier 2 (1000 / 20). Then tier
     2 in key order. */
  test_expect_next(c, 1, "other-tier");
  test_expect_next(c, 1, "r300a");
  test_expect_next(c, 1, "r300b");
  test_expect_next(c, 1, "r400");
  strata_core_destroy(c);
}

static void test_full_core_rejects_submission(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_task_spec_t s;
  strata_core_stats_t st;
  const char *two_new[] = {"n1", "n2"};
  char err[256];

  (void)state;
  strata_core_config_default(&cfg);
  cfg.max_tasks = 3;
  c = test_core(&cfg);
  test_submit(c, "a", 2, 0);
  test_submit(c, "b", 2, 0);
  /* One slot left, but the task would also create two placeholders. */
  s = test_spec("c", 2);
  s.deps = two_new;
  s.ndeps = 2;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_FULL);
  assert_false(strata_core_is_full(c));
  test_submit(c, "c", 2, 0);
  assert_true(strata_core_is_full(c));
  s = test_spec("d", 2);
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_FULL);
  assert_non_null(strstr(err, "3"));
  strata_core_stats(c, 0, &st);
  assert_true(st.full);
  assert_int_equal(st.held, 3);
  /* Running tasks still count; a completion makes room. */
  test_expect_next(c, 1, "a");
  assert_true(strata_core_is_full(c));
  test_complete(c, "a", STRATA_CORE_SUCCEEDED, 2);
  assert_false(strata_core_is_full(c));
  test_submit(c, "d", 2, 2);
  strata_core_destroy(c);
}

static void test_duplicate_id_is_rejected(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("dup", 2);
  char err[128];

  (void)state;
  test_submit_spec(c, &s, 0);
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_EXISTS);
  s.id = "";
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  s.id = "t";
  s.tier = 9;
  assert_int_equal(strata_core_submit(c, &s, 0, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "tier"));
  strata_core_destroy(c);
}

static void test_config_is_validated(void **state) {
  strata_core_config_t cfg;
  strata_core_tier_config_t tiers[] = {{"a", 1, 0}, {"a", 1, 0}};
  char err[256] = "";

  (void)state;
  strata_core_config_default(&cfg);
  cfg.lookahead = 0;
  assert_null(strata_core_new(&cfg, err, sizeof(err)));
  assert_non_null(strstr(err, "lookahead"));
  strata_core_config_default(&cfg);
  cfg.tiers = tiers;
  cfg.ntiers = 2;
  assert_null(strata_core_new(&cfg, err, sizeof(err)));
  assert_non_null(strstr(err, "tiers[1].name"));
  tiers[1].name = "b";
  tiers[1].weight = 0;
  assert_null(strata_core_new(&cfg, err, sizeof(err)));
  assert_non_null(strstr(err, "weight"));
  assert_null(strata_core_new(NULL, err, sizeof(err)));
  strata_core_config_default(&cfg);
  strata_core_t *c = test_core(&cfg);
  assert_int_equal(strata_core_tier_index(c, "background"), 4);
  assert_int_equal(strata_core_tier_index(c, "nope"), -1);
  strata_core_destroy(c);
  strata_core_destroy(NULL);
}

static void test_time_going_backwards_is_clamped(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("nb", 2);
  strata_core_dispatch_t d;

  (void)state;
  s.not_before = 100;
  test_submit_spec(c, &s, 0);
  test_expect_next(c, 100, "nb");
  test_submit(c, "back", 2, 50); /* the caller's clock stepped back */
  assert_int_equal(strata_core_next(c, 60, &d), 1);
  assert_int_equal(d.submitted_at, 100);
  assert_int_equal(d.wait_ms, 0);
  strata_core_destroy(c);
}

static void test_destroy_frees_everything(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_demand_t dem[] = {{"p1", 1}, {"p2", 1}, {"p3", 1}};
  strata_core_pool_config_t pc = {STRATA_CORE_POOL_CONCURRENCY, 0, 0, 0, 1000};
  char id[96], dep[96];

  (void)state;
  strata_core_pool_add(c, "p1", &pc, NULL, NULL, 0);
  strata_core_pool_add(c, "p2", &pc, NULL, NULL, 0);
  strata_core_pool_add(c, "p3", &pc, NULL, NULL, 0);
  /* Every kind of record and allocation: long ids, out-of-line demands,
     placeholders, edges, timers, running tasks, remembered ids, queued
     outcomes. */
  for (int i = 0; i < 3000; i++) {
    const char *deps[1] = {dep};
    strata_core_task_spec_t s;
    snprintf(id, sizeof(id), "task-with-a-long-identifier-%06d", i);
    snprintf(dep, sizeof(dep), "task-with-a-long-identifier-%06d", i + 1);
    s = test_spec(id, (uint32_t)(i % 5));
    s.demands = dem;
    s.ndemands = (size_t)(i % 4);
    if (i % 3 == 0) {
      s.deps = deps;
      s.ndeps = 1;
    }
    if (i % 7 == 0)
      s.not_before = 1000 + i;
    if (i % 11 == 0) {
      s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
      s.deadline = 500;
    }
    test_submit_spec(c, &s, 0);
  }
  for (int i = 0; i < 200; i++) {
    strata_core_dispatch_t d;
    if (!strata_core_next(c, 10, &d))
      break;
    if (i % 2)
      test_complete(
          c, d.id, i % 4 == 1 ? STRATA_CORE_FAILED : STRATA_CORE_SUCCEEDED, 10);
  }
  strata_core_destroy(c); /* valgrind/ASan check that nothing leaked */
}

static void test_mass_cancellation_keeps_order_of_the_rest(void **state) {
  strata_core_t *c = test_core(NULL);
  char id[32];
  int expect = 0;

  (void)state;
  /* Keys descend with i; cancelling 4 of every 5 leaves mostly stale heap
     entries, which the core compacts away. */
  for (int i = 0; i < 5000; i++) {
    strata_core_task_spec_t s;
    snprintf(id, sizeof(id), "m%d", i);
    s = test_spec(id, 2);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = 100000 - i;
    test_submit_spec(c, &s, 0);
  }
  for (int i = 0; i < 5000; i++)
    if (i % 5) {
      snprintf(id, sizeof(id), "m%d", i);
      assert_int_equal(strata_core_cancel(c, id, 1), STRATA_OK);
    }
  assert_int_equal(strata_core_held(c), 1000);
  for (int i = 4995; i >= 0; i -= 5, expect++) {
    snprintf(id, sizeof(id), "m%d", i);
    test_expect_next(c, 2, id);
  }
  assert_int_equal(expect, 1000);
  test_expect_none(c, 2);
  strata_core_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_not_before_timer_holds_task_until_due),
      cmocka_unit_test(test_timers_fire_in_time_order),
      cmocka_unit_test(test_cancel_in_ready_blocked_and_delayed_states),
      cmocka_unit_test(test_cancel_of_running_task_is_refused),
      cmocka_unit_test(test_complete_requires_a_running_task),
      cmocka_unit_test(test_complete_by_handle_releases_the_dispatch),
      cmocka_unit_test(test_stale_handle_is_rejected),
      cmocka_unit_test(test_handle_and_id_completion_release_pools_alike),
      cmocka_unit_test(test_submit_batch_equals_submits_one_by_one),
      cmocka_unit_test(test_complete_batch_reports_each_item),
      cmocka_unit_test(test_lookup_reports_task_state_and_fields),
      cmocka_unit_test(test_iteration_follows_dispatch_order),
      cmocka_unit_test(test_full_core_rejects_submission),
      cmocka_unit_test(test_duplicate_id_is_rejected),
      cmocka_unit_test(test_config_is_validated),
      cmocka_unit_test(test_time_going_backwards_is_clamped),
      cmocka_unit_test(test_mass_cancellation_keeps_order_of_the_rest),
      cmocka_unit_test(test_destroy_frees_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
