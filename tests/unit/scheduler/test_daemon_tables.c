/*
 * The scheduler daemon's bookkeeping tables, without Kafka: the ledger's
 * cancel, lost-attempt and decided records (scheduler/daemon/ledger.c) and
 * the table of running attempts (scheduler/daemon/running.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decide_int.h"

static void
test_cancel_marks_every_attempt_decided_but_not_the_attempt(void **state) {
  ledger_t *l = ledger_new();
  (void)state;
  assert_int_equal(ledger_decided(l, "t1", 2, 1000), STRATA_OK);
  assert_int_equal(ledger_cancelled(l, "t1", 1001), STRATA_OK);
  /* Any later arrival is decided... */
  assert_true(ledger_is_decided(l, "t1", 3));
  assert_true(ledger_is_decided(l, "t1", 99));
  /* ...while the last dispatched attempt stays what it was, so the worker's
   * outcome of attempt 2 is not taken for a stale one. */
  assert_int_equal(ledger_attempt(l, "t1"), 2);
  assert_true(ledger_cancel_pending(l, "t1"));
  assert_int_equal(ledger_cancel_reported(l, "t1", 1002), STRATA_OK);
  assert_false(ledger_cancel_pending(l, "t1"));
  /* A cancel for an id never seen. */
  assert_int_equal(ledger_cancelled(l, "t2", 1003), STRATA_OK);
  assert_true(ledger_cancel_pending(l, "t2"));
  assert_true(ledger_is_decided(l, "t2", 1));
  assert_int_equal(ledger_attempt(l, "t2"), 0);
  /* Reported before the command is read (a recovery scan): no event due. */
  assert_int_equal(ledger_cancel_reported(l, "t3", 1004), STRATA_OK);
  assert_int_equal(ledger_cancelled(l, "t3", 1005), STRATA_OK);
  assert_false(ledger_cancel_pending(l, "t3"));
  ledger_destroy(l);
}

static void test_lost_attempts_are_remembered_up_to_the_highest(void **state) {
  ledger_t *l = ledger_new();
  (void)state;
  assert_false(ledger_is_lost(l, "t", 1));
  assert_int_equal(ledger_lost(l, "t", 2, 500), STRATA_OK);
  assert_true(ledger_is_lost(l, "t", 1));
  assert_true(ledger_is_lost(l, "t", 2));
  assert_false(ledger_is_lost(l, "t", 3));
  assert_true(ledger_is_decided(l, "t", 2));
  assert_int_equal(ledger_lost(l, "t", 1, 600), STRATA_OK); /* no lowering */
  assert_true(ledger_is_lost(l, "t", 2));
  /* Pruning forgets entries older than the window. */
  ledger_prune(l, 1000);
  assert_false(ledger_is_lost(l, "t", 1));
  assert_int_equal(ledger_size(l), 0);
  ledger_destroy(l);
}

static void count(running_t *r, void *opaque) {
  (void)r;
  (*(int *)opaque)++;
}

static void drop_even(running_t *r, void *opaque) {
  running_table_t *t = opaque;
  if (r->attempt % 2 == 0)
    running_del(t, r);
}

static void test_running_table_adds_replaces_and_deletes(void **state) {
  running_table_t *t = running_new();
  running_t *r;
  char id[16];
  int n = 0;
  (void)state;
  for (int i = 0; i < 10; i++) {
    void *rec = malloc(8);
    assert_non_null(rec);
    snprintf(id, sizeof(id), "task-%d", i);
    assert_non_null(running_add(t, id, "key", i, i % 2, rec, 8));
  }
  assert_int_equal(running_count(t), 10);
  /* Unstarted attempts are counted per lane (queue). */
  assert_int_equal(running_unstarted_lane(t, 0), 5);
  assert_int_equal(running_unstarted_lane(t, 1), 5);
  running_begin(t, running_find(t, "task-1"));
  running_begin(t, running_find(t, "task-1")); /* counted once */
  assert_int_equal(running_unstarted_lane(t, 1), 4);
  assert_int_equal(running_unstarted(t), 9);
  assert_int_equal(running_watched(t), 10); /* all keep their record */
  /* A new attempt of the same id replaces the entry (and frees its copy). */
  assert_non_null(running_add(t, "task-3", "key", 13, 1, NULL, 0));
  assert_int_equal(running_count(t), 10);
  assert_int_equal(running_unstarted_lane(t, 1), 4);
  assert_int_equal(running_watched(t), 9);
  r = running_find(t, "task-3");
  assert_non_null(r);
  assert_int_equal(r->attempt, 13);
  running_seen(r, "host:1", 50);
  running_seen(r, "host:2", 40); /* time never goes back; worker updates */
  assert_int_equal(r->last_seen_ms, 50);
  assert_string_equal(r->worker, "host:2");
  running_checkpoint(r, (const uint8_t *)"abc", 3);
  running_checkpoint(r, (const uint8_t *)"", 0); /* an empty state is one */
  assert_true(r->has_ckpt);
  assert_int_equal(r->ckpt_len, 0);
  /* Deleting from inside the walk. */
  running_each(t, drop_even, t);
  running_each(t, count, &n);
  assert_int_equal(n, 5); /* attempts 1, 3 (now 13), 5, 7, 9 remain */
  assert_int_equal(running_watched(t), 4); /* 1, 5, 7, 9 */
  /* Left in lane 1: 1 (started), 3, 5, 7, 9. */
  assert_int_equal(running_unstarted_lane(t, 1), 4);
  assert_int_equal(running_unstarted_lane(t, 0), 0);
  assert_null(running_find(t, "task-4"));
  assert_non_null(running_find(t, "task-3"));
  running_clear(t);
  assert_int_equal(running_count(t), 0);
  assert_int_equal(running_watched(t), 0);
  running_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_cancel_marks_every_attempt_decided_but_not_the_attempt),
      cmocka_unit_test(test_lost_attempts_are_remembered_up_to_the_highest),
      cmocka_unit_test(test_running_table_adds_replaces_and_deletes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
