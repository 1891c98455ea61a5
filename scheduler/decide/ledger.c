/*
 * The ledger: two hash tables (uthash) keyed by strings, one for decided
 * (task id, attempt) pairs and one for claimed idempotency keys. Each entry
 * carries the time it was recorded so the window can be pruned. Entries are
 * single allocations (struct + key bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "decide_int.h"

typedef struct {
  UT_hash_handle hh;
  strata_epoch_ms_t at;
  int32_t attempt;      /* decided: highest attempt decided */
  int32_t lost;         /* decided: attempts up to this one presumed lost */
  bool cancelled;       /* decided: a CANCEL command names it */
  bool cancel_reported; /* decided: a CANCELLED event for it was written */
  char *owner;          /* keys: the task id holding the key (owned) */
  char key[];
} entry_t;

struct ledger_s {
  entry_t *decided;
  entry_t *keys;
  uint64_t n;
};

ledger_t *ledger_new(void) {
  return calloc(1, sizeof(ledger_t));
}

static void free_table(entry_t **table) {
  entry_t *e, *tmp;
  HASH_ITER(hh, *table, e, tmp) {
    HASH_DEL(*table, e);
    free(e->owner);
    free(e);
  }
}

void ledger_destroy(ledger_t *l) {
  if (!l)
    return;
  free_table(&l->decided);
  free_table(&l->keys);
  free(l);
}

static entry_t *entry_new(const char *key) {
  size_t n = strlen(key);
  entry_t *e = calloc(1, sizeof(*e) + n + 1);
  if (e)
    memcpy(e->key, key, n + 1);
  return e;
}

strata_err_t ledger_decided(ledger_t *l, const char *id, int32_t attempt,
                            strata_epoch_ms_t at) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  if (!e) {
    if (!(e = entry_new(id)))
      return STRATA_ERR_NOMEM;
    HASH_ADD_STR(l->decided, key, e);
    l->n++;
  }
  if (attempt > e->attempt)
    e->attempt = attempt;
  e->at = at;
  return STRATA_OK;
}

bool ledger_is_decided(const ledger_t *l, const char *id, int32_t attempt) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  return e && (e->cancelled || e->attempt >= attempt);
}

int32_t ledger_attempt(const ledger_t *l, const char *id) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  return e ? e->attempt : 0;
}

strata_err_t ledger_lost(ledger_t *l, const char *id, int32_t attempt,
                         strata_epoch_ms_t at) {
  entry_t *e;
  strata_err_t rc = ledger_decided(l, id, attempt, at);
  if (rc)
    return rc;
  HASH_FIND_STR(l->decided, id, e);
  if (e && attempt > e->lost)
    e->lost = attempt;
  return STRATA_OK;
}

bool ledger_is_lost(const ledger_t *l, const char *id, int32_t attempt) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  return e && attempt <= e->lost;
}

strata_err_t ledger_cancelled(ledger_t *l, const char *id,
                              strata_epoch_ms_t at) {
  entry_t *e;
  strata_err_t rc = ledger_decided(l, id, 0, at);
  if (rc)
    return rc;
  HASH_FIND_STR(l->decided, id, e);
  if (e)
    e->cancelled = true;
  return STRATA_OK;
}

bool ledger_cancel_pending(const ledger_t *l, const char *id) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  return e && e->cancelled && !e->cancel_reported;
}

strata_err_t ledger_cancel_reported(ledger_t *l, const char *id,
                                    strata_epoch_ms_t at) {
  entry_t *e;
  HASH_FIND_STR(l->decided, id, e);
  if (!e) {
    strata_err_t rc = ledger_decided(l, id, 0, at);
    if (rc)
      return rc;
    HASH_FIND_STR(l->decided, id, e);
  }
  if (e)
    e->cancel_reported = true;
  return STRATA_OK;
}

bool ledger_claim_key(ledger_t *l, const char *key, const char *id,
                      strata_epoch_ms_t at) {
  entry_t *e;
  HASH_FIND_STR(l->keys, key, e);
  if (e)
    return !strcmp(e->owner, id);
  if (!(e = entry_new(key)) || !(e->owner = strdup(id))) {
    free(e);
    return true; /* without memory, admit rather than lose the task */
  }
  e->at = at;
  HASH_ADD_STR(l->keys, key, e);
  l->n++;
  return true;
}

static void prune_table(ledger_t *l, entry_t **table,
                        strata_epoch_ms_t before) {
  entry_t *e, *tmp;
  HASH_ITER(hh, *table, e, tmp) {
    if (e->at < before) {
      HASH_DEL(*table, e);
      free(e->owner);
      free(e);
      l->n--;
    }
  }
}

void ledger_prune(ledger_t *l, strata_epoch_ms_t before) {
  prune_table(l, &l->decided, before);
  prune_table(l, &l->keys, before);
}

uint64_t ledger_size(const ledger_t *l) {
  return l->n;
}
