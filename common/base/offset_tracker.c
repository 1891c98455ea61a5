/*
 * Offset tracker (offset_tracker.h): a ring of consumed records in offset
 * order with a done flag each. Finished records at the head are dropped as
 * soon as they are finished, so the ring holds only the span between the
 * first unfinished record and the newest one.
 *
 * Invariants: ring[head .. head+count) (modulo cap) holds strictly increasing
 * offsets, all below next_offset; the entry at the head, when there is one,
 * is unfinished.
 */
#include "offset_tracker.h"

#include <stdlib.h>
#include <string.h>

#define TRACKER_INITIAL_CAP 64

void tracker_init(tracker_t *t) {
  memset(t, 0, sizeof(*t));
  t->next_offset = -1;
  t->start_offset = -1;
}

void tracker_clear(tracker_t *t) {
  free(t->ring);
  tracker_init(t);
}

static tracker_entry_t *at(const tracker_t *t, uint64_t i) {
  return &t->ring[(t->head + i) % t->cap];
}

uint64_t tracker_push(tracker_t *t, int64_t offset, int64_t mark) {
  if (t->next_offset >= 0 && offset < t->next_offset)
    return TRACKER_STALE;
  if (t->count == t->cap) {
    uint64_t cap = t->cap ? t->cap * 2 : TRACKER_INITIAL_CAP;
    tracker_entry_t *n = malloc(cap * sizeof(*n));
    if (!n)
      return TRACKER_NOMEM;
    /* Unwrapped into the new ring, oldest first. */
    for (uint64_t i = 0; i < t->count; i++)
      n[i] = *at(t, i);
    free(t->ring);
    t->ring = n;
    t->cap = cap;
    t->head = 0;
  }
  *at(t, t->count) = (tracker_entry_t){offset, mark, false};
  t->count++;
  t->next_offset = offset + 1;
  return t->head_seq + t->count - 1;
}

static void drop_finished_head(tracker_t *t) {
  while (t->count > 0 && at(t, 0)->done) {
    t->head = (t->head + 1) % t->cap;
    t->head_seq++;
    t->count--;
    t->dirty = true;
  }
}

void tracker_done(tracker_t *t, uint64_t seq) {
  if (seq < t->head_seq || seq - t->head_seq >= t->count)
    return; /* already dropped (or never pushed): harmless */
  at(t, seq - t->head_seq)->done = true;
  drop_finished_head(t);
}

bool tracker_done_offset(tracker_t *t, int64_t offset) {
  uint64_t lo = 0, hi = t->count;

  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (at(t, mid)->offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == t->count || at(t, lo)->offset != offset)
    return false;
  at(t, lo)->done = true;
  drop_finished_head(t);
  return true;
}

int64_t tracker_commit_offset(const tracker_t *t) {
  return t->count ? at(t, 0)->offset : t->next_offset;
}

int64_t tracker_commit_mark(const tracker_t *t, int64_t current_mark) {
  return t->count ? at(t, 0)->mark : current_mark;
}

size_t tracker_inflight(const tracker_t *t) {
  size_t n = 0;
  for (uint64_t i = 0; i < t->count; i++)
    n += !at(t, i)->done;
  return n;
}
