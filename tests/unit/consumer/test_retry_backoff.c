/*
 * Retry backoff (common/base/backoff.c): FIXED is the base whatever the
 * attempt; EXPONENTIAL doubles per attempt up to the cap;
 * EXPONENTIAL_FULL_JITTER stays within [0, the exponential value] for any
 * random input, reaches both ends, and spreads over the range; huge attempt
 * numbers saturate at the cap instead of overflowing; the PRNG differs between
 * seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "strata/backoff.h"

static strata_retry_policy_t policy(strata_backoff_t kind, int64_t base,
                                    int64_t cap) {
  strata_retry_policy_t p = {3, kind, base, cap};
  return p;
}

static void test_fixed_backoff_is_the_base_for_every_attempt(void **st) {
  strata_retry_policy_t p = policy(STRATA_BACKOFF_FIXED, 1000, 5000);
  (void)st;
  for (int32_t a = 1; a <= 40; a++)
    assert_int_equal(strata_retry_backoff_ms(&p, a, UINT64_MAX), 1000);
}

static void test_exponential_backoff_doubles_up_to_the_cap(void **st) {
  strata_retry_policy_t p = policy(STRATA_BACKOFF_EXPONENTIAL, 250, 3000);
  (void)st;
  assert_int_equal(strata_retry_backoff_ms(&p, 1, 0), 250);
  assert_int_equal(strata_retry_backoff_ms(&p, 2, 0), 500);
  assert_int_equal(strata_retry_backoff_ms(&p, 3, 0), 1000);
  assert_int_equal(strata_retry_backoff_ms(&p, 4, 0), 2000);
  assert_int_equal(strata_retry_backoff_ms(&p, 5, 0), 3000); /* capped */
  assert_int_equal(strata_retry_backoff_ms(&p, 6, 0), 3000);
  /* Attempt 0 or below counts as the first. */
  assert_int_equal(strata_retry_backoff_ms(&p, 0, 0), 250);
}

static void
test_exponential_backoff_saturates_instead_of_overflowing(void **st) {
  strata_retry_policy_t p = policy(STRATA_BACKOFF_EXPONENTIAL, 1000, INT64_MAX);
  (void)st;
  assert_int_equal(strata_retry_backoff_ms(&p, 64, 0), INT64_MAX);
  assert_int_equal(strata_retry_backoff_ms(&p, INT32_MAX, 0), INT64_MAX);
  p.cap_ms = 300000;
  assert_int_equal(strata_retry_backoff_ms(&p, 1000, 0), 300000);
}

static void
test_full_jitter_stays_within_zero_and_the_exponential_value(void **st) {
  strata_retry_policy_t p =
      policy(STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER, 100, 1000);
  uint64_t s = 42;
  int64_t lo = INT64_MAX, hi = -1;
  (void)st;

  /* The ends of the range are reachable. */
  assert_int_equal(strata_retry_backoff_ms(&p, 3, 0), 0);
  assert_int_equal(strata_retry_backoff_ms(&p, 3, 400), 400);
  assert_int_equal(strata_retry_backoff_ms(&p, 3, 401), 0);
  for (int i = 0; i < 10000; i++) {
    int64_t b = strata_retry_backoff_ms(&p, 3, strata_prng_next(&s));
    assert_true(b >= 0 && b <= 400);
    lo = b < lo ? b : lo;
    hi = b > hi ? b : hi;
  }
  /* Spread over the range, not stuck at one end. */
  assert_true(lo < 40);
  assert_true(hi > 360);
  /* Capped: attempt 10 would be 51200 ms without the cap. */
  for (int i = 0; i < 10000; i++) {
    int64_t b = strata_retry_backoff_ms(&p, 10, strata_prng_next(&s));
    assert_true(b >= 0 && b <= 1000);
  }
  assert_int_equal(strata_retry_backoff_ms(&p, 10, 1000), 1000);
  /* Any random input stays in range, the largest included. */
  assert_true(strata_retry_backoff_ms(&p, 10, UINT64_MAX) <= 1000);
  p.cap_ms = INT64_MAX;
  assert_true(strata_retry_backoff_ms(&p, 200, UINT64_MAX) >= 0);
}

static void test_zero_base_never_waits(void **st) {
  strata_retry_policy_t p =
      policy(STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER, 0, 1000);
  (void)st;
  assert_int_equal(strata_retry_backoff_ms(&p, 5, 12345), 0);
  p.backoff = STRATA_BACKOFF_EXPONENTIAL;
  assert_int_equal(strata_retry_backoff_ms(&p, 5, 12345), 0);
}

static void test_prng_seeds_differ_and_sequences_move(void **st) {
  uint64_t a, b;
  (void)st;
  strata_prng_seed(&a);
  strata_prng_seed(&b);
  assert_true(a != b);
  uint64_t x = strata_prng_next(&a), y = strata_prng_next(&a);
  assert_true(x != y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_backoff_is_the_base_for_every_attempt),
      cmocka_unit_test(test_exponential_backoff_doubles_up_to_the_cap),
      cmocka_unit_test(
          test_exponential_backoff_saturates_instead_of_overflowing),
      cmocka_unit_test(
          test_full_jitter_stays_within_zero_and_the_exponential_value),
      cmocka_unit_test(test_zero_base_never_waits),
      cmocka_unit_test(test_prng_seeds_differ_and_sequences_move),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
