/*
 * Hostile and broken input: every truncation, every single-byte corruption,
 * impossible lengths and block counts, bad magic, unknown fingerprints and
 * oversized records all give an error naming the field and the offset, and
 * never a crash, an abort, a leak or an allocation out of proportion to the
 * input (run under ASan/valgrind).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kinds.h"

static void expect_decode_error(const tbuf_t *b, strata_err_t want_err,
                                const char *want1, const char *want2) {
  char err[512] = "";
  strata_task_t t;
  strata_task_init(&t);
  strata_err_t got = strata_task_decode(b->b, b->n, &t, err, sizeof(err));
  if (got != want_err)
    fail_msg("got %s (%s), want %s", strata_err_name(got), err,
             strata_err_name(want_err));
  if (want1 && !strstr(err, want1))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want1);
  if (want2 && !strstr(err, want2))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want2);
  assert_null(t.id);
  assert_int_equal(t.headers_count, 0);
}

static void test_hand_made_valid_task_decodes(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, NULL);
  char err[256] = "";
  strata_task_t t;
  strata_task_init(&t);
  assert_int_equal(strata_task_decode(b.b, b.n, &t, err, sizeof(err)),
                   STRATA_OK);
  assert_string_equal(t.id, "x");
  strata_task_clear(&t);
}

static void test_truncation_at_every_byte_is_an_error(void **s) {
  (void)s;
  char err[512];
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    void *a = malloc(k->size), *b = malloc(k->size);
    k->full(a);
    k->init(b);
    void *buf;
    size_t len;
    assert_int_equal(k->encode(a, &buf, &len, err, sizeof(err)), 0);
    for (size_t cut = 0; cut < len; cut++) {
      /* A fresh copy so ASan sees any read past the cut. */
      void *part = malloc(cut ? cut : 1);
      memcpy(part, buf, cut);
      err[0] = '\0';
      strata_err_t e = k->decode(part, cut, b, err, sizeof(err));
      if (e == STRATA_OK)
        fail_msg("%s cut at %zu of %zu decoded", k->name, cut, len);
      assert_true(err[0] != '\0');
      free(part);
    }
    free(buf);
    k->clear(a);
    k->clear(b);
    free(a);
    free(b);
  }
}

static void test_corrupting_any_byte_never_crashes(void **s) {
  (void)s;
  char err[512];
  static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  for (int i = 0; i < 4; i++) {
    const kind_ops_t *k = &kind_ops[i];
    void *a = malloc(k->size), *b = malloc(k->size);
    k->full(a);
    k->init(b);
    void *buf;
    size_t len;
    assert_int_equal(k->encode(a, &buf, &len, err, sizeof(err)), 0);
    uint8_t *copy = malloc(len);
    for (size_t at = 0; at < len; at++)
      for (size_t v = 0; v < sizeof(values); v++) {
        memcpy(copy, buf, len);
        copy[at] = values[v];
        if (k->decode(copy, len, b, err, sizeof(err)) == STRATA_OK)
          k->clear(b);
      }
    free(copy);
    free(buf);
    k->clear(a);
    k->clear(b);
    free(a);
    free(b);
  }
}

static void test_huge_map_block_count_names_field_and_offset(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "headers");
  size_t at = b.n;
  tb_long(&b, 2147483647);
  tb_str(&b, "k");
  tb_str(&b, "v");
  char want[128];
  snprintf(want, sizeof(want), "at offset %zu", at);
  expect_decode_error(&b, STRATA_ERR_DECODE,
                      "Task.headers: map block count 2147483647 exceeds the 4 "
                      "bytes left",
                      want);
}

static void test_huge_array_block_count_is_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "depends_on");
  tb_long(&b, INT64_MAX);
  expect_decode_error(&b, STRATA_ERR_DECODE,
                      "Task.depends_on: array block "
                      "count",
                      "exceeds");
}

static void test_negative_block_count_with_huge_size_is_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "demands");
  tb_long(&b, -1);
  tb_long(&b, INT64_MAX); /* block size in bytes */
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.demands: block size",
                      "exceeds");
  tb_task_until(&b, "demands");
  tb_long(&b, INT64_MIN);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.demands", "invalid");
}

static void test_negative_block_count_with_size_decodes(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "demands");
  tb_long(&b, -1);
  tb_long(&b, 4);
  tb_str(&b, "gpu");
  tb_long(&b, 2);
  tb_long(&b, 0);
  size_t before = b.n;
  tbuf_t rest;
  tb_task_until(&rest, NULL);
  tbuf_t head;
  tb_task_until(&head, "depends_on");
  tb_raw(&b, rest.b + head.n, rest.n - head.n);
  (void)before;
  char err[256] = "";
  strata_task_t t;
  strata_task_init(&t);
  assert_int_equal(strata_task_decode(b.b, b.n, &t, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(t.demands_count, 1);
  assert_string_equal(t.demands[0].key, "gpu");
  assert_int_equal(t.demands[0].value, 2);
  strata_task_clear(&t);
}

static void test_huge_string_length_is_refused_before_allocating(void **s) {
  (void)s;
  tbuf_t b;
  tb_header(&b, strata_codec_fingerprint(STRATA_RECORD_TASK));
  tb_long(&b, (int64_t)1 << 60);
  tb_raw(&b, "abc", 3);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.id: string length",
                      "exceeds the 3 bytes left at offset 10");
}

static void test_negative_string_length_is_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "tier");
  tb_long(&b, -5);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.tier: string length -5",
                      "negative");
  tb_task_until(&b, "payload");
  tb_long(&b, -1);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.payload: bytes length -1",
                      "negative");
}

static void test_overlong_varint_is_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "priority");
  tb_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.priority",
                      "overflows 64 bits");
  tb_task_until(&b, "priority");
  tb_long(&b, (int64_t)1 << 40);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.priority",
                      "out of the int range");
}

static void test_bad_union_enum_and_boolean_values_are_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "idempotency_key");
  tb_long(&b, 5);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.idempotency_key",
                      "union branch 5 is out of range (2 branches)");
  tb_task_until(&b, "expiry_policy");
  tb_long(&b, 2);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.expiry_policy",
                      "enum index 2 is out of range");
  tb_task_until(&b, "deadline_hard");
  tb_long(&b, 1); /* zig-zag 1 is the byte 0x02 */
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.deadline_hard",
                      "neither 0 nor 1");
}

static void test_invalid_utf8_and_nul_in_strings_are_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, "tier");
  tb_long(&b, 3);
  tb_raw(&b, "a\xc0\x80", 3); /* an overlong NUL */
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.tier", "not UTF-8");
  tb_task_until(&b, "tier");
  tb_long(&b, 3);
  tb_raw(&b, "a\0b", 3);
  expect_decode_error(&b, STRATA_ERR_DECODE, "Task.tier", "NUL");
}

static void test_trailing_bytes_are_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, NULL);
  tb_raw(&b, "zz", 2);
  expect_decode_error(&b, STRATA_ERR_DECODE, "2 trailing bytes", NULL);
}

static void test_bad_magic_and_short_header_are_refused(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, NULL);
  b.b[0] = 0x00; /* e.g. Confluent framing: 00 + schema id */
  expect_decode_error(&b, STRATA_ERR_DECODE, "bad magic at offset 0",
                      "found 00 01");
  tb_task_until(&b, NULL);
  b.n = 6;
  expect_decode_error(&b, STRATA_ERR_DECODE, "header truncated", NULL);
  b.n = 0;
  expect_decode_error(&b, STRATA_ERR_DECODE, "bad magic", NULL);
}

static void test_unknown_fingerprint_is_named_in_hex(void **s) {
  (void)s;
  tbuf_t b;
  tb_task_until(&b, NULL);
  memcpy(b.b + 2, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
  expect_decode_error(&b, STRATA_ERR_UNKNOWN_SCHEMA,
                      "unknown writer schema fingerprint 0123456789abcdef",
                      NULL);
}

static void test_other_kind_is_refused_by_kind(void **s) {
  (void)s;
  char err[256] = "";
  strata_control_t c;
  fixture_control_minimal(&c);
  void *buf;
  size_t len;
  assert_int_equal(strata_control_encode(&c, &buf, &len, err, sizeof(err)), 0);
  strata_task_t t;
  strata_task_init(&t);
  assert_int_equal(strata_task_decode(buf, len, &t, err, sizeof(err)),
                   STRATA_ERR_UNKNOWN_SCHEMA);
  assert_non_null(strstr(err, "is a Control"));
  free(buf);
  strata_control_clear(&c);
}

static void test_oversized_records_are_refused_both_ways(void **s) {
  (void)s;
  char err[256] = "";
  strata_task_t t, out;
  fixture_task_full(&t);
  strata_task_init(&out);
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)), 0);
  strata_codec_set_max_record_size(len - 1);
  assert_int_equal(strata_task_decode(buf, len, &out, err, sizeof(err)),
                   STRATA_ERR_TOO_LARGE);
  assert_non_null(strstr(err, "exceeds the maximum record size"));
  void *buf2 = NULL;
  size_t len2;
  assert_int_equal(strata_task_encode(&t, &buf2, &len2, err, sizeof(err)),
                   STRATA_ERR_TOO_LARGE);
  assert_null(buf2);
  strata_codec_set_max_record_size(0);
  assert_int_equal(strata_codec_max_record_size(),
                   STRATA_CODEC_DEFAULT_MAX_RECORD);
  assert_int_equal(strata_task_decode(buf, len, &out, err, sizeof(err)), 0);
  free(buf);
  strata_task_clear(&t);
  strata_task_clear(&out);
}

/*
 * The worst case for allocation per input byte: many empty strings. The
 * decoder's budget must still accept the largest legitimate such record.
 */
static void test_many_empty_strings_fit_the_allocation_budget(void **s) {
  (void)s;
  char err[256] = "";
  strata_task_t t, out;
  fixture_task_minimal(&t);
  strata_task_init(&out);
  /* Built in one allocation: growing it one realloc at a time is quadratic
   * under ASan, whose realloc always moves. */
  t.depends_on = calloc(200000, sizeof(char *));
  for (int i = 0; i < 200000; i++)
    t.depends_on[i] = strdup("");
  t.depends_on_count = 200000;
  void *buf;
  size_t len;
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)), 0);
  assert_int_equal(strata_task_decode(buf, len, &out, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(out.depends_on_count, 200000);
  free(buf);
  strata_task_clear(&t);
  strata_task_clear(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_made_valid_task_decodes),
      cmocka_unit_test(test_truncation_at_every_byte_is_an_error),
      cmocka_unit_test(test_corrupting_any_byte_never_crashes),
      cmocka_unit_test(test_huge_map_block_count_names_field_and_offset),
      cmocka_unit_test(test_huge_array_block_count_is_refused),
      cmocka_unit_test(test_negative_block_count_with_huge_size_is_refused),
      cmocka_unit_test(test_negative_block_count_with_size_decodes),
      cmocka_unit_test(test_huge_string_length_is_refused_before_allocating),
      cmocka_unit_test(test_negative_string_length_is_refused),
      cmocka_unit_test(test_overlong_varint_is_refused),
      cmocka_unit_test(test_bad_union_enum_and_boolean_values_are_refused),
      cmocka_unit_test(test_invalid_utf8_and_nul_in_strings_are_refused),
      cmocka_unit_test(test_trailing_bytes_are_refused),
      cmocka_unit_test(test_bad_magic_and_short_header_are_refused),
      cmocka_unit_test(test_unknown_fingerprint_is_named_in_hex),
      cmocka_unit_test(test_other_kind_is_refused_by_kind),
      cmocka_unit_test(test_oversized_records_are_refused_both_ways),
      cmocka_unit_test(test_many_empty_strings_fit_the_allocation_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
