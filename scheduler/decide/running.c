/*
 * Running attempts: a uthash table keyed by task id, holding every attempt
 * dispatched and not yet seen ending (what the workers run, plus the
 * dispatch records they have not read yet). Walked once per
 * scheduler.watch.interval for heartbeats (only while an entry has a
 * heartbeat timeout) and for preemption.
 */
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"

struct running_table_s {
  running_t *head;
  size_t watched; /* entries holding a task record (heartbeats watched) */
  size_t begun;   /* entries a worker reported progress for */
  /* Per lane: entries not reported started. */
  size_t lane_unstarted[STRATA_CORE_MAX_LANES];
};

running_table_t *running_new(void) {
  return calloc(1, sizeof(running_table_t));
}

static void entry_free(running_t *r) {
  free(r->id);
  free(r->key);
  free(r->value);
  free(r->worker);
  free(r->ckpt);
  free(r);
}

void running_clear(running_table_t *t) {
  running_t *r, *tmp;
  if (!t)
    return;
  HASH_ITER(hh, t->head, r, tmp) {
    HASH_DEL(t->head, r);
    entry_free(r);
  }
  t->watched = 0;
  t->begun = 0;
  memset(t->lane_unstarted, 0, sizeof(t->lane_unstarted));
}

void running_destroy(running_table_t *t) {
  running_clear(t);
  free(t);
}

running_t *running_find(running_table_t *t, const char *id) {
  running_t *r;
  HASH_FIND_STR(t->head, id, r);
  return r;
}

void running_del(running_table_t *t, running_t *r) {
  if (r->value)
    t->watched--;
  if (r->begun)
    t->begun--;
  else
    t->lane_unstarted[r->lane]--;
  HASH_DEL(t->head, r);
  entry_free(r);
}

running_t *running_add(running_table_t *t, const char *id, const char *key,
                       int32_t attempt, int lane, void *value, size_t len) {
  running_t *r = running_find(t, id);

  if (r)
    running_del(t, r);
  if (!(r = calloc(1, sizeof(*r))) || !(r->id = strdup(id)) ||
      !(r->key = strdup(key))) {
    if (r)
      free(r->id);
    free(r);
    return NULL;
  }
  r->attempt = attempt;
  r->lane = lane >= 0 && lane < STRATA_CORE_MAX_LANES ? lane : 0;
  t->lane_unstarted[r->lane]++;
  r->value = value;
  r->len = len;
  if (value)
    t->watched++;
  HASH_ADD_KEYPTR(hh, t->head, r->id, strlen(r->id), r);
  return r;
}

size_t running_count(const running_table_t *t) {
  return HASH_COUNT(t->head);
}

size_t running_watched(const running_table_t *t) {
  return t->watched;
}

void running_begin(running_table_t *t, running_t *r) {
  if (!r->begun) {
    r->begun = true;
    t->begun++;
    t->lane_unstarted[r->lane]--;
  }
}

size_t running_unstarted(const running_table_t *t) {
  return HASH_COUNT(t->head) - t->begun;
}

size_t running_unstarted_lane(const running_table_t *t, int lane) {
  return lane >= 0 && lane < STRATA_CORE_MAX_LANES ? t->lane_unstarted[lane]
                                                   : 0;
}

void running_each(running_table_t *t, void (*cb)(running_t *r, void *opaque),
                  void *opaque) {
  running_t *r, *tmp;
  HASH_ITER(hh, t->head, r, tmp) {
    cb(r, opaque);
  }
}

void running_seen(running_t *r, const char *worker, strata_epoch_ms_t now) {
  if (now > r->last_seen_ms)
    r->last_seen_ms = now;
  if (worker && (!r->worker || strcmp(r->worker, worker))) {
    char *w = decide_xstrdup(worker);
    free(r->worker);
    r->worker = w;
  }
}

void running_checkpoint(running_t *r, const uint8_t *state, size_t len) {
  uint8_t *copy = decide_xmalloc(len);
  if (len)
    memcpy(copy, state, len);
  free(r->ckpt);
  r->ckpt = copy;
  r->ckpt_len = len;
  r->has_ckpt = true;
}

void running_done(running_table_t *t, const char *id, int32_t attempt) {
  running_t *r = running_find(t, id);
  if (r && r->attempt <= attempt)
    running_del(t, r);
}
