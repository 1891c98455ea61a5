/*
 * Task records and the id table. A held task (READY, BLOCKED, DELAYED,
 * RUNNING or a placeholder) has one record in the task slab and one slot in
 * the id hash; when it ends, ids_remember() moves its id to the ring of
 * recent completions (recent.c) and frees the record.
 *
 * The hash is open addressing with linear probing at a load of at most 1/2
 * (7/8 while growing fails). Each slot keeps the id's 32-bit hash beside
 * the record index, so a probe reads a record only on a hash match and
 * growing reads no record at all.
 *
 * Invariants (besides those in core_int.h):
 * - Every record not on the slab's free list is in the hash exactly once,
 *   under the hash of its id; nhashed counts them.
 * - Deletion shifts entries back instead of leaving tombstones, so every
 *   entry is reachable from its home slot without crossing an empty one.
 * - A slot's gen survives its release and grows on every allocation, so a
 *   dispatch handle that names an earlier use of the slot never matches.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Id hash                                                                  */
/* ------------------------------------------------------------------------ */

uint32_t ids_find_hashed(const strata_core_t *c, const char *id, size_t len,
                         uint32_t h) {
  uint32_t m = c->nslots - 1;

  for (uint32_t i = h & m;; i = (i + 1) & m) {
    const hslot_t *s = &c->slots[i];
    if (s->idx == CORE_NIL)
      return CORE_NIL;
    if (s->hash == h) {
      const task_t *t = core_task(c, s->idx);
      if (t->idlen == len && !memcmp(task_id(t), id, len))
        return s->idx;
    }
  }
}

uint32_t ids_find(const strata_core_t *c, const char *id, size_t len) {
  return ids_find_hashed(c, id, len, core_id_hash(id, len));
}

static void slot_put(hslot_t *slots, uint32_t m, uint32_t idx, uint32_t h) {
  uint32_t i = h & m;

  while (slots[i].idx != CORE_NIL)
    i = (i + 1) & m;
  slots[i].idx = idx;
  slots[i].hash = h;
}

/* Doubles the table; the stored hashes make this a pass over the slots
   alone, without touching task records. */
static int hash_grow(strata_core_t *c) {
  uint32_t ns = c->nslots * 2;
  hslot_t *s;

  if (ns < c->nslots)
    return -1;
  s = malloc((size_t)ns * sizeof(*s));
  if (!s)
    return -1;
  memset(s, 0xff, (size_t)ns * sizeof(*s));
  for (uint32_t i = 0; i < c->nslots; i++)
    if (c->slots[i].idx != CORE_NIL)
      slot_put(s, ns - 1, c->slots[i].idx, c->slots[i].hash);
  free(c->slots);
  c->slots = s;
  c->nslots = ns;
  return 0;
}

static int hash_insert(strata_core_t *c, uint32_t idx, uint32_t h) {
  /* Load factor at most 1/2 keeps probe sequences short; past it, a failed
     grow is tolerated until the table is 7/8 full. */
  if ((uint64_t)(c->nhashed + 1) * 2 > c->nslots && hash_grow(c) &&
      (uint64_t)(c->nhashed + 1) * 8 > (uint64_t)c->nslots * 7)
    return -1;
  slot_put(c->slots, c->nslots - 1, idx, h);
  c->nhashed++;
  return 0;
}

/* Backward-shift deletion: no tombstones, so lookups never slow down. */
static void hash_remove(strata_core_t *c, uint32_t idx, uint32_t h) {
  uint32_t m = c->nslots - 1, i = h & m, j;

  while (c->slots[i].idx != idx) {
    if (c->slots[i].idx == CORE_NIL)
      return;
    i = (i + 1) & m;
  }
  for (j = i;;) {
    uint32_t k;
    j = (j + 1) & m;
    if (c->slots[j].idx == CORE_NIL)
      break;
    k = c->slots[j].hash & m;
    /* The entry at j may move to the hole at i unless its home k lies
       cyclically in (i, j]. */
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
      continue;
    c->slots[i] = c->slots[j];
    i = j;
  }
  c->slots[i].idx = CORE_NIL;
  c->nhashed--;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

uint32_t ids_alloc(strata_core_t *c, const char *id, size_t len, uint32_t h) {
  uint32_t idx = slab_alloc(&c->tasks), gen;
  task_t *t;

  if (idx == CORE_NIL)
    return CORE_NIL;
  t = core_task(c, idx);
  gen = t->gen + 1;
  memset(t, 0, sizeof(*t));
  t->gen = gen;
  t->state = TS_FREE;
  t->dnode = t->fprev = t->fnext = CORE_NIL;
  t->idlen = (uint8_t)len;
  if (len <= CORE_ID_INLINE) {
    memcpy(t->id.inl, id, len);
    t->id.inl[len] = '\0';
  } else {
    t->id.ext = malloc(len + 1);
    if (!t->id.ext) {
      slab_release(&c->tasks, idx);
      return CORE_NIL;
    }
    memcpy(t->id.ext, id, len);
    t->id.ext[len] = '\0';
    t->flags |= TF_ID_EXT;
  }
  if (hash_insert(c, idx, h)) {
    if (t->flags & TF_ID_EXT)
      free(t->id.ext);
    t->flags = 0;
    slab_release(&c->tasks, idx);
    return CORE_NIL;
  }
  return idx;
}

static void dnode_release(strata_core_t *c, task_t *t) {
  if (t->dnode != CORE_NIL) {
    slab_release(&c->dnodes, t->dnode);
    t->dnode = CORE_NIL;
  }
}

void ids_release_hashed(strata_core_t *c, uint32_t idx, uint32_t h) {
  task_t *t = core_task(c, idx);

  core_set_state(c, t, TS_FREE);
  hash_remove(c, idx, h);
  dnode_release(c, t);
  task_drop_demands(t);
  if (t->flags & TF_ID_EXT)
    free(t->id.ext);
  t->flags = 0;
  slab_release(&c->tasks, idx);
}

void ids_release(strata_core_t *c, uint32_t idx) {
  const task_t *t = core_task(c, idx);

  ids_release_hashed(c, idx, core_id_hash(task_id(t), t->idlen));
}

void ids_remember(strata_core_t *c, uint32_t idx, uint8_t state) {
  task_t *t = core_task(c, idx);
  uint32_t h;

  if (t->dnode != CORE_NIL) {
    dnode_t *d = core_dnode(c, t->dnode);
    deps_free_in_edges(c, d);
    if (d->out_head != CORE_NIL) {
      /* Only when a cascade ran out of memory: waiters still point here,
         so keep the record (not held) rather than leave them dangling. */
      task_drop_demands(t);
      core_set_state(c, t, TS_DONE_FAIL);
      return;
    }
  }
  h = core_id_hash(task_id(t), t->idlen);
  recent_add(c, task_id(t), t->idlen, h, state == TS_DONE_OK);
  ids_release_hashed(c, idx, h);
}
