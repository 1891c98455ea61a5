/*
 * The attempt history of a dead letter, rebuilt from the task's headers:
 * every earlier attempt that failed left `strata.attempt.<i>` and every one
 * that yielded `strata.yield.<i>`, compact JSON written by whoever wrote the
 * next attempt (the worker, or the scheduler for an attempt lost to its
 * heartbeat timeout). See docs/ARCHITECTURE.md "Retries and dead letters".
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"

static const char *header(const strata_task_t *t, const char *key) {
  for (size_t i = 0; i < t->headers_count; i++)
    if (!strcmp(t->headers[i].key, key))
      return t->headers[i].value;
  return NULL;
}

/* Fills `r` from one header's JSON; false when it does not parse. */
static bool from_json(const char *text, bool yielded, int32_t attempt,
                      strata_attempt_record_t *r) {
  json_t *j = json_loads(text, 0, NULL), *f;
  if (!j)
    return false;
  r->attempt = attempt;
  if (json_is_integer(f = json_object_get(j, "started_ms"))) {
    r->has_started_ms = true;
    r->started_ms = json_integer_value(f);
  }
  if (json_is_integer(f = json_object_get(j, "ended_ms"))) {
    r->has_ended_ms = true;
    r->ended_ms = json_integer_value(f);
  }
  f = json_object_get(j, "outcome");
  r->outcome = strdup(yielded             ? "YIELDED"
                      : json_is_string(f) ? json_string_value(f)
                                          : "?");
  if (json_is_string(f = json_object_get(j, yielded ? "reason" : "error")))
    r->error = strdup(json_string_value(f));
  json_decref(j);
  return true;
}

strata_err_t
strata_deadletter_set_history(strata_deadletter_t *d, const strata_task_t *task,
                              const strata_attempt_record_t *last) {
  int32_t a = task->attempt > 0 ? task->attempt : 1;
  strata_attempt_record_t *v = calloc((size_t)a, sizeof(*v));
  size_t n = 0;

  if (!v)
    return STRATA_ERR_NOMEM;
  d->attempts = v;
  d->attempts_count = 0;
  for (int32_t i = 1; i < a; i++) {
    char key[64];
    const char *text;
    bool yielded = false;
    snprintf(key, sizeof(key), STRATA_HEADER_ATTEMPT_PREFIX "%" PRId32, i);
    if (!(text = header(task, key))) {
      snprintf(key, sizeof(key), STRATA_HEADER_YIELD_PREFIX "%" PRId32, i);
      yielded = (text = header(task, key)) != NULL;
    }
    /* A task from elsewhere may lack a header: skip it, do not fail. */
    if (!text || !from_json(text, yielded, i, &v[n]))
      continue;
    d->attempts_count = ++n;
    if (!v[n - 1].outcome)
      return STRATA_ERR_NOMEM;
  }
  if (!last)
    return STRATA_OK;
  v[n] = *last;
  v[n].outcome = strdup(last->outcome ? last->outcome : "?");
  v[n].error = last->error ? strdup(last->error) : NULL;
  d->attempts_count = ++n;
  return v[n - 1].outcome && (!last->error || v[n - 1].error)
             ? STRATA_OK
             : STRATA_ERR_NOMEM;
}
