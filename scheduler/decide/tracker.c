/*
 * Offset tracker: a ring of consumed records in offset order with a done
 * flag each. Finished records at the head are dropped as soon as they are
 * finished, so the ring holds only the span between the first unfinished
 * record and the newest one.
 */
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"

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
  if (t->count == t->cap) {
    uint64_t cap = t->cap ? t->cap * 2 : 64;
    tracker_entry_t *n = malloc(cap * sizeof(*n));
    if (!n)
      return UINT64_MAX;
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

void tracker_done(tracker_t *t, uint64_t seq) {
  if (seq < t->head_seq || seq >= t->head_seq + t->count)
    return; /* already dropped: finished twice is harmless */
  at(t, seq - t->head_seq)->done = true;
  while (t->count > 0 && at(t, 0)->done) {
    t->head = (t->head + 1) % t->cap;
    t->head_seq++;
    t->count--;
    t->dirty = true;
  }
}

int64_t tracker_commit_offset(const tracker_t *t) {
  return t->count ? at(t, 0)->offset : t->next_offset;
}

int64_t tracker_commit_mark(const tracker_t *t, int64_t current_mark) {
  return t->count ? at(t, 0)->mark : current_mark;
}
