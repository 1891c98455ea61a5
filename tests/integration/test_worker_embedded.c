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
 * undecodable records are skipped, counted and committed past.
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
  rd_kafka_t *prod;   /* writes dispatch records */
  rd_kafka_t *reader; /* reads events */
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
