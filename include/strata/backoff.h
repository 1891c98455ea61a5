/*
 * Retry backoff (common/backoff.c): the wait before the next
 * attempt of a failed task, per Task.retry, and the per-process random source
 * that the jittered kind draws from. Pure: no clock, no Kafka, no locking
 * (the PRNG state belongs to its caller).
 */
#ifndef STRATA_BACKOFF_H
#define STRATA_BACKOFF_H

#include <stdint.h>

#include "strata/task.h"

/*
 * Milliseconds attempt `attempt` (1-based; values below 1 count as 1) waits
 * before the next one:
 *   FIXED                    base_ms
 *   EXPONENTIAL              min(cap_ms, base_ms·2^(attempt−1))
 *   EXPONENTIAL_FULL_JITTER  uniform in [0, min(cap_ms,
 * base_ms·2^(attempt−1))], drawn from `rnd` (any 64-bit random value)
 * base·2^(attempt−1) saturates instead of overflowing; negative base or cap
 * count as 0.
 */
int64_t strata_retry_backoff_ms(const strata_retry_policy_t *p, int32_t attempt,
                                uint64_t rnd);

/* Seeds `*state` from getrandom(2) (time and pid if that fails). */
void strata_prng_seed(uint64_t *state);

/* The next 64-bit value of a splitmix64 sequence. */
uint64_t strata_prng_next(uint64_t *state);

#endif /* STRATA_BACKOFF_H */
