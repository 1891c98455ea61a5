/*
 * Against a real Apache Kafka broker ($STRATA_TEST_BOOTSTRAP, see
 * deploy/kafka-local): Task records produced in committed transactions reach a
 * read_committed consumer exactly once and decode to what was sent, while the
 * records of an aborted transaction never do, although they are in the log (a
 * read_uncommitted consumer sees them). librdkafka's mock cluster has no
 * transaction semantics, so this test fails against it.
 *
 * Layout: transaction A (committed, N_A tasks), transaction B (produced,
 * delivered, then aborted, N_B tasks), transaction C (committed, N_C tasks),
 * all on one fresh topic that the test creates and deletes.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "strata/codec.h"
#include "strata/task.h"

enum {
  N_PARTITIONS = 3,
  N_A = 12, /* committed, first transaction */
  N_B = 7,  /* aborted */
  N_C = 5,  /* committed, after the abort */
  N_ALL = N_A + N_B + N_C,
  OP_TIMEOUT_MS = 30000, /* one broker round trip or transaction step */
  CONSUME_TIMEOUT_MS = 60000
};

/* Task index ranges per transaction. */
#define IS_ABORTED(i) ((i) >= N_A && (i) < N_A + N_B)

typedef struct fixture {
  const char *bootstrap;
  char run_id[64];
  char topic[128];
  char txn_id[128];
  rd_kafka_t *admin; /* a plain producer handle used for Admin requests */
  bool topic_created;
} fixture_t;

/* Delivery reports of the transactional producer. */
typedef struct dr_state {
  int delivered;
  int failed;
  rd_kafka_resp_err_t first_err;
} dr_state_t;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
    fail_msg("rd_kafka_conf_set(%s=%s): %s", k, v, err);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
  (void)opaque;
  fprintf(stderr, "%s: librdkafka error %s: %s\n", rd_kafka_name(rk),
          rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *base_conf(const fixture_t *fx) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  conf_set(conf, "bootstrap.servers", fx->bootstrap);
  conf_set(conf, "client.id", "strata-test-kafka-txn");
  rd_kafka_conf_set_error_cb(conf, error_cb);
  return conf;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    fail_msg("rd_kafka_new: %s", err);
  }
  return rk;
}

/* Waits for one Admin result event of type `want` on `q`. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q,
                                    rd_kafka_event_type_t want) {
  int64_t deadline = mono_ms() + OP_TIMEOUT_MS + 5000;
  while (mono_ms() < deadline) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 200);
    if (!ev)
      continue;
    if (rd_kafka_event_type(ev) == want)
      return ev;
    rd_kafka_event_destroy(ev);
  }
  return NULL;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk,
                                              rd_kafka_admin_op_t op) {
  char err[512];
  rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
  assert_non_null(o);
  assert_int_equal(rd_kafka_AdminOptions_set_request_timeout(o, OP_TIMEOUT_MS,
                                                             err, sizeof(err)),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  /* The broker answers once the topic exists (or is gone) on the broker. */
  assert_int_equal(rd_kafka_AdminOptions_set_operation_timeout(
                       o, OP_TIMEOUT_MS, err, sizeof(err)),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  return o;
}

static void create_topic(fixture_t *fx) {
  char err[512];
  rd_kafka_NewTopic_t *nt =
      rd_kafka_NewTopic_new(fx->topic, N_PARTITIONS, 1, err, sizeof(err));
  if (!nt)
    fail_msg("NewTopic %s: %s", fx->topic, err);
  rd_kafka_AdminOptions_t *o =
      admin_options(fx->admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_queue_t *q = rd_kafka_queue_new(fx->admin);
  rd_kafka_CreateTopics(fx->admin, &nt, 1, o, q);
  rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_NewTopic_destroy(nt);
  if (!ev) {
    rd_kafka_queue_destroy(q);
    fail_msg("CreateTopics %s: no result within %d ms", fx->topic,
             OP_TIMEOUT_MS + 5000);
  }
  rd_kafka_resp_err_t rerr = rd_kafka_event_error(ev);
  char msg[512];
  snprintf(msg, sizeof(msg), "%s", rerr ? rd_kafka_event_error_string(ev) : "");
  size_t n = 0;
  const rd_kafka_topic_result_t **res = NULL;
  if (!rerr) {
    res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &n);
    if (n == 1 && rd_kafka_topic_result_error(res[0])) {
      rerr = rd_kafka_topic_result_error(res[0]);
      snprintf(msg, sizeof(msg), "%s",
               rd_kafka_topic_result_error_string(res[0])
                   ? rd_kafka_topic_result_error_string(res[0])
                   : rd_kafka_err2str(rerr));
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  if (rerr)
    fail_msg("CreateTopics %s: %s: %s", fx->topic, rd_kafka_err2name(rerr),
             msg);
  assert_int_equal(n, 1);
  fx->topic_created = true;
}

static void delete_topic(fixture_t *fx) {
  rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(fx->topic);
  rd_kafka_AdminOptions_t *o =
      admin_options(fx->admin, RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_queue_t *q = rd_kafka_queue_new(fx->admin);
  rd_kafka_DeleteTopics(fx->admin, &dt, 1, o, q);
  rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_DeleteTopic_destroy(dt);
  rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (ev) {
    rerr = rd_kafka_event_error(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **res = rd_kafka_DeleteTopics_result_topics(
        rd_kafka_event_DeleteTopics_result(ev), &n);
    if (!rerr && n == 1)
      rerr = rd_kafka_topic_result_error(res[0]);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  if (rerr)
    fail_msg("DeleteTopics %s: %s", fx->topic, rd_kafka_err2name(rerr));
  fx->topic_created = false;
}

/* ---- Tasks ---------------------------------------------------------- */

static void task_id(const fixture_t *fx, int i, char *buf, size_t size) {
  snprintf(buf, size, "%s-%s-%03d", IS_ABORTED(i) ? "aborted" : "task",
           fx->run_id, i);
}

/* Task number i of this run, with optional and repeated fields exercised. */
static void make_task(const fixture_t *fx, int i, strata_task_t *t) {
  char id[128], val[64];
  strata_task_init(t);
  task_id(fx, i, id, sizeof(id));
  t->id = strdup(id);
  t->type = strdup("email.send");
  t->tier = strdup(i % 2 ? "batch" : "interactive");
  assert_non_null(t->id);
  assert_non_null(t->type);
  assert_non_null(t->tier);
  if (i % 3 == 0) {
    snprintf(val, sizeof(val), "idem-%d", i);
    t->idempotency_key = strdup(val);
    assert_non_null(t->idempotency_key);
  }
  t->priority = i % 5;
  t->created_ms = 1700000000000 + i;
  t->enqueued_ms = 1700000000500 + i;
  t->has_deadline_ms = true;
  t->deadline_ms = 1700000060000 + 1000 * (int64_t)i;
  t->has_estimate_ms = true;
  t->estimate_ms = 250 + i;
  assert_int_equal(strata_task_add_demand(t, "llm.tokens", 100 * (i + 1)),
                   STRATA_OK);
  snprintf(val, sizeof(val), "trace-%d", i);
  assert_int_equal(strata_task_add_header(t, "trace", val), STRATA_OK);
  snprintf(val, sizeof(val), "payload of task %d", i);
  t->payload_len = strlen(val);
  t->payload = malloc(t->payload_len);
  assert_non_null(t->payload);
  memcpy(t->payload, val, t->payload_len);
}

static void assert_str_eq_or_null(const char *a, const char *b) {
  if (!a || !b)
    assert_ptr_equal(a, b);
  else
    assert_string_equal(a, b);
}

static void assert_task_equal(const strata_task_t *want,
                              const strata_task_t *got) {
  assert_string_equal(want->id, got->id);
  assert_str_eq_or_null(want->idempotency_key, got->idempotency_key);
  assert_string_equal(want->type, got->type);
  assert_string_equal(want->tier, got->tier);
  assert_int_equal(want->priority, got->priority);
  assert_int_equal(want->has_deadline_ms, got->has_deadline_ms);
  assert_int_equal(want->deadline_ms, got->deadline_ms);
  assert_int_equal(want->has_estimate_ms, got->has_estimate_ms);
  assert_int_equal(want->estimate_ms, got->estimate_ms);
  assert_int_equal(want->created_ms, got->created_ms);
  assert_int_equal(want->enqueued_ms, got->enqueued_ms);
  assert_int_equal(want->attempt, got->attempt);
  assert_int_equal(want->retry.max_attempts, got->retry.max_attempts);
  assert_int_equal(want->demands_count, got->demands_count);
  for (size_t k = 0; k < want->demands_count; k++) {
    assert_string_equal(want->demands[k].key, got->demands[k].key);
    assert_int_equal(want->demands[k].value, got->demands[k].value);
  }
  assert_int_equal(want->headers_count, got->headers_count);
  for (size_t k = 0; k < want->headers_count; k++) {
    assert_string_equal(want->headers[k].key, got->headers[k].key);
    assert_string_equal(want->headers[k].value, got->headers[k].value);
  }
  assert_int_equal(want->payload_len, got->payload_len);
  assert_memory_equal(want->payload, got->payload, want->payload_len);
}

/* ---- Transactional producer ----------------------------------------- */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque) {
  (void)rk;
  dr_state_t *dr = opaque;
  if (m->err) {
    if (!dr->failed)
      dr->first_err = m->err;
    dr->failed++;
  } else {
    dr->delivered++;
  }
}

/* Fails the test with the message of a transactional API error. */
static void check_txn(rd_kafka_error_t *error, const char *what) {
  if (!error)
    return;
  char msg[512];
  snprintf(msg, sizeof(msg), "%s: %s (%s%s%s)", what,
           rd_kafka_error_string(error), rd_kafka_error_name(error),
           rd_kafka_error_is_fatal(error) ? ", fatal" : "",
           rd_kafka_error_txn_requires_abort(error) ? ", requires abort" : "");
  rd_kafka_error_destroy(error);
  fail_msg("%s", msg);
}

static void produce_tasks(const fixture_t *fx, rd_kafka_t *rk, int from,
                          int to) {
  for (int i = from; i < to; i++) {
    strata_task_t t;
    void *buf = NULL;
    size_t len = 0;
    char err[512];
    make_task(fx, i, &t);
    strata_err_t e = strata_task_encode(&t, &buf, &len, err, sizeof(err));
    if (e != STRATA_OK)
      fail_msg("strata_task_encode(%s): %s: %s", t.id, strata_err_name(e), err);
    rd_kafka_resp_err_t perr = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(fx->topic), RD_KAFKA_V_KEY(t.id, strlen(t.id)),
        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    strata_task_clear(&t);
    free(buf);
    if (perr)
      fail_msg("produce task %d: %s", i, rd_kafka_err2str(perr));
  }
}

static void run_transactions(const fixture_t *fx) {
  dr_state_t dr = {0};
  rd_kafka_conf_t *conf = base_conf(fx);
  conf_set(conf, "transactional.id", fx->txn_id);
  conf_set(conf, "transaction.timeout.ms", "60000");
  conf_set(conf, "message.timeout.ms", "30000");
  conf_set(conf, "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  rd_kafka_conf_set_opaque(conf, &dr);
  rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);

  check_txn(rd_kafka_init_transactions(rk, OP_TIMEOUT_MS), "init_transactions");

  /* A: committed. commit_transaction flushes before committing. */
  check_txn(rd_kafka_begin_transaction(rk), "begin_transaction A");
  produce_tasks(fx, rk, 0, N_A);
  check_txn(rd_kafka_commit_transaction(rk, OP_TIMEOUT_MS),
            "commit_transaction A");
  assert_int_equal(dr.failed, 0);
  assert_int_equal(dr.delivered, N_A);

  /* B: every record acknowledged by the broker (so it is in the log), then
   * the transaction is aborted. */
  check_txn(rd_kafka_begin_transaction(rk), "begin_transaction B");
  produce_tasks(fx, rk, N_A, N_A + N_B);
  rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, OP_TIMEOUT_MS);
  if (ferr)
    fail_msg("flush of transaction B: %s", rd_kafka_err2str(ferr));
  if (dr.failed)
    fail_msg("transaction B: %d deliveries failed, first: %s", dr.failed,
             rd_kafka_err2str(dr.first_err));
  assert_int_equal(dr.delivered, N_A + N_B);
  check_txn(rd_kafka_abort_transaction(rk, OP_TIMEOUT_MS),
            "abort_transaction B");

  /* C: committed after the aborted one, so a read_committed reader has to
   * skip B in the middle of the log, not just stop before it. */
  check_txn(rd_kafka_begin_transaction(rk), "begin_transaction C");
  produce_tasks(fx, rk, N_A + N_B, N_ALL);
  check_txn(rd_kafka_commit_transaction(rk, OP_TIMEOUT_MS),
            "commit_transaction C");
  assert_int_equal(dr.failed, 0);
  assert_int_equal(dr.delivered, N_ALL);

  rd_kafka_destroy(rk);
}

/* ---- Consumers ------------------------------------------------------ */

typedef struct consumed {
  int seen[N_ALL];            /* times each task index was read */
  int unknown;                /* records whose key is not one of ours */
  int total;                  /* records read */
  int64_t high[N_PARTITIONS]; /* high watermarks (read_uncommitted) */
} consumed_t;

static int index_of_key(const fixture_t *fx, const void *key, size_t len) {
  char id[128];
  for (int i = 0; i < N_ALL; i++) {
    task_id(fx, i, id, sizeof(id));
    if (strlen(id) == len && memcmp(id, key, len) == 0)
      return i;
  }
  return -1;
}

static void check_record(const fixture_t *fx, const rd_kafka_message_t *m,
                         consumed_t *c) {
  int i = index_of_key(fx, m->key, m->key_len);
  c->total++;
  if (i < 0) {
    c->unknown++;
    return;
  }
  c->seen[i]++;
  strata_task_t want, got;
  char err[512];
  make_task(fx, i, &want);
  strata_task_init(&got);
  strata_err_t e =
      strata_task_decode(m->payload, m->len, &got, err, sizeof(err));
  if (e != STRATA_OK)
    fail_msg("strata_task_decode(partition %" PRId32 " offset %" PRId64
             "): %s: %s",
             m->partition, m->offset, strata_err_name(e), err);
  assert_task_equal(&want, &got);
  strata_task_clear(&want);
  strata_task_clear(&got);
}

/* Queries each partition's high watermark: the end of the log, including the
 * aborted records and the transaction markers. */
static void query_high_watermarks(const fixture_t *fx, rd_kafka_t *rk,
                                  int64_t *high) {
  for (int p = 0; p < N_PARTITIONS; p++) {
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, fx->topic, p, &lo, &hi, OP_TIMEOUT_MS);
    if (err)
      fail_msg("query_watermark_offsets(%s [%d]): %s", fx->topic, p,
               rd_kafka_err2str(err));
    high[p] = hi;
  }
}

/*
 * Reads every partition from the beginning with the given isolation level
 * until each partition reported end-of-partition at an offset at or past
 * `end[p]` (so everything before it was delivered), with a deadline.
 */
static void consume_all(const fixture_t *fx, const char *isolation,
                        const int64_t *end, consumed_t *c) {
  char group[160];
  snprintf(group, sizeof(group), "%s-%s", fx->txn_id, isolation);
  rd_kafka_conf_t *conf = base_conf(fx);
  conf_set(conf, "group.id", group);
  conf_set(conf, "isolation.level", isolation);
  conf_set(conf, "enable.auto.commit", "false");
  conf_set(conf, "enable.auto.offset.store", "false");
  conf_set(conf, "enable.partition.eof", "true");
  conf_set(conf, "auto.offset.reset", "earliest");
  rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);

  rd_kafka_topic_partition_list_t *parts =
      rd_kafka_topic_partition_list_new(N_PARTITIONS);
  for (int p = 0; p < N_PARTITIONS; p++)
    rd_kafka_topic_partition_list_add(parts, fx->topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (aerr)
    fail_msg("assign: %s", rd_kafka_err2str(aerr));

  bool at_end[N_PARTITIONS] = {false};
  int ends = 0;
  int64_t deadline = mono_ms() + CONSUME_TIMEOUT_MS;
  while (ends < N_PARTITIONS && mono_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      /* m->offset is the offset the consumer reached: the end of the log
       * for read_uncommitted, the last stable offset for read_committed. */
      int p = m->partition;
      if (p >= 0 && p < N_PARTITIONS && !at_end[p] && m->offset >= end[p]) {
        at_end[p] = true;
        ends++;
      }
    } else if (m->err) {
      char msg[512];
      snprintf(msg, sizeof(msg), "%s consumer: %s", isolation,
               rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      rd_kafka_destroy(rk);
      fail_msg("%s", msg);
    } else {
      check_record(fx, m, c);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (ends < N_PARTITIONS)
    fail_msg("%s consumer: only %d of %d partitions reached their end "
             "within %d ms (read %d records)",
             isolation, ends, N_PARTITIONS, CONSUME_TIMEOUT_MS, c->total);
}

/* ---- The test ------------------------------------------------------- */

static void test_committed_tasks_visible_aborted_invisible(void **state) {
  fixture_t *fx = *state;

  /* Created here, not in setup: a failure in setup skips the teardown. */
  create_topic(fx);
  run_transactions(fx);

  /* The log holds all three transactions plus their commit/abort markers. */
  consumed_t uncommitted;
  memset(&uncommitted, 0, sizeof(uncommitted));
  query_high_watermarks(fx, fx->admin, uncommitted.high);
  int64_t log_end = 0;
  for (int p = 0; p < N_PARTITIONS; p++)
    log_end += uncommitted.high[p];
  assert_true(log_end >= N_ALL + 3); /* >= one marker per transaction */

  /* read_uncommitted: the aborted records are really in the log. */
  consume_all(fx, "read_uncommitted", uncommitted.high, &uncommitted);
  assert_int_equal(uncommitted.unknown, 0);
  for (int i = 0; i < N_ALL; i++)
    if (uncommitted.seen[i] != 1)
      fail_msg("read_uncommitted: task %d read %d times, want 1", i,
               uncommitted.seen[i]);
  assert_int_equal(uncommitted.total, N_ALL);

  /* read_committed: exactly the committed tasks, each once, decoded equal to
   * what was sent; none of the aborted ones. With every transaction ended
   * the last stable offset equals the high watermark, so the reader must
   * reach the same end. */
  consumed_t committed;
  memset(&committed, 0, sizeof(committed));
  consume_all(fx, "read_committed", uncommitted.high, &committed);
  assert_int_equal(committed.unknown, 0);
  for (int i = 0; i < N_ALL; i++) {
    int want = IS_ABORTED(i) ? 0 : 1;
    if (committed.seen[i] != want)
      fail_msg("read_committed: %s task %d read %d times, want %d",
               IS_ABORTED(i) ? "aborted" : "committed", i, committed.seen[i],
               want);
  }
  assert_int_equal(committed.total, N_A + N_C);
}

static int setup(void **state) {
  const char *bootstrap = getenv("STRATA_TEST_BOOTSTRAP");
  if (!bootstrap || !*bootstrap) {
    fprintf(stderr,
            "FAIL: STRATA_TEST_BOOTSTRAP is not set. The kafka-labelled tests "
            "need a real Apache Kafka broker:\n"
            "  export STRATA_TEST_BOOTSTRAP=$(deploy/kafka-local/kafka-local "
            "start | tail -n1)\n");
    return -1;
  }
  fixture_t *fx = calloc(1, sizeof(*fx));
  if (!fx)
    return -1;
  fx->bootstrap = bootstrap;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(fx->run_id, sizeof(fx->run_id), "%ld-%lld-%ld", (long)getpid(),
           (long long)ts.tv_sec, (long)(ts.tv_nsec / 1000));
  snprintf(fx->topic, sizeof(fx->topic), "strata-test-txn-%s", fx->run_id);
  snprintf(fx->txn_id, sizeof(fx->txn_id), "strata-test-txn-%s", fx->run_id);
  fx->admin = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf(fx), NULL, 0);
  if (!fx->admin) {
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  if (!fx)
    return 0;
  if (fx->topic_created)
    delete_topic(fx);
  rd_kafka_destroy(fx->admin);
  free(fx);
  *state = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_committed_tasks_visible_aborted_invisible, setup, teardown),
  };
  return cmocka_run_group_tests_name("kafka_transactional_roundtrip", tests,
                                     NULL, NULL);
}
