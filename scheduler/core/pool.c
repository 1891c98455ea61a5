/*
 * Resource pools: token buckets for rates (requests or tokens per period)
 * and counting semaphores for concurrency.
 *
 * A token bucket keeps its level in fixed point, tokens * period_ms, so a
 * refill of `rate` tokens per `period_ms` adds exactly `rate` per elapsed
 * millisecond with no rounding drift. The level is capped at burst * period
 * and may go negative when a completion reports more usage than was
 * reserved: the debt delays later reservations instead of being forgotten.
 * pool_add() bounds burst * period so none of this overflows.
 */
#include "core_int.h"

void pool_refill(pool_t *p, int64_t now) {
  int64_t cap, dt;

  if (p->kind != STRATA_CORE_POOL_TOKEN_BUCKET)
    return;
  if (p->last == INT64_MIN || now <= p->last) {
    if (p->last == INT64_MIN)
      p->last = now;
    return;
  }
  cap = p->burst * p->period;
  dt = now - p->last;
  p->last = now;
  if (p->scaled >= cap)
    return;
  /* Anything beyond what fills the bucket from empty is irrelevant; the
     bound keeps dt * rate from overflowing. */
  if (dt > (cap - p->scaled) / p->rate + 1)
    p->scaled = cap;
  else
    p->scaled += dt * p->rate;
  if (p->scaled > cap)
    p->scaled = cap;
}

int pool_fits(pool_t *p, int64_t amount, int64_t now, int64_t *until) {
  int64_t need;

  if (p->kind == STRATA_CORE_POOL_CONCURRENCY) {
    if (p->in_use + amount <= p->limit)
      return 1;
    *until = STRATA_CORE_NEVER;
    return 0;
  }
  pool_refill(p, now);
  need = amount * p->period;
  if (p->scaled >= need)
    return 1;
  /* Earliest ms at which the refill covers the shortfall. */
  *until = now + (need - p->scaled + p->rate - 1) / p->rate;
  return 0;
}

void pool_take(pool_t *p, int64_t amount) {
  p->reservations++;
  if (p->kind == STRATA_CORE_POOL_CONCURRENCY)
    p->in_use += amount;
  else
    p->scaled -= amount * p->period;
}

void pool_take_over(pool_t *p, int64_t amount) {
  int64_t cap = p->burst * p->period;
  pool_take(p, amount);
  /* The same bound on debt as pool_release(). */
  if (p->kind == STRATA_CORE_POOL_TOKEN_BUCKET && p->scaled < -16 * cap)
    p->scaled = -16 * cap;
}

void pool_release(pool_t *p, int64_t reserved, int64_t actual, int has_actual) {
  int64_t cap, diff;

  if (p->kind == STRATA_CORE_POOL_CONCURRENCY) {
    p->in_use -= reserved;
    return;
  }
  if (!has_actual)
    return;
  cap = p->burst * p->period;
  /* Bound the charge so a wild report cannot overflow the level: at most
     16 bursts of debt. */
  if (actual > 16 * p->burst)
    actual = 16 * p->burst;
  diff = (actual - reserved) * p->period;
  p->scaled -= diff;
  if (p->scaled > cap)
    p->scaled = cap;
  if (p->scaled < -16 * cap)
    p->scaled = -16 * cap;
}

int64_t pool_available(const pool_t *p) {
  if (p->kind == STRATA_CORE_POOL_CONCURRENCY)
    return p->limit - p->in_use;
  if (p->scaled >= 0)
    return p->scaled / p->period;
  return -((-p->scaled + p->period - 1) / p->period);
}
