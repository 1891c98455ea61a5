/*
 * The worker's per-partition offset tracker (consumer/offsets.c): the commit
 * point is the lowest unfinished offset, never past one; with nothing in
 * flight it is one past the last offset seen, so gaps (transaction markers)
 * are committed past; out-of-order completions wait for the ones before
 * them; offsets must increase; growth past the initial capacity keeps order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_int.h"

static void test_commit_point_is_lowest_unfinished_offset(void **state) {
  strata_offq_t q;
  (void)state;

  strata_offq_init(&q);
  assert_int_equal(strata_offq_commit_point(&q), -1);
  assert_int_equal(strata_offq_push(&q, 10), 0);
  assert_int_equal(strata_offq_push(&q, 11), 0);
  assert_int_equal(strata_offq_push(&q, 14), 0); /* 12, 13: markers */
  assert_int_equal(strata_offq_commit_point(&q), 10);
  assert_true(strata_offq_done(&q, 11));
  assert_int_equal(strata_offq_commit_point(&q), 10); /* 10 still runs */
  assert_int_equal(strata_offq_inflight(&q), 2);
  assert_true(strata_offq_done(&q, 10));
  assert_int_equal(strata_offq_commit_point(&q), 14);
  assert_true(strata_offq_done(&q, 14));
  assert_int_equal(strata_offq_commit_point(&q), 15);
  assert_int_equal(strata_offq_inflight(&q), 0);
  strata_offq_clear(&q);
}

static void test_offsets_must_increase_and_done_only_once(void **state) {
  strata_offq_t q;
  (void)state;

  strata_offq_init(&q);
  assert_int_equal(strata_offq_push(&q, 5), 0);
  assert_int_equal(strata_offq_push(&q, 5), -1);
  assert_int_equal(strata_offq_push(&q, 3), -1);
  assert_false(strata_offq_done(&q, 4));
  assert_true(strata_offq_done(&q, 5));
  assert_false(strata_offq_done(&q, 5));
  strata_offq_clear(&q);
}

static void test_many_out_of_order_completions_keep_order(void **state) {
  strata_offq_t q;
  (void)state;

  strata_offq_init(&q);
  for (int64_t o = 0; o < 1000; o++)
    assert_int_equal(strata_offq_push(&q, o * 2), 0);
  /* Finish the odd-indexed ones first: nothing can be committed. */
  for (int64_t o = 1; o < 1000; o += 2)
    assert_true(strata_offq_done(&q, o * 2));
  assert_int_equal(strata_offq_commit_point(&q), 0);
  for (int64_t o = 0; o < 998; o += 2) {
    assert_true(strata_offq_done(&q, o * 2));
    assert_int_equal(strata_offq_commit_point(&q), (o + 2) * 2);
  }
  /* Keep pushing while the head has moved: the array compacts. */
  for (int64_t o = 2000; o < 2100; o++)
    assert_int_equal(strata_offq_push(&q, o), 0);
  assert_int_equal(strata_offq_commit_point(&q), 998 * 2);
  assert_true(strata_offq_done(&q, 998 * 2));
  assert_int_equal(strata_offq_commit_point(&q), 2000);
  assert_int_equal(strata_offq_inflight(&q), 100);
  strata_offq_clear(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commit_point_is_lowest_unfinished_offset),
      cmocka_unit_test(test_offsets_must_increase_and_done_only_once),
      cmocka_unit_test(test_many_out_of_order_completions_keep_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
