/*
 * The C layout tables of the four record kinds (and their nested records),
 * and the lifecycle functions built on them: init, clear, copy, the add_*
 * builders, enum names, and the semantic validation of a Task and a Control.
 *
 * Invariant: the rows of each desc list the Avro fields in schema order, and
 * each _init() sets exactly the schema defaults. The registry verifies both
 * against the .avsc files at start-up (see registry.c).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

/* C enums are stored through an int; the codec relies on that size. */
_Static_assert(sizeof(strata_backoff_t) == sizeof(int), "enum size");
_Static_assert(sizeof(strata_event_kind_t) == sizeof(int), "enum size");

/* ---- enum symbols (same order as the schemas) ----------------------- */

static const char *const expiry_symbols[] = {"DEAD_LETTER", "DROP"};
static const char *const backoff_symbols[] = {"FIXED", "EXPONENTIAL",
                                              "EXPONENTIAL_FULL_JITTER"};
static const char *const event_kind_symbols[] = {
    "ACCEPTED",   "DISPATCHED",      "STARTED",      "HEARTBEAT",
    "CHECKPOINT", "SUCCEEDED",       "FAILED",       "TIMED_OUT",
    "CANCELLED",  "DEADLINE_MISSED", "DEAD_LETTERED"};
static const char *const control_kind_symbols[] = {
    "CANCEL", "PAUSE_TIER", "RESUME_TIER", "DRAIN", "PREEMPT"};
static const char *const dlq_reason_symbols[] = {
    "EXHAUSTED", "NON_RETRYABLE",     "DEADLINE_EXPIRED", "UNDECODABLE",
    "INVALID",   "DEPENDENCY_FAILED", "CANCELLED"};

#define NSYM(a) (sizeof(a) / sizeof((a)[0]))
#define ENUM_NAME(arr, v)                                                      \
  ((v) >= 0 && (size_t)(v) < NSYM(arr) ? (arr)[(v)] : NULL)

const char *strata_backoff_name(strata_backoff_t b) {
  return ENUM_NAME(backoff_symbols, (int)b);
}
const char *strata_expiry_policy_name(strata_expiry_policy_t p) {
  return ENUM_NAME(expiry_symbols, (int)p);
}
const char *strata_event_kind_name(strata_event_kind_t k) {
  return ENUM_NAME(event_kind_symbols, (int)k);
}
const char *strata_control_kind_name(strata_control_kind_t k) {
  return ENUM_NAME(control_kind_symbols, (int)k);
}
const char *strata_dlq_reason_name(strata_dlq_reason_t r) {
  return ENUM_NAME(dlq_reason_symbols, (int)r);
}

/* ---- init ------------------------------------------------------------- */

static void retry_init(void *obj) {
  strata_retry_policy_t *r = obj;
  r->max_attempts = 3;
  r->backoff = STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER;
  r->base_ms = 1000;
  r->cap_ms = 300000;
}

static void timeouts_init(void *obj) {
  memset(obj, 0, sizeof(strata_timeouts_t));
}

void strata_task_init(strata_task_t *t) {
  memset(t, 0, sizeof(*t));
  t->expiry_policy = STRATA_EXPIRY_DEAD_LETTER;
  retry_init(&t->retry);
  timeouts_init(&t->timeouts);
  t->attempt = 1;
}

void strata_event_init(strata_event_t *e) {
  memset(e, 0, sizeof(*e));
  e->retryable = true;
}

void strata_control_init(strata_control_t *c) {
  memset(c, 0, sizeof(*c));
}

static void attempt_init(void *obj) {
  memset(obj, 0, sizeof(strata_attempt_record_t));
}

void strata_deadletter_init(strata_deadletter_t *d) {
  memset(d, 0, sizeof(*d));
}

static void task_init_v(void *o) {
  strata_task_init(o);
}
static void event_init_v(void *o) {
  strata_event_init(o);
}
static void control_init_v(void *o) {
  strata_control_init(o);
}
static void deadletter_init_v(void *o) {
  strata_deadletter_init(o);
}

/* ---- descs ------------------------------------------------------------ */

#define ROW(T, f, k)                                                           \
  { .name = #f, .kind = (k), .off = offsetof(T, f) }
#define REQ(T, f, k)                                                           \
  { .name = #f, .kind = (k), .off = offsetof(T, f), .required = true }
#define OPTLONG(T, f)                                                          \
  {                                                                            \
    .name = #f, .kind = CODEC_F_OPT_LONG, .off = offsetof(T, f),               \
    .aux = offsetof(T, has_##f)                                                \
  }
#define COUNTED(T, f, k, cnt, req)                                             \
  {                                                                            \
    .name = #f, .kind = (k), .off = offsetof(T, f), .aux = offsetof(T, cnt),   \
    .required = (req)                                                          \
  }
#define OPTBYTES(T, f)                                                         \
  {                                                                            \
    .name = #f, .kind = CODEC_F_OPT_BYTES, .off = offsetof(T, f),              \
    .aux = offsetof(T, f##_len), .aux2 = offsetof(T, has_##f)                  \
  }
#define ENUMROW(T, f, syms, req)                                               \
  {                                                                            \
    .name = #f, .kind = CODEC_F_ENUM, .off = offsetof(T, f),                   \
    .required = (req), .symbols = (syms), .nsymbols = NSYM(syms)               \
  }
#define DESC(T, nm, full, rws, initf)                                          \
  {                                                                            \
    .name = (nm), .fullname = (full), .size = sizeof(T), .rows = (rws),        \
    .nrows = NSYM(rws), .init = (initf)                                        \
  }

static const codec_row_t retry_rows[] = {
    ROW(strata_retry_policy_t, max_attempts, CODEC_F_INT),
    ENUMROW(strata_retry_policy_t, backoff, backoff_symbols, false),
    ROW(strata_retry_policy_t, base_ms, CODEC_F_LONG),
    ROW(strata_retry_policy_t, cap_ms, CODEC_F_LONG),
};
static const codec_desc_t retry_desc =
    DESC(strata_retry_policy_t, "RetryPolicy", "io.strata.RetryPolicy",
         retry_rows, retry_init);

static const codec_row_t timeouts_rows[] = {
    OPTLONG(strata_timeouts_t, schedule_to_start_ms),
    OPTLONG(strata_timeouts_t, start_to_close_ms),
    OPTLONG(strata_timeouts_t, heartbeat_ms),
};
static const codec_desc_t timeouts_desc =
    DESC(strata_timeouts_t, "Timeouts", "io.strata.Timeouts", timeouts_rows,
         timeouts_init);

static const codec_row_t task_rows[] = {
    REQ(strata_task_t, id, CODEC_F_STRING),
    ROW(strata_task_t, idempotency_key, CODEC_F_OPT_STRING),
    {.name = "type",
     .kind = CODEC_F_STRING,
     .off = offsetof(strata_task_t, type),
     .str_default = "default"},
    REQ(strata_task_t, tier, CODEC_F_STRING),
    ROW(strata_task_t, priority, CODEC_F_INT),
    OPTLONG(strata_task_t, deadline_ms),
    ROW(strata_task_t, deadline_hard, CODEC_F_BOOL),
    ENUMROW(strata_task_t, expiry_policy, expiry_symbols, false),
    OPTLONG(strata_task_t, not_before_ms),
    OPTLONG(strata_task_t, estimate_ms),
    COUNTED(strata_task_t, demands, CODEC_F_MAP_LONG, demands_count, false),
    COUNTED(strata_task_t, depends_on, CODEC_F_ARRAY_STRING, depends_on_count,
            false),
    {.name = "retry",
     .kind = CODEC_F_RECORD,
     .off = offsetof(strata_task_t, retry),
     .sub = &retry_desc},
    ROW(strata_task_t, attempt, CODEC_F_INT),
    {.name = "timeouts",
     .kind = CODEC_F_RECORD,
     .off = offsetof(strata_task_t, timeouts),
     .sub = &timeouts_desc},
    REQ(strata_task_t, created_ms, CODEC_F_LONG),
    REQ(strata_task_t, enqueued_ms, CODEC_F_LONG),
    COUNTED(strata_task_t, headers, CODEC_F_MAP_STRING, headers_count, false),
    COUNTED(strata_task_t, payload, CODEC_F_BYTES, payload_len, false),
    OPTBYTES(strata_task_t, checkpoint),
    ROW(strata_task_t, queue, CODEC_F_OPT_STRING),
};
const codec_desc_t codec_task_desc =
    DESC(strata_task_t, "Task", "io.strata.Task", task_rows, task_init_v);

static const codec_row_t event_rows[] = {
    REQ(strata_event_t, task_id, CODEC_F_STRING),
    ROW(strata_event_t, idempotency_key, CODEC_F_OPT_STRING),
    REQ(strata_event_t, attempt, CODEC_F_INT),
    ENUMROW(strata_event_t, kind, event_kind_symbols, true),
    REQ(strata_event_t, time_ms, CODEC_F_LONG),
    REQ(strata_event_t, tier, CODEC_F_STRING),
    ROW(strata_event_t, worker_id, CODEC_F_OPT_STRING),
    ROW(strata_event_t, error, CODEC_F_OPT_STRING),
    ROW(strata_event_t, retryable, CODEC_F_BOOL),
    COUNTED(strata_event_t, usage, CODEC_F_MAP_LONG, usage_count, false),
    OPTBYTES(strata_event_t, checkpoint),
    REQ(strata_event_t, routing_key, CODEC_F_STRING),
    ROW(strata_event_t, queue, CODEC_F_OPT_STRING),
};
const codec_desc_t codec_event_desc =
    DESC(strata_event_t, "TaskEvent", "io.strata.TaskEvent", event_rows,
         event_init_v);

static const codec_row_t control_rows[] = {
    ENUMROW(strata_control_t, kind, control_kind_symbols, true),
    ROW(strata_control_t, task_id, CODEC_F_OPT_STRING),
    ROW(strata_control_t, tier, CODEC_F_OPT_STRING),
    ROW(strata_control_t, reason, CODEC_F_OPT_STRING),
    REQ(strata_control_t, issued_ms, CODEC_F_LONG),
    ROW(strata_control_t, issued_by, CODEC_F_OPT_STRING),
};
const codec_desc_t codec_control_desc =
    DESC(strata_control_t, "Control", "io.strata.Control", control_rows,
         control_init_v);

static const codec_row_t attempt_rows[] = {
    REQ(strata_attempt_record_t, attempt, CODEC_F_INT),
    OPTLONG(strata_attempt_record_t, started_ms),
    OPTLONG(strata_attempt_record_t, ended_ms),
    REQ(strata_attempt_record_t, outcome, CODEC_F_STRING),
    ROW(strata_attempt_record_t, error, CODEC_F_OPT_STRING),
};
static const codec_desc_t attempt_desc =
    DESC(strata_attempt_record_t, "AttemptRecord", "io.strata.AttemptRecord",
         attempt_rows, attempt_init);

static const codec_row_t deadletter_rows[] = {
    ROW(strata_deadletter_t, task_id, CODEC_F_OPT_STRING),
    ENUMROW(strata_deadletter_t, reason, dlq_reason_symbols, true),
    REQ(strata_deadletter_t, detail, CODEC_F_STRING),
    ROW(strata_deadletter_t, last_error, CODEC_F_OPT_STRING),
    {.name = "attempts",
     .kind = CODEC_F_ARRAY_RECORD,
     .off = offsetof(strata_deadletter_t, attempts),
     .aux = offsetof(strata_deadletter_t, attempts_count),
     .sub = &attempt_desc},
    {.name = "task",
     .kind = CODEC_F_OPT_RECORD,
     .off = offsetof(strata_deadletter_t, task),
     .sub = &codec_task_desc},
    COUNTED(strata_deadletter_t, original, CODEC_F_BYTES, original_len, true),
    REQ(strata_deadletter_t, original_topic, CODEC_F_STRING),
    REQ(strata_deadletter_t, original_partition, CODEC_F_INT),
    REQ(strata_deadletter_t, original_offset, CODEC_F_LONG),
    REQ(strata_deadletter_t, dead_lettered_ms, CODEC_F_LONG),
    ROW(strata_deadletter_t, replayed, CODEC_F_INT),
    ROW(strata_deadletter_t, original_truncated, CODEC_F_BOOL),
};
const codec_desc_t codec_deadletter_desc =
    DESC(strata_deadletter_t, "DeadLetter", "io.strata.DeadLetter",
         deadletter_rows, deadletter_init_v);

/* ---- generic clear and copy ------------------------------------------ */

#define AT(obj, off, T) ((T *)(void *)((char *)(obj) + (off)))
#define CAT(obj, off, T)                                                       \
  ((T const *)(const void *)((const char *)(obj) + (off)))

static void obj_free(const codec_desc_t *desc, void *obj) {
  for (size_t i = 0; i < desc->nrows; i++) {
    const codec_row_t *r = &desc->rows[i];
    switch (r->kind) {
    case CODEC_F_STRING:
    case CODEC_F_OPT_STRING:
    case CODEC_F_BYTES:
    case CODEC_F_OPT_BYTES:
      free(*AT(obj, r->off, void *));
      break;
    case CODEC_F_MAP_LONG: {
      strata_kv_long_t *kv = *AT(obj, r->off, strata_kv_long_t *);
      size_t n = *AT(obj, r->aux, size_t);
      for (size_t k = 0; k < n; k++)
        free(kv[k].key);
      free(kv);
      break;
    }
    case CODEC_F_MAP_STRING: {
      strata_kv_str_t *kv = *AT(obj, r->off, strata_kv_str_t *);
      size_t n = *AT(obj, r->aux, size_t);
      for (size_t k = 0; k < n; k++) {
        free(kv[k].key);
        free(kv[k].value);
      }
      free(kv);
      break;
    }
    case CODEC_F_ARRAY_STRING: {
      char **a = *AT(obj, r->off, char **);
      size_t n = *AT(obj, r->aux, size_t);
      for (size_t k = 0; k < n; k++)
        free(a[k]);
      free(a);
      break;
    }
    case CODEC_F_RECORD:
      obj_free(r->sub, AT(obj, r->off, char));
      break;
    case CODEC_F_OPT_RECORD: {
      void *sub = *AT(obj, r->off, void *);
      if (sub) {
        obj_free(r->sub, sub);
        free(sub);
      }
      break;
    }
    case CODEC_F_ARRAY_RECORD: {
      char *a = *AT(obj, r->off, char *);
      size_t n = *AT(obj, r->aux, size_t);
      for (size_t k = 0; k < n; k++)
        obj_free(r->sub, a + k * r->sub->size);
      free(a);
      break;
    }
    case CODEC_F_INT:
    case CODEC_F_LONG:
    case CODEC_F_OPT_LONG:
    case CODEC_F_BOOL:
    case CODEC_F_ENUM:
      break;
    }
  }
}

void codec_obj_clear(const codec_desc_t *desc, void *obj) {
  if (!obj)
    return;
  obj_free(desc, obj);
  desc->init(obj);
}

static char *dup_or_null(const char *s, bool *oom) {
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    *oom = true;
  return d;
}

static void *memdup_or_null(const void *p, size_t n, bool *oom) {
  if (!p || n == 0)
    return NULL;
  void *d = malloc(n);
  if (!d) {
    *oom = true;
    return NULL;
  }
  memcpy(d, p, n);
  return d;
}

/*
 * Copies row by row into an initialised `dst`; counts are set only as far as
 * elements were copied, so a failure leaves `dst` safe to free.
 */
static void obj_copy(const codec_desc_t *desc, void *dst, const void *src,
                     bool *oom) {
  for (size_t i = 0; i < desc->nrows && !*oom; i++) {
    const codec_row_t *r = &desc->rows[i];
    switch (r->kind) {
    case CODEC_F_STRING:
    case CODEC_F_OPT_STRING:
      *AT(dst, r->off, char *) = dup_or_null(*CAT(src, r->off, char *), oom);
      break;
    case CODEC_F_INT:
      *AT(dst, r->off, int32_t) = *CAT(src, r->off, int32_t);
      break;
    case CODEC_F_LONG:
      *AT(dst, r->off, int64_t) = *CAT(src, r->off, int64_t);
      break;
    case CODEC_F_OPT_LONG:
      *AT(dst, r->off, int64_t) = *CAT(src, r->off, int64_t);
      *AT(dst, r->aux, bool) = *CAT(src, r->aux, bool);
      break;
    case CODEC_F_BOOL:
      *AT(dst, r->off, bool) = *CAT(src, r->off, bool);
      break;
    case CODEC_F_ENUM:
      *AT(dst, r->off, int) = *CAT(src, r->off, int);
      break;
    case CODEC_F_OPT_BYTES:
      *AT(dst, r->aux2, bool) = *CAT(src, r->aux2, bool);
      /* fall through */
    case CODEC_F_BYTES: {
      size_t n = *CAT(src, r->aux, size_t);
      uint8_t *p = memdup_or_null(*CAT(src, r->off, uint8_t *), n, oom);
      *AT(dst, r->off, uint8_t *) = p;
      *AT(dst, r->aux, size_t) = p ? n : 0;
      break;
    }
    case CODEC_F_MAP_LONG: {
      size_t n = *CAT(src, r->aux, size_t);
      const strata_kv_long_t *s = *CAT(src, r->off, strata_kv_long_t *);
      if (!n || !s)
        break;
      strata_kv_long_t *d = calloc(n, sizeof(*d));
      if (!d) {
        *oom = true;
        break;
      }
      *AT(dst, r->off, strata_kv_long_t *) = d;
      for (size_t k = 0; k < n && !*oom; k++) {
        d[k].key = dup_or_null(s[k].key, oom);
        d[k].value = s[k].value;
        *AT(dst, r->aux, size_t) = k + 1;
      }
      break;
    }
    case CODEC_F_MAP_STRING: {
      size_t n = *CAT(src, r->aux, size_t);
      const strata_kv_str_t *s = *CAT(src, r->off, strata_kv_str_t *);
      if (!n || !s)
        break;
      strata_kv_str_t *d = calloc(n, sizeof(*d));
      if (!d) {
        *oom = true;
        break;
      }
      *AT(dst, r->off, strata_kv_str_t *) = d;
      for (size_t k = 0; k < n && !*oom; k++) {
        d[k].key = dup_or_null(s[k].key, oom);
        d[k].value = dup_or_null(s[k].value, oom);
        *AT(dst, r->aux, size_t) = k + 1;
      }
      break;
    }
    case CODEC_F_ARRAY_STRING: {
      size_t n = *CAT(src, r->aux, size_t);
      char *const *s = *CAT(src, r->off, char **);
      if (!n || !s)
        break;
      char **d = calloc(n, sizeof(*d));
      if (!d) {
        *oom = true;
        break;
      }
      *AT(dst, r->off, char **) = d;
      for (size_t k = 0; k < n && !*oom; k++) {
        d[k] = dup_or_null(s[k], oom);
        *AT(dst, r->aux, size_t) = k + 1;
      }
      break;
    }
    case CODEC_F_RECORD:
      obj_copy(r->sub, AT(dst, r->off, char), CAT(src, r->off, char), oom);
      break;
    case CODEC_F_OPT_RECORD: {
      const void *s = *CAT(src, r->off, void *);
      if (!s)
        break;
      void *d = malloc(r->sub->size);
      if (!d) {
        *oom = true;
        break;
      }
      r->sub->init(d);
      *AT(dst, r->off, void *) = d;
      obj_copy(r->sub, d, s, oom);
      break;
    }
    case CODEC_F_ARRAY_RECORD: {
      size_t n = *CAT(src, r->aux, size_t);
      const char *s = *CAT(src, r->off, char *);
      if (!n || !s)
        break;
      char *d = malloc(n * r->sub->size);
      if (!d) {
        *oom = true;
        break;
      }
      *AT(dst, r->off, char *) = d;
      for (size_t k = 0; k < n && !*oom; k++) {
        r->sub->init(d + k * r->sub->size);
        *AT(dst, r->aux, size_t) = k + 1;
        obj_copy(r->sub, d + k * r->sub->size, s + k * r->sub->size, oom);
      }
      break;
    }
    }
  }
}

strata_err_t codec_obj_copy(const codec_desc_t *desc, void *dst,
                            const void *src, char *errstr, size_t size) {
  bool oom = false;
  desc->init(dst);
  obj_copy(desc, dst, src, &oom);
  if (oom) {
    codec_obj_clear(desc, dst);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                       "%s: out of memory while copying", desc->name);
  }
  return STRATA_OK;
}

void strata_task_clear(strata_task_t *t) {
  codec_obj_clear(&codec_task_desc, t);
}
void strata_event_clear(strata_event_t *e) {
  codec_obj_clear(&codec_event_desc, e);
}
void strata_control_clear(strata_control_t *c) {
  codec_obj_clear(&codec_control_desc, c);
}
void strata_deadletter_clear(strata_deadletter_t *d) {
  codec_obj_clear(&codec_deadletter_desc, d);
}

/* Copy never reads dst's old members other than to free them. */
strata_err_t strata_task_copy(strata_task_t *dst, const strata_task_t *src,
                              char *errstr, size_t size) {
  strata_task_clear(dst);
  return codec_obj_copy(&codec_task_desc, dst, src, errstr, size);
}
strata_err_t strata_event_copy(strata_event_t *dst, const strata_event_t *src,
                               char *errstr, size_t size) {
  strata_event_clear(dst);
  return codec_obj_copy(&codec_event_desc, dst, src, errstr, size);
}
strata_err_t strata_control_copy(strata_control_t *dst,
                                 const strata_control_t *src, char *errstr,
                                 size_t size) {
  strata_control_clear(dst);
  return codec_obj_copy(&codec_control_desc, dst, src, errstr, size);
}
strata_err_t strata_deadletter_copy(strata_deadletter_t *dst,
                                    const strata_deadletter_t *src,
                                    char *errstr, size_t size) {
  strata_deadletter_clear(dst);
  return codec_obj_copy(&codec_deadletter_desc, dst, src, errstr, size);
}

/* ---- builders ----------------------------------------------------------- */

static strata_err_t kv_long_add(strata_kv_long_t **arr, size_t *count,
                                const char *key, int64_t value) {
  if (!key)
    return STRATA_ERR_INVALID_ARG;
  char *k = strdup(key);
  strata_kv_long_t *n = k ? realloc(*arr, (*count + 1) * sizeof(**arr)) : NULL;
  if (!n) {
    free(k);
    return STRATA_ERR_NOMEM;
  }
  n[*count].key = k;
  n[*count].value = value;
  *arr = n;
  (*count)++;
  return STRATA_OK;
}

strata_err_t strata_task_add_demand(strata_task_t *t, const char *pool,
                                    int64_t amount) {
  return kv_long_add(&t->demands, &t->demands_count, pool, amount);
}

strata_err_t strata_event_add_usage(strata_event_t *e, const char *pool,
                                    int64_t amount) {
  return kv_long_add(&e->usage, &e->usage_count, pool, amount);
}

strata_err_t strata_task_add_header(strata_task_t *t, const char *key,
                                    const char *value) {
  if (!key || !value)
    return STRATA_ERR_INVALID_ARG;
  char *k = strdup(key), *v = strdup(value);
  strata_kv_str_t *n =
      k && v ? realloc(t->headers, (t->headers_count + 1) * sizeof(*n)) : NULL;
  if (!n) {
    free(k);
    free(v);
    return STRATA_ERR_NOMEM;
  }
  n[t->headers_count].key = k;
  n[t->headers_count].value = v;
  t->headers = n;
  t->headers_count++;
  return STRATA_OK;
}

strata_err_t strata_task_add_dependency(strata_task_t *t, const char *task_id) {
  if (!task_id)
    return STRATA_ERR_INVALID_ARG;
  char *d = strdup(task_id);
  char **n =
      d ? realloc(t->depends_on, (t->depends_on_count + 1) * sizeof(*n)) : NULL;
  if (!n) {
    free(d);
    return STRATA_ERR_NOMEM;
  }
  n[t->depends_on_count++] = d;
  t->depends_on = n;
  return STRATA_OK;
}

/* ---- validation --------------------------------------------------------- */

#define INVALID(...)                                                           \
  strata_errf(STRATA_ERR_INVALID_TASK, errstr, size, __VA_ARGS__)

/* A queue name becomes part of a topic name (<prefix>dispatch.<queue>), so
   it takes the characters Kafka allows in one, within a length that leaves
   room for the prefix. */
static strata_err_t validate_queue(const char *q, char *errstr, size_t size) {
  size_t n = strlen(q);

  if (!n)
    return INVALID("Task.queue: must not be empty (leave it unset for the "
                   "default queue)");
  if (n > STRATA_QUEUE_MAX)
    return INVALID("Task.queue: %zu bytes, at most %d", n, STRATA_QUEUE_MAX);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)q[i];
    if (!isalnum(c) && c != '.' && c != '_' && c != '-')
      return INVALID("Task.queue: byte %zu (0x%02x) is not a letter, digit, "
                     "'.', '_' or '-'",
                     i, c);
  }
  return STRATA_OK;
}

strata_err_t strata_task_validate(const strata_task_t *t, char *errstr,
                                  size_t size) {
  if (!t)
    return INVALID("Task: no task");
  if (!t->id || !*t->id)
    return INVALID("Task.id: must not be empty");
  if (!t->tier || !*t->tier)
    return INVALID("Task.tier: must not be empty");
  if (t->type && !*t->type)
    return INVALID("Task.type: must not be empty (leave it unset for "
                   "\"default\")");
  if (t->idempotency_key && !*t->idempotency_key)
    return INVALID("Task.idempotency_key: must not be empty when set");
  if (t->has_deadline_ms && t->deadline_ms < 0)
    return INVALID("Task.deadline_ms: %lld is before the epoch",
                   (long long)t->deadline_ms);
  if (t->deadline_hard && !t->has_deadline_ms)
    return INVALID("Task.deadline_hard: set, but there is no deadline_ms");
  if (!strata_expiry_policy_name(t->expiry_policy))
    return INVALID("Task.expiry_policy: unknown value %d",
                   (int)t->expiry_policy);
  if (t->has_not_before_ms && t->not_before_ms < 0)
    return INVALID("Task.not_before_ms: %lld is before the epoch",
                   (long long)t->not_before_ms);
  if (t->has_estimate_ms && t->estimate_ms < 0)
    return INVALID("Task.estimate_ms: %lld is negative",
                   (long long)t->estimate_ms);
  for (size_t i = 0; i < t->demands_count; i++) {
    const strata_kv_long_t *d = &t->demands[i];
    if (!d->key || !*d->key)
      return INVALID("Task.demands: entry %zu has an empty pool name", i);
    if (d->value < 0)
      return INVALID("Task.demands[\"%s\"]: amount %lld is negative", d->key,
                     (long long)d->value);
    for (size_t k = 0; k < i; k++)
      if (strcmp(t->demands[k].key, d->key) == 0)
        return INVALID("Task.demands: pool \"%s\" appears twice", d->key);
  }
  for (size_t i = 0; i < t->depends_on_count; i++) {
    const char *dep = t->depends_on[i];
    if (!dep || !*dep)
      return INVALID("Task.depends_on[%zu]: empty task id", i);
    if (strcmp(dep, t->id) == 0)
      return INVALID("Task.depends_on[%zu]: a task cannot depend on itself", i);
  }
  if (t->retry.max_attempts < 1)
    return INVALID("Task.retry.max_attempts: %d is below 1",
                   (int)t->retry.max_attempts);
  if (!strata_backoff_name(t->retry.backoff))
    return INVALID("Task.retry.backoff: unknown value %d",
                   (int)t->retry.backoff);
  if (t->retry.base_ms < 0)
    return INVALID("Task.retry.base_ms: %lld is negative",
                   (long long)t->retry.base_ms);
  if (t->retry.cap_ms < t->retry.base_ms)
    return INVALID("Task.retry.cap_ms: %lld is below base_ms %lld",
                   (long long)t->retry.cap_ms, (long long)t->retry.base_ms);
  if (t->attempt < 1)
    return INVALID("Task.attempt: %d is below 1 (attempts are 1-based)",
                   (int)t->attempt);
  if (t->timeouts.has_schedule_to_start_ms &&
      t->timeouts.schedule_to_start_ms <= 0)
    return INVALID("Task.timeouts.schedule_to_start_ms: must be positive");
  if (t->timeouts.has_start_to_close_ms && t->timeouts.start_to_close_ms <= 0)
    return INVALID("Task.timeouts.start_to_close_ms: must be positive");
  if (t->timeouts.has_heartbeat_ms && t->timeouts.heartbeat_ms <= 0)
    return INVALID("Task.timeouts.heartbeat_ms: must be positive");
  if (t->created_ms < 0)
    return INVALID("Task.created_ms: %lld is before the epoch",
                   (long long)t->created_ms);
  if (t->enqueued_ms < 0)
    return INVALID("Task.enqueued_ms: %lld is before the epoch",
                   (long long)t->enqueued_ms);
  for (size_t i = 0; i < t->headers_count; i++) {
    const strata_kv_str_t *h = &t->headers[i];
    if (!h->key || !h->value)
      return INVALID("Task.headers: entry %zu has a NULL key or value", i);
    for (size_t k = 0; k < i; k++)
      if (strcmp(t->headers[k].key, h->key) == 0)
        return INVALID("Task.headers: key \"%s\" appears twice", h->key);
  }
  if (!t->payload && t->payload_len)
    return INVALID("Task.payload: NULL with length %zu", t->payload_len);
  if (t->has_checkpoint && !t->checkpoint && t->checkpoint_len)
    return INVALID("Task.checkpoint: NULL with length %zu", t->checkpoint_len);
  if (t->queue)
    return validate_queue(t->queue, errstr, size);
  return STRATA_OK;
}

strata_err_t strata_control_validate(const strata_control_t *c, char *errstr,
                                     size_t size) {
  const char *kind = c ? strata_control_kind_name(c->kind) : NULL;
  if (!kind)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "Control.kind: unknown value");
  bool needs_task =
      c->kind == STRATA_CONTROL_CANCEL || c->kind == STRATA_CONTROL_PREEMPT;
  bool needs_tier = c->kind == STRATA_CONTROL_PAUSE_TIER ||
                    c->kind == STRATA_CONTROL_RESUME_TIER;
  if (needs_task && (!c->task_id || !*c->task_id))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "Control.task_id: %s needs a task id", kind);
  if (needs_tier && (!c->tier || !*c->tier))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "Control.tier: %s needs a tier", kind);
  if (c->issued_ms < 0)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "Control.issued_ms: %lld is before the epoch",
                       (long long)c->issued_ms);
  return STRATA_OK;
}
