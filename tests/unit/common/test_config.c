/*
 * The configuration table: defaults, validation messages that name key,
 * value and what is allowed, properties files, kafka.* pass-through, and the
 * topic layout derived from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/config.h"
#include "strata/kafka.h"

static void test_config_defaults_come_from_the_key_table(void **state) {
  strata_config_t *cfg = strata_config_new();
  (void)state;
  assert_non_null(cfg);
  assert_string_equal(strata_config_get_str(cfg, "topic.prefix"), "strata.");
  assert_int_equal(strata_config_get_int(cfg, "topic.partitions"), 4);
  assert_int_equal(strata_config_get_int(cfg, "idempotency.window"),
                   24 * 3600 * 1000);
  assert_string_equal(strata_config_get_str(cfg, "bootstrap.servers"), "");
  strata_config_destroy(cfg);
}

static void
test_config_rejects_out_of_range_int_naming_key_and_range(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256];
  (void)state;
  assert_int_equal(
      strata_config_set(cfg, "topic.partitions", "0", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "topic.partitions"));
  assert_non_null(strstr(err, "\"0\""));
  assert_non_null(strstr(err, "1..4096"));
  /* The old value stays. */
  assert_int_equal(strata_config_get_int(cfg, "topic.partitions"), 4);
  assert_int_equal(
      strata_config_set(cfg, "topic.partitions", "12x", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "not an integer"));
  strata_config_destroy(cfg);
}

static void test_config_rejects_unknown_key(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256];
  (void)state;
  assert_int_equal(
      strata_config_set(cfg, "topic.partitons", "3", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "topic.partitons: unknown configuration key"));
  strata_config_destroy(cfg);
}

static void test_config_parses_durations_with_units(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256];
  int64_t ms;
  (void)state;
  assert_true(strata_parse_duration_ms("250ms", &ms) && ms == 250);
  assert_true(strata_parse_duration_ms("2s", &ms) && ms == 2000);
  assert_true(strata_parse_duration_ms("5m", &ms) && ms == 300000);
  assert_true(strata_parse_duration_ms("1h", &ms) && ms == 3600000);
  /* A unit is required, except for zero. */
  assert_false(strata_parse_duration_ms("7", &ms));
  assert_true(strata_parse_duration_ms("0", &ms) && ms == 0);
  assert_false(strata_parse_duration_ms("-1s", &ms));
  assert_false(strata_parse_duration_ms("1y", &ms));
  assert_false(strata_parse_duration_ms("", &ms));
  assert_int_equal(
      strata_config_set(cfg, "scheduler.tick", "5s", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "out of range"));
  assert_int_equal(
      strata_config_set(cfg, "scheduler.tick", "20ms", err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(strata_config_get_int(cfg, "scheduler.tick"), 20);
  strata_config_destroy(cfg);
}

static void test_config_file_that_cannot_be_read_is_an_error(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256];
  (void)state;
  assert_int_equal(strata_config_load_file(cfg, "/", err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "/: cannot read"));
  assert_int_equal(
      strata_config_load_file(cfg, "/nonexistent/x", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "cannot open"));
  strata_config_destroy(cfg);
}

static void test_config_booleans_are_strict(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256];
  (void)state;
  assert_int_equal(
      strata_config_set(cfg, "scheduler.preemption", "false", err, sizeof(err)),
      STRATA_OK);
  assert_false(strata_config_get_bool(cfg, "scheduler.preemption"));
  assert_int_equal(
      strata_config_set(cfg, "scheduler.preemption", "true", err, sizeof(err)),
      STRATA_OK);
  assert_true(strata_config_get_bool(cfg, "scheduler.preemption"));
  const char *bad[] = {"yes", "TRUE", "1", "on", "False", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(strata_config_set(cfg, "scheduler.preemption", bad[i], err,
                                       sizeof(err)),
                     STRATA_ERR_CONFIG);
    assert_non_null(strstr(err, "scheduler.preemption"));
    assert_non_null(strstr(err, "allowed: true|false"));
  }
  strata_config_destroy(cfg);
}

static void
test_config_refuses_kafka_settings_that_break_guarantees(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[512];
  (void)state;
  static const struct {
    const char *prop, *value, *names;
  } refused[] = {
      {"kafka.isolation.level", "read_uncommitted", "only read_committed"},
      {"kafka.transactional.id", "shared", "scheduler.instance.id"},
      {"kafka.enable.idempotence", "false", "only true"},
      {"kafka.acks", "1", "only all"},
      {"kafka.acks", "banana", "\"banana\" is refused"},
      {"kafka.enable.auto.commit", "true", "only false"},
      {"kafka.group.id", "g", "scheduler.group.id"},
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    assert_int_equal(strata_config_set(cfg, refused[i].prop, refused[i].value,
                                       err, sizeof(err)),
                     STRATA_ERR_CONFIG);
    assert_non_null(strstr(err, refused[i].prop));
    if (!strstr(err, refused[i].names))
      fail_msg("%s=%s: \"%s\" lacks \"%s\"", refused[i].prop, refused[i].value,
               err, refused[i].names);
  }
  /* The values Strata itself uses pass, and other properties too. */
  assert_int_equal(strata_config_set(cfg, "kafka.isolation.level",
                                     "read_committed", err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(
      strata_config_set(cfg, "kafka.acks", "all", err, sizeof(err)), STRATA_OK);
  assert_int_equal(
      strata_config_set(cfg, "kafka.linger.ms", "3", err, sizeof(err)),
      STRATA_OK);
  strata_config_destroy(cfg);
}

static void test_config_enum_and_list_validation(void **state) {
  strata_config_t *cfg = strata_config_new();
  char err[256], *items[8];
  int n;
  (void)state;
  assert_int_equal(
      strata_config_set(cfg, "log.level", "loud", err, sizeof(err)),
      STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "error|warn|info|debug"));
  assert_int_equal(strata_config_set(cfg, "tiers", "a,,b", err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "empty item"));
  assert_int_equal(
      strata_config_set(cfg, "tiers", "fast,slow", err, sizeof(err)),
      STRATA_OK);
  n = strata_config_get_list(cfg, "tiers", items, 8);
  assert_int_equal(n, 2);
  assert_string_equal(items[0], "fast");
  assert_string_equal(items[1], "slow");
  free(items[0]);
  free(items[1]);
  assert_int_equal(strata_config_get_list(cfg, "tiers", items, 1), -1);
  strata_config_destroy(cfg);
}

typedef struct {
  int n;
  char seen[4][128];
} kafka_seen_t;

static void collect(const char *prop, const char *value, void *opaque) {
  kafka_seen_t *s = opaque;
  snprintf(s->seen[s->n++], sizeof(s->seen[0]), "%s=%s", prop, value);
}

static void test_config_file_and_overrides_and_kafka_passthrough(void **state) {
  char path[] = "/tmp/strata-test-config-XXXXXX";
  strata_config_t *cfg = strata_config_new();
  kafka_seen_t seen = {0};
  char err[256];
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  (void)state;
  fputs("# comment\n\ntopic.prefix = acme.\nkafka.linger.ms=5\n"
        "kafka.acks=all\nkafka.linger.ms=7\n",
        f);
  fclose(f);
  assert_int_equal(strata_config_load_file(cfg, path, err, sizeof(err)),
                   STRATA_OK);
  assert_string_equal(strata_config_get_str(cfg, "topic.prefix"), "acme.");
  assert_int_equal(
      strata_config_set_kv(cfg, "topic.prefix=beta.", err, sizeof(err)),
      STRATA_OK);
  assert_string_equal(strata_config_get_str(cfg, "topic.prefix"), "beta.");
  strata_config_foreach_kafka(cfg, collect, &seen);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.seen[0], "linger.ms=7");
  assert_string_equal(seen.seen[1], "acks=all");

  /* A bad line names the file and the line. */
  f = fopen(path, "w");
  fputs("topic.prefix=x.\ntopic.partitions=zero\n", f);
  fclose(f);
  assert_int_equal(strata_config_load_file(cfg, path, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, ":2: topic.partitions"));
  unlink(path);
  assert_int_equal(strata_config_load_file(cfg, path, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "cannot open"));
  strata_config_destroy(cfg);
}

static void
test_kafka_conf_names_the_rejected_librdkafka_property(void **state) {
  strata_config_t *cfg = strata_config_new();
  rd_kafka_conf_t *conf;
  char err[256];
  (void)state;
  assert_int_equal(
      strata_config_set(cfg, "kafka.no.such.property", "1", err, sizeof(err)),
      STRATA_OK);
  conf = strata_kafka_conf_new(cfg, "test", NULL, err, sizeof(err));
  assert_null(conf);
  assert_non_null(strstr(err, "kafka.no.such.property"));
  strata_config_destroy(cfg);
}

static void
test_layout_co_partitions_tiers_delays_dispatch_and_events(void **state) {
  strata_config_t *cfg = strata_config_new();
  strata_layout_t l;
  char err[256];
  (void)state;
  strata_config_set(cfg, "topic.partitions", "6", err, sizeof(err));
  strata_config_set(cfg, "tiers", "hi,lo", err, sizeof(err));
  strata_config_set(cfg, "delay.steps", "1s,30s", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)), STRATA_OK);
  assert_int_equal(l.count, 2 + 2 + 4);
  assert_string_equal(l.topics[0].name, "strata.tasks.hi");
  assert_string_equal(l.topics[0].tier, "hi");
  assert_string_equal(l.topics[2].name, "strata.delay.1s");
  assert_int_equal(l.topics[3].delay_ms, 30000);
  for (int i = 0; i < l.count; i++) {
    if (l.topics[i].role == STRATA_TOPIC_CONTROL)
      assert_int_equal(l.topics[i].partitions, 1);
    else
      assert_int_equal(l.topics[i].partitions, 6);
  }
  strata_layout_clear(&l);
  strata_config_destroy(cfg);
}

static void
test_layout_rejects_descending_steps_and_bad_tier_names(void **state) {
  strata_config_t *cfg = strata_config_new();
  strata_layout_t l;
  char err[256];
  (void)state;
  strata_config_set(cfg, "delay.steps", "5s,1s", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "delay.steps: \"1s\""));
  strata_config_set(cfg, "delay.steps", "1s", err, sizeof(err));
  strata_config_set(cfg, "tiers", "ok,bad/name", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "\"bad/name\""));
  strata_config_set(cfg, "tiers", "a,a", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "appears twice"));
  strata_config_destroy(cfg);
}

static void test_layout_has_one_dispatch_topic_per_queue(void **state) {
  strata_config_t *cfg = strata_config_new();
  strata_layout_t l;
  char err[256];
  (void)state;
  /* The default queue keeps <prefix>dispatch wherever it is listed. */
  strata_config_set(cfg, "queues", "gpu,default,py.cpu", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)), STRATA_OK);
  assert_string_equal(strata_layout_dispatch_topic(&l, NULL)->name,
                      "strata.dispatch");
  assert_string_equal(strata_layout_dispatch_topic(&l, "default")->name,
                      "strata.dispatch");
  assert_string_equal(strata_layout_dispatch_topic(&l, "gpu")->name,
                      "strata.dispatch.gpu");
  assert_string_equal(strata_layout_dispatch_topic(&l, "py.cpu")->queue,
                      "py.cpu");
  assert_null(strata_layout_dispatch_topic(&l, "nope"));
  int n = 0;
  for (int i = 0; i < l.count; i++)
    if (l.topics[i].role == STRATA_TOPIC_DISPATCH) {
      /* default first, then the others in the order given */
      assert_string_equal(l.topics[i].queue, n == 0   ? "default"
                                             : n == 1 ? "gpu"
                                                      : "py.cpu");
      assert_int_equal(l.topics[i].partitions, 4);
      n++;
    }
  assert_int_equal(n, 3);
  strata_layout_clear(&l);

  strata_config_set(cfg, "queues", "gpu,bad/q", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "queues: \"bad/q\""));
  strata_config_set(cfg, "queues", "gpu,gpu", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "\"gpu\" appears twice"));
  {
    /* 100 + "dispatch." + 180: over Kafka's 249 characters. */
    char prefix[101], queue[181];
    memset(prefix, 'p', 100);
    prefix[100] = '\0';
    memset(queue, 'q', 180);
    queue[180] = '\0';
    strata_config_set(cfg, "topic.prefix", prefix, err, sizeof(err));
    strata_config_set(cfg, "queues", queue, err, sizeof(err));
    assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                     STRATA_ERR_CONFIG);
    assert_non_null(strstr(err, "is 289 characters; Kafka allows 249"));
    strata_config_set(cfg, "topic.prefix", "strata.", err, sizeof(err));
  }
  strata_config_set(cfg, "queues",
                    "default,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11,q12,q13,q14,"
                    "q15,q16",
                    err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)),
                   STRATA_ERR_CONFIG);
  assert_non_null(strstr(err, "more than 15 queues"));
  strata_config_destroy(cfg);
}

static void
test_delay_step_is_the_longest_step_not_longer_than_the_wait(void **state) {
  strata_config_t *cfg = strata_config_new();
  strata_layout_t l;
  char err[256];
  (void)state;
  strata_config_set(cfg, "delay.steps", "1s,5s,30s", err, sizeof(err));
  assert_int_equal(strata_layout_build(cfg, &l, err, sizeof(err)), STRATA_OK);
  assert_null(strata_layout_delay_step(&l, 999));
  assert_string_equal(strata_layout_delay_step(&l, 1000)->name,
                      "strata.delay.1s");
  assert_string_equal(strata_layout_delay_step(&l, 29999)->name,
                      "strata.delay.5s");
  assert_string_equal(strata_layout_delay_step(&l, 3600000)->name,
                      "strata.delay.30s");
  assert_string_equal(strata_layout_tier_topic(&l, "low")->name,
                      "strata.tasks.low");
  assert_null(strata_layout_tier_topic(&l, "nope"));
  strata_layout_clear(&l);
  strata_config_destroy(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults_come_from_the_key_table),
      cmocka_unit_test(
          test_config_rejects_out_of_range_int_naming_key_and_range),
      cmocka_unit_test(test_config_rejects_unknown_key),
      cmocka_unit_test(test_config_parses_durations_with_units),
      cmocka_unit_test(test_config_file_that_cannot_be_read_is_an_error),
      cmocka_unit_test(test_config_booleans_are_strict),
      cmocka_unit_test(
          test_config_refuses_kafka_settings_that_break_guarantees),
      cmocka_unit_test(test_config_enum_and_list_validation),
      cmocka_unit_test(test_config_file_and_overrides_and_kafka_passthrough),
      cmocka_unit_test(test_kafka_conf_names_the_rejected_librdkafka_property),
      cmocka_unit_test(
          test_layout_co_partitions_tiers_delays_dispatch_and_events),
      cmocka_unit_test(test_layout_rejects_descending_steps_and_bad_tier_names),
      cmocka_unit_test(test_layout_has_one_dispatch_topic_per_queue),
      cmocka_unit_test(
          test_delay_step_is_the_longest_step_not_longer_than_the_wait),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
