/*
 * Schemas and their fingerprints: CRC-64-AVRO and Parsing Canonical Form
 * against values computed by an independent implementation (fastavro 1.9.7),
 * the allow-list registry, and schema evolution with an older writer (one
 * field fewer) and a newer writer (extra fields with defaults).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

/* Computed with fastavro.schema.fingerprint(to_parsing_canonical_form(s)). */
static const struct {
  strata_record_kind_t kind;
  uint64_t fp;
} known[] = {
    {STRATA_RECORD_TASK, 0x9dd0160a8f9ef568ULL},
    {STRATA_RECORD_EVENT, 0xfdb0a3e6efb5c73dULL},
    {STRATA_RECORD_CONTROL, 0x63f5a55db2c3fbceULL},
    {STRATA_RECORD_DEADLETTER, 0x56f41d3e1ab618fdULL},
};
#define TASK_V0_FP 0xd1aed9a48d0bf2b5ULL
#define TASK_V1_FP 0xa0484b22807e9459ULL

static void test_fingerprints_match_fastavro(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(strata_codec_init(err, sizeof(err)), STRATA_OK);
  for (size_t i = 0; i < 4; i++)
    assert_true(strata_codec_fingerprint(known[i].kind) == known[i].fp);
  assert_true(strata_codec_fingerprint(STRATA_RECORD_UNKNOWN) == 0);
}

static void test_crc64_avro_of_primitive_schemas(void **s) {
  (void)s;
  assert_true(strata_codec_crc64_avro("\"null\"", 6) == 0x63dd24e7cc258f8aULL);
  assert_true(strata_codec_crc64_avro("\"int\"", 5) == 0x7275d51a3f395c8fULL);
  /* The empty input gives the algorithm's seed. */
  assert_true(strata_codec_crc64_avro("", 0) == 0xc15d213aa4d7a795ULL);
}

static void test_canonical_form_strips_and_orders_and_qualifies(void **s) {
  (void)s;
  char err[256];
  const char *in =
      "{\"type\":\"record\",\"namespace\":\"a.b\",\"name\":\"R\","
      "\"doc\":\"x\",\"fields\":[{\"name\":\"x\",\"doc\":\"d\",\"default\":[],"
      "\"type\":{\"items\":{\"type\":\"long\",\"logicalType\":"
      "\"timestamp-millis\"},\"type\":\"array\"}},{\"name\":\"e\",\"type\":"
      "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
      "{\"name\":\"f\",\"type\":[\"null\",\"E\"]}]}";
  char *pcf = NULL;
  uint64_t fp = 0;
  assert_int_equal(
      strata_codec_canonical_form(in, strlen(in), &pcf, &fp, err, sizeof(err)),
      STRATA_OK);
  assert_string_equal(
      pcf, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":"
           "\"x\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},{\"name\":"
           "\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":"
           "[\"A\",\"B\"]}},{\"name\":\"f\",\"type\":[\"null\",\"a.b.E\"]}]}");
  assert_true(fp == 0xccc6cd29285693fcULL);
  free(pcf);
}

static void test_canonical_form_rejects_broken_schemas(void **s) {
  (void)s;
  char err[256] = "";
  const char *bad[] = {
      "{",
      "{\"type\":\"record\",\"name\":\"R\"}",
      ("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
       "\"type\":\"Nope\"}]}"),
      "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[]}",
      "[\"int\",[\"null\"]]",
      "{\"type\":\"record\",\"name\":\"9R\",\"fields\":[]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    assert_int_not_equal(strata_codec_canonical_form(bad[i], strlen(bad[i]),
                                                     NULL, NULL, err,
                                                     sizeof(err)),
                         STRATA_OK);
    assert_true(err[0] != '\0');
  }
}

static void test_dead_letter_embeds_the_same_task_schema(void **s) {
  (void)s;
  char err[256];
  char *task = NULL, *dl = NULL;
  const char *tj = strata_codec_schema_json(STRATA_RECORD_TASK);
  const char *dj = strata_codec_schema_json(STRATA_RECORD_DEADLETTER);
  assert_int_equal(strata_codec_canonical_form(tj, strlen(tj), &task, NULL, err,
                                               sizeof(err)),
                   0);
  assert_int_equal(
      strata_codec_canonical_form(dj, strlen(dj), &dl, NULL, err, sizeof(err)),
      0);
  assert_non_null(strstr(dl, task));
  free(task);
  free(dl);
}

/* The current Task schema with its fields edited by `edit`. */
static char *task_schema_variant(void (*edit)(json_t *fields)) {
  const char *cur = strata_codec_schema_json(STRATA_RECORD_TASK);
  json_t *j = json_loads(cur, 0, NULL);
  edit(json_object_get(j, "fields"));
  char *out = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return out;
}

/* v1 is the current Task without `queue` (its last field); v0 is v1
   without `checkpoint`. */
static void drop_queue(json_t *fields) {
  json_array_remove(fields, json_array_size(fields) - 1);
}

static void drop_queue_and_checkpoint(json_t *fields) {
  json_array_remove(fields, json_array_size(fields) - 1);
  json_array_remove(fields, json_array_size(fields) - 1);
}

static void add_v2_fields(json_t *fields) {
  json_array_append_new(fields, json_pack("{s:s, s:{s:s, s:s}, s:[], s:s}",
                                          "name", "labels", "type", "type",
                                          "array", "items", "string", "default",
                                          "doc", "v2: free-form labels"));
  json_array_append_new(fields,
                        json_pack("{s:s, s:[s,s], s:n, s:s}", "name", "cost",
                                  "type", "null", "double", "default", "doc",
                                  "v2: a cost estimate"));
}

/* An older writer's record decodes with the missing fields at their
   defaults. Each older Task body is the current body without its trailing
   fields, and every missing field is a union whose null branch is byte 0. */
static void older_writer_decodes(void (*edit)(json_t *), uint64_t want_fp,
                                 size_t dropped) {
  char err[256] = "";
  char *old = task_schema_variant(edit);
  uint64_t fp;
  assert_int_equal(strata_codec_canonical_form(old, strlen(old), NULL, &fp, err,
                                               sizeof(err)),
                   0);
  /* schemas/history/ holds this schema: it is already allowed. */
  assert_true(fp == want_fp);
  strata_task_t t, out;
  fixture_task_full(&t);
  t.has_checkpoint = false;
  free(t.queue);
  t.queue = NULL;
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)), 0);
  uint8_t *p = buf;
  for (size_t i = 1; i <= dropped; i++)
    assert_int_equal(p[len - i], 0);
  for (int i = 0; i < 8; i++)
    p[2 + i] = (uint8_t)(fp >> (8 * i));
  strata_task_init(&out);
  assert_int_equal(strata_task_decode(p, len - dropped, &out, err, sizeof(err)),
                   STRATA_OK);
  assert_true(same_json(strata_task_to_json(&t), strata_task_to_json(&out)));
  assert_false(out.has_checkpoint);
  assert_null(out.queue);
  free(buf);
  free(old);
  strata_task_clear(&t);
  strata_task_clear(&out);
}

static void test_older_writer_without_queue_still_decodes(void **s) {
  (void)s;
  older_writer_decodes(drop_queue, TASK_V1_FP, 1);
}

static void test_older_writer_without_checkpoint_still_decodes(void **s) {
  (void)s;
  older_writer_decodes(drop_queue_and_checkpoint, TASK_V0_FP, 2);
}

static void
test_newer_writer_with_extra_fields_decodes_once_registered(void **s) {
  (void)s;
  char err[256] = "";
  char *v2 = task_schema_variant(add_v2_fields);
  uint64_t fp;
  assert_int_equal(
      strata_codec_canonical_form(v2, strlen(v2), NULL, &fp, err, sizeof(err)),
      0);
  strata_task_t t, out;
  fixture_task_full(&t);
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)), 0);
  tbuf_t b;
  tb_header(&b, fp);
  tb_raw(&b, (uint8_t *)buf + 10, len - 10);
  tb_long(&b, 2); /* labels: one block of two */
  tb_str(&b, "blue");
  tb_str(&b, "green");
  tb_long(&b, 0);
  tb_long(&b, 1); /* cost: the double branch */
  tb_raw(&b, "\0\0\0\0\0\0\xf8\x3f", 8);
  strata_task_init(&out);
  assert_int_equal(strata_task_decode(b.b, b.n, &out, err, sizeof(err)),
                   STRATA_ERR_UNKNOWN_SCHEMA);
  assert_int_equal(
      strata_codec_register_schema(v2, strlen(v2), err, sizeof(err)),
      STRATA_OK);
  /* Registering the same schema again changes nothing. */
  assert_int_equal(
      strata_codec_register_schema(v2, strlen(v2), err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(strata_codec_peek_kind(b.b, b.n), STRATA_RECORD_TASK);
  assert_int_equal(strata_task_decode(b.b, b.n, &out, err, sizeof(err)),
                   STRATA_OK);
  assert_true(same_json(strata_task_to_json(&t), strata_task_to_json(&out)));
  free(buf);
  free(v2);
  strata_task_clear(&t);
  strata_task_clear(&out);
}

static void test_writer_int_is_promoted_to_reader_long(void **s) {
  (void)s;
  char err[256] = "";
  const char *w =
      "{\"type\":\"record\",\"name\":\"Control\",\"namespace\":\"io.strata\","
      "\"fields\":[{\"name\":\"issued_ms\",\"type\":\"int\"},{\"name\":"
      "\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"ControlKind\","
      "\"symbols\":[\"DRAIN\",\"CANCEL\"]}}]}";
  uint64_t fp;
  assert_int_equal(
      strata_codec_canonical_form(w, strlen(w), NULL, &fp, err, sizeof(err)),
      0);
  assert_int_equal(strata_codec_register_schema(w, strlen(w), err, sizeof(err)),
                   STRATA_OK);
  tbuf_t b;
  tb_header(&b, fp);
  tb_long(&b, 123456); /* issued_ms as an int */
  tb_long(&b, 1);      /* CANCEL, index 1 in this writer, 0 in the reader */
  strata_control_t c;
  strata_control_init(&c);
  assert_int_equal(strata_control_decode(b.b, b.n, &c, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(c.issued_ms, 123456);
  assert_int_equal(c.kind, STRATA_CONTROL_CANCEL);
  assert_null(c.task_id);
  strata_control_clear(&c);
}

static void expect_register_error(const char *schema, const char *want) {
  char err[512] = "";
  assert_int_equal(
      strata_codec_register_schema(schema, strlen(schema), err, sizeof(err)),
      STRATA_ERR_CONFIG);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void test_register_rejects_writers_the_reader_cannot_resolve(void **s) {
  (void)s;
  expect_register_error("{\"type\":\"record\",\"name\":\"io.strata.Control\","
                        "\"fields\":[{\"name\":\"issued_ms\",\"type\":"
                        "\"long\"}]}",
                        "Control.kind");
  expect_register_error("{\"type\":\"record\",\"name\":\"io.strata.Control\","
                        "\"fields\":[{\"name\":\"issued_ms\",\"type\":"
                        "\"string\"},{\"name\":\"kind\",\"type\":{\"type\":"
                        "\"enum\",\"name\":\"K\",\"symbols\":[\"DRAIN\"]}}]}",
                        "Control.issued_ms");
  expect_register_error("{\"type\":\"record\",\"name\":\"com.x.Other\","
                        "\"fields\":[]}",
                        "not a Strata record kind");
  expect_register_error("[\"null\"", "not JSON");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fingerprints_match_fastavro),
      cmocka_unit_test(test_crc64_avro_of_primitive_schemas),
      cmocka_unit_test(test_canonical_form_strips_and_orders_and_qualifies),
      cmocka_unit_test(test_canonical_form_rejects_broken_schemas),
      cmocka_unit_test(test_dead_letter_embeds_the_same_task_schema),
      cmocka_unit_test(test_older_writer_without_queue_still_decodes),
      cmocka_unit_test(test_older_writer_without_checkpoint_still_decodes),
      cmocka_unit_test(
          test_newer_writer_with_extra_fields_decodes_once_registered),
      cmocka_unit_test(test_writer_int_is_promoted_to_reader_long),
      cmocka_unit_test(test_register_rejects_writers_the_reader_cannot_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
