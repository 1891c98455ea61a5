/*
 * Dispatch policy of the scheduler core: shares across tiers, urgency order
 * within a tier, aging, priority, dependency bonus and deadlines.
 */
#include "core_test_util.h"

#include <stdlib.h>

static strata_core_config_t no_aging_config(void) {
  strata_core_config_t cfg;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 0;
  return cfg;
}

/* Fills each tier in `tiers` with n tasks submitted at time 0. */
static void backlog(strata_core_t *c, const uint32_t *tiers, size_t ntiers,
                    int n) {
  char id[32];
  for (size_t t = 0; t < ntiers; t++)
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof(id), "t%u-%d", (unsigned)tiers[t], i);
      test_submit(c, id, tiers[t], 0);
    }
}

static void test_drr_gives_each_backlogged_tier_its_share(void **state) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);
  const uint32_t all[] = {0, 1, 2, 3, 4};
  const double weights[] = {40, 25, 20, 10, 5};
  uint64_t got[5] = {0};
  strata_core_dispatch_t d;
  const int total = 10000;

  (void)state;
  backlog(c, all, 5, total);
  for (int i = 0; i < total; i++) {
    assert_int_equal(strata_core_next(c, 1 + i, &d), 1);
    got[d.tier]++;
  }
  for (int t = 0; t < 5; t++) {
    double want = total * weights[t] / 100.0;
    if (got[t] < want * 0.98 || got[t] > want * 1.02)
      fail_msg("tier %d got %llu dispatches, want %.0f +-2%%", t,
               (unsigned long long)got[t], want);
  }
  strata_core_destroy(c);
}

/* Backlogs critical (40) and low (10) with n tasks each; low's tasks carry
   explicit soft deadlines at `low_deadline`. Returns dispatches per tier
   over `total` decisions. */
static void run_lending(int64_t low_deadline, int total, uint64_t got[5],
                        int deadlines_first) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c;

  cfg.deadlines_first = deadlines_first;
  c = test_core(&cfg);
  strata_core_dispatch_t d;
  char id[32];

  for (int i = 0; i < total; i++) {
    strata_core_task_spec_t s;
    snprintf(id, sizeof(id), "c-%d", i);
    test_submit(c, id, 0, 0); /* implicit deadline 0 + 1 s */
    snprintf(id, sizeof(id), "l-%d", i);
    s = test_spec(id, 3);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = low_deadline;
    test_submit_spec(c, &s, 0);
  }
  for (int i = 0; i < total; i++) {
    assert_int_equal(strata_core_next(c, 1 + i, &d), 1);
    got[d.tier]++;
  }
  strata_core_destroy(c);
}

static void test_idle_share_is_lent_to_the_most_urgent_tier(void **state) {
  uint64_t got[5] = {0};
  const int total = 10000;

  (void)state;
  /* Work-conserving: every decision dispatches. Each backlogged tier gets
     at least weight / Σ weights (critical 40 %, low 10 %); the idle tiers'
     50 % goes to the most urgent ready task. Critical's tasks are due at
     1 s, low's at 10 min: by key alone (deadlines_first off) the lent half
     goes to critical. */
  run_lending(600000, total, got, 0);
  assert_int_equal(got[0] + got[3], total);
  assert_true(got[3] >= 0.98 * 1000 && got[3] <= 1.02 * 1000);
  /* With deadlines_first (the default) what critical's floor leaves goes
     to low's real deadlines, which can still be made, not to critical's
     implicit ones (a wish, not a promise, and overdue after 1 s):
     critical gets exactly its 40 %. */
  memset(got, 0, sizeof(got));
  run_lending(600000, total, got, 1);
  assert_int_equal(got[0] + got[3], total);
  assert_true(got[0] >= 0.98 * 4000 && got[0] <= 1.02 * 4000);
  /* Low's tasks due at 0.5 s are the more urgent: now the lent half goes
     to low, and critical still gets its 40 %, either way. */
  for (int df = 0; df < 2; df++) {
    memset(got, 0, sizeof(got));
    run_lending(500, total, got, df);
    assert_int_equal(got[0] + got[3], total);
    assert_true(got[0] >= 0.98 * 4000 && got[0] <= 1.02 * 4000);
  }
}

static void test_tier_returning_from_idle_does_not_bank_credit(void **state) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);
  const uint32_t crit[] = {0};
  char id[32];
  uint64_t got[5] = {0};
  strata_core_dispatch_t d;

  (void)state;
  backlog(c, crit, 1, 2000);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(strata_core_next(c, 1 + i, &d), 1);
  /* background was idle for 1000 decisions; now it becomes backlogged and
     must get its 5 % share (its tasks are less urgent than critical's, so
     nothing is lent to it), not a burst paying back the idle time. */
  for (int i = 0; i < 500; i++) {
    snprintf(id, sizeof(id), "bg-%d", i);
    test_submit(c, id, 4, 1001);
  }
  for (int i = 0; i < 450; i++) {
    assert_int_equal(strata_core_next(c, 1001 + i, &d), 1);
    got[d.tier]++;
    if (i == 39)
      assert_true(got[4] <= 2); /* 5 % of 40 */
  }
  assert_true(got[4] >= 21 && got[4] <= 24);
  strata_core_destroy(c);
}

/* Two tiers, weights 1000:1. One decision per ms; the heavy tier starts
   with 150 tasks and gets 0.9 more per ms, the light tier one every 50 ms:
   a feasible load (0.92 arrivals per decision) in which the stride share
   alone would starve the light tier while the heavy backlog drains.
   Returns the longest wait of any task, dispatched or still waiting. */
static int64_t run_starvation_scenario(int64_t bound, uint64_t *aged) {
  strata_core_tier_config_t tiers[] = {{"heavy", 1000, 1000},
                                       {"light", 1, 1000}};
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_dispatch_t d;
  strata_core_stats_t st;
  int64_t worst = 0;
  char id[32];

  strata_core_config_default(&cfg);
  cfg.tiers = tiers;
  cfg.ntiers = 2;
  cfg.starvation_bound_ms = bound;
  c = test_core(&cfg);
  for (int i = 0; i < 150; i++) {
    snprintf(id, sizeof(id), "h0-%d", i);
    test_submit(c, id, 0, 0);
  }
  for (int64_t now = 1; now <= 5000; now++) {
    if (now % 10 != 0) {
      snprintf(id, sizeof(id), "h-%lld", (long long)now);
      test_submit(c, id, 0, now);
    }
    if (now % 50 == 0) {
      snprintf(id, sizeof(id), "l-%lld", (long long)now);
      test_submit(c, id, 1, now);
    }
    if (!strata_core_next(c, now, &d))
      continue;
    if (d.wait_ms > worst)
      worst = d.wait_ms;
    test_complete(c, d.id, STRATA_CORE_SUCCEEDED, now);
  }
  strata_core_stats(c, 5000, &st);
  /* Tasks still waiting count too: the bound is about every ready task. */
  if (st.tiers[0].longest_wait_ms > worst)
    worst = st.tiers[0].longest_wait_ms;
  if (st.tiers[1].longest_wait_ms > worst)
    worst = st.tiers[1].longest_wait_ms;
  *aged = st.tiers[1].aged_dispatches;
  strata_core_destroy(c);
  return worst;
}

static void test_starvation_bound_holds_while_dispatching(void **state) {
  uint64_t aged = 0;
  int64_t worst;

  (void)state;
  /* Without aging the light tier waits ~1000 decisions per task. */
  worst = run_starvation_scenario(0, &aged);
  assert_true(worst > 1000);
  /* With a 200 ms bound no task, dispatched or still waiting, waits longer
     than the bound: one decision per ms, and an overdue task is taken the
     first decision after it reaches the bound. */
  worst = run_starvation_scenario(200, &aged);
  assert_true(worst <= 200);
  assert_true(aged > 0);
}

/* Sustained overload, longer than the starvation bound: one decision per
   ms, while every ms each of the four lower tiers gets a task (4 per
   decision) and every 4th ms a critical task with a hard deadline 200 ms
   out. After the first second every lower tier has tasks older than the
   1 s bound. Aging may take at most its capped share (10 % of the cost);
   the rest keeps following the shares and urgency, so the critical tasks,
   whose load fits well inside critical's 40 %, all make their deadlines. */
static void test_aging_cannot_swamp_the_shares_under_overload(void **state) {
  const double weights[] = {40, 25, 20, 10, 5};
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_dispatch_t d;
  strata_core_stats_t st;
  uint64_t n = 0, aged = 0;
  char id[48];

  (void)state;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 1000;
  c = test_core(&cfg);
  for (int64_t now = 1; now <= 10000; now++) {
    for (uint32_t t = 1; t < 5; t++) {
      snprintf(id, sizeof(id), "t%u-%lld", (unsigned)t, (long long)now);
      test_submit(c, id, t, now);
    }
    if (now % 4 == 0) {
      strata_core_task_spec_t s;
      snprintf(id, sizeof(id), "crit-%lld", (long long)now);
      s = test_spec(id, 0);
      s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
      s.deadline = now + 200;
      test_submit_spec(c, &s, now);
    }
    assert_int_equal(strata_core_next(c, now, &d), 1);
    n++;
    aged += (uint64_t)d.aged;
    test_complete(c, d.id, STRATA_CORE_SUCCEEDED, now);
  }
  strata_core_stats(c, 10000, &st);
  assert_int_equal(st.tiers[0].hard_expiries, 0);
  assert_int_equal(st.tiers[0].dispatched + st.tiers[0].depth[0], 2500);
  assert_true(aged > 0); /* every lower tier is overdue */
  /* Each lower tier gets at least its share of the decisions ... */
  for (int t = 1; t < 5; t++)
    assert_true(st.tiers[t].dispatched >= 0.98 * n * weights[t] / 100.0);
  /* ... and the capped aging (oldest first, so mostly background) adds at
     most 10 % of the decisions to a tier beyond its share and its loan. */
  assert_true(st.tiers[4].dispatched <= n * (5 + 10) / 100 + 2);
  strata_core_destroy(c);
}

static void submit_deadline(strata_core_t *c, const char *id, int64_t deadline,
                            int64_t estimate, int64_t now) {
  strata_core_task_spec_t s = test_spec(id, 2);
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = deadline;
  s.estimate_ms = estimate;
  test_submit_spec(c, &s, now);
}

static void test_edf_orders_by_absolute_deadline(void **state) {
  strata_core_t *c = test_core(NULL);

  (void)state;
  submit_deadline(c, "late", 3000, 0, 0);
  submit_deadline(c, "soon", 1000, 0, 0);
  submit_deadline(c, "mid", 2000, 0, 0);
  test_expect_next(c, 10, "soon");
  test_expect_next(c, 10, "mid");
  test_expect_next(c, 10, "late");
  strata_core_destroy(c);
}

static void test_least_laxity_orders_by_deadline_minus_estimate(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_info_t info;

  (void)state;
  /* "long" is due later but must start by 700; "short" can wait to 1000. */
  submit_deadline(c, "short", 1000, 0, 0);
  submit_deadline(c, "long", 1200, 500, 0);
  assert_int_equal(strata_core_lookup(c, "long", &info), STRATA_OK);
  assert_int_equal(info.key, 700);
  test_expect_next(c, 10, "long");
  test_expect_next(c, 10, "short");
  strata_core_destroy(c);
}

static void test_implicit_deadline_ages_tasks_without_deadline(void **state) {
  strata_core_t *c = test_core(NULL); /* normal tier: target wait 30 s */
  strata_core_task_info_t info;

  (void)state;
  test_submit(c, "old", 2, 0);
  assert_int_equal(strata_core_lookup(c, "old", &info), STRATA_OK);
  assert_int_equal(info.deadline, 30000);
  /* Submitted 20 s later with an explicit deadline 15 s out: due at 35 s,
     after the old task's implicit 30 s. */
  submit_deadline(c, "fresh", 35000, 0, 20000);
  /* A newer task without a deadline is due at 50 s. */
  test_submit(c, "newer", 2, 20000);
  test_expect_next(c, 20001, "old");
  test_expect_next(c, 20001, "fresh");
  test_expect_next(c, 20001, "newer");
  strata_core_destroy(c);
}

static void test_priority_shifts_key_by_step(void **state) {
  strata_core_t *c = test_core(NULL); /* priority step 1000 ms */
  strata_core_task_spec_t s;

  (void)state;
  submit_deadline(c, "plain", 5000, 0, 0);
  s = test_spec("prio2", 2);
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = 6500;
  s.priority = 2; /* key 6500 - 2000 = 4500 < 5000 */
  test_submit_spec(c, &s, 0);
  s = test_spec("prio1", 2);
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = 6500;
  s.priority = 1; /* key 5500 > 5000 */
  test_submit_spec(c, &s, 0);
  s = test_spec("neg", 2);
  s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
  s.deadline = 4000;
  s.priority = -3; /* key 7000 */
  test_submit_spec(c, &s, 0);
  test_expect_next(c, 1, "prio2");
  test_expect_next(c, 1, "plain");
  test_expect_next(c, 1, "prio1");
  test_expect_next(c, 1, "neg");
  strata_core_destroy(c);
}

static void
test_dependency_bonus_prefers_tasks_that_unblock_others(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_task_spec_t s;
  strata_core_task_info_t info;
  const char *dep_b[] = {"b"};
  char id[16];

  (void)state;
  strata_core_config_default(&cfg);
  cfg.dep_bonus_ms = 100;
  cfg.dep_bonus_max = 3;
  c = test_core(&cfg);
  submit_deadline(c, "a", 1000, 0, 0);
  submit_deadline(c, "b", 1250, 0, 0);
  /* Five tasks wait on b; the bonus counts at most 3: 1250 - 300 = 950. */
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof(id), "w%d", i);
    s = test_spec(id, 0);
    s.deps = dep_b;
    s.ndeps = 1;
    test_submit_spec(c, &s, 0);
  }
  assert_int_equal(strata_core_lookup(c, "b", &info), STRATA_OK);
  assert_int_equal(info.dependents, 5);
  assert_int_equal(info.key, 950);
  test_expect_next(c, 1, "b");
  test_expect_next(c, 1, "a");
  strata_core_destroy(c);
}

static void test_dependency_bonus_shrinks_when_dependents_leave(void **state) {
  strata_core_t *c = test_core(NULL); /* bonus 1000 ms per dependent */
  strata_core_task_spec_t s;
  strata_core_task_info_t info;
  const char *dep_b[] = {"b"};

  (void)state;
  submit_deadline(c, "a", 5000, 0, 0);
  submit_deadline(c, "b", 5500, 0, 0);
  s = test_spec("w", 2);
  s.deps = dep_b;
  s.ndeps = 1;
  test_submit_spec(c, &s, 0);
  assert_int_equal(strata_core_lookup(c, "b", &info), STRATA_OK);
  assert_int_equal(info.key, 4500);
  assert_int_equal(strata_core_cancel(c, "w", 1), STRATA_OK);
  assert_int_equal(strata_core_lookup(c, "b", &info), STRATA_OK);
  assert_int_equal(info.key, 5500);
  test_expect_next(c, 2, "a");
  test_expect_next(c, 2, "b");
  test_expect_none(c, 2);
  strata_core_destroy(c);
}

static void test_equal_keys_leave_in_fifo_order(void **state) {
  strata_core_t *c = test_core(NULL);
  char id[16];

  (void)state;
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "f%02d", i);
    submit_deadline(c, id, 1000, 0, 0);
  }
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "f%02d", i);
    test_expect_next(c, 1, id);
  }
  strata_core_destroy(c);
}

static void test_hard_deadline_expires_instead_of_dispatching(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("hard", 2);
  strata_core_outcome_t out[4];
  strata_core_stats_t st;

  (void)state;
  s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
  s.deadline = 100;
  s.estimate_ms = 50;
  s.cookie = 77;
  test_submit_spec(c, &s, 0);
  /* Latest start is 50; the expiry is a timer at 51. */
  assert_int_equal(strata_core_next_wakeup(c), 51);
  assert_int_equal(strata_core_poll_outcomes(c, 50, out, 4), 0);
  test_expect_none(c, 60);
  assert_int_equal(strata_core_poll_outcomes(c, 60, out, 4), 1);
  assert_int_equal(out[0].kind, STRATA_CORE_OUTCOME_EXPIRED);
  assert_string_equal(out[0].id, "hard");
  assert_int_equal(out[0].cookie, 77);
  assert_int_equal(out[0].at, 60);
  assert_non_null(strstr(out[0].reason, "hard deadline 100"));
  strata_core_stats(c, 60, &st);
  assert_int_equal(st.tiers[2].hard_expiries, 1);
  assert_int_equal(st.tiers[2].dispatched, 0);
  assert_int_equal(st.held, 0);
  assert_int_equal(strata_core_next_wakeup(c), STRATA_CORE_NEVER);
  strata_core_destroy(c);
}

static void test_hard_task_in_time_is_dispatched(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("hard", 2);
  strata_core_outcome_t out[1];
  strata_core_dispatch_t d;

  (void)state;
  s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
  s.deadline = 100;
  s.estimate_ms = 50;
  test_submit_spec(c, &s, 0);
  assert_int_equal(strata_core_next(c, 50, &d), 1); /* 50 + 50 <= 100 */
  assert_int_equal(d.deadline_kind, STRATA_CORE_DEADLINE_HARD);
  assert_false(d.soft_missed);
  /* The expiry timer is gone with the task. */
  assert_int_equal(strata_core_poll_outcomes(c, 1000, out, 1), 0);
  strata_core_destroy(c);
}

static void test_hard_task_that_cannot_make_it_expires_at_submit(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_task_spec_t s = test_spec("late", 2);
  strata_core_outcome_t out[1];

  (void)state;
  s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
  s.deadline = 100;
  s.estimate_ms = 50;
  test_submit_spec(c, &s, 80);
  test_expect_none(c, 80);
  assert_int_equal(strata_core_poll_outcomes(c, 80, out, 1), 1);
  assert_int_equal(out[0].kind, STRATA_CORE_OUTCOME_EXPIRED);
  strata_core_destroy(c);
}

static void test_soft_deadline_miss_is_dispatched_and_counted(void **state) {
  strata_core_t *c = test_core(NULL);
  strata_core_dispatch_t d;
  strata_core_stats_t st;

  (void)state;
  submit_deadline(c, "soft", 100, 50, 0);
  submit_deadline(c, "ok", 10000, 50, 0);
  assert_int_equal(strata_core_next(c, 60, &d), 1);
  assert_string_equal(d.id, "soft");
  assert_true(d.soft_missed);
  assert_int_equal(strata_core_next(c, 60, &d), 1);
  assert_string_equal(d.id, "ok");
  assert_false(d.soft_missed);
  strata_core_stats(c, 60, &st);
  assert_int_equal(st.tiers[2].soft_misses, 1);
  assert_int_equal(st.tiers[2].dispatched, 2);
  strata_core_destroy(c);
}

/* Large backlog: the ready queue's buffer and sorted runs (readyq.c) must
   give exactly the order of (key, arrival), also with cancelled tasks and
   tasks skipped by look-ahead interleaved with new arrivals. */
typedef struct {
  int64_t key;
  uint32_t n;
  int gone;
} big_task_t;

#define CORE_TEST_NONE UINT32_MAX

static int big_cmp(const void *a, const void *b) {
  const big_task_t *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->n < y->n ? -1 : x->n > y->n;
}

static void test_large_backlog_leaves_in_key_then_fifo_order(void **state) {
  enum { N = 30000 };
  strata_core_config_t cfg;
  static big_task_t tasks[N], order[N];
  uint64_t r = 42;
  strata_core_t *c;
  size_t no = 0, k = 0;
  strata_core_dispatch_t d;
  char id[16];

  (void)state;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 0;
  cfg.max_tasks = N + 1;
  c = test_core(&cfg);
  for (uint32_t i = 0; i < N; i++) {
    strata_core_task_spec_t s;
    r = r * 6364136223846793005u + 1442695040888963407u;
    snprintf(id, sizeof(id), "b%u", (unsigned)i);
    s = test_spec(id, 2);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = 100000 + (int64_t)((r >> 33) % 5000); /* many equal keys */
    s.priority = (int32_t)((r >> 20) % 3) - 1;
    test_submit_spec(c, &s, 0);
    tasks[i].key = s.deadline - s.priority * cfg.priority_step_ms;
    tasks[i].n = i;
    /* Dispatch a few while submitting, so runs are consumed and merged
       while new entries arrive. */
    if (i % 5 == 4) {
      assert_int_equal(strata_core_next(c, 0, &d), 1);
      order[no].n = (uint32_t)strtoul(d.id + 1, NULL, 10);
      tasks[order[no].n].gone = 1;
      no++;
      test_complete(c, d.id, STRATA_CORE_SUCCEEDED, 0);
    }
    if (i % 7 == 3 && !tasks[i - 3].gone) {
      snprintf(id, sizeof(id), "b%u", (unsigned)(i - 3));
      assert_int_equal(strata_core_cancel(c, id, 0), STRATA_OK);
      tasks[i - 3].gone = 2;
    }
  }
  /* What is left must drain in exact (key, arrival) order. */
  for (uint32_t i = 0; i < N; i++)
    if (!tasks[i].gone)
      order[k++] = tasks[i];
  qsort(order, k, sizeof(order[0]), big_cmp);
  for (size_t i = 0; i < k; i++) {
    char want[16];
    assert_int_equal(strata_core_next(c, 1, &d), 1);
    snprintf(want, sizeof(want), "b%u", (unsigned)order[i].n);
    assert_string_equal(d.id, want);
    assert_int_equal(strata_core_complete_handle(c, d.handle,
                                                 STRATA_CORE_SUCCEEDED, NULL, 0,
                                                 1, NULL, 0),
                     STRATA_OK);
  }
  test_expect_none(c, 2);
  assert_int_equal(strata_core_held(c), 0);
  strata_core_destroy(c);
}

/* Look-ahead over a large backlog: resource-blocked tasks it skips go back
   into the ready queue (its insertion heap) and must keep their place; tasks
   further back that fit are taken past them. Checked against a model: the
   pending tasks in key order, where a decision with the gate held takes the
   first ungated task among the K most urgent. */
static void test_lookahead_over_a_large_backlog_keeps_order(void **state) {
  enum { N = 12000 };
  strata_core_config_t cfg;
  strata_core_pool_config_t pc = {STRATA_CORE_POOL_CONCURRENCY, 0, 0, 0, 1};
  strata_core_demand_t dem = {"gate", 1};
  static uint8_t gated[N], done[N];
  strata_core_dispatch_t d;
  strata_core_t *c;
  char id[16], err[128];
  uint32_t head = 0, left = N;
  uint64_t r = 7;

  (void)state;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 0;
  cfg.max_tasks = N;
  c = test_core(&cfg);
  assert_int_equal(strata_core_pool_add(c, "gate", &pc, NULL, err, sizeof(err)),
                   STRATA_OK);
  /* Deadlines increase with i (key order = index order); most tasks need
     the gate. */
  for (uint32_t i = 0; i < N; i++) {
    strata_core_task_spec_t s;
    r = r * 6364136223846793005u + 1442695040888963407u;
    gated[i] = (r >> 40) % 8 != 0;
    snprintf(id, sizeof(id), "t%u", (unsigned)i);
    s = test_spec(id, 2);
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = 1000 + i;
    if (gated[i]) {
      s.demands = &dem;
      s.ndemands = 1;
    }
    test_submit_spec(c, &s, 0);
  }
  while (left) {
    uint32_t want = CORE_TEST_NONE, seen = 0, g;
    while (done[head])
      head++;
    /* The gate is free: the most urgent task goes. */
    snprintf(id, sizeof(id), "t%u", (unsigned)head);
    assert_int_equal(strata_core_next(c, 1, &d), 1);
    assert_string_equal(d.id, id);
    done[head] = 1;
    left--;
    if (!gated[head]) {
      test_complete(c, d.id, STRATA_CORE_SUCCEEDED, 1);
      continue;
    }
    /* It holds the gate: the next decision looks past up to K gated
       tasks for one that needs no gate. */
    g = head;
    for (uint32_t i = head; i < N && seen < cfg.lookahead; i++) {
      if (done[i])
        continue;
      seen++;
      if (!gated[i]) {
        want = i;
        break;
      }
    }
    if (want == CORE_TEST_NONE) {
      test_expect_none(c, 1);
    } else {
      snprintf(id, sizeof(id), "t%u", (unsigned)want);
      test_expect_next(c, 1, id);
      done[want] = 1;
      left--;
      test_complete(c, id, STRATA_CORE_SUCCEEDED, 1);
    }
    snprintf(id, sizeof(id), "t%u", (unsigned)g);
    test_complete(c, id, STRATA_CORE_SUCCEEDED, 1);
  }
  test_expect_none(c, 1);
  assert_int_equal(strata_core_held(c), 0);
  strata_core_destroy(c);
}

/* Runs 100 decisions of tier 4 alone, tier 0 either paused with a task
   held or idle, then resumes/submits tier 0 and records the tiers of the
   next 60 decisions with both tiers backlogged. */
static void run_pause_scenario(int paused, uint32_t seq[60]) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);
  strata_core_dispatch_t d;
  char id[32];

  if (paused) {
    assert_int_equal(strata_core_tier_pause(c, 0, 1), STRATA_OK);
    test_submit(c, "crit", 0, 0);
  }
  for (int i = 0; i < 160; i++) {
    snprintf(id, sizeof(id), "l%d", i);
    test_submit(c, id, 4, 0);
  }
  for (int i = 0; i < 100; i++) {
    assert_true(strata_core_next(c, 1 + i, &d));
    assert_int_equal(d.tier, 4);
  }
  if (paused)
    assert_int_equal(strata_core_tier_pause(c, 0, 0), STRATA_OK);
  else
    test_submit(c, "crit", 0, 100);
  for (int i = 0; i < 59; i++) {
    snprintf(id, sizeof(id), "c%d", i);
    test_submit(c, id, 0, 100);
  }
  for (int i = 0; i < 60; i++) {
    assert_true(strata_core_next(c, 101 + i, &d));
    seq[i] = d.tier;
  }
  strata_core_destroy(c);
}

/* A paused tier's tasks are held, not dispatched, whatever their urgency
   or age; aging cannot pick them either. Resuming dispatches them again,
   and the paused time is neither owed nor lent: after a resume the tiers
   share exactly as after the tier had simply been idle. */
static void test_paused_tier_is_held_until_resumed(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_stats_t st;
  uint32_t after_pause[60], after_idle[60];
  int n0 = 0;

  (void)state;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 100;
  c = test_core(&cfg);
  assert_int_equal(strata_core_tier_pause(c, 0, 1), STRATA_OK);
  assert_int_equal(strata_core_tier_pause(c, 9, 1), STRATA_ERR_INVALID_ARG);
  assert_true(strata_core_tier_paused(c, 0));
  test_submit(c, "crit", 0, 0);
  test_submit(c, "low-a", 4, 0);
  test_submit(c, "low-b", 4, 0);
  strata_core_stats(c, 0, &st);
  assert_true(st.tiers[0].paused);
  assert_false(st.tiers[4].paused);
  /* Long after the starvation bound, still only the unpaused tier. */
  test_expect_next(c, 5000, "low-a");
  test_expect_next(c, 5000, "low-b");
  test_expect_none(c, 5000);
  assert_int_equal(strata_core_tier_pause(c, 0, 0), STRATA_OK);
  assert_false(strata_core_tier_paused(c, 0));
  test_expect_next(c, 5001, "crit");
  strata_core_destroy(c);

  run_pause_scenario(1, after_pause);
  run_pause_scenario(0, after_idle);
  for (int i = 0; i < 60; i++) {
    assert_int_equal(after_pause[i], after_idle[i]);
    n0 += after_pause[i] == 0;
  }
  /* Both tiers really competed: neither took all 60. */
  assert_in_range(n0, 1, 59);
}

/* No longest-first: among tasks without a deadline submitted together (equal
   implicit deadlines) the shorter estimate goes first. The old key, the
   implicit deadline minus the estimate, started the 15 s task first. */
static void test_equal_implicit_deadlines_take_the_shorter_first(void **state) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);
  const char *ids[] = {"long", "mid", "short"};
  const int64_t est[] = {15000, 5000, 200};

  (void)state;
  for (int i = 0; i < 3; i++) {
    strata_core_task_spec_t s = test_spec(ids[i], 4);
    s.estimate_ms = est[i];
    test_submit_spec(c, &s, 0);
  }
  test_expect_next(c, 1, "short");
  test_expect_next(c, 1, "mid");
  test_expect_next(c, 1, "long");
  strata_core_destroy(c);
}

/* Explicit deadlines stay least laxity: of two tasks due at the same time
   the longer must start sooner, and does. */
static void test_equal_real_deadlines_stay_least_laxity(void **state) {
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);

  (void)state;
  submit_deadline(c, "short", 10000, 100, 0);
  submit_deadline(c, "long", 10000, 3000, 0);
  test_expect_next(c, 1, "long");
  test_expect_next(c, 1, "short");
  strata_core_destroy(c);
}

/* Floors are floors: under overload, while the high tier always has a
   feasible deadline waiting (which deadlines_first serves before floors
   that can wait), the low tier's deadline-less backlog still gets its 10 %
   (of Σ weights 100) of the dispatched cost, every tier backlogged. */
static void
test_backlogged_low_tier_gets_its_floor_under_overload(void **state) {
  const double weights[] = {40, 25, 20, 10, 5};
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c = test_core(&cfg);
  strata_core_dispatch_t d;
  uint64_t got[5] = {0};
  char id[32];
  const int total = 4000;

  (void)state;
  for (int i = 0; i < total; i++)
    for (uint32_t t = 0; t < 5; t++) {
      strata_core_task_spec_t s;
      snprintf(id, sizeof(id), "t%u-%d", (unsigned)t, i);
      s = test_spec(id, t);
      if (t < 3) { /* real deadlines, feasible for the whole run */
        s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
        s.deadline = 3600000 + i;
      }
      test_submit_spec(c, &s, 0);
    }
  for (int i = 0; i < total; i++) {
    assert_int_equal(strata_core_next(c, 1 + i, &d), 1);
    got[d.tier]++;
  }
  for (uint32_t t = 3; t < 5; t++)
    if (got[t] < 0.98 * total * weights[t] / 100.0)
      fail_msg("tier %u got %llu of %d, floor %.0f", (unsigned)t,
               (unsigned long long)got[t], total, total * weights[t] / 100.0);
  strata_core_destroy(c);
}

/* Deadlines before floors that can wait: a crowd of critical tasks due in
   5 s arrives while every other tier is backlogged with deadlines an hour
   out. The crowd takes every decision (the others lose nothing by waiting);
   with strict floors (deadlines_first = 0) it gets its 40 % and no more. */
static void
test_crowd_with_deadlines_goes_before_floors_that_can_wait(void **state) {
  for (int df = 1; df >= 0; df--) {
    strata_core_config_t cfg = no_aging_config();
    strata_core_t *c;
    strata_core_dispatch_t d;
    uint64_t crit = 0;
    char id[32];

    (void)state;
    cfg.deadlines_first = df;
    c = test_core(&cfg);
    for (int i = 0; i < 200; i++)
      for (uint32_t t = 1; t < 5; t++) {
        strata_core_task_spec_t s;
        snprintf(id, sizeof(id), "t%u-%d", (unsigned)t, i);
        s = test_spec(id, t);
        s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
        s.deadline = 3600000;
        s.estimate_ms = 100;
        test_submit_spec(c, &s, 0);
      }
    for (int i = 0; i < 100; i++) {
      strata_core_task_spec_t s;
      snprintf(id, sizeof(id), "crowd-%d", i);
      s = test_spec(id, 0);
      s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
      s.deadline = 5000;
      s.estimate_ms = 100;
      test_submit_spec(c, &s, 0);
    }
    for (int i = 0; i < 100; i++) {
      assert_int_equal(strata_core_next(c, 1, &d), 1);
      crit += d.tier == 0;
    }
    if (df)
      assert_int_equal(crit, 100);
    else
      assert_in_range(crit, 38, 42);
    strata_core_destroy(c);
  }
}

/* Aging cannot take a backlog task ahead of a hard deadline that can still
   be met: a deadline-less background task overdue by far, and a critical
   task that must start within 300 ms. The critical task goes first (the
   urgency override is tried before aging); the aged one next. */
static void
test_aging_does_not_go_ahead_of_a_feasible_hard_deadline(void **state) {
  strata_core_config_t cfg;
  strata_core_t *c;
  strata_core_task_spec_t s;
  strata_core_dispatch_t d;

  (void)state;
  strata_core_config_default(&cfg);
  cfg.starvation_bound_ms = 1000;
  c = test_core(&cfg);
  s = test_spec("old", 4);
  s.estimate_ms = 12000;
  test_submit_spec(c, &s, 0);
  s = test_spec("hard", 0);
  s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
  s.deadline = 10000 + 500;
  s.estimate_ms = 200;
  test_submit_spec(c, &s, 10000);
  assert_int_equal(strata_core_next(c, 10000, &d), 1);
  assert_string_equal(d.id, "hard");
  assert_int_equal(d.urgent, 1);
  assert_int_equal(strata_core_next(c, 10000, &d), 1);
  assert_string_equal(d.id, "old");
  assert_int_equal(d.aged, 1);
  strata_core_destroy(c);
}

/* Shares are of the worker time taken: tier a's tasks run 3x their
   estimate, b's as estimated; with equal weights each gets half of the
   worker's time, so b completes three tasks for each of a's. Without
   settling the overrun, a got half of the dispatches and 3/4 of the time. */
static void test_overrun_of_the_estimate_is_charged_to_the_tier(void **state) {
  strata_core_tier_config_t tiers[] = {{"a", 1, 1000}, {"b", 1, 1000}};
  strata_core_config_t cfg = no_aging_config();
  strata_core_t *c;
  strata_core_dispatch_t d;
  uint64_t got[2] = {0}, busy[2] = {0};
  int64_t now = 0;
  char id[32];

  (void)state;
  cfg.tiers = tiers;
  cfg.ntiers = 2;
  c = test_core(&cfg);
  for (int i = 0; i < 2000; i++)
    for (uint32_t t = 0; t < 2; t++) {
      strata_core_task_spec_t s;
      snprintf(id, sizeof(id), "%c%d", t ? 'b' : 'a', i);
      s = test_spec(id, t);
      s.estimate_ms = 100;
      test_submit_spec(c, &s, 0);
    }
  for (int i = 0; i < 1200; i++) {
    int64_t ran;
    assert_int_equal(strata_core_next(c, now, &d), 1);
    ran = d.tier == 0 ? 300 : 100;
    got[d.tier]++;
    busy[d.tier] += (uint64_t)ran;
    now += ran;
    test_complete(c, d.id, STRATA_CORE_SUCCEEDED, now);
  }
  assert_in_range(got[1], 3 * got[0] - 12, 3 * got[0] + 12);
  assert_in_range(busy[0], busy[1] - 400, busy[1] + 400);
  strata_core_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_drr_gives_each_backlogged_tier_its_share),
      cmocka_unit_test(test_idle_share_is_lent_to_the_most_urgent_tier),
      cmocka_unit_test(test_tier_returning_from_idle_does_not_bank_credit),
      cmocka_unit_test(test_starvation_bound_holds_while_dispatching),
      cmocka_unit_test(test_aging_cannot_swamp_the_shares_under_overload),
      cmocka_unit_test(test_edf_orders_by_absolute_deadline),
      cmocka_unit_test(test_least_laxity_orders_by_deadline_minus_estimate),
      cmocka_unit_test(test_implicit_deadline_ages_tasks_without_deadline),
      cmocka_unit_test(test_priority_shifts_key_by_step),
      cmocka_unit_test(test_dependency_bonus_prefers_tasks_that_unblock_others),
      cmocka_unit_test(test_dependency_bonus_shrinks_when_dependents_leave),
      cmocka_unit_test(test_equal_keys_leave_in_fifo_order),
      cmocka_unit_test(test_hard_deadline_expires_instead_of_dispatching),
      cmocka_unit_test(test_hard_task_in_time_is_dispatched),
      cmocka_unit_test(test_hard_task_that_cannot_make_it_expires_at_submit),
      cmocka_unit_test(test_soft_deadline_miss_is_dispatched_and_counted),
      cmocka_unit_test(test_large_backlog_leaves_in_key_then_fifo_order),
      cmocka_unit_test(test_lookahead_over_a_large_backlog_keeps_order),
      cmocka_unit_test(test_paused_tier_is_held_until_resumed),
      cmocka_unit_test(test_equal_implicit_deadlines_take_the_shorter_first),
      cmocka_unit_test(test_equal_real_deadlines_stay_least_laxity),
      cmocka_unit_test(test_overrun_of_the_estimate_is_charged_to_the_tier),
      cmocka_unit_test(test_backlogged_low_tier_gets_its_floor_under_overload),
      cmocka_unit_test(
          test_crowd_with_deadlines_goes_before_floors_that_can_wait),
      cmocka_unit_test(
          test_aging_does_not_go_ahead_of_a_feasible_hard_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
