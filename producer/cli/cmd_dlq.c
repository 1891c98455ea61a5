/*
 * `strata dlq`: list, show and replay dead letters (<prefix>dlq).
 *
 * Every subcommand reads the whole dlq topic (read_committed, every
 * partition, up to the end each partition had when it was reached) and keeps
 * the latest record per task id: a dead letter may be written again (a replay
 * marks it with replayed + 1, a replayed task may die again), and only the
 * latest says what state the task is in. Records without a task id (the
 * original did not decode) are known by the original's location instead,
 * "<topic>[<partition>]@<offset>".
 *
 * A replay submits the task through the client library as a new attempt
 * (the scheduler skips an (id, attempt) it has already decided, so reusing
 * an attempt number would never run again), then writes the dead letter back
 * with replayed + 1, same key, same partition, so the mark is ordered after
 * the record it marks. A dead letter already replayed is skipped unless
 * --again: running a command twice does not run a task twice unless asked.
 * The two writes are not atomic: when the mark fails after the task was
 * accepted, the command says so and exits 1; replaying again then re-submits
 * the same attempt number, which the scheduler skips if it decided it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uthash.h>

#include "cli_int.h"
#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/producer.h"

#define DLQ_USAGE                                                              \
  "usage: strata dlq list [--reason R] [--since 2h|RFC3339] [--json]\n"        \
  "       strata dlq show ID\n"                                                \
  "       strata dlq replay (--id ID | --reason R | --since T) "               \
  "[--reset-attempts] [--again] [--dry-run]\n"                                 \
  "  --reason R         EXHAUSTED, NON_RETRYABLE, DEADLINE_EXPIRED, "          \
  "UNDECODABLE,\n"                                                             \
  "                     INVALID, DEPENDENCY_FAILED or CANCELLED\n"             \
  "  --since 2h|RFC3339 dead-lettered at or after this time\n"                 \
  "  --json             list as JSON lines\n"                                  \
  "  --id ID            the task (or the original's TOPIC[P]@OFFSET)\n"        \
  "  --reset-attempts   give the replayed task a fresh retry budget\n"         \
  "  --again            replay dead letters that were replayed before\n"       \
  "  --dry-run          print what would be replayed, send nothing"

/* Column width of the detail excerpt in the list table. */
#define DLQ_DETAIL_MAX 60

/* ---- pure helpers ------------------------------------------------------ */

bool cli_dlq_parse_reason(const char *s, strata_dlq_reason_t *out) {
  for (int r = STRATA_DLQ_EXHAUSTED; r <= STRATA_DLQ_CANCELLED; r++) {
    const char *name = strata_dlq_reason_name((strata_dlq_reason_t)r);
    size_t i;
    for (i = 0; name[i] && s[i]; i++) {
      char c = s[i] == '-' ? '_' : s[i];
      if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
      if (c != name[i])
        break;
    }
    if (!name[i] && !s[i]) {
      *out = (strata_dlq_reason_t)r;
      return true;
    }
  }
  return false;
}

bool cli_dlq_parse_since(const char *s, strata_epoch_ms_t now,
                         strata_epoch_ms_t *out) {
  int64_t ms;

  /* A bare duration looks back from now; cli_parse_time would look ahead. */
  if (strata_parse_duration_ms(s, &ms)) {
    *out = now - ms;
    return true;
  }
  return cli_parse_time(s, now, out);
}

bool cli_dlq_matches(const cli_dlq_filter_t *f, const char *ident,
                     const strata_deadletter_t *d) {
  if (f->id && strcmp(f->id, ident))
    return false;
  if (f->has_reason && d->reason != f->reason)
    return false;
  if (f->has_since && d->dead_lettered_ms < f->since_ms)
    return false;
  return true;
}

bool cli_dlq_is_newer(const cli_dlq_pos_t *cand, const cli_dlq_pos_t *cur) {
  /* Strata writes every dead letter of a task to one partition (the number
   * of the task's tier partition; a replay mark goes where the record it
   * marks was), so offsets order them. Across partitions, which only a
   * foreign writer would cause, the dead-lettered time decides. */
  if (cand->partition == cur->partition)
    return cand->offset > cur->offset;
  if (cand->dead_lettered_ms != cur->dead_lettered_ms)
    return cand->dead_lettered_ms > cur->dead_lettered_ms;
  return cand->partition > cur->partition;
}

strata_err_t cli_dlq_replay_task(const strata_deadletter_t *d,
                                 bool reset_attempts, strata_epoch_ms_t now,
                                 strata_task_t *out, bool *deadline_removed,
                                 char *errstr, size_t size) {
  int64_t attempt;
  strata_err_t err;

  *deadline_removed = false;
  strata_task_clear(out);
  if (!d->task)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "the dead letter holds no task (reason %s): the "
                       "original record did not decode",
                       strata_dlq_reason_name(d->reason));
  /* Each replay needs an attempt number above every one decided before:
   * the dead task's, and one per earlier replay of this dead letter. */
  attempt = (int64_t)d->task->attempt + (d->replayed > 0 ? d->replayed : 0) + 1;
  if (attempt > INT32_MAX)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "Task.attempt: %" PRId64 " would overflow", attempt);
  if ((err = strata_task_copy(out, d->task, errstr, size)))
    return err;
  out->attempt = (int32_t)attempt;
  if (reset_attempts) {
    int64_t max = attempt - 1 + d->task->retry.max_attempts;
    out->retry.max_attempts = max > INT32_MAX ? INT32_MAX : (int32_t)max;
  } else if (out->retry.max_attempts < out->attempt) {
    out->retry.max_attempts = out->attempt;
  }
  out->has_not_before_ms = false;
  out->not_before_ms = 0;
  /* A passed hard deadline would expire again at once, and the client
   * library refuses a deadline in the past. */
  if (out->has_deadline_ms && out->deadline_ms <= now) {
    out->has_deadline_ms = false;
    out->deadline_ms = 0;
    out->deadline_hard = false;
    *deadline_removed = true;
  }
  return STRATA_OK;
}

void cli_format_time(strata_epoch_ms_t ms, char buf[32]) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  size_t n;

  if (!gmtime_r(&secs, &tm)) {
    snprintf(buf, 32, "%" PRId64, ms);
    return;
  }
  n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms - (int64_t)secs * 1000));
}

void cli_excerpt(const char *s, size_t max, char *out, size_t size) {
  size_t len = s ? strlen(s) : 0, n = len, o = 0;

  if (!size)
    return;
  if (max + 4 > size)
    max = size > 4 ? size - 4 : 0;
  if (n > max) {
    n = max;
    /* Back up to the start of a UTF-8 sequence. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
  }
  if (n < len) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* ---- reading the dlq topic --------------------------------------------- */

typedef struct {
  char *ident;   /* task id, or the original's "<topic>[<p>]@<offset>" */
  void *key;     /* the Kafka key the record had; NULL: none */
  size_t keylen; /* bytes of key */
  cli_dlq_pos_t pos;
  strata_deadletter_t d;
  UT_hash_handle hh;
} dlq_entry_t;

static void entry_free(dlq_entry_t *e) {
  if (!e)
    return;
  free(e->ident);
  free(e->key);
  strata_deadletter_clear(&e->d);
  free(e);
}

static void table_free(dlq_entry_t **table) {
  dlq_entry_t *e, *tmp;
  HASH_ITER(hh, *table, e, tmp) {
    HASH_DEL(*table, e);
    entry_free(e);
  }
}

static char *ident_of(const strata_deadletter_t *d) {
  const char *topic = d->original_topic ? d->original_topic : "";
  size_t n;
  char *s;

  if (d->task_id && *d->task_id)
    return strdup(d->task_id);
  n = strlen(topic) + 48;
  if ((s = malloc(n)))
    snprintf(s, n, "%s[%" PRId32 "]@%" PRId64, topic, d->original_partition,
             d->original_offset);
  return s;
}

static void oom(void) {
  fprintf(stderr, "strata: dlq: out of memory\n");
  exit(STRATA_EXIT_FAILURE);
}

/* Decodes one record and keeps it when it is the latest of its task. */
static void table_add(dlq_entry_t **table, const char *topic,
                      const rd_kafka_message_t *m) {
  dlq_entry_t *e = calloc(1, sizeof(*e)), *cur;
  char err[512];

  if (!e)
    oom();
  strata_deadletter_init(&e->d);
  if (strata_deadletter_decode(m->payload, m->len, &e->d, err, sizeof(err))) {
    fprintf(stderr, "strata: dlq: %s[%" PRId32 "]@%" PRId64 ": skipped: %s\n",
            topic, m->partition, m->offset, err);
    entry_free(e);
    return;
  }
  if (!(e->ident = ident_of(&e->d)))
    oom();
  if (m->key && m->key_len) {
    if (!(e->key = malloc(m->key_len)))
      oom();
    memcpy(e->key, m->key, m->key_len);
    e->keylen = m->key_len;
  }
  e->pos.partition = m->partition;
  e->pos.offset = m->offset;
  e->pos.dead_lettered_ms = e->d.dead_lettered_ms;
  HASH_FIND_STR(*table, e->ident, cur);
  if (cur && !cli_dlq_is_newer(&e->pos, &cur->pos)) {
    entry_free(e);
    return;
  }
  if (cur) {
    HASH_DEL(*table, cur);
    entry_free(cur);
  }
  HASH_ADD_KEYPTR(hh, *table, e->ident, strlen(e->ident), e);
}

typedef struct {
  dlq_entry_t **table;
  const char *topic;
} read_ctx_t;

static int add_record(const rd_kafka_message_t *m, void *opaque) {
  read_ctx_t *c = opaque;
  table_add(c->table, c->topic, m);
  return 0;
}

/*
 * Reads `topic` whole into *table (latest per ident). Returns STRATA_EXIT_OK
 * or an error exit code with a message printed.
 */
static int read_dlq(const strata_config_t *cfg, const char *topic,
                    dlq_entry_t **table) {
  read_ctx_t ctx = {table, topic};
  return cli_read_topic(cfg, "dlq", topic, false, NULL, add_record, &ctx);
}

/* Oldest first, then by ident, so output is stable from run to run. */
static int by_time(const void *a, const void *b) {
  const dlq_entry_t *x = *(dlq_entry_t *const *)a;
  const dlq_entry_t *y = *(dlq_entry_t *const *)b;
  if (x->d.dead_lettered_ms != y->d.dead_lettered_ms)
    return x->d.dead_lettered_ms < y->d.dead_lettered_ms ? -1 : 1;
  return strcmp(x->ident, y->ident);
}

/* The entries passing `f`, sorted; *n receives the count. Caller frees the
 * array (not the entries, which the table owns). */
static dlq_entry_t **select_entries(dlq_entry_t *table,
                                    const cli_dlq_filter_t *f, size_t *n) {
  dlq_entry_t **out = malloc((HASH_COUNT(table) + 1) * sizeof(*out));
  dlq_entry_t *e, *tmp;

  if (!out)
    oom();
  *n = 0;
  HASH_ITER(hh, table, e, tmp) {
    if (cli_dlq_matches(f, e->ident, &e->d))
      out[(*n)++] = e;
  }
  qsort(out, *n, sizeof(*out), by_time);
  return out;
}

/* ---- arguments ----------------------------------------------------------- */

static void reason_arg(const strata_program_t *prog, const char *s,
                       cli_dlq_filter_t *f) {
  if (!cli_dlq_parse_reason(s, &f->reason))
    strata_program_usage_error(prog,
                               "dlq: --reason \"%s\" is not a dead-letter "
                               "reason; allowed: EXHAUSTED, NON_RETRYABLE, "
                               "DEADLINE_EXPIRED, UNDECODABLE, INVALID, "
                               "DEPENDENCY_FAILED, CANCELLED",
                               s);
  f->has_reason = true;
}

static void since_arg(const strata_program_t *prog, const char *s,
                      cli_dlq_filter_t *f) {
  if (!cli_dlq_parse_since(s, strata_epoch_now_ms(), &f->since_ms))
    strata_program_usage_error(prog,
                               "dlq: --since \"%s\" is neither a duration "
                               "(2h: that long ago) nor an RFC 3339 time",
                               s);
  f->has_since = true;
}

/* ---- list and show ----------------------------------------------------- */

static json_t *summary_json(const dlq_entry_t *e, const char *topic) {
  const strata_deadletter_t *d = &e->d;
  char when[32];

  cli_format_time(d->dead_lettered_ms, when);
  return json_pack(
      "{s:s, s:s?, s:s?, s:s, s:o, s:i, s:I, s:s, s:i, s:s, s:s?, s:s?, "
      "s:i, s:I, s:b, s:s, s:i, s:I}",
      "id", e->ident, "task_id", d->task_id, "tier",
      d->task ? d->task->tier : NULL, "reason",
      strata_dlq_reason_name(d->reason), "attempt",
      d->task ? json_integer(d->task->attempt) : json_null(), "attempts",
      (int)d->attempts_count, "dead_lettered_ms",
      (json_int_t)d->dead_lettered_ms, "dead_lettered", when, "replayed",
      (int)d->replayed, "detail", d->detail ? d->detail : "", "last_error",
      d->last_error, "original_topic", d->original_topic, "original_partition",
      (int)d->original_partition, "original_offset",
      (json_int_t)d->original_offset, "original_truncated",
      d->original_truncated, "topic", topic, "partition", (int)e->pos.partition,
      "offset", (json_int_t)e->pos.offset);
}

static void print_list(dlq_entry_t **sel, size_t n, bool json,
                       const char *topic) {
  char when[32], detail[DLQ_DETAIL_MAX + 8];

  if (!json)
    printf("%-38s %-11s %-17s %8s %-24s %8s %s\n", "TASK ID", "TIER", "REASON",
           "ATTEMPTS", "DEAD-LETTERED", "REPLAYED", "DETAIL");
  for (size_t i = 0; i < n; i++) {
    const strata_deadletter_t *d = &sel[i]->d;
    if (json) {
      json_t *j = summary_json(sel[i], topic);
      char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
      if (!text)
        oom();
      printf("%s\n", text);
      free(text);
      json_decref(j);
      continue;
    }
    cli_format_time(d->dead_lettered_ms, when);
    cli_excerpt(d->detail, DLQ_DETAIL_MAX, detail, sizeof(detail));
    printf("%-38s %-11s %-17s %8zu %-24s %8" PRId32 " %s\n", sel[i]->ident,
           d->task ? d->task->tier : "-", strata_dlq_reason_name(d->reason),
           d->attempts_count, when, d->replayed, detail);
  }
  if (!json)
    printf("%zu dead letter(s)\n", n);
}

static int run_list(dlq_entry_t *table, const cli_dlq_filter_t *f, bool json,
                    const char *topic) {
  size_t n;
  dlq_entry_t **sel = select_entries(table, f, &n);
  print_list(sel, n, json, topic);
  free(sel);
  return STRATA_EXIT_OK;
}

static int run_show(dlq_entry_t *table, const char *id, const char *topic) {
  dlq_entry_t *e;
  json_t *j;
  char *text = NULL;

  HASH_FIND_STR(table, id, e);
  if (!e) {
    fprintf(stderr, "strata: dlq show: no dead letter for task %s on %s\n", id,
            topic);
    return STRATA_EXIT_FAILURE;
  }
  if (!(j = strata_deadletter_to_json(&e->d)) ||
      !(text = json_dumps(j, JSON_INDENT(2))))
    oom();
  printf("%s\n", text);
  free(text);
  json_decref(j);
  return STRATA_EXIT_OK;
}

/* ---- replay ------------------------------------------------------------ */

typedef enum {
  REPLAY_QUEUED,   /* task handed to the client library */
  REPLAY_ACKED,    /* Kafka has the task */
  REPLAY_REJECTED, /* the task was not accepted */
  REPLAY_MARKED,   /* and the dead letter is marked replayed */
  REPLAY_UNMARKED, /* the task was accepted, the mark was not */
} replay_state_t;

typedef struct {
  dlq_entry_t *e;
  strata_task_t task;
  replay_state_t state;
} replay_t;

static void on_task_delivered(const char *task_id, strata_err_t err,
                              const char *errstr, void *opaque) {
  replay_t *r = opaque;
  if (err) {
    fprintf(stderr, "strata: dlq replay: task %s not accepted: %s\n", task_id,
            errstr);
    r->state = REPLAY_REJECTED;
  } else {
    r->state = REPLAY_ACKED;
  }
}

static void on_mark_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
                              void *opaque) {
  replay_t *r = m->_private;
  (void)rk;
  (void)opaque;
  if (!r)
    return;
  if (m->err) {
    fprintf(stderr,
            "strata: dlq replay: task %s was re-submitted but its dead "
            "letter was not marked replayed: %s\n",
            r->task.id, rd_kafka_err2str(m->err));
    r->state = REPLAY_UNMARKED;
  } else {
    r->state = REPLAY_MARKED;
  }
}

/* An idempotent producer for the replay marks, each to the partition of
 * the record it marks. */
static rd_kafka_t *mark_producer(const strata_config_t *cfg) {
  static const char *const defaults[] = {"enable.idempotence", "true", NULL};
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  char err[512];

  if (!(conf = strata_kafka_conf_new(cfg, "dlq", defaults, err, sizeof(err)))) {
    fprintf(stderr, "strata: dlq replay: %s\n", err);
    return NULL;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_mark_delivered);
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata: dlq replay: %s\n", err);
  }
  return rk;
}

static bool send_mark(rd_kafka_t *rk, const char *topic, replay_t *r) {
  strata_deadletter_t *d = &r->e->d;
  rd_kafka_resp_err_t kerr;
  void *buf;
  size_t len;
  char err[512];

  d->replayed++;
  kerr = strata_deadletter_encode(d, &buf, &len, err, sizeof(err))
             ? RD_KAFKA_RESP_ERR__INVALID_ARG
             : RD_KAFKA_RESP_ERR_NO_ERROR;
  d->replayed--;
  if (kerr) {
    fprintf(stderr, "strata: dlq replay: encoding the mark of %s: %s\n",
            r->e->ident, err);
    return false;
  }
  /* Same key as the record read (the task id); its task id otherwise. */
  kerr = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(r->e->pos.partition),
      RD_KAFKA_V_KEY(r->e->key ? r->e->key : r->e->ident,
                     r->e->key ? r->e->keylen : strlen(r->e->ident)),
      RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
      RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
  if (kerr) {
    free(buf);
    fprintf(stderr, "strata: dlq replay: producing the mark of %s: %s\n",
            r->e->ident, rd_kafka_err2str(kerr));
    return false;
  }
  return true;
}

typedef struct {
  bool reset_attempts, again, dry_run;
} replay_opts_t;

static int run_replay(const strata_config_t *cfg, dlq_entry_t *table,
                      const cli_dlq_filter_t *f, const replay_opts_t *o,
                      const char *topic) {
  strata_epoch_ms_t now = strata_epoch_now_ms();
  strata_producer_t *p = NULL;
  rd_kafka_t *marks = NULL;
  replay_t *rs;
  size_t n, nr = 0, skipped = 0, unreplayable = 0, failed = 0, done = 0;
  dlq_entry_t **sel = select_entries(table, f, &n);
  char err[512];
  int rc = STRATA_EXIT_OK;

  if (!(rs = calloc(n + 1, sizeof(*rs))))
    oom();
  /* A named task that has no dead letter is most likely a typo. */
  if (f->id && n == 0) {
    fprintf(stderr, "strata: dlq replay: no dead letter for task %s on %s\n",
            f->id, topic);
    rc = STRATA_EXIT_FAILURE;
    goto done;
  }
  /* Decide first; open clients only when there is something to send. */
  for (size_t i = 0; i < n; i++) {
    dlq_entry_t *e = sel[i];
    replay_t *r = &rs[nr];
    bool removed;

    if (!e->d.task && e->d.original_truncated) {
      printf("not replayable: %s (%s): the dead letter holds only the first "
             "%zu bytes of the record, which is at %s [%" PRId32 "] offset "
             "%" PRId64 " while Kafka retains it\n",
             e->ident, strata_dlq_reason_name(e->d.reason), e->d.original_len,
             e->d.original_topic, e->d.original_partition,
             e->d.original_offset);
      unreplayable++;
      continue;
    }
    if (!e->d.task) {
      printf("not replayable: %s (%s): the original record did not decode\n",
             e->ident, strata_dlq_reason_name(e->d.reason));
      unreplayable++;
      continue;
    }
    if (e->d.replayed > 0 && !o->again) {
      printf("already replayed: %s (%" PRId32 " time(s)); --again replays it "
             "once more\n",
             e->ident, e->d.replayed);
      skipped++;
      continue;
    }
    strata_task_init(&r->task);
    if (cli_dlq_replay_task(&e->d, o->reset_attempts, now, &r->task, &removed,
                            err, sizeof(err))) {
      fprintf(stderr, "strata: dlq replay: %s: %s\n", e->ident, err);
      strata_task_clear(&r->task);
      failed++;
      continue;
    }
    if (removed) {
      char when[32];
      cli_format_time(e->d.task->deadline_ms, when);
      fprintf(stderr,
              "strata: dlq replay: warning: %s: its deadline %s has passed; "
              "replayed without a deadline\n",
              e->ident, when);
    }
    r->e = e;
    nr++;
  }
  if (o->dry_run) {
    for (size_t i = 0; i < nr; i++)
      printf("would replay %s to %s as attempt %" PRId32
             " (max_attempts %" PRId32 ")\n",
             rs[i].task.id, rs[i].task.tier, rs[i].task.attempt,
             rs[i].task.retry.max_attempts);
    printf("dry run: %zu would be replayed, %zu already replayed, %zu not "
           "replayable, %zu failed\n",
           nr, skipped, unreplayable, failed);
    goto done;
  }
  if (nr) {
    if (!(p = strata_producer_new(cfg, err, sizeof(err)))) {
      fprintf(stderr, "strata: dlq replay: %s\n", err);
      rc = STRATA_EXIT_FAILURE;
      goto done;
    }
    if (!(marks = mark_producer(cfg))) {
      rc = STRATA_EXIT_FAILURE;
      goto done;
    }
  }
  for (size_t i = 0; i < nr; i++) {
    replay_t *r = &rs[i];
    strata_err_t serr;
    while ((serr = strata_producer_submit(p, &r->task, on_task_delivered, r,
                                          err, sizeof(err))) == STRATA_ERR_FULL)
      strata_producer_poll(p, 100);
    if (serr) {
      fprintf(stderr, "strata: dlq replay: %s: %s\n", r->e->ident, err);
      r->state = REPLAY_REJECTED;
    }
    strata_producer_poll(p, 0);
  }
  if (p && strata_producer_flush(p, 30000))
    fprintf(stderr, "strata: dlq replay: not every task was acknowledged "
                    "within 30 s\n");
  /* Mark only what Kafka has: a task that was not accepted stays
   * replayable. */
  for (size_t i = 0; i < nr; i++)
    if (rs[i].state == REPLAY_ACKED && !send_mark(marks, topic, &rs[i]))
      rs[i].state = REPLAY_UNMARKED;
  if (marks && rd_kafka_flush(marks, 30000))
    fprintf(stderr, "strata: dlq replay: not every replay mark was "
                    "acknowledged within 30 s\n");
  for (size_t i = 0; i < nr; i++) {
    replay_t *r = &rs[i];
    if (r->state == REPLAY_MARKED) {
      printf("replayed %s to %s as attempt %" PRId32 "\n", r->task.id,
             r->task.tier, r->task.attempt);
      done++;
    } else {
      if (r->state == REPLAY_ACKED || r->state == REPLAY_QUEUED)
        fprintf(stderr, "strata: dlq replay: %s: no acknowledgement\n",
                r->e->ident);
      failed++;
    }
  }
  printf("%zu replayed, %zu already replayed, %zu not replayable, %zu "
         "failed\n",
         done, skipped, unreplayable, failed);
done:
  if (failed && rc == STRATA_EXIT_OK)
    rc = STRATA_EXIT_FAILURE;
  strata_producer_destroy(p);
  if (marks)
    rd_kafka_destroy(marks);
  for (size_t i = 0; i < nr; i++)
    strata_task_clear(&rs[i].task);
  free(rs);
  free(sel);
  return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

int cli_cmd_dlq(const strata_program_t *prog, strata_config_t *cfg, int argc,
                char **argv) {
  cli_dlq_filter_t f = {NULL, false, STRATA_DLQ_EXHAUSTED, false, 0};
  replay_opts_t ro = {false, false, false};
  const char *sub = argc > 1 ? argv[1] : NULL;
  dlq_entry_t *table = NULL;
  strata_mock_t *mock = NULL;
  bool json = false;
  char topic[512], err[512];
  int rc;

  if (!sub)
    strata_program_usage_error(prog, "dlq: missing list, show or replay\n"
                                     "" DLQ_USAGE);
  if (!strcmp(sub, "help"))
    strata_program_usage_error(prog, "%s", DLQ_USAGE);
  if (!strcmp(sub, "list")) {
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--reason") && i + 1 < argc)
        reason_arg(prog, argv[++i], &f);
      else if (!strcmp(argv[i], "--since") && i + 1 < argc)
        since_arg(prog, argv[++i], &f);
      else if (!strcmp(argv[i], "--json"))
        json = true;
      else
        strata_program_usage_error(prog,
                                   "dlq list: unknown or incomplete option "
                                   "\"%s\"\n" DLQ_USAGE,
                                   argv[i]);
    }
  } else if (!strcmp(sub, "show")) {
    if (argc != 3 || argv[2][0] == '-')
      strata_program_usage_error(prog, "dlq show: expected one ID\n" DLQ_USAGE);
    f.id = argv[2];
  } else if (!strcmp(sub, "replay")) {
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--id") && i + 1 < argc)
        f.id = argv[++i];
      else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
        reason_arg(prog, argv[++i], &f);
      else if (!strcmp(argv[i], "--since") && i + 1 < argc)
        since_arg(prog, argv[++i], &f);
      else if (!strcmp(argv[i], "--reset-attempts"))
        ro.reset_attempts = true;
      else if (!strcmp(argv[i], "--again"))
        ro.again = true;
      else if (!strcmp(argv[i], "--dry-run"))
        ro.dry_run = true;
      else
        strata_program_usage_error(prog,
                                   "dlq replay: unknown or incomplete option "
                                   "\"%s\"\n" DLQ_USAGE,
                                   argv[i]);
    }
    /* Replaying the whole queue takes a deliberate selector. */
    if (!f.id && !f.has_reason && !f.has_since)
      strata_program_usage_error(prog, "dlq replay: give --id, --reason or "
                                       "--since\n" DLQ_USAGE);
  } else {
    strata_program_usage_error(prog,
                               "dlq: unknown subcommand \"%s\"; allowed: "
                               "list, show, replay\n" DLQ_USAGE,
                               sub);
  }

  snprintf(topic, sizeof(topic), "%sdlq",
           strata_config_get_str(cfg, "topic.prefix"));
  if (strata_codec_init(err, sizeof(err)) ||
      strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err))) {
    fprintf(stderr, "strata: dlq: %s\n", err);
    return STRATA_EXIT_USAGE;
  }
  if ((rc = read_dlq(cfg, topic, &table)) == STRATA_EXIT_OK) {
    if (!strcmp(sub, "list"))
      rc = run_list(table, &f, json, topic);
    else if (!strcmp(sub, "show"))
      rc = run_show(table, f.id, topic);
    else
      rc = run_replay(cfg, table, &f, &ro, topic);
  }
  table_free(&table);
  strata_mock_destroy(mock);
  return rc;
}
