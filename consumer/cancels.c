/*
 * The task ids a worker has seen cancelled on <prefix>control within the
 * cancel window, so a dispatch record of such a task that arrives later is
 * reported CANCELLED instead of run ("cancellation wins over a later
 * dispatch").
 *
 * An open-addressing hash set with linear probing, kept at most half full;
 * expiry rebuilds it without the old entries (no tombstones). Consume-loop
 * thread only; no locking.
 */
#include "worker_int.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_id(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

void cancels_init(cancels_t *c) {
  memset(c, 0, sizeof(*c));
}

void cancels_clear(cancels_t *c) {
  for (size_t i = 0; i < c->cap; i++)
    free(c->ids[i]);
  free(c->ids);
  free(c->at);
  cancels_init(c);
}

/* Places an owned id; the table has room. */
static void place(cancels_t *c, char *id, strata_epoch_ms_t at) {
  size_t i = (size_t)hash_id(id) & (c->cap - 1);
  while (c->ids[i])
    i = (i + 1) & (c->cap - 1);
  c->ids[i] = id;
  c->at[i] = at;
  c->count++;
}

/* Rebuilds with `cap` slots, keeping entries at or after `keep_from`. */
static int rebuild(cancels_t *c, size_t cap, strata_epoch_ms_t keep_from) {
  cancels_t n;

  cancels_init(&n);
  n.cap = cap;
  if (!(n.ids = calloc(cap, sizeof(*n.ids))) ||
      !(n.at = calloc(cap, sizeof(*n.at)))) {
    free(n.ids);
    return -1;
  }
  for (size_t i = 0; i < c->cap; i++) {
    if (!c->ids[i])
      continue;
    if (c->at[i] >= keep_from)
      place(&n, c->ids[i], c->at[i]);
    else
      free(c->ids[i]);
  }
  free(c->ids);
  free(c->at);
  *c = n;
  return 0;
}

static size_t find(const cancels_t *c, const char *id) {
  size_t i;
  if (!c->cap)
    return SIZE_MAX;
  for (i = (size_t)hash_id(id) & (c->cap - 1); c->ids[i];
       i = (i + 1) & (c->cap - 1))
    if (!strcmp(c->ids[i], id))
      return i;
  return SIZE_MAX;
}

int cancels_add(cancels_t *c, const char *id, strata_epoch_ms_t at) {
  size_t i = find(c, id);
  char *copy;

  if (i != SIZE_MAX) {
    if (at > c->at[i])
      c->at[i] = at;
    return 0;
  }
  if ((c->count + 1) * 2 > c->cap &&
      rebuild(c, c->cap ? c->cap * 2 : 64, INT64_MIN))
    return -1;
  if (!(copy = strdup(id)))
    return -1;
  place(c, copy, at);
  return 0;
}

bool cancels_has(const cancels_t *c, const char *id) {
  return find(c, id) != SIZE_MAX;
}

void cancels_expire(cancels_t *c, strata_epoch_ms_t before) {
  size_t old = 0;
  for (size_t i = 0; i < c->cap; i++)
    old += c->ids[i] && c->at[i] < before;
  if (old)
    rebuild(c, c->cap, before); /* on OOM the old entries simply stay */
}
