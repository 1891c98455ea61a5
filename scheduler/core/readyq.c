/*
 * A tier's ready queue: a priority queue of (key, seq, idx) entries in the
 * same order as the 4-ary heap (key, then seq with wrap-around, so equal
 * keys leave FIFO), shaped for a large backlog.
 *
 * Why not one heap: with hundreds of thousands of ready tasks in a tier,
 * every pop of a heap walks about ten levels, and the lower levels miss the
 * cache one after another; at 1 M resident that was the largest single cost
 * of a decision. Here new entries go to a small heap that stays in cache
 * (`buf`, at most RQ_BUF entries); when it fills, it is sorted into a run,
 * and runs of similar size are merged, so the queue is a handful of sorted
 * arrays. The minimum is the smallest of the buffer's root and the runs'
 * heads; popping from a run advances its head along the array, which reads
 * memory in order (prefetched by the hardware) and lets the records of the
 * next few heads be prefetched too. Merging costs O(log n) sequential moves
 * per entry, amortised.
 *
 * Invariants: every run is sorted by heap_less and holds its live entries
 * in a[head, n); no run is empty; `n` counts the entries of the buffer and
 * of all runs; `min` is the source of the smallest entry (RQ_MIN_BUF or a
 * run index) or RQ_MIN_UNKNOWN; the order of runs does not matter.
 * Entries carry no back-pointer, as in the heap: stale entries are counted
 * by the owner in `stale` and dropped on pop or by rq_filter().
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

void rq_init(rq_t *q) {
  memset(q, 0, sizeof(*q));
  heap_init(&q->buf);
  q->min = RQ_MIN_UNKNOWN;
}

void rq_free(rq_t *q) {
  heap_free(&q->buf);
  for (uint32_t i = 0; i < q->nruns; i++)
    free(q->runs[i].a);
  rq_init(q);
}

/* Sorts `n` entries of `a` with a bottom-up merge sort through `tmp`
   (same size); the result ends in `a`. */
static void sort_entries(heap_ent_t *a, heap_ent_t *tmp, uint32_t n) {
  heap_ent_t *src = a, *dst = tmp;

  for (uint32_t w = 1; w < n; w *= 2) {
    for (uint32_t lo = 0; lo < n; lo += 2 * w) {
      uint32_t mid = lo + w < n ? lo + w : n;
      uint32_t hi = lo + 2 * w < n ? lo + 2 * w : n;
      uint32_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        dst[k++] = heap_less(&src[j], &src[i]) ? src[j++] : src[i++];
      while (i < mid)
        dst[k++] = src[i++];
      while (j < hi)
        dst[k++] = src[j++];
    }
    heap_ent_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != a)
    memcpy(a, src, (size_t)n * sizeof(*a));
}

static uint32_t run_len(const rq_run_t *r) {
  return r->n - r->head;
}

/* Merges runs i and j (i < j) into run i and removes run j. -1 when out of
   memory (nothing changed). */
static int merge_runs(rq_t *q, uint32_t i, uint32_t j) {
  rq_run_t *x = &q->runs[i], *y = &q->runs[j];
  uint32_t nx = run_len(x), ny = run_len(y), k = 0;
  const heap_ent_t *p = x->a + x->head, *pe = x->a + x->n;
  const heap_ent_t *r = y->a + y->head, *re = y->a + y->n;
  heap_ent_t *m = malloc(((size_t)nx + ny) * sizeof(*m));

  if (!m)
    return -1;
  while (p < pe && r < re)
    m[k++] = heap_less(r, p) ? *r++ : *p++;
  while (p < pe)
    m[k++] = *p++;
  while (r < re)
    m[k++] = *r++;
  free(x->a);
  free(y->a);
  x->a = m;
  x->head = 0;
  x->n = k;
  memmove(&q->runs[j], &q->runs[j + 1],
          (size_t)(q->nruns - j - 1) * sizeof(*q->runs));
  q->nruns--;
  return 0;
}

/* Keeps the number of runs logarithmic: neighbours within a factor of two
   of each other are merged (the last run is the newest and usually the
   smallest), and at RQ_MAX_RUNS the two smallest neighbours are merged
   whatever their sizes. */
static int rebalance(rq_t *q) {
  uint32_t i = q->nruns;

  while (i >= 2) {
    if (run_len(&q->runs[i - 2]) <= 2 * run_len(&q->runs[i - 1])) {
      if (merge_runs(q, i - 2, i - 1))
        return -1;
      i = q->nruns;
      continue;
    }
    i--;
  }
  if (q->nruns == RQ_MAX_RUNS) {
    uint32_t best = 1;
    for (uint32_t k = 2; k < q->nruns; k++)
      if (run_len(&q->runs[k - 1]) + run_len(&q->runs[k]) <
          run_len(&q->runs[best - 1]) + run_len(&q->runs[best]))
        best = k;
    if (merge_runs(q, best - 1, best))
      return -1;
  }
  return 0;
}

/* Turns the buffer into a sorted run. */
static int flush_buf(rq_t *q) {
  heap_ent_t *a, *tmp;
  uint32_t n = q->buf.n;

  if (q->nruns == RQ_MAX_RUNS && rebalance(q))
    return -1;
  a = malloc((size_t)n * sizeof(*a));
  tmp = malloc((size_t)n * sizeof(*tmp));
  if (!a || !tmp) {
    free(a);
    free(tmp);
    return -1;
  }
  memcpy(a, q->buf.a, (size_t)n * sizeof(*a));
  sort_entries(a, tmp, n);
  free(tmp);
  q->runs[q->nruns].a = a;
  q->runs[q->nruns].head = 0;
  q->runs[q->nruns].n = n;
  q->nruns++;
  q->buf.n = 0;
  q->min = RQ_MIN_UNKNOWN;
  /* A failed merge leaves valid, unmerged runs: only the run count is at
     stake, and the next flush tries again. */
  (void)rebalance(q);
  return 0;
}

int rq_push(rq_t *q, int64_t key, uint32_t seq, uint32_t idx) {
  heap_ent_t e = {key, seq, idx};

  if (heap_reserve(&q->buf, RQ_BUF + RQ_SPARE))
    return -1;
  if (q->buf.n >= RQ_BUF && flush_buf(q))
    return -1;
  rq_reinsert(q, &e);
  return 0;
}

void rq_reinsert(rq_t *q, const heap_ent_t *e) {
  const heap_ent_t *m = q->min != RQ_MIN_UNKNOWN ? rq_top(q) : NULL;
  int less = m && heap_less(e, m);

  /* The buffer has room (rq_push() and pick_in_tier() reserve it first),
     so this push does not allocate and cannot fail. */
  (void)heap_push(&q->buf, e->key, e->seq, e->idx);
  q->n++;
  if (less)
    q->min = RQ_MIN_BUF;
}

const heap_ent_t *rq_top_slow(rq_t *q) {
  const heap_ent_t *best = q->buf.n ? &q->buf.a[0] : NULL;

  q->min = RQ_MIN_BUF;
  for (uint32_t i = 0; i < q->nruns; i++) {
    const heap_ent_t *h = &q->runs[i].a[q->runs[i].head];
    if (!best || heap_less(h, best)) {
      best = h;
      q->min = (int32_t)i;
    }
  }
  return best;
}

void rq_pop(rq_t *q) {
  rq_run_t *r;

  if (!q->n)
    return;
  if (q->min == RQ_MIN_UNKNOWN)
    (void)rq_top_slow(q);
  q->n--;
  if (q->min == RQ_MIN_BUF) {
    heap_pop(&q->buf);
    q->min = RQ_MIN_UNKNOWN;
    return;
  }
  r = &q->runs[q->min];
  r->head++;
  q->min = RQ_MIN_UNKNOWN;
  if (r->head == r->n) {
    free(r->a);
    memmove(r, r + 1,
            (size_t)(q->nruns - (uint32_t)(r - q->runs) - 1) * sizeof(*r));
    q->nruns--;
  } else if (r->head >= 4096 && r->head > r->n / 2) {
    /* Give back the consumed front half, so memory follows the backlog. */
    heap_ent_t *a;
    memmove(r->a, r->a + r->head, (size_t)run_len(r) * sizeof(*r->a));
    r->n -= r->head;
    r->head = 0;
    a = realloc(r->a, (size_t)r->n * sizeof(*a));
    if (a)
      r->a = a;
  }
}

const heap_ent_t *rq_ahead(rq_t *q, uint32_t k) {
  const rq_run_t *r;

  if (q->min == RQ_MIN_UNKNOWN)
    (void)rq_top_slow(q);
  if (q->min == RQ_MIN_BUF || q->min == RQ_MIN_UNKNOWN)
    return NULL;
  r = &q->runs[q->min];
  return r->head + k < r->n ? &r->a[r->head + k] : NULL;
}

void rq_filter(rq_t *q, const strata_core_t *ctx,
               int (*keep)(const strata_core_t *ctx, const heap_ent_t *e)) {
  uint32_t w = 0;

  for (uint32_t r = 0; r < q->buf.n; r++)
    if (keep(ctx, &q->buf.a[r]))
      q->buf.a[w++] = q->buf.a[r];
  q->buf.n = w;
  heap_heapify(&q->buf);
  q->n = w;
  for (uint32_t i = 0; i < q->nruns;) {
    rq_run_t *run = &q->runs[i];
    w = 0;
    for (uint32_t k = run->head; k < run->n; k++)
      if (keep(ctx, &run->a[k]))
        run->a[w++] = run->a[k];
    run->head = 0;
    run->n = w;
    if (!w) {
      free(run->a);
      memmove(run, run + 1, (size_t)(q->nruns - i - 1) * sizeof(*run));
      q->nruns--;
      continue;
    }
    q->n += w;
    i++;
  }
  q->min = RQ_MIN_UNKNOWN;
  (void)rebalance(q);
}
