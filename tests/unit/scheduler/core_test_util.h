/*
 * Helpers shared by the scheduler core unit tests: a core with test-sized
 * defaults and one-line task submission. Time is always injected.
 */
#ifndef STRATA_CORE_TEST_UTIL_H
#define STRATA_CORE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "strata/core.h"

static inline strata_core_t *test_core(strata_core_config_t *cfg) {
  strata_core_config_t def;
  char err[256] = "";
  strata_core_t *c;

  if (!cfg) {
    strata_core_config_default(&def);
    cfg = &def;
  }
  c = strata_core_new(cfg, err, sizeof(err));
  if (!c)
    fail_msg("strata_core_new: %s", err);
  return c;
}

static inline strata_core_task_spec_t test_spec(const char *id, uint32_t tier) {
  strata_core_task_spec_t s;
  memset(&s, 0, sizeof(s));
  s.id = id;
  s.tier = tier;
  return s;
}

static inline void test_submit_spec(strata_core_t *c,
                                    const strata_core_task_spec_t *s,
                                    int64_t now) {
  char err[256] = "";
  strata_err_t rc = strata_core_submit(c, s, now, err, sizeof(err));
  if (rc != STRATA_OK)
    fail_msg("submit %s: %s: %s", s->id, strata_err_name(rc), err);
}

static inline void test_submit(strata_core_t *c, const char *id, uint32_t tier,
                               int64_t now) {
  strata_core_task_spec_t s = test_spec(id, tier);
  test_submit_spec(c, &s, now);
}

/* Dispatches one task at `now` and checks that it is `id`. */
static inline void test_expect_next(strata_core_t *c, int64_t now,
                                    const char *id) {
  strata_core_dispatch_t d;
  if (!strata_core_next(c, now, &d))
    fail_msg("expected %s at %lld, nothing dispatched", id, (long long)now);
  if (strcmp(d.id, id))
    fail_msg("expected %s at %lld, got %s", id, (long long)now, d.id);
}

static inline void test_expect_none(strata_core_t *c, int64_t now) {
  strata_core_dispatch_t d;
  if (strata_core_next(c, now, &d))
    fail_msg("expected nothing at %lld, got %s", (long long)now, d.id);
}

static inline void test_complete(strata_core_t *c, const char *id,
                                 strata_core_result_t r, int64_t now) {
  char err[256] = "";
  strata_err_t rc =
      strata_core_complete(c, id, r, NULL, 0, now, err, sizeof(err));
  if (rc != STRATA_OK)
    fail_msg("complete %s: %s: %s", id, strata_err_name(rc), err);
}

#endif /* STRATA_CORE_TEST_UTIL_H */
