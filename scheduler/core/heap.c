/*
 * A 4-ary min-heap of (key, seq, idx) entries, used for the per-tier ready
 * queues and the timer queue. Ties on equal keys break on seq, so entries
 * with equal keys leave in the order they were pushed (FIFO); seq is compared
 * with wrap-around, which is exact while live entries span fewer than 2^31
 * pushes.
 *
 * Four children per node halve the depth of a binary heap, and the four
 * children of a node share one 64-byte cache line: the array starts three
 * entries into a 64-byte aligned block, so children 4i+1..4i+4 sit at a
 * line boundary. Entries carry no back-pointer into the task record; records
 * that leave a heap early leave a stale entry behind, which the owner
 * recognises and counts (see core_int.h) and drops on pop or compaction.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

#define HEAP_PAD 3

void heap_init(heap_t *h) {
  memset(h, 0, sizeof(*h));
}

void heap_free(heap_t *h) {
  free(h->mem);
  heap_init(h);
}

static int heap_grow_to(heap_t *h, uint32_t cap) {
  void *mem = NULL;

  if (cap < h->cap || cap > (UINT32_MAX - HEAP_PAD) / 2)
    return -1;
  if (posix_memalign(&mem, 64, ((size_t)cap + HEAP_PAD) * sizeof(heap_ent_t)))
    return -1;
  if (h->n)
    memcpy((heap_ent_t *)mem + HEAP_PAD, h->a,
           (size_t)h->n * sizeof(heap_ent_t));
  free(h->mem);
  h->mem = mem;
  h->a = (heap_ent_t *)mem + HEAP_PAD;
  h->cap = cap;
  return 0;
}

static int heap_grow(heap_t *h) {
  return heap_grow_to(h, h->cap ? h->cap + h->cap / 2 : 64);
}

int heap_reserve(heap_t *h, uint32_t cap) {
  return cap <= h->cap ? 0 : heap_grow_to(h, cap);
}

static void sift_up(heap_ent_t *a, uint32_t i) {
  heap_ent_t e = a[i];

  while (i > 0) {
    uint32_t p = (i - 1) / 4;
    if (!heap_less(&e, &a[p]))
      break;
    a[i] = a[p];
    i = p;
  }
  a[i] = e;
}

static void sift_down(heap_ent_t *a, uint32_t n, uint32_t i) {
  heap_ent_t e = a[i];

  for (;;) {
    uint32_t c = 4 * i + 1, best, end;
    if (c >= n)
      break;
    best = c;
    end = c + 4 < n ? c + 4 : n;
    for (uint32_t k = c + 1; k < end; k++)
      if (heap_less(&a[k], &a[best]))
        best = k;
    if (!heap_less(&a[best], &e))
      break;
    a[i] = a[best];
    i = best;
  }
  a[i] = e;
}

/* Index of the smallest of the four children starting at c (all present),
   without data-dependent branches: at this depth the comparisons are
   unpredictable and mispredictions cost more than the compares. */
static inline uint32_t min_of_four(const heap_ent_t *a, uint32_t c) {
  uint32_t x = heap_less(&a[c + 1], &a[c]) ? c + 1 : c;
  uint32_t y = heap_less(&a[c + 3], &a[c + 2]) ? c + 3 : c + 2;
  return heap_less(&a[y], &a[x]) ? y : x;
}

/* Removes the root (Floyd's bottom-up variant): walk the hole down along
   the smallest children to a leaf, then sift the last entry up from there.
   The last entry usually belongs near the bottom, so this does about one
   comparison per level instead of four plus one. While walking down, the
   cache lines of the grandchildren are prefetched so the misses of the
   next level overlap with the work of this one. */
static void pop_root(heap_ent_t *a, uint32_t n) {
  heap_ent_t e = a[n];
  uint32_t i = 0;

  for (;;) {
    uint32_t c = 4 * i + 1, best;
    if (c + 3 < n) {
      best = min_of_four(a, c);
    } else if (c < n) {
      best = c;
      for (uint32_t k = c + 1; k < n; k++)
        if (heap_less(&a[k], &a[best]))
          best = k;
    } else {
      break;
    }
    if (4 * best + 1 < n)
      __builtin_prefetch(&a[4 * best + 1]);
    a[i] = a[best];
    i = best;
  }
  while (i > 0) {
    uint32_t p = (i - 1) / 4;
    if (!heap_less(&e, &a[p]))
      break;
    a[i] = a[p];
    i = p;
  }
  a[i] = e;
}

int heap_push(heap_t *h, int64_t key, uint32_t seq, uint32_t idx) {
  if (h->n == h->cap && heap_grow(h))
    return -1;
  h->a[h->n].key = key;
  h->a[h->n].seq = seq;
  h->a[h->n].idx = idx;
  sift_up(h->a, h->n++);
  return 0;
}

void heap_pop(heap_t *h) {
  if (!h->n)
    return;
  if (--h->n)
    pop_root(h->a, h->n);
}

void heap_heapify(heap_t *h) {
  if (h->n < 2)
    return;
  for (uint32_t i = (h->n - 2) / 4 + 1; i-- > 0;)
    sift_down(h->a, h->n, i);
}
