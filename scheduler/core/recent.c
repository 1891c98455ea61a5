/*
 * The set of recently completed task ids: a ring of the last
 * `remember_succeeded` completions (success or failure) with a small
 * open-addressing index over it. Late dependents of a remembered id resolve
 * at submission, and a remembered success rejects a duplicate submission.
 *
 * It is kept apart from the task table on purpose: a completed task's record
 * is freed at once (and, being hot, is what the next submission reuses),
 * while the ring and its index are small enough to stay in cache, so
 * remembering and forgetting cost no cache misses on the hot path.
 *
 * The index stores each entry's hash beside its ring position, so probing
 * and deleting compare hashes without reading ring entries.
 *
 * Invariants: the index holds exactly the live ring entries, at most half
 * full; an entry removed early stays in the ring, not live, until the ring
 * overwrites it; c->remembered counts live entries.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

int recent_init(strata_core_t *c, uint32_t cap) {
  uint32_t n = 16;

  if (!cap)
    return 0;
  while (n < cap * 2)
    n *= 2;
  c->rring = calloc(cap, sizeof(*c->rring));
  c->rslots = malloc((size_t)n * sizeof(*c->rslots));
  if (!c->rring || !c->rslots)
    return -1;
  memset(c->rslots, 0xff, (size_t)n * sizeof(*c->rslots));
  c->rcap = cap;
  c->nrslots = n;
  return 0;
}

static void entry_clear(rem_t *e) {
  if (e->len > CORE_ID_INLINE)
    free(e->ext);
  e->ext = NULL;
  e->live = 0;
}

void recent_free(strata_core_t *c) {
  for (uint32_t i = 0; i < c->rcap && c->rring; i++)
    if (c->rring[i].live)
      entry_clear(&c->rring[i]);
  free(c->rring);
  free(c->rslots);
}

static const char *entry_id(const rem_t *e) {
  return e->len > CORE_ID_INLINE ? e->ext : e->inl;
}

int64_t recent_find(const strata_core_t *c, const char *id, size_t len,
                    uint32_t h) {
  uint32_t m = c->nrslots - 1;

  if (!c->rcap)
    return -1;
  for (uint32_t i = h & m;; i = (i + 1) & m) {
    uint32_t pos = c->rslots[i].idx;
    const rem_t *e;
    if (pos == CORE_NIL)
      return -1;
    if (c->rslots[i].hash != h)
      continue;
    e = &c->rring[pos];
    if (e->len == len && !memcmp(entry_id(e), id, len))
      return pos;
  }
}

static void index_remove(strata_core_t *c, uint32_t pos) {
  uint32_t m = c->nrslots - 1, i = c->rring[pos].hash & m, j;

  while (c->rslots[i].idx != pos)
    i = (i + 1) & m;
  for (j = i;;) {
    uint32_t k;
    j = (j + 1) & m;
    if (c->rslots[j].idx == CORE_NIL)
      break;
    k = c->rslots[j].hash & m;
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
      continue;
    c->rslots[i] = c->rslots[j];
    i = j;
  }
  c->rslots[i].idx = CORE_NIL;
}

void recent_remove(strata_core_t *c, uint32_t pos) {
  rem_t *e = &c->rring[pos];

  if (!e->live)
    return;
  index_remove(c, pos);
  entry_clear(e);
  c->remembered--;
}

void recent_add(strata_core_t *c, const char *id, size_t len, uint32_t h,
                int ok) {
  uint32_t pos, m;
  rem_t *e;

  if (!c->rcap)
    return;
  if (c->rn == c->rcap) {
    recent_remove(c, c->rhead);
    c->rhead = (c->rhead + 1) % c->rcap;
    c->rn--;
  }
  pos = (c->rhead + c->rn) % c->rcap;
  e = &c->rring[pos];
  if (len > CORE_ID_INLINE) {
    e->ext = malloc(len + 1);
    if (!e->ext)
      return; /* forgetting early is the documented failure mode */
    memcpy(e->ext, id, len);
    e->ext[len] = '\0';
  } else {
    memcpy(e->inl, id, len);
    e->inl[len] = '\0';
  }
  e->hash = h;
  e->len = (uint8_t)len;
  e->ok = (uint8_t)(ok != 0);
  e->live = 1;
  c->rn++;
  c->remembered++;
  m = c->nrslots - 1;
  for (uint32_t i = h & m;; i = (i + 1) & m)
    if (c->rslots[i].idx == CORE_NIL) {
      c->rslots[i].idx = pos;
      c->rslots[i].hash = h;
      break;
    }
}
