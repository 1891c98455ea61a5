/*
 * Slabs of fixed-size elements addressed by 32-bit index. Elements live in
 * chunks of SLAB_CHUNK that never move, so a pointer to an element stays
 * valid until the element is released, and an index is half a pointer.
 * Released elements go on a free list threaded through their first four
 * bytes; everything past those bytes keeps its value, which is how task
 * records keep their generation counter across reuse. Chunks are zeroed
 * when first allocated.
 */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

void slab_init(slab_t *s, uint32_t elem) {
  memset(s, 0, sizeof(*s));
  s->elem = elem;
  s->free = CORE_NIL;
}

void slab_free_all(slab_t *s) {
  for (uint32_t i = 0; i < s->nchunks; i++)
    free(s->chunks[i]);
  free(s->chunks);
  slab_init(s, s->elem);
}

uint32_t slab_alloc(slab_t *s) {
  uint32_t idx;

  if (s->free != CORE_NIL) {
    idx = s->free;
    memcpy(&s->free, slab_at(s, idx), sizeof(uint32_t));
    s->live++;
    return idx;
  }
  if ((s->used_end >> SLAB_SHIFT) == s->nchunks) {
    if (s->nchunks >= (CORE_NIL >> SLAB_SHIFT) - 1)
      return CORE_NIL;
    if (s->nchunks == s->cap_chunks) {
      uint32_t cap = s->cap_chunks ? s->cap_chunks * 2 : 16;
      char **nc = realloc(s->chunks, (size_t)cap * sizeof(*nc));
      if (!nc)
        return CORE_NIL;
      s->chunks = nc;
      s->cap_chunks = cap;
    }
    s->chunks[s->nchunks] = calloc(SLAB_CHUNK, s->elem);
    if (!s->chunks[s->nchunks])
      return CORE_NIL;
    s->nchunks++;
  }
  idx = s->used_end++;
  s->live++;
  return idx;
}

void slab_release(slab_t *s, uint32_t idx) {
  memcpy(slab_at(s, idx), &s->free, sizeof(uint32_t));
  s->free = idx;
  s->live--;
}
