/*
 * Per-partition tracking of in-flight dispatch offsets, for commits in order.
 *
 * Records of one partition arrive in increasing offset order and finish in
 * any order. The tracker keeps them in arrival order; the commit point is the
 * lowest offset not yet finished (everything below it is done, or was never
 * delivered, like transaction markers), or, with nothing in flight, one past
 * the highest offset seen. Committing it can never skip an unfinished record.
 *
 * Invariants: entries[head..len) hold strictly increasing offsets; done
 * entries at the head are dropped as soon as the commit point is asked for.
 * Pure data structure: no Kafka, no locking (the consume loop owns it).
 */
#include "worker_int.h"

#include <stdlib.h>
#include <string.h>

void strata_offq_init(strata_offq_t *q) {
  memset(q, 0, sizeof(*q));
  q->next = -1;
}

void strata_offq_clear(strata_offq_t *q) {
  free(q->v);
  strata_offq_init(q);
}

int strata_offq_push(strata_offq_t *q, int64_t offset) {
  if (q->next >= 0 && offset < q->next)
    return -1;
  if (q->head > 0 && q->len == q->cap) {
    memmove(q->v, q->v + q->head, (q->len - q->head) * sizeof(*q->v));
    q->len -= q->head;
    q->head = 0;
  }
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 16;
    strata_offq_entry_t *v = realloc(q->v, cap * sizeof(*v));
    if (!v)
      return -1;
    q->v = v;
    q->cap = cap;
  }
  q->v[q->len].offset = offset;
  q->v[q->len].done = false;
  q->len++;
  q->next = offset + 1;
  return 0;
}

bool strata_offq_done(strata_offq_t *q, int64_t offset) {
  size_t lo = q->head, hi = q->len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (q->v[mid].offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == q->len || q->v[lo].offset != offset || q->v[lo].done)
    return false;
  q->v[lo].done = true;
  return true;
}

int64_t strata_offq_commit_point(strata_offq_t *q) {
  while (q->head < q->len && q->v[q->head].done)
    q->head++;
  if (q->head == q->len) {
    q->head = q->len = 0;
    return q->next;
  }
  return q->v[q->head].offset;
}

size_t strata_offq_inflight(const strata_offq_t *q) {
  size_t n = 0;
  for (size_t i = q->head; i < q->len; i++)
    n += !q->v[i].done;
  return n;
}
