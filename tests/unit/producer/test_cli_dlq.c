/*
 * The pure helpers behind `strata dlq`: reason and --since parsing, the
 * filter, which of two records of one task is the latest, the task a replay
 * submits (attempt number, retry budget, passed deadlines), and the table's
 * time and excerpt formatting. No broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

/* 2026-11-22T13:00:00Z */
#define T0 INT64_C(1795352400000)

/* A dead letter of attempt `attempt` of task "t1" with a payload, a header,
 * an idempotency key and a dependency; caller clears it. */
static void make_deadletter(strata_deadletter_t *d, int32_t attempt) {
  strata_task_t *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  strata_task_init(t);
  t->id = strdup("t1");
  t->tier = strdup("high");
  t->idempotency_key = strdup("order-7");
  t->attempt = attempt;
  t->retry.max_attempts = 3;
  t->has_deadline_ms = true;
  t->deadline_ms = T0 - 1000;
  t->deadline_hard = true;
  t->has_not_before_ms = true;
  t->not_before_ms = T0 - 5000;
  t->created_ms = T0 - 60000;
  t->enqueued_ms = T0 - 60000;
  t->payload = (uint8_t *)strdup("{\"n\":1}");
  t->payload_len = 7;
  assert_int_equal(strata_task_add_header(t, "trace", "abc"), STRATA_OK);
  assert_int_equal(strata_task_add_dependency(t, "t0"), STRATA_OK);
  strata_deadletter_init(d);
  d->task_id = strdup("t1");
  d->reason = STRATA_DLQ_DEADLINE_EXPIRED;
  d->detail = strdup("hard deadline cannot be met");
  d->dead_lettered_ms = T0;
  d->task = t;
}

static void test_reason_parses_symbols_case_insensitively(void **state) {
  strata_dlq_reason_t r;
  (void)state;
  assert_true(cli_dlq_parse_reason("DEADLINE_EXPIRED", &r));
  assert_int_equal(r, STRATA_DLQ_DEADLINE_EXPIRED);
  assert_true(cli_dlq_parse_reason("dependency-failed", &r));
  assert_int_equal(r, STRATA_DLQ_DEPENDENCY_FAILED);
  assert_true(cli_dlq_parse_reason("Cancelled", &r));
  assert_int_equal(r, STRATA_DLQ_CANCELLED);
  assert_true(cli_dlq_parse_reason("exhausted", &r));
  assert_int_equal(r, STRATA_DLQ_EXHAUSTED);
}

static void test_reason_rejects_unknown_and_prefixes(void **state) {
  strata_dlq_reason_t r;
  (void)state;
  assert_false(cli_dlq_parse_reason("EXPIRED", &r));
  assert_false(cli_dlq_parse_reason("DEADLINE", &r));
  assert_false(cli_dlq_parse_reason("DEADLINE_EXPIRED_", &r));
  assert_false(cli_dlq_parse_reason("", &r));
}

static void test_since_duration_looks_back_from_now(void **state) {
  strata_epoch_ms_t t;
  (void)state;
  assert_true(cli_dlq_parse_since("2h", T0, &t));
  assert_int_equal(t, T0 - 2 * 3600 * 1000);
  assert_true(cli_dlq_parse_since("2026-11-22T12:00:00Z", T0, &t));
  assert_int_equal(t, T0 - 3600 * 1000);
  assert_false(cli_dlq_parse_since("yesterday", T0, &t));
}

static void test_filter_matches_id_reason_and_since(void **state) {
  strata_deadletter_t d;
  cli_dlq_filter_t any = {NULL, false, STRATA_DLQ_EXHAUSTED, false, 0};
  cli_dlq_filter_t f = any;
  (void)state;
  make_deadletter(&d, 1);
  assert_true(cli_dlq_matches(&any, "t1", &d));
  f.id = "t2";
  assert_false(cli_dlq_matches(&f, "t1", &d));
  f = any;
  f.has_reason = true;
  f.reason = STRATA_DLQ_EXHAUSTED;
  assert_false(cli_dlq_matches(&f, "t1", &d));
  f.reason = STRATA_DLQ_DEADLINE_EXPIRED;
  assert_true(cli_dlq_matches(&f, "t1", &d));
  f.has_since = true;
  f.since_ms = T0;
  assert_true(cli_dlq_matches(&f, "t1", &d));
  f.since_ms = T0 + 1;
  assert_false(cli_dlq_matches(&f, "t1", &d));
  strata_deadletter_clear(&d);
}

static void test_latest_is_higher_offset_in_one_partition(void **state) {
  cli_dlq_pos_t older = {2, 10, T0}, mark = {2, 11, T0};
  cli_dlq_pos_t elsewhere_later = {0, 3, T0 + 1};
  (void)state;
  /* A replay mark keeps the dead-lettered time; its offset decides. */
  assert_true(cli_dlq_is_newer(&mark, &older));
  assert_false(cli_dlq_is_newer(&older, &mark));
  /* Across partitions the dead-lettered time decides. */
  assert_true(cli_dlq_is_newer(&elsewhere_later, &mark));
  assert_false(cli_dlq_is_newer(&mark, &elsewhere_later));
}

static void test_replay_is_the_next_attempt_with_one_more_try(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  make_deadletter(&d, 1);
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(t.attempt, 2);
  assert_int_equal(t.retry.max_attempts, 3);
  /* Attempt 3 of 3 died: one more try means max_attempts 4. */
  d.task->attempt = 3;
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(t.attempt, 4);
  assert_int_equal(t.retry.max_attempts, 4);
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_replay_reset_attempts_gives_a_fresh_budget(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  make_deadletter(&d, 3);
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, true, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(t.attempt, 4);
  assert_int_equal(t.retry.max_attempts, 6); /* attempts 4, 5 and 6 */
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_replay_again_skips_attempts_of_earlier_replays(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  make_deadletter(&d, 1);
  d.replayed = 1; /* attempt 2 was submitted by the first replay */
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_int_equal(t.attempt, 3);
  assert_int_equal(t.retry.max_attempts, 3);
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_replay_removes_a_passed_deadline_only(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  make_deadletter(&d, 1);
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_true(removed);
  assert_false(t.has_deadline_ms);
  assert_false(t.deadline_hard);
  assert_false(t.has_not_before_ms);
  assert_int_equal(strata_task_validate(&t, err, sizeof(err)), STRATA_OK);
  d.task->deadline_ms = T0 + 60000;
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_false(removed);
  assert_true(t.has_deadline_ms);
  assert_true(t.deadline_hard);
  assert_int_equal(t.deadline_ms, T0 + 60000);
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_replay_keeps_identity_payload_and_dependencies(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  make_deadletter(&d, 1);
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_OK);
  assert_string_equal(t.id, "t1");
  assert_string_equal(t.tier, "high");
  assert_string_equal(t.idempotency_key, "order-7");
  assert_int_equal(t.payload_len, 7);
  assert_memory_equal(t.payload, "{\"n\":1}", 7);
  assert_int_equal(t.headers_count, 1);
  assert_string_equal(t.headers[0].value, "abc");
  assert_int_equal(t.depends_on_count, 1);
  assert_string_equal(t.depends_on[0], "t0");
  assert_int_equal(t.created_ms, T0 - 60000);
  /* The dead letter itself is untouched. */
  assert_int_equal(d.task->attempt, 1);
  assert_true(d.task->has_deadline_ms);
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_replay_refuses_a_dead_letter_without_task(void **state) {
  strata_deadletter_t d;
  strata_task_t t;
  bool removed;
  char err[256];
  (void)state;
  strata_deadletter_init(&d);
  d.reason = STRATA_DLQ_UNDECODABLE;
  strata_task_init(&t);
  assert_int_equal(
      cli_dlq_replay_task(&d, false, T0, &t, &removed, err, sizeof(err)),
      STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "did not decode"));
  strata_task_clear(&t);
  strata_deadletter_clear(&d);
}

static void test_time_is_rfc3339_utc_with_millis(void **state) {
  char buf[32];
  (void)state;
  cli_format_time(T0 + 250, buf);
  assert_string_equal(buf, "2026-11-22T13:00:00.250Z");
  cli_format_time(0, buf);
  assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_excerpt_is_one_line_and_cut_on_utf8(void **state) {
  char out[32];
  (void)state;
  cli_excerpt("exit 1\nstderr: boom", 30, out, sizeof(out));
  assert_string_equal(out, "exit 1 stderr: boom");
  cli_excerpt("abcdef", 4, out, sizeof(out));
  assert_string_equal(out, "abcd...");
  /* "é" is two bytes; a cut inside it backs up before it. */
  cli_excerpt("ab\xc3\xa9", 3, out, sizeof(out));
  assert_string_equal(out, "ab...");
  cli_excerpt(NULL, 4, out, sizeof(out));
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reason_parses_symbols_case_insensitively),
      cmocka_unit_test(test_reason_rejects_unknown_and_prefixes),
      cmocka_unit_test(test_since_duration_looks_back_from_now),
      cmocka_unit_test(test_filter_matches_id_reason_and_since),
      cmocka_unit_test(test_latest_is_higher_offset_in_one_partition),
      cmocka_unit_test(test_replay_is_the_next_attempt_with_one_more_try),
      cmocka_unit_test(test_replay_reset_attempts_gives_a_fresh_budget),
      cmocka_unit_test(test_replay_again_skips_attempts_of_earlier_replays),
      cmocka_unit_test(test_replay_removes_a_passed_deadline_only),
      cmocka_unit_test(test_replay_keeps_identity_payload_and_dependencies),
      cmocka_unit_test(test_replay_refuses_a_dead_letter_without_task),
      cmocka_unit_test(test_time_is_rfc3339_utc_with_millis),
      cmocka_unit_test(test_excerpt_is_one_line_and_cut_on_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
