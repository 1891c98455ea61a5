/*
 * Held tasks: one record per task the core holds, in a slab whose slot is
 * the task's core cookie. A slot is allocated when the task is read and
 * freed when the task leaves the core; finishing it (held_finish) also
 * finishes the task's input record in its offset tracker, so the input
 * offset can move past it only once its consequence is in the same turn's
 * outputs.
 */
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"

uint64_t held_alloc(decide_t *d) {
  uint64_t old, cap;
  if (d->nfree)
    return d->free_slots[--d->nfree];
  old = d->nheld_cap;
  cap = old ? old * 2 : 1024;
  d->held = decide_xrealloc(d->held, cap * sizeof(*d->held));
  d->free_slots = decide_xrealloc(d->free_slots, cap * sizeof(*d->free_slots));
  memset(d->held + old, 0, (cap - old) * sizeof(*d->held));
  for (uint64_t i = cap; i > old + 1; i--)
    d->free_slots[d->nfree++] = i - 1;
  d->nheld_cap = cap;
  return old;
}

void held_free(decide_t *d, uint64_t slot) {
  held_t *h = &d->held[slot];
  free(h->value);
  free(h->key);
  memset(h, 0, sizeof(*h));
  d->free_slots[d->nfree++] = slot;
}

void held_finish(decide_t *d, uint64_t slot) {
  held_t *h = &d->held[slot];
  tracker_done(decide_tracker(d, h->input, h->partition), h->seq);
  held_free(d, slot);
}

void held_clear(decide_t *d) {
  for (uint64_t i = 0; i < d->nheld_cap; i++)
    if (d->held[i].in_use)
      held_free(d, i);
}

subject_t held_subject(const decide_t *d, uint64_t slot, const char *id) {
  const held_t *h = &d->held[slot];
  return (subject_t){id,      h->key,       h->keyed, h->attempt,
                     h->tier, h->partition, h->lane};
}
