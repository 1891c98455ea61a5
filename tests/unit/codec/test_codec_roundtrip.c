/*
 * Round trips through the binary and JSON forms for every record kind, deep
 * copy, peek, and a cross-check of the encoder's bytes with avro-c's own
 * reader (an independent Avro implementation in C).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cmocka.h>

#include "kinds.h"

static void roundtrip(const kind_ops_t *k, void (*fill)(void *)) {
  char err[512] = "";
  void *a = malloc(k->size), *b = malloc(k->size);
  fill(a);
  k->init(b);
  void *buf = NULL;
  size_t len = 0;
  assert_int_equal(k->encode(a, &buf, &len, err, sizeof(err)), STRATA_OK);
  assert_true(len > STRATA_CODEC_HEADER_LEN);
  assert_int_equal(k->decode(buf, len, b, err, sizeof(err)), STRATA_OK);
  assert_true(same_json(k->to_json(a), k->to_json(b)));
  /* Re-encoding what was decoded gives the same bytes. */
  void *buf2 = NULL;
  size_t len2 = 0;
  assert_int_equal(k->encode(b, &buf2, &len2, err, sizeof(err)), STRATA_OK);
  assert_int_equal(len, len2);
  assert_memory_equal(buf, buf2, len);
  free(buf);
  free(buf2);
  k->clear(a);
  k->clear(b);
  free(a);
  free(b);
}

static void test_every_kind_round_trips_with_all_fields_set(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++)
    roundtrip(&kind_ops[i], kind_ops[i].full);
}

static void test_every_kind_round_trips_with_only_required_fields(void **s) {
  (void)s;
  for (int i = 0; i < 4; i++)
    roundtrip(&kind_ops[i], kind_ops[i].minimal);
}

static void test_decode_into_a_used_struct_replaces_its_contents(void **s) {
  (void)s;
  char err[256];
  strata_task_t full, min, out;
  fixture_task_full(&full);
  fixture_task_minimal(&min);
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&min, &buf, &len, err, sizeof(err)), 0);
  strata_task_init(&out);
  assert_int_equal(strata_task_copy(&out, &full, err, sizeof(err)), 0);
  assert_int_equal(strata_task_decode(buf, len, &out, err, sizeof(err)), 0);
  assert_true(same_json(strata_task_to_json(&min), strata_task_to_json(&out)));
  free(buf);
  strata_task_clear(&full);
  strata_task_clear(&min);
  strata_task_clear(&out);
}

static void test_unset_type_is_written_as_default(void **s) {
  (void)s;
  char err[256];
  strata_task_t t, out;
  fixture_task_minimal(&t);
  strata_task_init(&out);
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)), 0);
  assert_int_equal(strata_task_decode(buf, len, &out, err, sizeof(err)), 0);
  assert_string_equal(out.type, "default");
  assert_int_equal(out.retry.max_attempts, 3);
  assert_int_equal(out.retry.backoff, STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER);
  assert_int_equal(out.attempt, 1);
  assert_false(out.has_checkpoint);
  free(buf);
  strata_task_clear(&t);
  strata_task_clear(&out);
}

static void test_copy_is_deep_and_equal(void **s) {
  (void)s;
  char err[256];
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    void *a = malloc(k->size), *b = malloc(k->size);
    k->full(a);
    k->init(b);
    assert_int_equal(k->copy(b, a, err, sizeof(err)), STRATA_OK);
    json_t *ja = k->to_json(a);
    k->clear(a); /* the copy must not share anything with the original */
    assert_true(same_json(ja, k->to_json(b)));
    k->clear(b);
    free(a);
    free(b);
  }
}

static void test_json_round_trip_of_every_kind(void **s) {
  (void)s;
  char err[256];
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    void *a = malloc(k->size), *b = malloc(k->size);
    k->full(a);
    k->init(b);
    json_t *j = k->to_json(a);
    char *text = json_dumps(j, 0);
    json_t *back = json_loads(text, 0, NULL);
    assert_int_equal(k->from_json(back, b, err, sizeof(err)), STRATA_OK);
    assert_true(same_json(j, k->to_json(b)));
    json_decref(back);
    free(text);
    k->clear(a);
    k->clear(b);
    free(a);
    free(b);
  }
}

static void test_task_json_uses_base64_and_symbols(void **s) {
  (void)s;
  strata_task_t t;
  fixture_task_full(&t);
  json_t *j = strata_task_to_json(&t);
  assert_string_equal(json_string_value(json_object_get(j, "checkpoint")),
                      "c3RlcD0z");
  assert_string_equal(json_string_value(json_object_get(j, "expiry_policy")),
                      "DROP");
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(j, "demands"), "llm.tokens")),
                   1800);
  json_decref(j);
  strata_task_clear(&t);
}

static void expect_from_json_error(const char *text, const char *want) {
  char err[256] = "";
  strata_task_t t;
  strata_task_init(&t);
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  assert_int_equal(strata_task_from_json(j, &t, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
  assert_null(t.id); /* left cleared */
  json_decref(j);
}

static void test_task_from_json_names_the_bad_field(void **s) {
  (void)s;
  const char *base = "\"id\":\"a\",\"tier\":\"n\",\"created_ms\":1,"
                     "\"enqueued_ms\":2";
  char buf[512];
  snprintf(buf, sizeof(buf), "{%s,\"colour\":1}", base);
  expect_from_json_error(buf, "Task.colour: no such field");
  expect_from_json_error("{\"id\":\"a\",\"created_ms\":1,\"enqueued_ms\":2}",
                         "Task.tier: missing");
  snprintf(buf, sizeof(buf), "{%s,\"payload\":\"not base64!\"}", base);
  expect_from_json_error(buf, "Task.payload: not valid");
  snprintf(buf, sizeof(buf), "{%s,\"priority\":4294967296}", base);
  expect_from_json_error(buf, "Task.priority: 4294967296 is out of range");
  snprintf(buf, sizeof(buf), "{%s,\"retry\":{\"backoff\":\"LINEAR\"}}", base);
  expect_from_json_error(buf, "Task.retry.backoff: expected one of");
  snprintf(buf, sizeof(buf), "{%s,\"demands\":{\"gpu\":\"1\"}}", base);
  expect_from_json_error(buf, "Task.demands: expected an integer");
}

static void test_task_from_json_fills_defaults(void **s) {
  (void)s;
  char err[256];
  strata_task_t t;
  strata_task_init(&t);
  json_t *j = json_loads("{\"id\":\"a\",\"tier\":\"n\",\"created_ms\":1,"
                         "\"enqueued_ms\":2,\"retry\":{\"cap_ms\":5}}",
                         0, NULL);
  assert_int_equal(strata_task_from_json(j, &t, err, sizeof(err)), 0);
  assert_int_equal(t.retry.max_attempts, 3);
  assert_int_equal(t.retry.cap_ms, 5);
  assert_int_equal(t.attempt, 1);
  json_decref(j);
  strata_task_clear(&t);
}

static void test_peek_kind_names_each_kind_by_fingerprint(void **s) {
  (void)s;
  char err[256];
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    void *a = malloc(k->size);
    k->minimal(a);
    void *buf;
    size_t len;
    assert_int_equal(k->encode(a, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(strata_codec_peek_kind(buf, len), k->kind);
    assert_int_equal(strata_codec_peek_kind(buf, 9), STRATA_RECORD_UNKNOWN);
    ((uint8_t *)buf)[5] ^= 0xff;
    assert_int_equal(strata_codec_peek_kind(buf, len), STRATA_RECORD_UNKNOWN);
    free(buf);
    k->clear(a);
    free(a);
  }
  assert_int_equal(strata_codec_peek_kind(NULL, 0), STRATA_RECORD_UNKNOWN);
}

static void test_encode_rejects_invalid_utf8_naming_the_field(void **s) {
  (void)s;
  char err[256] = "";
  strata_task_t t;
  fixture_task_minimal(&t);
  strata_task_add_header(&t, "k", "bad \xff byte");
  void *buf = (void *)1;
  size_t len = 1;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)),
                   STRATA_ERR_ENCODE);
  assert_null(buf);
  assert_non_null(strstr(err, "Task.headers"));
  strata_task_clear(&t);
}

static void test_encode_rejects_unknown_enum_value(void **s) {
  (void)s;
  char err[256] = "";
  strata_control_t c;
  fixture_control_minimal(&c);
  c.kind = (strata_control_kind_t)99;
  void *buf;
  size_t len;
  assert_int_equal(strata_control_encode(&c, &buf, &len, err, sizeof(err)),
                   STRATA_ERR_ENCODE);
  assert_non_null(strstr(err, "Control.kind"));
  strata_control_clear(&c);
}

/* avro-c reads the body our encoder wrote, to the last byte. */
static void test_avro_c_reads_what_the_encoder_writes(void **s) {
  (void)s;
  char err[256];
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    const char *json = strata_codec_schema_json(k->kind);
    avro_schema_t schema;
    assert_int_equal(avro_schema_from_json_length(json, strlen(json), &schema),
                     0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value;
    assert_int_equal(avro_generic_value_new(iface, &value), 0);
    void *a = malloc(k->size);
    k->full(a);
    void *buf;
    size_t len;
    assert_int_equal(k->encode(a, &buf, &len, err, sizeof(err)), 0);
    avro_reader_t r =
        avro_reader_memory((const char *)buf + 10, (int64_t)(len - 10));
    if (avro_value_read(r, &value) != 0)
      fail_msg("%s: avro-c: %s", k->name, avro_strerror());
    size_t read_size = 0;
    assert_int_equal(avro_value_sizeof(&value, &read_size), 0);
    assert_int_equal(read_size, len - 10);
    /* Spot-check the first string field. */
    avro_value_t field;
    const char *str = NULL;
    size_t slen = 0;
    if (k->kind == STRATA_RECORD_TASK) {
      assert_int_equal(avro_value_get_by_name(&value, "id", &field, NULL), 0);
      assert_int_equal(avro_value_get_string(&field, &str, &slen), 0);
      assert_string_equal(str, "task-0001");
    }
    avro_reader_free(r);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    free(buf);
    k->clear(a);
    free(a);
  }
}

/* The dead-letter history is rebuilt from a task's attempt and yield
 * headers (unparseable or missing ones skipped), then the last attempt. */
static void test_deadletter_history_from_task_headers(void **state) {
  strata_task_t t;
  strata_deadletter_t d;
  strata_attempt_record_t last = {.attempt = 4,
                                  .has_ended_ms = true,
                                  .ended_ms = 900,
                                  .outcome = (char *)(uintptr_t) "FAILED",
                                  .error = (char *)(uintptr_t) "boom"};
  (void)state;
  strata_task_init(&t);
  strata_deadletter_init(&d);
  t.attempt = 4;
  assert_int_equal(
      strata_task_add_header(&t, STRATA_HEADER_ATTEMPT_PREFIX "1",
                             "{\"outcome\":\"TIMED_OUT\",\"started_ms\":10,"
                             "\"ended_ms\":20,\"error\":\"slow\"}"),
      STRATA_OK);
  assert_int_equal(strata_task_add_header(&t, STRATA_HEADER_YIELD_PREFIX "2",
                                          "{\"started_ms\":30,\"ended_ms\":40,"
                                          "\"reason\":\"make room\"}"),
                   STRATA_OK);
  assert_int_equal(
      strata_task_add_header(&t, STRATA_HEADER_ATTEMPT_PREFIX "3", "not json"),
      STRATA_OK);
  assert_int_equal(strata_deadletter_set_history(&d, &t, &last), STRATA_OK);
  assert_int_equal(d.attempts_count, 3);
  assert_int_equal(d.attempts[0].attempt, 1);
  assert_string_equal(d.attempts[0].outcome, "TIMED_OUT");
  assert_string_equal(d.attempts[0].error, "slow");
  assert_true(d.attempts[0].has_started_ms && d.attempts[0].started_ms == 10);
  assert_int_equal(d.attempts[1].attempt, 2);
  assert_string_equal(d.attempts[1].outcome, "YIELDED");
  assert_string_equal(d.attempts[1].error, "make room");
  assert_int_equal(d.attempts[2].attempt, 4);
  assert_string_equal(d.attempts[2].outcome, "FAILED");
  assert_string_equal(d.attempts[2].error, "boom");
  assert_false(d.attempts[2].has_started_ms);
  strata_deadletter_clear(&d);
  strata_task_clear(&t);
}

/* The next attempt records the ended one in a header (replacing a stale one
 * of the same number) and moves attempt and enqueued time on; long error
 * text is cut on a UTF-8 boundary. */
static void test_next_attempt_records_the_history_header(void **state) {
  strata_task_t t;
  char err[700], *hist;
  (void)state;
  strata_task_init(&t);
  t.attempt = 2;
  assert_int_equal(
      strata_task_add_header(&t, STRATA_HEADER_ATTEMPT_PREFIX "2", "stale"),
      STRATA_OK);
  memset(err, 'x', sizeof(err));
  memcpy(err + STRATA_HISTORY_TEXT_MAX - 1, "\xc3\xa9", 2); /* straddles */
  err[sizeof(err) - 1] = '\0';
  hist = strata_attempt_history_json("FAILED", 10, 20, err);
  assert_non_null(hist);
  assert_int_equal(
      strata_task_next_attempt(&t, STRATA_HEADER_ATTEMPT_PREFIX, hist, 777),
      STRATA_OK);
  assert_int_equal(t.attempt, 3);
  assert_int_equal(t.enqueued_ms, 777);
  assert_int_equal(t.headers_count, 1);
  assert_string_equal(t.headers[0].value, hist);
  /* The error was cut before the two-byte character, not inside it. */
  assert_non_null(strstr(hist, "\"error\":\""));
  assert_null(strstr(hist, "\xc3"));
  assert_int_equal(strlen(strstr(hist, "\"error\":\"") + 9),
                   STRATA_HISTORY_TEXT_MAX - 1 + 2);
  free(hist);
  hist = strata_yield_history_json(0, 30, "make room");
  assert_string_equal(
      hist, "{\"started_ms\":null,\"ended_ms\":30,\"reason\":\"make room\"}");
  free(hist);
  strata_task_clear(&t);
}

/* A dead letter that fits is written exactly as strata_deadletter_encode()
 * writes it; one that does not fit the record budget is written without
 * its task, with short texts and id and a prefix of the original, and
 * still names where the original is. */
static void test_bounded_deadletter_always_fits(void **state) {
  (void)state;
  char err[256];
  strata_deadletter_t d, out;
  void *a, *b;
  size_t alen, blen;

  fixture_deadletter_full(&d);
  assert_int_equal(strata_deadletter_encode(&d, &a, &alen, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(
      strata_deadletter_encode_bounded(&d, 0, &b, &blen, err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(alen, blen);
  assert_memory_equal(a, b, alen);
  free(a);
  free(b);

  /* 64 KiB records: a 70 KB original and a 60 KB decoded payload. */
  strata_codec_set_max_record_size(65536);
  free(d.original);
  d.original_len = 70000;
  d.original = malloc(d.original_len);
  for (size_t i = 0; i < d.original_len; i++)
    d.original[i] = (uint8_t)(i * 7);
  free(d.task->payload);
  d.task->payload_len = 60000;
  d.task->payload = calloc(1, d.task->payload_len);
  free(d.task_id);
  d.task_id = malloc(2001);
  memset(d.task_id, 'i', 2000);
  d.task_id[2000] = '\0';
  free(d.detail);
  d.detail = malloc(10001);
  memset(d.detail, 'x', 10000);
  d.detail[10000] = '\0';
  assert_int_equal(strata_deadletter_encode(&d, &a, &alen, err, sizeof(err)),
                   STRATA_ERR_TOO_LARGE);
  assert_int_equal(
      strata_deadletter_encode_bounded(&d, 0, &b, &blen, err, sizeof(err)),
      STRATA_OK);
  assert_true(blen <= strata_record_budget());
  assert_true(blen > strata_record_budget() - 1024); /* the room is used */
  strata_deadletter_init(&out);
  assert_int_equal(strata_deadletter_decode(b, blen, &out, err, sizeof(err)),
                   STRATA_OK);
  assert_true(out.original_truncated);
  assert_null(out.task);
  assert_true(out.original_len > 60000 && out.original_len < 70000);
  assert_memory_equal(out.original, d.original, out.original_len);
  char key[STRATA_DLQ_ID_MAX + 1];
  assert_string_equal(out.task_id,
                      strata_deadletter_key(d.task_id, key, sizeof(key)));
  assert_true(strlen(out.task_id) <= STRATA_DLQ_ID_MAX);
  assert_non_null(strstr(out.task_id, "...#"));
  assert_true(strlen(out.detail) <= 2048);
  assert_non_null(strstr(out.detail, "(cut)"));
  assert_int_equal(out.reason, d.reason);
  assert_string_equal(out.original_topic, d.original_topic);
  assert_int_equal(out.original_partition, d.original_partition);
  assert_true(out.original_offset == d.original_offset);
  assert_int_equal(out.attempts_count, d.attempts_count);
  free(b);
  strata_deadletter_clear(&out);
  strata_deadletter_clear(&d);
  strata_codec_set_max_record_size(0);
}

/* A detail or error cut in the middle of a character (or with any byte
 * that is not UTF-8) does not lose the dead letter: those bytes are '?'. */
static void test_bounded_deadletter_repairs_invalid_utf8(void **state) {
  (void)state;
  char err[256];
  strata_deadletter_t d, out;
  void *b;
  size_t blen;

  fixture_deadletter_full(&d);
  free(d.detail);
  d.detail = strdup("cut in the middle of \xc3");
  free(d.attempts[0].error);
  d.attempts[0].error = strdup("bad \xff byte");
  assert_int_equal(strata_deadletter_encode(&d, &b, &blen, err, sizeof(err)),
                   STRATA_ERR_ENCODE);
  assert_int_equal(
      strata_deadletter_encode_bounded(&d, 0, &b, &blen, err, sizeof(err)),
      STRATA_OK);
  strata_deadletter_init(&out);
  assert_int_equal(strata_deadletter_decode(b, blen, &out, err, sizeof(err)),
                   STRATA_OK);
  assert_string_equal(out.detail, "cut in the middle of ?");
  assert_string_equal(out.attempts[0].error, "bad ? byte");
  assert_non_null(out.task); /* it fits: nothing else is dropped */
  free(b);
  strata_deadletter_clear(&out);
  strata_deadletter_clear(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_kind_round_trips_with_all_fields_set),
      cmocka_unit_test(test_bounded_deadletter_always_fits),
      cmocka_unit_test(test_bounded_deadletter_repairs_invalid_utf8),
      cmocka_unit_test(test_deadletter_history_from_task_headers),
      cmocka_unit_test(test_next_attempt_records_the_history_header),
      cmocka_unit_test(test_every_kind_round_trips_with_only_required_fields),
      cmocka_unit_test(test_decode_into_a_used_struct_replaces_its_contents),
      cmocka_unit_test(test_unset_type_is_written_as_default),
      cmocka_unit_test(test_copy_is_deep_and_equal),
      cmocka_unit_test(test_json_round_trip_of_every_kind),
      cmocka_unit_test(test_task_json_uses_base64_and_symbols),
      cmocka_unit_test(test_task_from_json_names_the_bad_field),
      cmocka_unit_test(test_task_from_json_fills_defaults),
      cmocka_unit_test(test_peek_kind_names_each_kind_by_fingerprint),
      cmocka_unit_test(test_encode_rejects_invalid_utf8_naming_the_field),
      cmocka_unit_test(test_encode_rejects_unknown_enum_value),
      cmocka_unit_test(test_avro_c_reads_what_the_encoder_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
