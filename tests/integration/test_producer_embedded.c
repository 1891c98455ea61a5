/*
 * The client library against the embedded broker (librdkafka's mock cluster):
 * submissions land on their tier topic, keyed by routing key, decodable and
 * equal to what was sent; every delivery callback runs once; invalid tasks
 * are refused before anything is sent, with the field named; a batch with one
 * invalid task sends nothing; cancel writes a Control record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/producer.h"
#include "strata/time.h"

typedef struct {
  strata_config_t *cfg;
  strata_mock_t *mock;
  strata_producer_t *p;
} fixture_t;

typedef struct {
  int ok, failed;
} tally_t;

static void on_delivered(const char *id, strata_err_t err, const char *errstr,
                         void *opaque) {
  tally_t *t = opaque;
  (void)id;
  (void)errstr;
  if (err)
    t->failed++;
  else
    t->ok++;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  char err[512];
  f->cfg = strata_config_new();
  strata_config_set(f->cfg, "log.level", "error", err, sizeof(err));
  if (strata_kafka_resolve_bootstrap(f->cfg, &f->mock, err, sizeof(err)) ||
      !(f->p = strata_producer_new(f->cfg, err, sizeof(err)))) {
    fprintf(stderr, "setup: %s\n", err);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  strata_producer_destroy(f->p);
  strata_mock_destroy(f->mock);
  strata_config_destroy(f->cfg);
  free(f);
  return 0;
}

/* Reads every record of `topic` (all partitions) until each partition hits
 * its end or `deadline_us` passes. Returns the count; decodes Tasks into
 * out[] when out is non-NULL. */
static int read_topic(fixture_t *f, const char *topic, strata_task_t *out,
                      int max, char keys[][64], int *partitions) {
  static const char *const defaults[] = {"group.id", "itest",
                                         "enable.partition.eof", "true", NULL};
  char err[512];
  rd_kafka_conf_t *conf =
      strata_kafka_conf_new(f->cfg, "itest", defaults, err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
  strata_mono_us_t deadline = strata_mono_now_us() + 20 * 1000000;
  int n = 0, eofs = 0;

  assert_non_null(rk);
  for (int p = 0; p < 4; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  while (eofs < 4 && strata_mono_now_us() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      eofs++;
    } else if (!m->err && n < max) {
      if (out) {
        strata_task_init(&out[n]);
        assert_int_equal(
            strata_task_decode(m->payload, m->len, &out[n], err, sizeof(err)),
            STRATA_OK);
      }
      if (keys)
        snprintf(keys[n], 64, "%.*s", (int)m->key_len, (const char *)m->key);
      if (partitions)
        partitions[n] = (int)m->partition;
      n++;
    }
    rd_kafka_message_destroy(m);
  }
  assert_int_equal(eofs, 4);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return n;
}

static void test_submitted_tasks_land_on_their_tier_topic_intact(void **state) {
  fixture_t *f = *state;
  strata_task_t t, back[4];
  tally_t tally = {0, 0};
  char err[512], keys[4][64];
  int n;

  strata_task_init(&t);
  t.tier = strdup("critical");
  t.type = strdup("llm.summarize");
  t.idempotency_key = strdup("idem-1");
  t.has_deadline_ms = true;
  t.deadline_ms = strata_epoch_now_ms() + 60000;
  t.deadline_hard = true;
  strata_task_add_demand(&t, "llm.tpm", 1800);
  strata_task_add_header(&t, "source", "itest");
  t.payload = (uint8_t *)strdup("payload");
  t.payload_len = 7;
  assert_int_equal(
      strata_producer_submit(f->p, &t, on_delivered, &tally, err, sizeof(err)),
      STRATA_OK);
  /* The library filled the id and the times in place. */
  assert_non_null(t.id);
  assert_int_equal(strlen(t.id), 36);
  assert_true(t.created_ms > 0 && t.enqueued_ms >= t.created_ms);
  assert_int_equal(t.attempt, 1);
  assert_int_equal(strata_producer_flush(f->p, 10000), STRATA_OK);
  assert_int_equal(tally.ok, 1);
  assert_int_equal(tally.failed, 0);

  n = read_topic(f, "strata.tasks.critical", back, 4, keys, NULL);
  assert_int_equal(n, 1);
  assert_string_equal(back[0].id, t.id);
  assert_string_equal(keys[0], "idem-1"); /* routing key */
  assert_string_equal(back[0].type, "llm.summarize");
  assert_true(back[0].deadline_hard);
  assert_int_equal(back[0].deadline_ms, t.deadline_ms);
  assert_int_equal(back[0].demands_count, 1);
  assert_string_equal(back[0].demands[0].key, "llm.tpm");
  assert_int_equal(back[0].demands[0].value, 1800);
  assert_memory_equal(back[0].payload, "payload", 7);
  strata_task_clear(&back[0]);
  strata_task_clear(&t);
}

/* The embedded cluster creates topics with 4 partitions; a producer
 * configured with topic.partitions=2 writes only to partitions 0 and 1,
 * each task on its key's murmur2 hash over 2, since the scheduler reads
 * only the configured partitions. */
static void test_tasks_go_to_the_configured_partitions_only(void **state) {
  fixture_t *f = *state;
  strata_config_t *cfg = strata_config_new();
  strata_producer_t *p;
  tally_t tally = {0, 0};
  char err[512], keys[40][64];
  int parts[40], n;

  assert_int_equal(
      strata_config_set(cfg, "bootstrap.servers",
                        strata_config_get_str(f->cfg, "bootstrap.servers"), err,
                        sizeof(err)),
      STRATA_OK);
  strata_config_set(cfg, "topic.partitions", "2", err, sizeof(err));
  assert_non_null(p = strata_producer_new(cfg, err, sizeof(err)));
  for (int i = 0; i < 40; i++) {
    strata_task_t t;
    char id[32];
    strata_task_init(&t);
    snprintf(id, sizeof(id), "part-%d", i);
    t.id = strdup(id);
    t.tier = strdup("background");
    assert_int_equal(
        strata_producer_submit(p, &t, on_delivered, &tally, err, sizeof(err)),
        STRATA_OK);
    strata_task_clear(&t);
  }
  assert_int_equal(strata_producer_flush(p, 10000), STRATA_OK);
  assert_int_equal(tally.ok, 40);
  n = read_topic(f, "strata.tasks.background", NULL, 40, keys, parts);
  assert_int_equal(n, 40);
  for (int i = 0; i < n; i++)
    assert_int_equal(parts[i], rd_kafka_msg_partitioner_murmur2(NULL, keys[i],
                                                                strlen(keys[i]),
                                                                2, NULL, NULL));
  strata_producer_destroy(p);
  strata_config_destroy(cfg);
}

static void test_invalid_tasks_are_refused_naming_the_field(void **state) {
  fixture_t *f = *state;
  strata_task_t t;
  tally_t tally = {0, 0};
  char err[512];

  strata_task_init(&t);
  t.tier = strdup("urgent");
  assert_int_equal(
      strata_producer_submit(f->p, &t, on_delivered, &tally, err, sizeof(err)),
      STRATA_ERR_INVALID_TASK);
  assert_non_null(strstr(err, "Task.tier: \"urgent\""));
  assert_non_null(strstr(err, "critical, high, normal, low, background"));

  free(t.tier);
  t.tier = strdup("normal");
  t.has_deadline_ms = true;
  t.deadline_ms = strata_epoch_now_ms() - 5000;
  assert_int_equal(
      strata_producer_submit(f->p, &t, on_delivered, &tally, err, sizeof(err)),
      STRATA_ERR_INVALID_TASK);
  assert_non_null(strstr(err, "Task.deadline_ms"));
  assert_non_null(strstr(err, "in the past"));

  t.has_deadline_ms = false;
  t.has_estimate_ms = true;
  t.estimate_ms = -1;
  assert_int_equal(
      strata_producer_submit(f->p, &t, on_delivered, &tally, err, sizeof(err)),
      STRATA_ERR_INVALID_TASK);
  assert_non_null(strstr(err, "estimate_ms"));
  assert_int_equal(strata_producer_flush(f->p, 5000), STRATA_OK);
  assert_int_equal(tally.ok + tally.failed, 0); /* nothing was sent */
  strata_task_clear(&t);
}

static void test_batch_with_one_invalid_task_sends_none(void **state) {
  fixture_t *f = *state;
  strata_task_t tasks[3];
  tally_t tally = {0, 0};
  size_t queued = 99;
  char err[512];

  for (int i = 0; i < 3; i++) {
    strata_task_init(&tasks[i]);
    tasks[i].tier = strdup("low");
  }
  tasks[2].retry.max_attempts = 0;
  assert_int_equal(strata_producer_submit_batch(f->p, tasks, 3, on_delivered,
                                                &tally, &queued, err,
                                                sizeof(err)),
                   STRATA_ERR_INVALID_TASK);
  assert_int_equal(queued, 0);
  assert_non_null(strstr(err, "task 2: "));
  assert_non_null(strstr(err, "max_attempts"));

  tasks[2].retry.max_attempts = 3;
  assert_int_equal(strata_producer_submit_batch(f->p, tasks, 3, on_delivered,
                                                &tally, &queued, err,
                                                sizeof(err)),
                   STRATA_OK);
  assert_int_equal(queued, 3);
  assert_int_equal(strata_producer_flush(f->p, 10000), STRATA_OK);
  assert_int_equal(tally.ok, 3);
  assert_int_equal(read_topic(f, "strata.tasks.low", NULL, 16, NULL, NULL), 3);
  for (int i = 0; i < 3; i++)
    strata_task_clear(&tasks[i]);
}

static void test_cancel_writes_a_control_record(void **state) {
  fixture_t *f = *state;
  tally_t tally = {0, 0};
  char err[512];

  assert_int_equal(strata_producer_cancel(f->p, "task-42", "no longer needed",
                                          on_delivered, &tally, err,
                                          sizeof(err)),
                   STRATA_OK);
  assert_int_equal(strata_producer_cancel(f->p, "", NULL, on_delivered, &tally,
                                          err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_int_equal(strata_producer_flush(f->p, 10000), STRATA_OK);
  assert_int_equal(tally.ok, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_submitted_tasks_land_on_their_tier_topic_intact),
      cmocka_unit_test(test_tasks_go_to_the_configured_partitions_only),
      cmocka_unit_test(test_invalid_tasks_are_refused_naming_the_field),
      cmocka_unit_test(test_batch_with_one_invalid_task_sends_none),
      cmocka_unit_test(test_cancel_writes_a_control_record),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
