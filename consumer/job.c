/*
 * One running attempt (strata_job_t): what its handler may read and report
 * (usage, heartbeats, checkpoints, its concurrency slot), and the TaskEvents
 * written about it.
 *
 * Every event of a job goes to the events topic at the dispatch record's
 * partition number, keyed by the dispatch record's key, so it meets the
 * scheduler instance that owns the task. Events are only encoded here: the
 * consume loop writes them in its next transaction (worker_int.h).
 */
#include "worker_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"
#include "strata/log.h"

/* Longest error text kept; an event must stay well under the codec's
 * record size limit. */
#define ERROR_MAX (256 * 1024)

strata_job_t *job_new(strata_worker_t *w) {
  strata_job_t *job = calloc(1, sizeof(*job));

  if (!job)
    return NULL;
  job->w = w;
  strata_task_init(&job->task);
  job->retryable = true;
  atomic_init(&job->cancel_reason, JOB_CANCEL_NONE);
  atomic_init(&job->yield_requested, false);
  return job;
}

void job_destroy(strata_job_t *job) {
  if (!job)
    return;
  strata_task_clear(&job->task);
  free(job->routing_key);
  free(job->orig);
  for (size_t i = 0; i < job->usage_count; i++)
    free(job->usage[i].key);
  free(job->usage);
  free(job->error);
  free(job->ckpt);
  free(job->yield_reason);
  free(job);
}

const strata_task_t *strata_job_task(const strata_job_t *job) {
  return &job->task;
}

const char *strata_job_idempotency_key(const strata_job_t *job) {
  if (job->task.idempotency_key && *job->task.idempotency_key)
    return job->task.idempotency_key;
  return job->task.id ? job->task.id : "";
}

int32_t strata_job_attempt(const strata_job_t *job) {
  return job->task.attempt;
}

int32_t strata_job_partition(const strata_job_t *job) {
  return job->partition;
}

int64_t strata_job_offset(const strata_job_t *job) {
  return job->offset;
}

strata_err_t strata_job_report_usage(strata_job_t *job, const char *pool,
                                     int64_t amount) {
  strata_kv_long_t *u;

  if (!pool || !*pool || amount < 0)
    return STRATA_ERR_INVALID_ARG;
  for (size_t i = 0; i < job->usage_count; i++)
    if (!strcmp(job->usage[i].key, pool)) {
      job->usage[i].value += amount;
      return STRATA_OK;
    }
  u = realloc(job->usage, (job->usage_count + 1) * sizeof(*u));
  if (!u)
    return STRATA_ERR_NOMEM;
  job->usage = u;
  if (!(u[job->usage_count].key = strdup(pool)))
    return STRATA_ERR_NOMEM;
  u[job->usage_count++].value = amount;
  return STRATA_OK;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  size_t len;
  uint32_t cp;

  if (s[0] < 0x80)
    return s[0] ? 1 : 0;
  if ((s[0] & 0xe0) == 0xc0) {
    len = 2;
    cp = s[0] & 0x1f;
  } else if ((s[0] & 0xf0) == 0xe0) {
    len = 3;
    cp = s[0] & 0x0f;
  } else if ((s[0] & 0xf8) == 0xf0) {
    len = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
      (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

/* Replaces every byte that is not part of valid UTF-8 with '?', so text from
 * a handler (or a command's stderr) always encodes. */
static void sanitize_utf8(char *text) {
  unsigned char *s = (unsigned char *)text;
  size_t n = strlen(text);

  for (size_t i = 0; i < n;) {
    size_t len = utf8_seq(s + i, n - i);
    if (len == 0) {
      s[i++] = '?';
      continue;
    }
    i += len;
  }
}

void strata_job_fail(strata_job_t *job, bool retryable, const char *fmt, ...) {
  va_list ap;
  char *buf;
  int n;

  job->retryable = retryable;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (n >= ERROR_MAX)
    n = ERROR_MAX - 1;
  if (!(buf = malloc((size_t)n + 1)))
    return;
  va_start(ap, fmt);
  vsnprintf(buf, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sanitize_utf8(buf);
  free(job->error);
  job->error = buf;
}

bool strata_job_cancel_requested(const strata_job_t *job) {
  return atomic_load(&job->cancel_reason) != JOB_CANCEL_NONE;
}

bool strata_job_should_yield(const strata_job_t *job) {
  return atomic_load(&job->yield_requested);
}

void job_request_stop(strata_job_t *job, job_cancel_t reason, bool force) {
  if (force) {
    atomic_store(&job->cancel_reason, reason);
  } else {
    int none = JOB_CANCEL_NONE;
    atomic_compare_exchange_strong(&job->cancel_reason, &none, reason);
  }
  pthread_cond_broadcast(&job->w->slot_cond);
}

const void *strata_job_resume_state(const strata_job_t *job, size_t *len) {
  if (!job->task.has_checkpoint) {
    *len = 0;
    return NULL;
  }
  *len = job->task.checkpoint_len;
  return job->task.checkpoint;
}

void job_latest_state(const strata_job_t *job, bool *has, const uint8_t **state,
                      size_t *len) {
  if (job->has_ckpt) {
    *has = true;
    *state = job->ckpt;
    *len = job->ckpt_len;
  } else {
    *has = job->task.has_checkpoint;
    *state = job->task.checkpoint;
    *len = job->task.checkpoint_len;
  }
}

/* Room a requeued Task record needs beyond the dispatched one and its new
 * state: attempt, times and the strata.yield.<a> header. */
#define REQUEUE_SLACK 1024

strata_err_t strata_job_checkpoint(strata_job_t *job, const void *state,
                                   size_t len) {
  strata_worker_t *w = job->w;
  size_t max_record = strata_codec_max_record_size();
  size_t old = job->task.has_checkpoint ? job->task.checkpoint_len : 0;
  size_t base = job->orig_len > old ? job->orig_len - old : 0;
  strata_err_t err = STRATA_OK;
  out_t *o;
  uint8_t *copy = NULL;

  if (!state && len > 0)
    return STRATA_ERR_INVALID_ARG;
  if (len > w->ckpt_max) {
    STRATA_WARN("worker",
                "checkpoint of task %s attempt %d refused: %zu bytes, "
                "worker.checkpoint.max.bytes allows %zu",
                job->task.id, job->task.attempt, len, w->ckpt_max);
    return STRATA_ERR_INVALID_ARG;
  }
  /* The requeued task carries the state in place of the dispatched one; it
   * must still decode everywhere. */
  if (base + len + REQUEUE_SLACK > max_record) {
    STRATA_WARN("worker",
                "checkpoint of task %s attempt %d refused: with it the task "
                "record would exceed codec.max.record.bytes (%zu)",
                job->task.id, job->task.attempt, max_record);
    return STRATA_ERR_TOO_LARGE;
  }
  if (len && !(copy = malloc(len)))
    return STRATA_ERR_NOMEM;
  if (len)
    memcpy(copy, state, len);
  o = job_checkpoint_event(job, NULL, true, copy, len, strata_epoch_now_ms(),
                           &err);
  if (!o) {
    free(copy);
    return err;
  }
  free(job->ckpt);
  job->ckpt = copy;
  job->ckpt_len = len;
  job->has_ckpt = true;
  pthread_mutex_lock(&w->lock);
  job->last_hb_us = strata_mono_now_us();
  if (w->out_tail)
    w->out_tail->next = o;
  else
    w->out_head = o;
  w->out_tail = o;
  pthread_mutex_unlock(&w->lock);
  worker_wake(w);
  return STRATA_OK;
}

void strata_job_release_slot(strata_job_t *job) {
  strata_worker_t *w = job->w;

  pthread_mutex_lock(&w->lock);
  if (job->state == JOB_RUNNING && !job->slot_released) {
    job->slot_released = true;
    w->busy--;
    w->released++;
    /* A queued job must find a thread while this one keeps its own. */
    worker_grow_threads(w, w->concurrency + w->released);
    pthread_cond_broadcast(&w->slot_cond);
    worker_wake(w);
  }
  pthread_mutex_unlock(&w->lock);
}

bool strata_job_acquire_slot(strata_job_t *job) {
  strata_worker_t *w = job->w;
  bool ok = true;

  pthread_mutex_lock(&w->lock);
  if (job->slot_released) {
    w->acquiring++;
    while (w->busy >= w->concurrency && !strata_job_cancel_requested(job) &&
           !strata_job_should_yield(job))
      pthread_cond_wait(&w->slot_cond, &w->lock);
    w->acquiring--;
    if (w->busy < w->concurrency && !strata_job_cancel_requested(job) &&
        !strata_job_should_yield(job)) {
      job->slot_released = false;
      w->released--;
      w->busy++;
    } else {
      ok = false;
    }
    /* The loop holds back records while a handler waits; it may take one
     * now. */
    worker_wake(w);
  }
  pthread_mutex_unlock(&w->lock);
  return ok;
}

void strata_job_heartbeat(strata_job_t *job) {
  strata_worker_t *w = job->w;

  pthread_mutex_lock(&w->lock);
  if (job->state == JOB_RUNNING) {
    job->last_hb_us = strata_mono_now_us();
    job_emit(job, STRATA_EVENT_HEARTBEAT);
  }
  pthread_mutex_unlock(&w->lock);
}

void out_free(out_t *o) {
  if (!o)
    return;
  free(o->key);
  free(o->value);
  free(o);
}

static bool is_terminal(strata_event_kind_t kind) {
  return kind == STRATA_EVENT_SUCCEEDED || kind == STRATA_EVENT_FAILED ||
         kind == STRATA_EVENT_CANCELLED || kind == STRATA_EVENT_TIMED_OUT;
}

/* Encodes one event; `ckpt` (may be NULL) supplies the checkpoint field.
 * `*errp` (may be NULL) says why on failure. */
static out_t *encode_event(strata_job_t *job, strata_event_kind_t kind,
                           const char *error, bool retryable, bool terminal,
                           const strata_event_t *ckpt, strata_epoch_ms_t now,
                           strata_err_t *errp) {
  strata_worker_t *w = job->w;
  strata_event_t ev;
  out_t *o;
  void *buf = NULL;
  size_t len = 0;
  char err[512];
  strata_err_t rc;

  /* The event borrows the job's strings; it is never cleared, only its
   * encoded bytes are kept. */
  strata_event_init(&ev);
  ev.task_id = job->task.id;
  ev.idempotency_key = job->task.idempotency_key;
  ev.attempt = job->task.attempt;
  ev.kind = kind;
  ev.time_ms = now;
  ev.tier = job->task.tier;
  ev.worker_id = w->worker_id;
  ev.routing_key = job->routing_key;
  ev.queue = job->task.queue;
  ev.error = (char *)(uintptr_t)error;
  if (kind == STRATA_EVENT_FAILED || kind == STRATA_EVENT_TIMED_OUT)
    ev.retryable = retryable;
  if (ckpt) {
    ev.has_checkpoint = ckpt->has_checkpoint;
    ev.checkpoint = ckpt->checkpoint;
    ev.checkpoint_len = ckpt->checkpoint_len;
  }
  if (terminal && !job->precancelled) {
    ev.usage = job->usage;
    ev.usage_count = job->usage_count;
  }
  if (strata_event_encode(&ev, &buf, &len, err, sizeof(err)) && terminal &&
      ev.usage_count) {
    /* Usage keys come from the handler; an outcome is worth more than them. */
    STRATA_WARN("worker",
                "%s event of task %s does not encode (%s); "
                "writing it without usage",
                strata_event_kind_name(kind), job->task.id, err);
    ev.usage = NULL;
    ev.usage_count = 0;
  }
  if (!buf && (rc = strata_event_encode(&ev, &buf, &len, err, sizeof(err)))) {
    STRATA_ERROR("worker", "cannot encode %s event of task %s: %s",
                 strata_event_kind_name(kind), job->task.id, err);
    if (errp)
      *errp = rc == STRATA_ERR_TOO_LARGE ? rc : STRATA_ERR_ENCODE;
    return NULL;
  }
  if (!(o = calloc(1, sizeof(*o))) || !(o->key = strdup(job->routing_key))) {
    free(o);
    free(buf);
    STRATA_ERROR("worker", "out of memory encoding an event");
    if (errp)
      *errp = STRATA_ERR_NOMEM;
    return NULL;
  }
  o->topic = w->events_topic;
  o->partition = job->partition;
  o->value = buf;
  o->len = len;
  return o;
}

out_t *job_event(strata_job_t *job, strata_event_kind_t kind, const char *error,
                 bool retryable, strata_epoch_ms_t now) {
  return encode_event(job, kind, error, retryable, is_terminal(kind), NULL, now,
                      NULL);
}

out_t *job_checkpoint_event(strata_job_t *job, const char *error,
                            bool has_state, const void *state, size_t len,
                            strata_epoch_ms_t now, strata_err_t *err) {
  strata_event_t ck;

  /* Only the checkpoint members are read; the event borrows the state. */
  strata_event_init(&ck);
  ck.has_checkpoint = has_state;
  ck.checkpoint = (uint8_t *)(uintptr_t)state;
  ck.checkpoint_len = has_state ? len : 0;
  return encode_event(job, STRATA_EVENT_CHECKPOINT, error, true, error != NULL,
                      &ck, now, err);
}

strata_err_t job_emit(strata_job_t *job, strata_event_kind_t kind) {
  strata_worker_t *w = job->w;
  out_t *o = job_event(job, kind, NULL, true, strata_epoch_now_ms());

  if (!o)
    return STRATA_ERR_ENCODE;
  if (w->out_tail)
    w->out_tail->next = o;
  else
    w->out_head = o;
  w->out_tail = o;
  worker_wake(w);
  return STRATA_OK;
}
