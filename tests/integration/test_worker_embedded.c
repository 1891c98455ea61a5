/*
 * The worker runtime against the embedded broker (librdkafka's mock cluster):
 * Task records are produced straight to the dispatch topic (encoded with the
 * codec, keyed by routing key, on an explicit partition), a worker runs in a
 * thread, and the test reads the events topic. Proves: handlers get the task,
 * attempt and idempotency key; STARTED, HEARTBEAT and the terminal event land
 * on the dispatch record's partition with usage; failures carry the error
 * text and the retryable flag; concurrency never exceeds the limit; the exec
 * handler passes payload and environment, bounds the stderr tail, maps exit
 * codes, fails unknown types for good, and kills on cancel and timeout;
 * undecodable records are skipped, counted and committed past; checkpoints
 * are written as events and bounded; a PREEMPT control record makes a
 * running handler yield, which writes a requeue record to the tier topic and
 * a terminal CHECKPOINT event; a released slot lets another task start and
 * is taken back only once one is free; tasks with a heartbeat timeout get no
 * runtime heartbeats; the exec handler's checkpoint files, SIGUSR1 and exit
 * 75.
 *
 * Every wait polls with a deadline. Each test gets its own embedded cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/time.h"
#include "strata/worker.h"

#define NPART 4
#define MAX_EVENTS 512
#define WAIT_US (30 * 1000000LL)

typedef struct {
  strata_event_t ev;
  int32_t partition;
  char key[128];
} seen_t;

typedef struct {
  strata_config_t *cfg;
  strata_mock_t *mock;
  rd_kafka_t *prod;    /* writes dispatch records */
  rd_kafka_t *reader;  /* reads events */
  rd_kafka_t *treader; /* reads strata.tasks.normal (requeue records) */
  seen_t seen[MAX_EVENTS];
  int nseen;
  strata_worker_t *w;
  pthread_t thread;
  bool running;
  strata_err_t run_err;
  char dir[64];
} fixture_t;

static void set(fixture_t *f, const char *k, const char *v) {
  char err[512];
  if (strata_config_set(f->cfg, k, v, err, sizeof(err)))
    fail_msg("config %s=%s: %s", k, v, err);
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  char err[512];
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *parts;

  f->cfg = strata_config_new();
  set(f, "log.level", "warn");
  set(f, "worker.heartbeat.interval", "200ms");
  set(f, "worker.shutdown.timeout", "2s");
  set(f, "worker.kill.grace", "1s");
  if (strata_kafka_resolve_bootstrap(f->cfg, &f->mock, err, sizeof(err))) {
    fprintf(stderr, "setup: %s\n", err);
    return -1;
  }
  conf = strata_kafka_conf_new(f->cfg, "itest", NULL, err, sizeof(err));
  f->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  static const char *const rdefaults[] = {"group.id", "itest-reader", NULL};
  conf = strata_kafka_conf_new(f->cfg, "itest", rdefaults, err, sizeof(err));
  f->reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!f->prod || !f->reader)
    return -1;
  parts = rd_kafka_topic_partition_list_new(NPART);
  for (int p = 0; p < NPART; p++)
    rd_kafka_topic_partition_list_add(parts, "strata.events", p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(f->reader, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  static const char *const tdefaults[] = {"group.id", "itest-treader", NULL};
  conf = strata_kafka_conf_new(f->cfg, "itest", tdefaults, err, sizeof(err));
  if (!(f->treader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))))
    return -1;
  parts = rd_kafka_topic_partition_list_new(NPART);
  for (int p = 0; p < NPART; p++)
    rd_kafka_topic_partition_list_add(parts, "strata.tasks.normal", p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(f->treader, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  snprintf(f->dir, sizeof(f->dir), "/tmp/strata-wtest-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  *state = f;
  return 0;
}

static void *run_thread(void *arg) {
  fixture_t *f = arg;
  char err[512];
  f->run_err = strata_worker_run(f->w, err, sizeof(err));
  if (f->run_err)
    fprintf(stderr, "worker run: %s\n", err);
  return NULL;
}

static void start_worker(fixture_t *f) {
  assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
  f->running = true;
}

static void stop_worker(fixture_t *f) {
  if (!f->running)
    return;
  strata_worker_stop(f->w);
  pthread_join(f->thread, NULL);
  f->running = false;
  assert_int_equal(f->run_err, STRATA_OK);
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char cmd[128];

  if (f->running) {
    strata_worker_stop(f->w);
    pthread_join(f->thread, NULL);
  }
  strata_worker_destroy(f->w);
  for (int i = 0; i < f->nseen; i++)
    strata_event_clear(&f->seen[i].ev);
  rd_kafka_consumer_close(f->reader);
  rd_kafka_destroy(f->reader);
  rd_kafka_consumer_close(f->treader);
  rd_kafka_destroy(f->treader);
  rd_kafka_flush(f->prod, 5000);
  rd_kafka_destroy(f->prod);
  strata_mock_destroy(f->mock);
  strata_config_destroy(f->cfg);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "teardown: could not remove %s\n", f->dir);
  free(f);
  return 0;
}

static strata_worker_t *new_worker(fixture_t *f) {
  char err[512];
  f->w = strata_worker_new(f->cfg, err, sizeof(err));
  if (!f->w)
    fail_msg("strata_worker_new: %s", err);
  return f->w;
}

/* A valid task of `type`; the caller owns it. */
static void make_task(strata_task_t *t, const char *id, const char *type) {
  strata_task_init(t);
  t->id = strdup(id);
  t->type = strdup(type);
  t->tier = strdup("normal");
  t->created_ms = t->enqueued_ms = strata_epoch_now_ms();
}

/* Produces raw bytes to dispatch partition `p` with `key`. */
static void produce_raw(fixture_t *f, int32_t p, const char *key,
                        const void *data, size_t len) {
  assert_int_equal(
      rd_kafka_producev(
          f->prod, RD_KAFKA_V_TOPIC("strata.dispatch"), RD_KAFKA_V_PARTITION(p),
          RD_KAFKA_V_KEY((void *)(uintptr_t)key, strlen(key)),
          RD_KAFKA_V_VALUE((void *)(uintptr_t)data, len),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_int_equal(rd_kafka_flush(f->prod, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Dispatches `t` the way the scheduler does; clears it. */
static void dispatch(fixture_t *f, strata_task_t *t, int32_t p) {
  void *buf;
  size_t len;
  char err[512];
  const char *key = t->idempotency_key ? t->idempotency_key : t->id;

  assert_int_equal(strata_task_encode(t, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  produce_raw(f, p, key, buf, len);
  free(buf);
  strata_task_clear(t);
}

/* Reads whatever events are available now into f->seen. */
static void pump(fixture_t *f, int timeout_ms) {
  rd_kafka_message_t *m;
  char err[512];

  while ((m = rd_kafka_consumer_poll(f->reader, timeout_ms))) {
    timeout_ms = 0;
    if (!m->err && f->nseen < MAX_EVENTS) {
      seen_t *s = &f->seen[f->nseen];
      strata_event_init(&s->ev);
      if (strata_event_decode(m->payload, m->len, &s->ev, err, sizeof(err)))
        fail_msg("event does not decode: %s", err);
      s->partition = m->partition;
      snprintf(s->key, sizeof(s->key), "%.*s", (int)m->key_len,
               (const char *)m->key);
      f->nseen++;
    }
    rd_kafka_message_destroy(m);
  }
}

static seen_t *find_event(fixture_t *f, const char *task_id,
                          strata_event_kind_t kind) {
  for (int i = 0; i < f->nseen; i++)
    if (f->seen[i].ev.kind == kind && !strcmp(f->seen[i].ev.task_id, task_id))
      return &f->seen[i];
  return NULL;
}

static int count_events(fixture_t *f, const char *task_id,
                        strata_event_kind_t kind) {
  int n = 0;
  for (int i = 0; i < f->nseen; i++)
    n += f->seen[i].ev.kind == kind && !strcmp(f->seen[i].ev.task_id, task_id);
  return n;
}

/* Waits for an event of `kind` about `task_id`; fails after WAIT_US. */
static seen_t *await_event(fixture_t *f, const char *task_id,
                           strata_event_kind_t kind) {
  strata_mono_us_t deadline = strata_mono_now_us() + WAIT_US;
  seen_t *s;

  while (!(s = find_event(f, task_id, kind))) {
    if (strata_mono_now_us() > deadline) {
      fail_msg("no %s event for task %s within %lld s",
               strata_event_kind_name(kind), task_id, WAIT_US / 1000000);
      abort();
    }
    pump(f, 100);
  }
  return s;
}

/* ---- C handlers --------------------------------------------------------- */

typedef struct {
  pthread_mutex_t lock;
  char task_id[64], key[64];
  int attempt;
  int calls;
} record_t;

static strata_handler_status_t record_handler(strata_job_t *job, void *op) {
  record_t *r = op;
  pthread_mutex_lock(&r->lock);
  snprintf(r->task_id, sizeof(r->task_id), "%s", strata_job_task(job)->id);
  snprintf(r->key, sizeof(r->key), "%s", strata_job_idempotency_key(job));
  r->attempt = strata_job_attempt(job);
  r->calls++;
  pthread_mutex_unlock(&r->lock);
  strata_job_report_usage(job, "llm.tokens", 1000);
  strata_job_report_usage(job, "llm.tokens", 234);
  strata_job_report_usage(job, "tool.calls", 2);
  return STRATA_HANDLER_SUCCEEDED;
}

static void test_handler_gets_task_and_events_share_its_partition(void **st) {
  fixture_t *f = *st;
  record_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
  strata_task_t t;
  seen_t *s;

  new_worker(f);
  assert_int_equal(strata_worker_register(f->w, "record", record_handler, &rec),
                   STRATA_OK);
  assert_int_equal(strata_worker_register(f->w, "record", record_handler, &rec),
                   STRATA_ERR_EXISTS);
  make_task(&t, "t-rec-1", "record");
  t.idempotency_key = strdup("idem-rec-1");
  t.attempt = 2;
  dispatch(f, &t, 3);
  start_worker(f);

  s = await_event(f, "t-rec-1", STRATA_EVENT_SUCCEEDED);
  assert_int_equal(s->partition, 3);
  assert_string_equal(s->key, "idem-rec-1");
  assert_string_equal(s->ev.routing_key, "idem-rec-1");
  assert_string_equal(s->ev.idempotency_key, "idem-rec-1");
  assert_int_equal(s->ev.attempt, 2);
  assert_string_equal(s->ev.tier, "normal");
  assert_non_null(s->ev.worker_id);
  assert_string_equal(s->ev.worker_id, strata_worker_id(f->w));
  assert_non_null(strchr(s->ev.worker_id, ':'));
  assert_true(s->ev.time_ms > 0);
  assert_int_equal(s->ev.usage_count, 2);
  for (size_t i = 0; i < s->ev.usage_count; i++) {
    if (!strcmp(s->ev.usage[i].key, "llm.tokens"))
      assert_int_equal(s->ev.usage[i].value, 1234);
    else
      assert_string_equal(s->ev.usage[i].key, "tool.calls");
  }
  s = await_event(f, "t-rec-1", STRATA_EVENT_STARTED);
  assert_int_equal(s->partition, 3);
  assert_int_equal(s->ev.usage_count, 0);

  pthread_mutex_lock(&rec.lock);
  assert_string_equal(rec.task_id, "t-rec-1");
  assert_string_equal(rec.key, "idem-rec-1");
  assert_int_equal(rec.attempt, 2);
  pthread_mutex_unlock(&rec.lock);

  /* Without an idempotency key, the task id is the key. */
  make_task(&t, "t-rec-2", "record");
  dispatch(f, &t, 1);
  s = await_event(f, "t-rec-2", STRATA_EVENT_SUCCEEDED);
  assert_int_equal(s->partition, 1);
  assert_string_equal(s->key, "t-rec-2");
  pthread_mutex_lock(&rec.lock);
  assert_string_equal(rec.key, "t-rec-2");
  assert_int_equal(rec.attempt, 1);
  assert_int_equal(rec.calls, 2);
  pthread_mutex_unlock(&rec.lock);
  stop_worker(f);
}

static strata_handler_status_t fail_handler(strata_job_t *job, void *op) {
  (void)op;
  bool retryable = !strcmp(strata_job_task(job)->type, "fail-retry");
  strata_job_report_usage(job, "llm.tokens", 7);
  strata_job_fail(job, retryable, "upstream said %d for %s", 503,
                  strata_job_task(job)->id);
  return STRATA_HANDLER_FAILED;
}

static void test_failing_handler_reports_error_and_retryable(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  seen_t *s;

  new_worker(f);
  strata_worker_register(f->w, "fail-retry", fail_handler, NULL);
  strata_worker_register(f->w, "fail-final", fail_handler, NULL);
  make_task(&t, "t-fail-r", "fail-retry");
  dispatch(f, &t, 0);
  make_task(&t, "t-fail-f", "fail-final");
  dispatch(f, &t, 2);
  start_worker(f);

  s = await_event(f, "t-fail-r", STRATA_EVENT_FAILED);
  assert_int_equal(s->partition, 0);
  assert_string_equal(s->ev.error, "upstream said 503 for t-fail-r");
  assert_true(s->ev.retryable);
  assert_int_equal(s->ev.usage_count, 1);
  assert_int_equal(s->ev.usage[0].value, 7);
  s = await_event(f, "t-fail-f", STRATA_EVENT_FAILED);
  assert_int_equal(s->partition, 2);
  assert_string_equal(s->ev.error, "upstream said 503 for t-fail-f");
  assert_false(s->ev.retryable);
  stop_worker(f);
}

static atomic_int g_current, g_max, g_total;

static strata_handler_status_t slow_handler(strata_job_t *job, void *op) {
  struct timespec work = {0, 40 * 1000 * 1000};
  int now = atomic_fetch_add(&g_current, 1) + 1;
  int prev = atomic_load(&g_max);

  (void)job;
  (void)op;
  while (now > prev && !atomic_compare_exchange_weak(&g_max, &prev, now))
    ;
  nanosleep(&work, NULL); /* the "work" of this handler */
  atomic_fetch_sub(&g_current, 1);
  atomic_fetch_add(&g_total, 1);
  return STRATA_HANDLER_SUCCEEDED;
}

static void test_concurrency_never_exceeds_the_limit(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  char id[32];
  strata_mono_us_t deadline;
  strata_worker_stats_t stats;

  set(f, "worker.concurrency", "3");
  new_worker(f);
  strata_worker_register(f->w, "slow", slow_handler, NULL);
  atomic_store(&g_current, 0);
  atomic_store(&g_max, 0);
  atomic_store(&g_total, 0);
  for (int i = 0; i < 24; i++) {
    snprintf(id, sizeof(id), "t-slow-%02d", i);
    make_task(&t, id, "slow");
    dispatch(f, &t, i % NPART);
  }
  start_worker(f);
  deadline = strata_mono_now_us() + WAIT_US;
  while (atomic_load(&g_total) < 24 && strata_mono_now_us() < deadline)
    pump(f, 100);
  assert_int_equal(atomic_load(&g_total), 24);
  for (int i = 0; i < 24; i++) {
    snprintf(id, sizeof(id), "t-slow-%02d", i);
    assert_int_equal(await_event(f, id, STRATA_EVENT_SUCCEEDED)->partition,
                     i % NPART);
  }
  stop_worker(f);
  assert_true(atomic_load(&g_max) <= 3);
  assert_true(atomic_load(&g_max) >= 2); /* it did run tasks side by side */
  strata_worker_stats(f->w, &stats);
  assert_int_equal(stats.received, 24);
  assert_int_equal(stats.succeeded, 24);
}

/* Blocks until cancelled; heartbeats explicitly once. */
static strata_handler_status_t wait_cancel_handler(strata_job_t *job,
                                                   void *op) {
  struct timespec tick = {0, 5 * 1000 * 1000};
  (void)op;
  strata_job_heartbeat(job);
  while (!strata_job_cancel_requested(job))
    nanosleep(&tick, NULL);
  return STRATA_HANDLER_CANCELLED;
}

static void test_heartbeats_while_running_and_cancel(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  strata_mono_us_t deadline;
  seen_t *s;

  new_worker(f);
  strata_worker_register(f->w, "wait", wait_cancel_handler, NULL);
  assert_int_equal(strata_worker_cancel_task(f->w, "t-wait"),
                   STRATA_ERR_NOT_FOUND);
  make_task(&t, "t-wait", "wait");
  dispatch(f, &t, 2);
  start_worker(f);
  await_event(f, "t-wait", STRATA_EVENT_STARTED);
  /* One explicit heartbeat, then the runtime's every 200 ms. */
  deadline = strata_mono_now_us() + WAIT_US;
  while (count_events(f, "t-wait", STRATA_EVENT_HEARTBEAT) < 3 &&
         strata_mono_now_us() < deadline)
    pump(f, 100);
  assert_true(count_events(f, "t-wait", STRATA_EVENT_HEARTBEAT) >= 3);
  s = await_event(f, "t-wait", STRATA_EVENT_HEARTBEAT);
  assert_int_equal(s->partition, 2);
  assert_int_equal(strata_worker_cancel_task(f->w, "t-wait"), STRATA_OK);
  s = await_event(f, "t-wait", STRATA_EVENT_CANCELLED);
  assert_int_equal(s->partition, 2);
  stop_worker(f);
}

/* ---- undecodable records and commits ------------------------------------ */

static void
test_undecodable_record_is_skipped_counted_and_committed(void **st) {
  fixture_t *f = *st;
  record_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
  strata_task_t t;
  strata_worker_stats_t stats;
  static const char garbage[] = "\xc3\x01not an avro record at all";

  new_worker(f);
  strata_worker_register(f->w, "record", record_handler, &rec);
  produce_raw(f, 1, "junk", garbage, sizeof(garbage) - 1); /* offset 0 */
  make_task(&t, "t-after-junk", "record");
  dispatch(f, &t, 1); /* offset 1 */
  start_worker(f);
  await_event(f, "t-after-junk", STRATA_EVENT_SUCCEEDED);
  stop_worker(f);
  strata_worker_stats(f->w, &stats);
  assert_int_equal(stats.undecodable, 1);
  assert_int_equal(stats.received, 2);
  pump(f, 200);
  for (int i = 0; i < f->nseen; i++)
    assert_string_equal(f->seen[i].ev.task_id, "t-after-junk");

  /* The offset past both records went out with a transaction. The mock
   * cluster accepts transactional offset commits without storing them, so
   * the committed value itself is checked on a real broker
   * (tests/kafka/test_worker_at_least_once.c). */
  assert_true(stats.committed >= 1);
}

/* ---- exec handler ------------------------------------------------------- */

static char *read_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  char *buf = calloc(1, 65536);
  size_t n;
  if (!fp || !buf)
    abort();
  n = fread(buf, 1, 65535, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

static void test_exec_handler_contract(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  char cmd[512], path[256], err[512];
  seen_t *s;
  char *text;

  snprintf(cmd, sizeof(cmd),
           "exec.ok=cat > '%s'/$STRATA_TASK_ID.in; env | grep '^STRATA_' | "
           "sort > '%s'/$STRATA_TASK_ID.env",
           f->dir, f->dir);
  assert_int_equal(strata_config_set_kv(f->cfg, cmd, err, sizeof(err)),
                   STRATA_OK);
  set(f, "exec.noisy",
      "i=0; while [ $i -lt 50 ]; do echo \"line $i of noise\" >&2; "
      "i=$((i+1)); done; echo 'the last words' >&2; exit 3");
  set(f, "exec.baddata", "echo 'payload is malformed' >&2; exit 65");
  set(f, "exec.killed", "kill -9 $$");
  set(f, "worker.stderr.tail", "64");
  new_worker(f);
  assert_int_equal(strata_worker_register_exec(f->w, f->cfg, err, sizeof(err)),
                   STRATA_OK);

  make_task(&t, "t-exec-ok", "ok");
  t.idempotency_key = strdup("idem-exec");
  t.attempt = 3;
  t.has_deadline_ms = true;
  t.deadline_ms = 4102444800000LL;
  strata_task_add_header(&t, "trace-id", "abc123");
  t.payload = (uint8_t *)strdup("hello\nstdin");
  t.payload_len = 11;
  dispatch(f, &t, 0);
  make_task(&t, "t-exec-noisy", "noisy");
  dispatch(f, &t, 1);
  make_task(&t, "t-exec-65", "baddata");
  dispatch(f, &t, 2);
  make_task(&t, "t-exec-kill", "killed");
  dispatch(f, &t, 3);
  make_task(&t, "t-exec-unknown", "nosuchtype");
  dispatch(f, &t, 3);
  start_worker(f);

  s = await_event(f, "t-exec-ok", STRATA_EVENT_SUCCEEDED);
  assert_int_equal(s->partition, 0);
  snprintf(path, sizeof(path), "%s/t-exec-ok.in", f->dir);
  text = read_file(path);
  assert_string_equal(text, "hello\nstdin");
  free(text);
  snprintf(path, sizeof(path), "%s/t-exec-ok.env", f->dir);
  text = read_file(path);
  assert_non_null(strstr(text, "STRATA_TASK_ID=t-exec-ok\n"));
  assert_non_null(strstr(text, "STRATA_TASK_TYPE=ok\n"));
  assert_non_null(strstr(text, "STRATA_TIER=normal\n"));
  assert_non_null(strstr(text, "STRATA_ATTEMPT=3\n"));
  assert_non_null(strstr(text, "STRATA_IDEMPOTENCY_KEY=idem-exec\n"));
  assert_non_null(strstr(text, "STRATA_DEADLINE_MS=4102444800000\n"));
  assert_non_null(strstr(text, "STRATA_HEADER_TRACE_ID=abc123\n"));
  free(text);

  s = await_event(f, "t-exec-noisy", STRATA_EVENT_FAILED);
  assert_true(s->ev.retryable);
  assert_non_null(strstr(s->ev.error, "exited with code 3"));
  assert_non_null(strstr(s->ev.error, "the last words"));
  assert_null(strstr(s->ev.error, "line 0 of noise"));
  /* The tail is bounded: 64 bytes plus a short explanation. */
  assert_true(strlen(s->ev.error) < 64 + 100);

  s = await_event(f, "t-exec-65", STRATA_EVENT_FAILED);
  assert_false(s->ev.retryable);
  assert_non_null(strstr(s->ev.error, "payload is malformed"));

  s = await_event(f, "t-exec-kill", STRATA_EVENT_FAILED);
  assert_true(s->ev.retryable);
  assert_non_null(strstr(s->ev.error, "SIGKILL"));

  s = await_event(f, "t-exec-unknown", STRATA_EVENT_FAILED);
  assert_false(s->ev.retryable);
  assert_non_null(strstr(s->ev.error, "\"nosuchtype\""));
  assert_non_null(strstr(s->ev.error, "ok, noisy, baddata, killed"));
  stop_worker(f);
}

static void test_exec_cancel_and_timeout_kill_the_command(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  char err[512];
  seen_t *s;
  strata_mono_us_t t0;

  set(f, "exec.sleep", "sleep 30");
  new_worker(f);
  assert_int_equal(strata_worker_register_exec(f->w, f->cfg, err, sizeof(err)),
                   STRATA_OK);
  make_task(&t, "t-exec-cancel", "sleep");
  dispatch(f, &t, 1);
  make_task(&t, "t-exec-timeout", "sleep");
  t.timeouts.has_start_to_close_ms = true;
  t.timeouts.start_to_close_ms = 300;
  dispatch(f, &t, 2);
  start_worker(f);
  await_event(f, "t-exec-cancel", STRATA_EVENT_STARTED);
  t0 = strata_mono_now_us();
  assert_int_equal(strata_worker_cancel_task(f->w, "t-exec-cancel"), STRATA_OK);
  s = await_event(f, "t-exec-cancel", STRATA_EVENT_CANCELLED);
  assert_int_equal(s->partition, 1);
  assert_true(strata_mono_now_us() - t0 < 10 * 1000000); /* not 30 s */
  s = await_event(f, "t-exec-timeout", STRATA_EVENT_TIMED_OUT);
  assert_true(s->ev.retryable);
  assert_non_null(strstr(s->ev.error, "300 ms"));
  stop_worker(f);
}

static void test_stop_hands_back_running_tasks(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  char err[512];
  strata_worker_stats_t stats;

  set(f, "exec.sleep", "sleep 30");
  set(f, "worker.shutdown.timeout", "200ms");
  new_worker(f);
  assert_int_equal(strata_worker_register_exec(f->w, f->cfg, err, sizeof(err)),
                   STRATA_OK);
  make_task(&t, "t-handback", "sleep");
  dispatch(f, &t, 0);
  start_worker(f);
  await_event(f, "t-handback", STRATA_EVENT_STARTED);
  stop_worker(f);
  strata_worker_stats(f->w, &stats);
  assert_int_equal(stats.handed_back, 1);
  pump(f, 300);
  assert_int_equal(count_events(f, "t-handback", STRATA_EVENT_FAILED), 0);
  assert_int_equal(count_events(f, "t-handback", STRATA_EVENT_CANCELLED), 0);
}

/* ---- checkpoints, yielding, slots, heartbeat policy --------------------- */

static void set_checkpoint(strata_task_t *t, const char *state) {
  t->has_checkpoint = true;
  t->checkpoint_len = strlen(state);
  t->checkpoint = (uint8_t *)strdup(state);
}

static void assert_state(bool has, const uint8_t *got, size_t len,
                         const char *want) {
  assert_true(has);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(got, want, len);
}

/* Writes a Control record to partition 0 of strata.control. */
static void control(fixture_t *f, strata_control_kind_t kind,
                    const char *task_id, const char *reason) {
  strata_control_t c;
  void *buf;
  size_t len;
  char err[512];

  strata_control_init(&c);
  c.kind = kind;
  c.task_id = strdup(task_id);
  c.reason = reason ? strdup(reason) : NULL;
  c.issued_ms = strata_epoch_now_ms();
  assert_int_equal(strata_control_encode(&c, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  strata_control_clear(&c);
  assert_int_equal(
      rd_kafka_producev(
          f->prod, RD_KAFKA_V_TOPIC("strata.control"), RD_KAFKA_V_PARTITION(0),
          RD_KAFKA_V_KEY((void *)(uintptr_t)task_id, strlen(task_id)),
          RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  free(buf);
  assert_int_equal(rd_kafka_flush(f->prod, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Waits for the Task record of `id` attempt `attempt` on strata.tasks.normal;
 * fills `out` (caller clears it), its partition and key. */
static void await_task(fixture_t *f, const char *id, int32_t attempt,
                       strata_task_t *out, int32_t *partition, char *key,
                       size_t key_size) {
  strata_mono_us_t deadline = strata_mono_now_us() + WAIT_US;
  char err[512];

  while (strata_mono_now_us() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(f->treader, 100);
    if (!m)
      continue;
    if (!m->err) {
      strata_task_init(out);
      if (strata_task_decode(m->payload, m->len, out, err, sizeof(err)))
        fail_msg("task record does not decode: %s", err);
      if (!strcmp(out->id, id) && out->attempt == attempt) {
        *partition = m->partition;
        snprintf(key, key_size, "%.*s", (int)m->key_len, (const char *)m->key);
        rd_kafka_message_destroy(m);
        return;
      }
      strata_task_clear(out);
    }
    rd_kafka_message_destroy(m);
  }
  fail_msg("no record of task %s attempt %d on strata.tasks.normal", id,
           (int)attempt);
}

/* Waits for the terminal CHECKPOINT event (error set) of `task_id`. */
static seen_t *await_yield_event(fixture_t *f, const char *task_id) {
  strata_mono_us_t deadline = strata_mono_now_us() + WAIT_US;

  for (;;) {
    for (int i = 0; i < f->nseen; i++)
      if (f->seen[i].ev.kind == STRATA_EVENT_CHECKPOINT &&
          !strcmp(f->seen[i].ev.task_id, task_id) && f->seen[i].ev.error)
        return &f->seen[i];
    if (strata_mono_now_us() > deadline) {
      fail_msg("no terminal CHECKPOINT event for task %s", task_id);
      abort();
    }
    pump(f, 100);
  }
}

static const char *header(const strata_task_t *t, const char *key) {
  for (size_t i = 0; i < t->headers_count; i++)
    if (!strcmp(t->headers[i].key, key))
      return t->headers[i].value;
  return NULL;
}

/* Polls `flag` until it is set or WAIT_US passes. */
static bool await_flag(atomic_int *flag) {
  struct timespec tick = {0, 2 * 1000 * 1000};
  strata_mono_us_t deadline = strata_mono_now_us() + WAIT_US;
  while (!atomic_load(flag) && strata_mono_now_us() < deadline)
    nanosleep(&tick, NULL);
  return atomic_load(flag) != 0;
}

typedef struct {
  pthread_mutex_t lock;
  char resumed[64];     /* what strata_job_resume_state() gave */
  bool had_resume;      /* it was non-NULL */
  strata_err_t too_big; /* checkpoint over the limit */
  strata_err_t null_state;
} ckpt_seen_t;

static strata_handler_status_t ckpt_handler(strata_job_t *job, void *op) {
  ckpt_seen_t *c = op;
  size_t len = 99;
  const void *st = strata_job_resume_state(job, &len);
  char big[64];

  memset(big, 'x', sizeof(big));
  pthread_mutex_lock(&c->lock);
  c->had_resume = st != NULL;
  snprintf(c->resumed, sizeof(c->resumed), "%.*s", (int)len,
           st ? (const char *)st : "");
  if (!st)
    assert_int_equal(len, 0);
  c->too_big = strata_job_checkpoint(job, big, sizeof(big));
  c->null_state = strata_job_checkpoint(job, NULL, 3);
  pthread_mutex_unlock(&c->lock);
  assert_int_equal(strata_job_checkpoint(job, "step-1", 6), STRATA_OK);
  assert_int_equal(strata_job_checkpoint(job, "step-2", 6), STRATA_OK);
  return STRATA_HANDLER_SUCCEEDED;
}

static void test_checkpoint_writes_event_with_state_and_is_bounded(void **st) {
  fixture_t *f = *st;
  ckpt_seen_t c = {.lock = PTHREAD_MUTEX_INITIALIZER};
  strata_task_t t;
  int n = 0;

  set(f, "worker.checkpoint.max.bytes", "32");
  new_worker(f);
  strata_worker_register(f->w, "ckpt", ckpt_handler, &c);
  make_task(&t, "t-ckpt", "ckpt");
  set_checkpoint(&t, "resume-me");
  dispatch(f, &t, 2);
  start_worker(f);
  await_event(f, "t-ckpt", STRATA_EVENT_SUCCEEDED);
  pthread_mutex_lock(&c.lock);
  assert_true(c.had_resume);
  assert_string_equal(c.resumed, "resume-me");
  assert_int_equal(c.too_big, STRATA_ERR_INVALID_ARG);
  assert_int_equal(c.null_state, STRATA_ERR_INVALID_ARG);
  pthread_mutex_unlock(&c.lock);
  /* Two CHECKPOINT events in order, neither terminal, none for the refused
   * state. */
  for (int i = 0; i < f->nseen; i++) {
    strata_event_t *e = &f->seen[i].ev;
    if (strcmp(e->task_id, "t-ckpt") || e->kind != STRATA_EVENT_CHECKPOINT)
      continue;
    assert_state(e->has_checkpoint, e->checkpoint, e->checkpoint_len,
                 n == 0 ? "step-1" : "step-2");
    assert_null(e->error);
    assert_int_equal(f->seen[i].partition, 2);
    n++;
  }
  assert_int_equal(n, 2);

  /* A task dispatched without a checkpoint resumes from nothing. */
  make_task(&t, "t-ckpt-none", "ckpt");
  dispatch(f, &t, 1);
  await_event(f, "t-ckpt-none", STRATA_EVENT_SUCCEEDED);
  pthread_mutex_lock(&c.lock);
  assert_false(c.had_resume);
  pthread_mutex_unlock(&c.lock);
  stop_worker(f);
}

static atomic_int g_yield_running, g_yield_saw;

/* Works until asked to yield, then saves its progress and yields. */
static strata_handler_status_t yield_handler(strata_job_t *job, void *op) {
  struct timespec tick = {0, 2 * 1000 * 1000};
  strata_mono_us_t deadline = strata_mono_now_us() + WAIT_US;
  (void)op;
  if (!strcmp(strata_job_task(job)->id, "t-never-preempted"))
    return strata_job_should_yield(job) ? STRATA_HANDLER_FAILED
                                        : STRATA_HANDLER_SUCCEEDED;
  atomic_store(&g_yield_running, 1);
  while (!strata_job_should_yield(job) && strata_mono_now_us() < deadline)
    nanosleep(&tick, NULL);
  if (!strata_job_should_yield(job))
    return STRATA_HANDLER_FAILED;
  atomic_store(&g_yield_saw, 1);
  strata_job_report_usage(job, "llm.tokens", 5);
  if (strata_job_checkpoint(job, "page=17", 7))
    return STRATA_HANDLER_FAILED;
  return STRATA_HANDLER_YIELDED;
}

static void test_preempt_yields_and_requeues_with_the_checkpoint(void **st) {
  fixture_t *f = *st;
  strata_task_t t, rq;
  strata_worker_stats_t stats;
  int32_t part;
  char key[128];
  const char *hist;
  seen_t *s;

  new_worker(f);
  strata_worker_register(f->w, "yield", yield_handler, NULL);
  atomic_store(&g_yield_running, 0);
  atomic_store(&g_yield_saw, 0);
  /* A PREEMPT for a task that is not here is ignored, not remembered: the
   * task dispatched afterwards runs without being asked to yield. */
  control(f, STRATA_CONTROL_PREEMPT, "t-never-preempted", "too early");
  make_task(&t, "t-yield", "yield");
  t.idempotency_key = strdup("idem-yield");
  t.retry.max_attempts = 3;
  set_checkpoint(&t, "page=3");
  strata_task_add_header(&t, "trace-id", "abc");
  dispatch(f, &t, 3);
  start_worker(f);
  await_event(f, "t-yield", STRATA_EVENT_STARTED);
  assert_true(await_flag(&g_yield_running));
  control(f, STRATA_CONTROL_PREEMPT, "t-yield", "make room for critical");

  s = await_event(f, "t-yield", STRATA_EVENT_CHECKPOINT);
  assert_null(s->ev.error); /* the handler's own checkpoint comes first */
  assert_state(s->ev.has_checkpoint, s->ev.checkpoint, s->ev.checkpoint_len,
               "page=17");
  s = await_yield_event(f, "t-yield");
  assert_string_equal(s->ev.error, "yielded: make room for critical");
  assert_true(s->ev.retryable);
  assert_int_equal(s->ev.attempt, 1);
  assert_int_equal(s->partition, 3);
  assert_string_equal(s->key, "idem-yield");
  assert_state(s->ev.has_checkpoint, s->ev.checkpoint, s->ev.checkpoint_len,
               "page=17");
  assert_int_equal(s->ev.usage_count, 1);
  assert_int_equal(s->ev.usage[0].value, 5);
  assert_int_equal(atomic_load(&g_yield_saw), 1);
  /* Nothing else ends the attempt. */
  assert_int_equal(count_events(f, "t-yield", STRATA_EVENT_FAILED), 0);
  assert_int_equal(count_events(f, "t-yield", STRATA_EVENT_SUCCEEDED), 0);

  await_task(f, "t-yield", 2, &rq, &part, key, sizeof(key));
  assert_int_equal(part, 3);
  assert_string_equal(key, "idem-yield");
  assert_int_equal(rq.retry.max_attempts, 4);
  assert_state(rq.has_checkpoint, rq.checkpoint, rq.checkpoint_len, "page=17");
  assert_false(rq.has_not_before_ms);
  assert_true(rq.enqueued_ms >= s->ev.time_ms - 1000);
  assert_string_equal(header(&rq, "trace-id"), "abc");
  assert_non_null(hist = header(&rq, "strata.yield.1"));
  assert_non_null(strstr(hist, "\"reason\":\"make room for critical\""));
  assert_non_null(strstr(hist, "\"started_ms\":1"));
  assert_non_null(strstr(hist, "\"ended_ms\":1"));
  assert_null(header(&rq, "strata.attempt.1"));
  strata_task_clear(&rq);

  make_task(&t, "t-never-preempted", "yield");
  dispatch(f, &t, 0);
  await_event(f, "t-never-preempted", STRATA_EVENT_SUCCEEDED);
  stop_worker(f);
  strata_worker_stats(f->w, &stats);
  assert_int_equal(stats.yielded, 1);
  assert_int_equal(stats.retried, 0);
}

/* Yields on its own, saving nothing: the requeue keeps the original state. */
static strata_handler_status_t voluntary_yield_handler(strata_job_t *job,
                                                       void *op) {
  (void)op;
  return strata_job_attempt(job) == 1 ? STRATA_HANDLER_YIELDED
                                      : STRATA_HANDLER_SUCCEEDED;
}

static void test_voluntary_yield_keeps_the_dispatched_state(void **st) {
  fixture_t *f = *st;
  strata_task_t t, rq;
  int32_t part;
  char key[128];
  seen_t *s;

  new_worker(f);
  strata_worker_register(f->w, "vyield", voluntary_yield_handler, NULL);
  make_task(&t, "t-vyield", "vyield");
  t.retry.max_attempts = 1;
  set_checkpoint(&t, "original");
  dispatch(f, &t, 1);
  start_worker(f);
  s = await_event(f, "t-vyield", STRATA_EVENT_CHECKPOINT);
  assert_string_equal(s->ev.error, "yielded: handler yielded");
  assert_state(s->ev.has_checkpoint, s->ev.checkpoint, s->ev.checkpoint_len,
               "original");
  await_task(f, "t-vyield", 2, &rq, &part, key, sizeof(key));
  assert_int_equal(part, 1);
  assert_int_equal(rq.retry.max_attempts, 2);
  assert_state(rq.has_checkpoint, rq.checkpoint, rq.checkpoint_len, "original");
  strata_task_clear(&rq);
  stop_worker(f);
}

static atomic_int g_a_released, g_b_started, g_a_acquiring, g_b_done,
    g_b_done_when_acquired, g_acquired;

static strata_handler_status_t slot_a_handler(strata_job_t *job, void *op) {
  (void)op;
  strata_job_release_slot(job);
  strata_job_release_slot(job); /* idempotent */
  atomic_store(&g_a_released, 1);
  if (!await_flag(&g_b_started))
    return STRATA_HANDLER_FAILED;
  atomic_store(&g_a_acquiring, 1);
  atomic_store(&g_acquired, strata_job_acquire_slot(job) ? 1 : 2);
  atomic_store(&g_b_done_when_acquired, atomic_load(&g_b_done));
  return STRATA_HANDLER_SUCCEEDED;
}

static strata_handler_status_t slot_b_handler(strata_job_t *job, void *op) {
  struct timespec work = {0, 100 * 1000 * 1000};
  (void)job;
  (void)op;
  atomic_store(&g_b_started, 1);
  if (!await_flag(&g_a_acquiring))
    return STRATA_HANDLER_FAILED;
  nanosleep(&work, NULL); /* the "work": A must wait it out */
  atomic_store(&g_b_done, 1);
  return STRATA_HANDLER_SUCCEEDED;
}

/* Releases its slot, lets the holder take it, then waits for one until it
 * is cancelled. */
static strata_handler_status_t slot_c_handler(strata_job_t *job, void *op) {
  (void)op;
  strata_job_release_slot(job);
  atomic_store(&g_a_released, 1);
  if (!await_flag(&g_b_started)) /* the slot is taken */
    return STRATA_HANDLER_FAILED;
  if (strata_job_acquire_slot(job))
    return STRATA_HANDLER_FAILED;
  atomic_store(&g_acquired, 3);
  return STRATA_HANDLER_CANCELLED;
}

/* Holds its slot until cancelled. */
static strata_handler_status_t slot_hold_handler(strata_job_t *job, void *op) {
  struct timespec tick = {0, 2 * 1000 * 1000};
  (void)op;
  atomic_store(&g_b_started, 1);
  while (!strata_job_cancel_requested(job))
    nanosleep(&tick, NULL);
  return STRATA_HANDLER_CANCELLED;
}

static void test_released_slot_runs_another_task_and_acquire_waits(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  strata_worker_stats_t stats;
  seen_t *a, *b;

  set(f, "worker.concurrency", "1");
  new_worker(f);
  strata_worker_register(f->w, "slot-a", slot_a_handler, NULL);
  strata_worker_register(f->w, "slot-b", slot_b_handler, NULL);
  strata_worker_register(f->w, "slot-c", slot_c_handler, NULL);
  strata_worker_register(f->w, "slot-hold", slot_hold_handler, NULL);
  atomic_store(&g_a_released, 0);
  atomic_store(&g_b_started, 0);
  atomic_store(&g_a_acquiring, 0);
  atomic_store(&g_b_done, 0);
  atomic_store(&g_acquired, 0);
  make_task(&t, "t-slot-a", "slot-a");
  dispatch(f, &t, 0);
  make_task(&t, "t-slot-b", "slot-b");
  dispatch(f, &t, 0);
  start_worker(f);
  a = await_event(f, "t-slot-a", STRATA_EVENT_SUCCEEDED);
  b = await_event(f, "t-slot-b", STRATA_EVENT_SUCCEEDED);
  assert_int_equal(atomic_load(&g_acquired), 1);
  /* B started while A ran, and A got its slot back only after B ended. */
  assert_int_equal(atomic_load(&g_b_started), 1);
  assert_int_equal(atomic_load(&g_b_done_when_acquired), 1);
  assert_true(a->ev.time_ms >= b->ev.time_ms);

  /* Cancellation ends the wait for a slot: acquire returns false. */
  atomic_store(&g_a_released, 0);
  atomic_store(&g_b_started, 0);
  make_task(&t, "t-slot-c", "slot-c");
  dispatch(f, &t, 1);
  make_task(&t, "t-slot-hold", "slot-hold");
  dispatch(f, &t, 1);
  assert_true(await_flag(&g_b_started));
  assert_int_equal(strata_worker_cancel_task(f->w, "t-slot-c"), STRATA_OK);
  await_event(f, "t-slot-c", STRATA_EVENT_CANCELLED);
  assert_int_equal(atomic_load(&g_acquired), 3);
  assert_int_equal(strata_worker_cancel_task(f->w, "t-slot-hold"), STRATA_OK);
  await_event(f, "t-slot-hold", STRATA_EVENT_CANCELLED);
  stop_worker(f);
  strata_worker_stats(f->w, &stats);
  assert_int_equal(stats.started, 4);
}

static void test_heartbeat_timeout_tasks_get_no_runtime_heartbeats(void **st) {
  fixture_t *f = *st;
  strata_task_t t;
  strata_mono_us_t deadline;

  set(f, "worker.concurrency", "2");
  new_worker(f);
  strata_worker_register(f->w, "hold", slot_hold_handler, NULL);
  make_task(&t, "t-hb-own", "hold");
  t.timeouts.has_heartbeat_ms = true;
  t.timeouts.heartbeat_ms = 60000;
  dispatch(f, &t, 0);
  make_task(&t, "t-hb-runtime", "hold");
  dispatch(f, &t, 1);
  start_worker(f);
  await_event(f, "t-hb-own", STRATA_EVENT_STARTED);
  await_event(f, "t-hb-runtime", STRATA_EVENT_STARTED);
  /* 200 ms interval: the task without a heartbeat timeout gets several... */
  deadline = strata_mono_now_us() + WAIT_US;
  while (count_events(f, "t-hb-runtime", STRATA_EVENT_HEARTBEAT) < 4 &&
         strata_mono_now_us() < deadline)
    pump(f, 100);
  assert_true(count_events(f, "t-hb-runtime", STRATA_EVENT_HEARTBEAT) >= 4);
  /* ...and the one with a heartbeat timeout none, over the same time. */
  assert_int_equal(count_events(f, "t-hb-own", STRATA_EVENT_HEARTBEAT), 0);
  strata_worker_cancel_task(f->w, "t-hb-own");
  strata_worker_cancel_task(f->w, "t-hb-runtime");
  await_event(f, "t-hb-own", STRATA_EVENT_CANCELLED);
  await_event(f, "t-hb-runtime", STRATA_EVENT_CANCELLED);
  assert_int_equal(count_events(f, "t-hb-own", STRATA_EVENT_HEARTBEAT), 0);
  stop_worker(f);
}

static bool file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void test_exec_checkpoint_files_sigusr1_and_exit_75(void **st) {
  fixture_t *f = *st;
  strata_task_t t, rq;
  char cmd[1024], path[256], err[512], key[128];
  strata_mono_us_t deadline;
  int32_t part;
  seen_t *s;
  char *text, *nl;

  /* Saves what it resumes from, says where it may write, and on SIGUSR1
   * writes its progress there and exits 75. */
  snprintf(cmd, sizeof(cmd),
           "exec.resumable=d='%s'; "
           "if [ -n \"$STRATA_CHECKPOINT_FILE\" ]; then "
           "cp \"$STRATA_CHECKPOINT_FILE\" \"$d/$STRATA_TASK_ID.resume\"; fi; "
           "echo \"$STRATA_CHECKPOINT_OUT\" > \"$d/$STRATA_TASK_ID.out\"; "
           "trap 'printf progress-42 > \"$STRATA_CHECKPOINT_OUT\"; exit 75' "
           "USR1; "
           "touch \"$d/$STRATA_TASK_ID.ready\"; "
           "while :; do sleep 0.05; done",
           f->dir);
  assert_int_equal(strata_config_set_kv(f->cfg, cmd, err, sizeof(err)),
                   STRATA_OK);
  new_worker(f);
  assert_int_equal(strata_worker_register_exec(f->w, f->cfg, err, sizeof(err)),
                   STRATA_OK);
  make_task(&t, "t-exec-yield", "resumable");
  set_checkpoint(&t, "resume-bytes");
  t.timeouts.has_heartbeat_ms = true;
  t.timeouts.heartbeat_ms = 300; /* heartbeats every min(200, 100) ms */
  dispatch(f, &t, 2);
  start_worker(f);
  snprintf(path, sizeof(path), "%s/t-exec-yield.ready", f->dir);
  deadline = strata_mono_now_us() + WAIT_US;
  while (!file_exists(path) && strata_mono_now_us() < deadline)
    pump(f, 20);
  assert_true(file_exists(path));
  /* The handler heartbeats for its command. */
  deadline = strata_mono_now_us() + WAIT_US;
  while (count_events(f, "t-exec-yield", STRATA_EVENT_HEARTBEAT) < 3 &&
         strata_mono_now_us() < deadline)
    pump(f, 50);
  assert_true(count_events(f, "t-exec-yield", STRATA_EVENT_HEARTBEAT) >= 3);
  control(f, STRATA_CONTROL_PREEMPT, "t-exec-yield", NULL);

  s = await_yield_event(f, "t-exec-yield");
  assert_string_equal(s->ev.error, "yielded: handler yielded");
  assert_state(s->ev.has_checkpoint, s->ev.checkpoint, s->ev.checkpoint_len,
               "progress-42");
  assert_int_equal(count_events(f, "t-exec-yield", STRATA_EVENT_FAILED), 0);
  await_task(f, "t-exec-yield", 2, &rq, &part, key, sizeof(key));
  assert_int_equal(part, 2);
  assert_state(rq.has_checkpoint, rq.checkpoint, rq.checkpoint_len,
               "progress-42");
  strata_task_clear(&rq);

  snprintf(path, sizeof(path), "%s/t-exec-yield.resume", f->dir);
  text = read_file(path);
  assert_string_equal(text, "resume-bytes");
  free(text);
  /* The checkpoint files' directory is gone. */
  snprintf(path, sizeof(path), "%s/t-exec-yield.out", f->dir);
  text = read_file(path);
  assert_non_null(nl = strrchr(text, '/'));
  *nl = '\0';
  assert_non_null(strstr(text, "strata-exec-"));
  assert_false(file_exists(text));
  free(text);
  stop_worker(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_handler_gets_task_and_events_share_its_partition, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_failing_handler_reports_error_and_retryable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrency_never_exceeds_the_limit,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_heartbeats_while_running_and_cancel,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_undecodable_record_is_skipped_counted_and_committed, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_exec_handler_contract, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_exec_cancel_and_timeout_kill_the_command, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_hands_back_running_tasks, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_checkpoint_writes_event_with_state_and_is_bounded, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_preempt_yields_and_requeues_with_the_checkpoint, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_voluntary_yield_keeps_the_dispatched_state, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_released_slot_runs_another_task_and_acquire_waits, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_heartbeat_timeout_tasks_get_no_runtime_heartbeats, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_exec_checkpoint_files_sigusr1_and_exit_75, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
