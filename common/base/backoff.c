/*
 * Retry backoff: how long attempt `a` (1-based) of a failed task waits before
 * attempt a+1, and the per-process random source behind the jittered kind.
 *
 * Pure arithmetic, no clock and no Kafka: the randomness is a parameter, so
 * tests check every kind, the cap and the jitter bounds with chosen values.
 * Overflow of base·2^(a−1) saturates, so any attempt number is safe.
 */
#include "strata/backoff.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* base·2^(a−1), saturating at INT64_MAX. */
static int64_t doubled(int64_t base, int32_t attempt) {
  int shift = attempt - 1;

  if (base <= 0)
    return 0;
  if (shift >= 62 || base > (INT64_MAX >> shift))
    return INT64_MAX;
  return base << shift;
}

int64_t strata_retry_backoff_ms(const strata_retry_policy_t *p, int32_t attempt,
                                uint64_t rnd) {
  int64_t base = p->base_ms < 0 ? 0 : p->base_ms;
  int64_t cap = p->cap_ms < 0 ? 0 : p->cap_ms;
  int64_t upper;

  if (attempt < 1)
    attempt = 1;
  if (p->backoff == STRATA_BACKOFF_FIXED)
    return base;
  upper = doubled(base, attempt);
  if (upper > cap)
    upper = cap;
  if (p->backoff == STRATA_BACKOFF_EXPONENTIAL)
    return upper;
  /* Full jitter: uniform in [0, upper]; the modulo bias is below 2^-63·upper,
   * far under a millisecond for any sane cap. */
  return (int64_t)(rnd % ((uint64_t)upper + 1));
}

void strata_prng_seed(uint64_t *state) {
  uint64_t s = 0;
  ssize_t n;

  do
    n = getrandom(&s, sizeof(s), 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof(s)) {
    /* No entropy source: time and pid still differ between workers. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
        ((uint64_t)getpid() << 40);
  }
  *state = s;
}

/* splitmix64: tiny, fast, and every seed (zero included) is a good one. */
uint64_t strata_prng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
