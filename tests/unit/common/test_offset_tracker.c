/*
 * The offset tracker (common/offset_tracker.c) shared by the scheduler and
 * the worker: the commit offset is the first unfinished record whatever the
 * finish order, never past one; with nothing unfinished it is one past the
 * last offset pushed, so gaps (transaction markers) are committed past; marks
 * follow the first unfinished record; finishing twice is harmless; offsets
 * must increase; growth past the initial capacity, with the ring wrapped,
 * keeps order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offset_tracker.h"

static void test_nothing_to_commit_before_anything_is_pushed(void **state) {
  tracker_t t;
  (void)state;

  tracker_init(&t);
  assert_int_equal(tracker_commit_offset(&t), -1);
  assert_int_equal(tracker_commit_mark(&t, 77), 77);
  assert_int_equal(tracker_inflight(&t), 0);
  assert_false(t.dirty);
  assert_false(tracker_done_offset(&t, 0));
  tracker_done(&t, 0); /* nothing tracked: ignored */
  assert_int_equal(tracker_commit_offset(&t), -1);
  tracker_clear(&t);
  assert_int_equal(tracker_commit_offset(&t), -1);
}

/* Calls `fn` with each of the 24 orders of finishing four records. */
static void each_order(void (*fn)(const int order[4])) {
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++)
        for (int d = 0; d < 4; d++) {
          const int order[4] = {a, b, c, d};
          if (a != b && a != c && a != d && b != c && b != d && c != d)
            fn(order);
        }
}

static void check_order(const int order[4]) {
  static const int64_t offs[4] = {10, 11, 14, 20}; /* gaps: markers */
  tracker_t t;
  uint64_t seq[4];
  bool done[4] = {false, false, false, false};

  tracker_init(&t);
  for (int i = 0; i < 4; i++) {
    seq[i] = tracker_push(&t, offs[i], 100 + i);
    assert_int_equal(seq[i], (uint64_t)i);
  }
  assert_int_equal(tracker_commit_offset(&t), 10);
  for (int k = 0; k < 4; k++) {
    int first = 0;
    done[order[k]] = true;
    tracker_done(&t, seq[order[k]]);
    while (first < 4 && done[first])
      first++;
    assert_int_equal(tracker_commit_offset(&t), first < 4 ? offs[first] : 21);
    assert_int_equal(tracker_commit_mark(&t, -1), first < 4 ? 100 + first : -1);
    assert_int_equal(tracker_inflight(&t), (size_t)(3 - k));
  }
  tracker_clear(&t);
}

static void
test_commit_offset_is_first_unfinished_in_any_finish_order(void **state) {
  (void)state;
  each_order(check_order);
}

static void test_marks_follow_the_first_unfinished_record(void **state) {
  tracker_t t;
  uint64_t a, b, c;
  (void)state;

  tracker_init(&t);
  a = tracker_push(&t, 5, 1000);
  b = tracker_push(&t, 6, 1003);
  c = tracker_push(&t, 7, 1009);
  assert_int_equal(tracker_commit_mark(&t, 2000), 1000);
  tracker_done(&t, b);
  assert_int_equal(tracker_commit_mark(&t, 2000), 1000);
  tracker_done(&t, a);
  assert_int_equal(tracker_commit_offset(&t), 7);
  assert_int_equal(tracker_commit_mark(&t, 2000), 1009);
  tracker_done(&t, c);
  /* Nothing unfinished: the caller's current position. */
  assert_int_equal(tracker_commit_offset(&t), 8);
  assert_int_equal(tracker_commit_mark(&t, 2000), 2000);
  tracker_clear(&t);
}

static void test_finishing_twice_is_harmless(void **state) {
  tracker_t t;
  uint64_t a, b;
  (void)state;

  tracker_init(&t);
  a = tracker_push(&t, 1, 0);
  b = tracker_push(&t, 2, 0);
  tracker_done(&t, b);
  tracker_done(&t, b); /* still tracked, finished again */
  assert_int_equal(tracker_commit_offset(&t), 1);
  assert_true(tracker_done_offset(&t, 2)); /* still tracked */
  tracker_done(&t, a);
  assert_int_equal(tracker_commit_offset(&t), 3);
  tracker_done(&t, a); /* dropped: ignored */
  tracker_done(&t, TRACKER_NOMEM);
  assert_false(tracker_done_offset(&t, 1));
  assert_int_equal(tracker_commit_offset(&t), 3);
  assert_int_equal(tracker_inflight(&t), 0);
  tracker_clear(&t);
}

static void test_dirty_when_the_commit_offset_moves(void **state) {
  tracker_t t;
  uint64_t a, b;
  (void)state;

  tracker_init(&t);
  a = tracker_push(&t, 1, 0);
  b = tracker_push(&t, 2, 0);
  assert_false(t.dirty);
  tracker_done(&t, b);
  assert_false(t.dirty); /* 1 still holds the commit offset */
  tracker_done(&t, a);
  assert_true(t.dirty);
  t.dirty = false;                          /* the owner committed */
  assert_false(tracker_done_offset(&t, 2)); /* dropped */
  assert_false(t.dirty);
  tracker_clear(&t);
}

static void test_offsets_must_increase(void **state) {
  tracker_t t;
  (void)state;

  tracker_init(&t);
  assert_int_equal(tracker_push(&t, 5, 0), 0);
  assert_int_equal(tracker_push(&t, 5, 0), TRACKER_STALE);
  assert_int_equal(tracker_push(&t, 3, 0), TRACKER_STALE);
  assert_int_equal(t.next_offset, 6);
  assert_int_equal(tracker_inflight(&t), 1);
  assert_int_equal(tracker_push(&t, 6, 0), 1);
  /* Refused even once everything is finished and dropped. */
  assert_true(tracker_done_offset(&t, 5));
  assert_true(tracker_done_offset(&t, 6));
  assert_int_equal(tracker_push(&t, 4, 0), TRACKER_STALE);
  assert_int_equal(tracker_commit_offset(&t), 7);
  tracker_clear(&t);
  /* A cleared tracker (a rewind, a new assignment) takes any offset. */
  assert_int_equal(tracker_push(&t, 2, 0), 0);
  tracker_clear(&t);
}

static void test_done_offset_on_unknown_offsets(void **state) {
  tracker_t t;
  (void)state;

  tracker_init(&t);
  tracker_push(&t, 10, 0);
  tracker_push(&t, 12, 0);
  tracker_push(&t, 15, 0);
  assert_false(tracker_done_offset(&t, 9));  /* below the first */
  assert_false(tracker_done_offset(&t, 11)); /* a gap */
  assert_false(tracker_done_offset(&t, 16)); /* beyond the last */
  assert_int_equal(tracker_inflight(&t), 3);
  assert_true(tracker_done_offset(&t, 12));
  assert_true(tracker_done_offset(&t, 15));
  assert_int_equal(tracker_commit_offset(&t), 10);
  assert_true(tracker_done_offset(&t, 10));
  assert_int_equal(tracker_commit_offset(&t), 16);
  assert_false(tracker_done_offset(&t, 10)); /* dropped */
  tracker_clear(&t);
}

static void test_start_offset_is_the_owners(void **state) {
  tracker_t t;
  (void)state;

  tracker_init(&t);
  assert_int_equal(t.start_offset, -1);
  t.start_offset = 40; /* committed offset at assignment */
  /* Not a commit offset: nothing was consumed yet. */
  assert_int_equal(tracker_commit_offset(&t), -1);
  tracker_push(&t, 40, 0);
  tracker_done_offset(&t, 40);
  assert_int_equal(t.start_offset, 40); /* untouched by push and done */
  assert_int_equal(tracker_commit_offset(&t), 41);
  tracker_clear(&t);
  assert_int_equal(t.start_offset, -1);
}

static void push_next(tracker_t *t, int64_t *next) {
  /* Offsets 3 apart, the mark is the index. */
  assert_true(tracker_push(t, *next * 3, *next) < TRACKER_STALE);
  (*next)++;
}

static void test_growth_with_wraparound_keeps_order(void **state) {
  tracker_t t;
  int64_t next = 0, first = 0;
  (void)state;

  tracker_init(&t);
  /* Walk the head around the initial ring, then fill it while the live
   * span wraps past its end, and grow it from there. */
  for (int i = 0; i < 10; i++)
    push_next(&t, &next);
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 30; i++)
      push_next(&t, &next);
    for (int i = 0; i < 30; i++)
      assert_true(tracker_done_offset(&t, first++ * 3));
    assert_int_equal(tracker_commit_offset(&t), first * 3);
  }
  while (t.count < t.cap)
    push_next(&t, &next);
  assert_int_equal(t.cap, 64);
  assert_true(t.head + t.count > t.cap); /* wrapped */
  for (int i = 0; i < 500; i++)
    push_next(&t, &next);
  assert_true(t.cap > 64);
  assert_int_equal(tracker_inflight(&t), (size_t)(next - first));
  /* Finish everything but the first, newest first: nothing moves. */
  for (int64_t o = next - 1; o > first; o--)
    assert_true(tracker_done_offset(&t, o * 3));
  assert_int_equal(tracker_commit_offset(&t), first * 3);
  assert_int_equal(tracker_commit_mark(&t, -5), first);
  assert_int_equal(tracker_inflight(&t), 1);
  assert_true(tracker_done_offset(&t, first * 3));
  assert_int_equal(tracker_commit_offset(&t), (next - 1) * 3 + 1);
  assert_int_equal(tracker_inflight(&t), 0);
  tracker_clear(&t);
}

/* The worker's pattern (formerly its own tracker's tests): finishing the
 * odd-indexed half first commits nothing; the even ones then move the
 * commit offset one by one; pushing on while the head has moved. */
static void test_many_out_of_order_completions_keep_order(void **state) {
  tracker_t t;
  (void)state;

  tracker_init(&t);
  for (int64_t o = 0; o < 1000; o++)
    assert_true(tracker_push(&t, o * 2, 0) < TRACKER_STALE);
  for (int64_t o = 1; o < 1000; o += 2)
    assert_true(tracker_done_offset(&t, o * 2));
  assert_int_equal(tracker_commit_offset(&t), 0);
  for (int64_t o = 0; o < 998; o += 2) {
    assert_true(tracker_done_offset(&t, o * 2));
    assert_int_equal(tracker_commit_offset(&t), (o + 2) * 2);
  }
  for (int64_t o = 2000; o < 2100; o++)
    assert_true(tracker_push(&t, o, 0) < TRACKER_STALE);
  assert_int_equal(tracker_commit_offset(&t), 998 * 2);
  assert_true(tracker_done_offset(&t, 998 * 2));
  assert_int_equal(tracker_commit_offset(&t), 2000);
  assert_int_equal(tracker_inflight(&t), 100);
  tracker_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_to_commit_before_anything_is_pushed),
      cmocka_unit_test(
          test_commit_offset_is_first_unfinished_in_any_finish_order),
      cmocka_unit_test(test_marks_follow_the_first_unfinished_record),
      cmocka_unit_test(test_finishing_twice_is_harmless),
      cmocka_unit_test(test_dirty_when_the_commit_offset_moves),
      cmocka_unit_test(test_offsets_must_increase),
      cmocka_unit_test(test_done_offset_on_unknown_offsets),
      cmocka_unit_test(test_start_offset_is_the_owners),
      cmocka_unit_test(test_growth_with_wraparound_keeps_order),
      cmocka_unit_test(test_many_out_of_order_completions_keep_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
