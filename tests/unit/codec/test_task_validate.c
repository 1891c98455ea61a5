/*
 * strata_task_validate() and strata_control_validate(): each rule rejects
 * the broken field and names it; a complete task passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

typedef struct rule {
  const char *field; /* expected in the error text */
  void (*breaks)(strata_task_t *t);
} rule_t;

static void empty_id(strata_task_t *t) {
  t->id[0] = '\0';
}
static void no_tier(strata_task_t *t) {
  free(t->tier);
  t->tier = NULL;
}
static void empty_type(strata_task_t *t) {
  t->type[0] = '\0';
}
static void negative_estimate(strata_task_t *t) {
  t->estimate_ms = -1;
}
static void unknown_backoff(strata_task_t *t) {
  t->retry.backoff = (strata_backoff_t)7;
}
static void unknown_expiry(strata_task_t *t) {
  t->expiry_policy = (strata_expiry_policy_t)-1;
}
static void zero_attempts(strata_task_t *t) {
  t->retry.max_attempts = 0;
}
static void cap_below_base(strata_task_t *t) {
  t->retry.cap_ms = 10;
}
static void attempt_zero(strata_task_t *t) {
  t->attempt = 0;
}
static void hard_without_deadline(strata_task_t *t) {
  t->has_deadline_ms = false;
}
static void negative_demand(strata_task_t *t) {
  t->demands[0].value = -3;
}
static void duplicate_demand(strata_task_t *t) {
  strata_task_add_demand(t, "llm.tokens", 1);
}
static void self_dependency(strata_task_t *t) {
  strata_task_add_dependency(t, t->id);
}
static void zero_heartbeat(strata_task_t *t) {
  t->timeouts.heartbeat_ms = 0;
}
static void duplicate_header(strata_task_t *t) {
  strata_task_add_header(t, "tenant", "other");
}
static void negative_created(strata_task_t *t) {
  t->created_ms = -1;
}

static void empty_queue(strata_task_t *t) {
  t->queue[0] = '\0';
}
static void queue_with_slash(strata_task_t *t) {
  free(t->queue);
  t->queue = strdup("gpu/large");
}
static void queue_too_long(strata_task_t *t) {
  free(t->queue);
  t->queue = malloc(STRATA_QUEUE_MAX + 2);
  memset(t->queue, 'q', STRATA_QUEUE_MAX + 1);
  t->queue[STRATA_QUEUE_MAX + 1] = '\0';
}

static const rule_t rules[] = {
    {"Task.id", empty_id},
    {"Task.tier", no_tier},
    {"Task.type", empty_type},
    {"Task.estimate_ms", negative_estimate},
    {"Task.retry.backoff", unknown_backoff},
    {"Task.expiry_policy", unknown_expiry},
    {"Task.retry.max_attempts", zero_attempts},
    {"Task.retry.cap_ms", cap_below_base},
    {"Task.attempt", attempt_zero},
    {"Task.deadline_hard", hard_without_deadline},
    {"Task.demands[\"llm.tokens\"]", negative_demand},
    {"Task.demands: pool \"llm.tokens\" appears twice", duplicate_demand},
    {"Task.depends_on[2]", self_dependency},
    {"Task.timeouts.heartbeat_ms", zero_heartbeat},
    {"Task.headers: key \"tenant\"", duplicate_header},
    {"Task.created_ms", negative_created},
    {"Task.queue: must not be empty", empty_queue},
    {"Task.queue: byte 3 (0x2f)", queue_with_slash},
    {"Task.queue: 201 bytes, at most 200", queue_too_long},
};

static void test_complete_and_minimal_tasks_are_valid(void **s) {
  (void)s;
  char err[256] = "";
  strata_task_t t;
  fixture_task_full(&t);
  assert_int_equal(strata_task_validate(&t, err, sizeof(err)), STRATA_OK);
  strata_task_clear(&t);
  fixture_task_minimal(&t);
  assert_int_equal(strata_task_validate(&t, err, sizeof(err)), STRATA_OK);
  strata_task_clear(&t);
}

static void test_each_rule_rejects_and_names_the_field(void **s) {
  (void)s;
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
    char err[256] = "";
    strata_task_t t;
    fixture_task_full(&t);
    rules[i].breaks(&t);
    assert_int_equal(strata_task_validate(&t, err, sizeof(err)),
                     STRATA_ERR_INVALID_TASK);
    if (!strstr(err, rules[i].field))
      fail_msg("rule %zu: error \"%s\" does not name \"%s\"", i, err,
               rules[i].field);
    strata_task_clear(&t);
  }
}

static void test_control_needs_its_target(void **s) {
  (void)s;
  char err[256] = "";
  strata_control_t c;
  strata_control_init(&c);
  c.kind = STRATA_CONTROL_CANCEL;
  assert_int_equal(strata_control_validate(&c, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "Control.task_id"));
  c.kind = STRATA_CONTROL_PAUSE_TIER;
  assert_int_equal(strata_control_validate(&c, err, sizeof(err)),
                   STRATA_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "Control.tier"));
  c.kind = STRATA_CONTROL_DRAIN;
  assert_int_equal(strata_control_validate(&c, err, sizeof(err)), STRATA_OK);
  fixture_control_full(&c);
  assert_int_equal(strata_control_validate(&c, err, sizeof(err)), STRATA_OK);
  strata_control_clear(&c);
}

static void test_enum_names_match_the_schema_symbols(void **s) {
  (void)s;
  assert_string_equal(
      strata_backoff_name(STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER),
      "EXPONENTIAL_FULL_JITTER");
  assert_string_equal(strata_event_kind_name(STRATA_EVENT_DEAD_LETTERED),
                      "DEAD_LETTERED");
  assert_string_equal(strata_dlq_reason_name(STRATA_DLQ_CANCELLED),
                      "CANCELLED");
  assert_null(strata_control_kind_name((strata_control_kind_t)5));
  assert_string_equal(strata_record_kind_name(STRATA_RECORD_EVENT),
                      "TaskEvent");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_complete_and_minimal_tasks_are_valid),
      cmocka_unit_test(test_each_rule_rejects_and_names_the_field),
      cmocka_unit_test(test_control_needs_its_target),
      cmocka_unit_test(test_enum_names_match_the_schema_symbols),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
