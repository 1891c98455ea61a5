/*
 * Sample arrays with exact nearest-rank percentiles. The simulator keeps
 * every wait and unblock latency it measures (a few hundred thousand at
 * most), so sorting beats any sketch on both simplicity and exactness. The
 * array remembers whether it is sorted; adding a sample clears the flag.
 */
#include <math.h>
#include <stdlib.h>

#include "sim.h"

int strata_sim_samples_add(strata_sim_samples_t *s, int64_t x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    int64_t *v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      return -1;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
  s->sorted = 0;
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a;
  int64_t y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int64_t strata_sim_samples_pct(strata_sim_samples_t *s, double p) {
  size_t rank;

  if (s->n == 0)
    return 0;
  if (!s->sorted) {
    qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
    s->sorted = 1;
  }
  /* Nearest rank: ceil(p/100 * n), 1-based, clamped to [1, n]. */
  /* The epsilon keeps 99 % of 100 samples at rank 99 although 0.99 * 100
   * is not exact in binary. */
  rank = (size_t)ceil(p * (double)s->n / 100.0 - 1e-9);
  if (rank < 1)
    rank = 1;
  if (rank > s->n)
    rank = s->n;
  return s->v[rank - 1];
}

void strata_sim_samples_clear(strata_sim_samples_t *s) {
  free(s->v);
  s->v = NULL;
  s->n = 0;
  s->cap = 0;
  s->sorted = 0;
}
