/*
 * Attempt history. Whoever writes the next attempt of a task (the worker
 * after a failure or a yield, the scheduler after a lost heartbeat) records
 * the attempt that ended in a header of it (strata_task_next_attempt); a
 * dead letter's history is rebuilt from those headers:
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

/* A copy of at most `max` bytes of `s`, cut on a UTF-8 character boundary. */
static char *truncate_utf8(const char *s, size_t max) {
  size_t n = strlen(s);
  char *c;

  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--;
  }
  if ((c = malloc(n + 1))) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

char *strata_attempt_history_json(const char *outcome,
                                  strata_epoch_ms_t started,
                                  strata_epoch_ms_t ended, const char *error) {
  char *cut = error ? truncate_utf8(error, STRATA_HISTORY_TEXT_MAX) : NULL;
  json_t *j = json_object();
  char *text = NULL;

  if (j && (!error || cut) &&
      !json_object_set_new(j, "outcome", json_string(outcome)) &&
      !json_object_set_new(j, "started_ms", json_integer(started)) &&
      !json_object_set_new(j, "ended_ms", json_integer(ended)) &&
      !json_object_set_new(j, "error", cut ? json_string(cut) : json_null()))
    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  free(cut);
  return text;
}

char *strata_yield_history_json(strata_epoch_ms_t started,
                                strata_epoch_ms_t ended, const char *reason) {
  char *cut = truncate_utf8(reason, STRATA_HISTORY_TEXT_MAX);
  json_t *j = json_object();
  char *text = NULL;

  if (j && cut &&
      !json_object_set_new(j, "started_ms",
                           started ? json_integer(started) : json_null()) &&
      !json_object_set_new(j, "ended_ms", json_integer(ended)) &&
      !json_object_set_new(j, "reason", json_string(cut)))
    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  free(cut);
  return text;
}

strata_err_t strata_task_next_attempt(strata_task_t *t,
                                      const char *header_prefix,
                                      const char *history,
                                      strata_epoch_ms_t now) {
  char key[64];

  snprintf(key, sizeof(key), "%s%" PRId32, header_prefix, t->attempt);
  for (size_t i = 0; i < t->headers_count; i++)
    if (!strcmp(t->headers[i].key, key)) {
      char *v = strdup(history);
      if (!v)
        return STRATA_ERR_NOMEM;
      free(t->headers[i].value);
      t->headers[i].value = v;
      goto done;
    }
  if (strata_task_add_header(t, key, history))
    return STRATA_ERR_NOMEM;
done:
  t->attempt++;
  t->enqueued_ms = now;
  return STRATA_OK;
}

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
