/*
 * What a finished attempt leaves behind: its terminal event and, when it
 * failed, either a retry record or a dead letter; when it yielded, a requeue
 * record. Runs on the consume loop,
 * which writes the result in the same transaction as the dispatch offset, so
 * an outcome and its retry (or dead letter) are committed together or not at
 * all.
 *
 * Contract (docs/ARCHITECTURE.md, "Retries and dead letters"):
 *  - FAILED or TIMED_OUT with `retryable` true means "a retry record for
 *    attempt+1 was written"; false means the task is finished for good and a
 *    dead letter plus a DEAD_LETTERED event follow in the same transaction.
 *  - The retry record is the dispatched task with attempt+1, not_before =
 *    now + backoff, enqueued = now and the header strata.attempt.<a> holding
 *    this attempt's history as compact JSON; it goes to the delay-ladder
 *    step for the backoff, or to the task's tier topic when the backoff is
 *    shorter than the smallest step, keyed by the dispatch record's key, on
 *    the dispatch record's partition number. It carries the attempt's latest
 *    checkpoint, if it saved one.
 *  - A yielded attempt (docs/ARCHITECTURE.md, "Checkpoints and yielding")
 *    ends with a CHECKPOINT event whose error is "yielded: <reason>" and
 *    retryable true, and a requeue record: the dispatched task with
 *    attempt+1, max_attempts+1 (a yield uses up no failure budget), the
 *    latest checkpoint, enqueued = now, not_before unchanged and the header
 *    strata.yield.<a>, on its tier topic, keyed and partitioned like a
 *    retry. Cancellation beats a yield; success and a start-to-close timeout
 *    do too.
 */
#include "worker_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/backoff.h"
#include "strata/codec.h"
#include "strata/log.h"

#define DEFAULT_YIELD_REASON "handler yielded"

static void append(out_t **head, out_t **tail, out_t *o) {
  if (*tail)
    (*tail)->next = o;
  else
    *head = o;
  *tail = o;
}

/* An out record that takes `value`; NULL (value freed) on OOM. */
static out_t *out_new(const char *topic, int32_t partition, const char *key,
                      void *value, size_t len) {
  out_t *o = calloc(1, sizeof(*o));
  if (!o || !(o->key = strdup(key))) {
    free(o);
    free(value);
    return NULL;
  }
  o->topic = topic;
  o->partition = partition;
  o->value = value;
  o->len = len;
  return o;
}

/* Gives `t` the latest state of `job` (its own copy). */
static strata_err_t carry_state(strata_task_t *t, const strata_job_t *job) {
  const uint8_t *state;
  size_t len;
  bool has;

  if (!job->has_ckpt)
    return STRATA_OK; /* the copy already holds the dispatched one */
  job_latest_state(job, &has, &state, &len);
  free(t->checkpoint);
  t->checkpoint = NULL;
  t->checkpoint_len = 0;
  t->has_checkpoint = has;
  if (has && len) {
    if (!(t->checkpoint = malloc(len)))
      return STRATA_ERR_NOMEM;
    memcpy(t->checkpoint, state, len);
    t->checkpoint_len = len;
  }
  return STRATA_OK;
}

/* Encodes `t` turned into its next attempt, recording the ended one under
 * header `prefix` with `hist` (taken, may be NULL on OOM). */
static strata_err_t encode_next(strata_task_t *t, const char *prefix,
                                char *hist, strata_epoch_ms_t now, void **value,
                                size_t *len, char *errstr, size_t size) {
  strata_err_t err;

  if (!hist || (err = strata_task_next_attempt(t, prefix, hist, now)))
    err = strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  else if (!(err = strata_task_encode(t, value, len, errstr, size)) &&
           *len > strata_record_budget()) {
    /* It would fit the codec but not, with its key, a topic's record
     * limit: a record the broker refuses would abort every transaction. */
    err = strata_errf(STRATA_ERR_TOO_LARGE, errstr, size,
                      "the next attempt's record would be %zu bytes, above "
                      "the %zu a topic takes",
                      *len, strata_record_budget());
    free(*value);
    *value = NULL;
  }
  free(hist);
  return err;
}

/* *t = a copy of the job's task carrying the attempt's latest state, the
 * start of its next record; cleared again on failure. */
static strata_err_t copy_for_next(const strata_job_t *job, strata_task_t *t,
                                  char *errstr, size_t size) {
  strata_err_t err;
  strata_task_init(t);
  if ((err = strata_task_copy(t, &job->task, errstr, size)))
    return err;
  if ((err = carry_state(t, job))) {
    strata_task_clear(t);
    return strata_errf(err, errstr, size, "out of memory");
  }
  return STRATA_OK;
}

/* The retry record of `job` for attempt+1 after `backoff_ms`. */
static strata_err_t build_retry(strata_job_t *job, const char *outcome,
                                const char *error, int64_t backoff_ms,
                                strata_epoch_ms_t now, void **value,
                                size_t *len, char *errstr, size_t size) {
  strata_task_t t;
  strata_err_t err;

  if ((err = copy_for_next(job, &t, errstr, size)))
    return err;
  t.has_not_before_ms = true;
  t.not_before_ms = now + backoff_ms;
  err = encode_next(&t, STRATA_HEADER_ATTEMPT_PREFIX,
                    strata_attempt_history_json(outcome, job->started_ms,
                                                job->ended_ms, error),
                    now, value, len, errstr, size);
  strata_task_clear(&t);
  return err;
}

/* The requeue record of a yielded `job`: attempt+1 with one more attempt in
 * its budget, the latest state, not_before unchanged. */
static strata_err_t build_requeue(strata_job_t *job, const char *reason,
                                  strata_epoch_ms_t now, void **value,
                                  size_t *len, char *errstr, size_t size) {
  strata_task_t t;
  strata_err_t err;

  if ((err = copy_for_next(job, &t, errstr, size)))
    return err;
  if (t.retry.max_attempts < INT32_MAX)
    t.retry.max_attempts++;
  err = encode_next(
      &t, STRATA_HEADER_YIELD_PREFIX,
      strata_yield_history_json(job->started_ms, job->ended_ms, reason), now,
      value, len, errstr, size);
  strata_task_clear(&t);
  return err;
}

/* The attempts history: one record per strata.attempt.<i> (or
 * strata.yield.<i>, outcome YIELDED) header of earlier attempts, then this
 * one. */
static strata_err_t history_of(strata_job_t *job, const char *outcome,
                               const char *error, strata_deadletter_t *d) {
  strata_attempt_record_t last = {
      .attempt = job->task.attempt,
      .has_started_ms = !job->precancelled,
      .started_ms = job->started_ms,
      .has_ended_ms = true,
      .ended_ms = job->ended_ms,
      .outcome = (char *)(uintptr_t)outcome,
      .error = (char *)(uintptr_t)error,
  };
  return strata_deadletter_set_history(d, &job->task, &last);
}

static strata_err_t build_deadletter(strata_worker_t *w, strata_job_t *job,
                                     strata_dlq_reason_t reason,
                                     const char *detail, const char *outcome,
                                     const char *error, strata_epoch_ms_t now,
                                     void **value, size_t *len, char *errstr,
                                     size_t size) {
  strata_deadletter_t d;
  strata_err_t err = STRATA_ERR_NOMEM;

  strata_deadletter_init(&d);
  d.reason = reason;
  d.dead_lettered_ms = now;
  d.original_partition = job->partition;
  d.original_offset = job->offset;
  if (!(d.task_id = strdup(job->task.id)) || !(d.detail = strdup(detail)) ||
      (error && !(d.last_error = strdup(error))) ||
      !(d.original_topic = strdup(w->dispatch_topic)) ||
      !(d.task = malloc(sizeof(*d.task))) ||
      (job->orig_len && !(d.original = malloc(job->orig_len))))
    goto out;
  strata_task_init(d.task);
  if ((err = strata_task_copy(d.task, &job->task, errstr, size)))
    goto out;
  if (job->orig_len)
    memcpy(d.original, job->orig, job->orig_len);
  d.original_len = job->orig_len;
  if ((err = history_of(job, outcome, error, &d)))
    goto out;
  err = strata_deadletter_encode_bounded(&d, 0, value, len, errstr, size);
out:
  if (err == STRATA_ERR_NOMEM)
    strata_errf(err, errstr, size, "out of memory");
  strata_deadletter_clear(&d);
  return err;
}

/* A yielded attempt: the terminal CHECKPOINT event and the requeue record.
 * A yield that cannot be requeued (tier unknown here, record too large)
 * ends the task like a non-retryable failure, naming why. */
static strata_err_t build_yield(strata_worker_t *w, strata_job_t *job,
                                strata_epoch_ms_t now, out_t **head,
                                out_t **tail) {
  const char *reason =
      job->yield_reason ? job->yield_reason : DEFAULT_YIELD_REASON;
  const strata_topic_spec_t *to =
      strata_layout_tier_topic(&w->layout, job->task.tier);
  out_t *ev, *rq;
  strata_err_t err = STRATA_OK;
  const uint8_t *state;
  size_t slen, len = 0;
  void *value = NULL;
  bool has;
  char error[STRATA_HISTORY_TEXT_MAX + 16], errstr[512];

  if (!to) {
    strata_job_fail(job, false,
                    "yielded but cannot be requeued: tier \"%s\" is not "
                    "configured here",
                    job->task.tier ? job->task.tier : "");
  } else if (build_requeue(job, reason, now, &value, &len, errstr,
                           sizeof(errstr))) {
    strata_job_fail(job, false, "yielded but cannot be requeued: %.400s",
                    errstr);
  } else {
    snprintf(error, sizeof(error), "yielded: %.*s", STRATA_HISTORY_TEXT_MAX,
             reason);
    job_latest_state(job, &has, &state, &slen);
    if (!(rq = out_new(to->name, job->partition, job->routing_key, value, len)))
      return STRATA_ERR_NOMEM;
    if (!(ev = job_checkpoint_event(job, error, has, state, slen, now, &err))) {
      out_free(rq);
      return err ? err : STRATA_ERR_ENCODE;
    }
    STRATA_DEBUG("worker",
                 "task %s attempt %" PRId32 " yielded (%s); attempt %" PRId32
                 " requeued to %s [%d]",
                 job->task.id, job->task.attempt, reason, job->task.attempt + 1,
                 to->name, (int)job->partition);
    append(head, tail, ev);
    append(head, tail, rq);
    pthread_mutex_lock(&w->lock);
    w->stats.yielded++;
    pthread_mutex_unlock(&w->lock);
    return STRATA_OK;
  }
  job->status = STRATA_HANDLER_FAILED;
  return outcome_build(w, job, now, head, tail);
}

strata_err_t outcome_build(strata_worker_t *w, strata_job_t *job,
                           strata_epoch_ms_t now, out_t **head, out_t **tail) {
  int reason = atomic_load(&job->cancel_reason);
  const char *error = job->error;
  bool retryable = job->retryable;
  strata_event_kind_t kind;
  out_t *ev, *extra = NULL, *dl_ev = NULL;
  char buf[256], dlbuf[256], detail[512], errstr[512];
  uint64_t *counter;

  if (job->precancelled || job->status == STRATA_HANDLER_CANCELLED ||
      (job->status != STRATA_HANDLER_SUCCEEDED && reason == JOB_CANCEL_USER)) {
    /* A cancelled attempt is never retried, whatever its handler returned
     * after the cancel: exactly one CANCELLED event. */
    kind = STRATA_EVENT_CANCELLED;
    error = job->precancelled ? "cancelled before it started" : NULL;
    counter = &w->stats.cancelled;
  } else if (job->status == STRATA_HANDLER_SUCCEEDED) {
    kind = STRATA_EVENT_SUCCEEDED;
    error = NULL;
    counter = &w->stats.succeeded;
  } else if (job->status == STRATA_HANDLER_YIELDED &&
             reason != JOB_CANCEL_TIMEOUT) {
    return build_yield(w, job, now, head, tail);
  } else if (reason == JOB_CANCEL_TIMEOUT) {
    kind = STRATA_EVENT_TIMED_OUT;
    snprintf(buf, sizeof(buf),
             "start_to_close timeout of %" PRId64 " ms passed",
             job->task.timeouts.start_to_close_ms);
    error = buf;
    retryable = true;
    counter = &w->stats.timed_out;
  } else {
    kind = STRATA_EVENT_FAILED;
    if (job->status != STRATA_HANDLER_FAILED) {
      snprintf(buf, sizeof(buf), "handler returned an unknown status %d",
               (int)job->status);
      error = buf;
    } else if (!error) {
      error = "handler failed without an error message";
    }
    counter = &w->stats.failed;
  }

  if (kind == STRATA_EVENT_FAILED || kind == STRATA_EVENT_TIMED_OUT) {
    const char *outcome = strata_event_kind_name(kind);
    int32_t a = job->task.attempt;
    strata_dlq_reason_t dlq = STRATA_DLQ_NON_RETRYABLE;
    void *value = NULL;
    size_t len = 0;

    if (!retryable) {
      snprintf(detail, sizeof(detail),
               "attempt %" PRId32 " failed and is not retryable", a);
    } else if (a >= job->task.retry.max_attempts) {
      dlq = STRATA_DLQ_EXHAUSTED;
      snprintf(detail, sizeof(detail),
               "attempt %" PRId32 " of %" PRId32 " failed; no attempts left", a,
               job->task.retry.max_attempts);
      retryable = false;
    } else {
      int64_t backoff = strata_retry_backoff_ms(&job->task.retry, a,
                                                strata_prng_next(&w->prng));
      const strata_topic_spec_t *to =
          strata_layout_delay_step(&w->layout, backoff);
      if (!to)
        to = strata_layout_tier_topic(&w->layout, job->task.tier);
      if (!to) {
        snprintf(detail, sizeof(detail),
                 "cannot retry: tier \"%s\" is not configured here",
                 job->task.tier ? job->task.tier : "");
        retryable = false;
      } else if (build_retry(job, outcome, error, backoff, now, &value, &len,
                             errstr, sizeof(errstr))) {
        snprintf(detail, sizeof(detail),
                 "cannot build the retry record: %.400s", errstr);
        retryable = false;
      } else if (!(extra = out_new(to->name, job->partition, job->routing_key,
                                   value, len))) {
        return STRATA_ERR_NOMEM;
      } else {
        STRATA_DEBUG("worker",
                     "task %s attempt %" PRId32 " %s; attempt %" PRId32
                     " after %" PRId64 " ms via %s [%d]",
                     job->task.id, a, outcome, a + 1, backoff, to->name,
                     (int)job->partition);
      }
    }
    if (!retryable) {
      if (build_deadletter(w, job, dlq, detail, outcome, error, now, &value,
                           &len, errstr, sizeof(errstr))) {
        STRATA_ERROR("worker", "cannot build the dead letter of task %s: %s",
                     job->task.id, errstr);
        return STRATA_ERR_ENCODE;
      }
      char key[STRATA_DLQ_ID_MAX + 1];
      if (!(extra =
                out_new(w->dlq_topic, job->partition,
                        strata_deadletter_key(job->task.id, key, sizeof(key)),
                        value, len)))
        return STRATA_ERR_NOMEM;
      snprintf(dlbuf, sizeof(dlbuf), "%s: %.200s", strata_dlq_reason_name(dlq),
               detail);
      if (!(dl_ev = job_event(job, STRATA_EVENT_DEAD_LETTERED, dlbuf, false,
                              now))) {
        out_free(extra);
        return STRATA_ERR_ENCODE;
      }
    }
  }
  if (!(ev = job_event(job, kind, error, retryable, now))) {
    out_free(extra);
    out_free(dl_ev);
    return STRATA_ERR_ENCODE;
  }
  /* Write order: the terminal event, then the retry record or the dead
   * letter and its DEAD_LETTERED event. */
  append(head, tail, ev);
  if (extra)
    append(head, tail, extra);
  if (dl_ev)
    append(head, tail, dl_ev);
  pthread_mutex_lock(&w->lock);
  (*counter)++;
  if (extra && dl_ev)
    w->stats.dead_lettered++;
  else if (extra)
    w->stats.retried++;
  pthread_mutex_unlock(&w->lock);
  return STRATA_OK;
}
