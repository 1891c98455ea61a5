/*
 * The scheduler's decision layer (scheduler/decide/decide.h) without Kafka:
 * records in, effects out, time injected. Each test names a decision the
 * daemon makes in production: dispatch, expiry, schedule-to-start, lost
 * attempts, every cancellation race, idempotency across a recovery, an
 * aborted turn, the delay ladder, and what may be committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "strata/codec.h"

#define T0 1700000000000LL

static char *tiers[] = {"critical", "low"};
static const char *tier_topics[] = {"s.tasks.critical", "s.tasks.low"};
static const char *step_topics[] = {"s.delay.1s", "s.delay.30s"};
static const int64_t step_ms[] = {1000, 30000};
static const char *const queues[] = {"default", "gpu.q"};
static const char *const dispatch_topics[] = {"s.dispatch", "s.dispatch.gpu.q"};

typedef struct {
  int late, lost, duplicates, dispatched, undecodable, started, started_late;
  double start_latency_s;
} seen_t;

static void on_late(void *o, const char *tier, const char *outcome) {
  (void)tier;
  (void)outcome;
  ((seen_t *)o)->late++;
}
static void on_lost(void *o, int tier) {
  (void)tier;
  ((seen_t *)o)->lost++;
}
static void on_dup(void *o) {
  ((seen_t *)o)->duplicates++;
}
static void on_dispatched(void *o, int tier, double l, int64_t u, bool s) {
  (void)tier;
  (void)l;
  (void)u;
  (void)s;
  ((seen_t *)o)->dispatched++;
}
static void on_undecodable(void *o) {
  ((seen_t *)o)->undecodable++;
}
static void on_started(void *o, int tier, double latency_s, bool late) {
  (void)tier;
  ((seen_t *)o)->started++;
  ((seen_t *)o)->started_late += late;
  ((seen_t *)o)->start_latency_s = latency_s;
}

/* Two tiers, a one-unit concurrency pool "gpu". */
static strata_core_t *make_core(void *opaque, char *err, size_t size) {
  strata_core_tier_config_t tc[2] = {{"critical", 3, 1000}, {"low", 1, 60000}};
  strata_core_pool_config_t gpu = {.kind = STRATA_CORE_POOL_CONCURRENCY,
                                   .limit = 1};
  strata_core_config_t cc;
  strata_core_t *core;
  (void)opaque;
  strata_core_config_default(&cc);
  cc.tiers = tc;
  cc.ntiers = 2;
  cc.lanes = 2;
  if (!(core = strata_core_new(&cc, err, size)))
    return NULL;
  if (strata_core_pool_add(core, "gpu", &gpu, NULL, err, size)) {
    strata_core_destroy(core);
    return NULL;
  }
  return core;
}

static decide_t *new_layer_window(seen_t *seen, uint64_t wmin, uint64_t wmax);

static decide_t *new_layer(seen_t *seen) {
  return new_layer_window(seen, 0, 0);
}

/* wmin 0: no dispatch window. */
static decide_t *new_layer_window(seen_t *seen, uint64_t wmin, uint64_t wmax) {
  char err[256];
  decide_config_t c = {
      .window = wmin > 0,
      .window_min = wmin,
      .window_max = wmax,
      .tiers = tiers,
      .ntiers = 2,
      .nparts = 2,
      .tier_topics = tier_topics,
      .step_topics = step_topics,
      .step_ms = step_ms,
      .nsteps = 2,
      .queues = queues,
      .dispatch_topics = dispatch_topics,
      .nqueues = 2,
      .events_topic = "s.events",
      .dlq_topic = "s.dlq",
      .control_topic = "s.control",
      .instance = "test",
      .window_ms = 3600000,
      .preemption = false,
      .seed = 42,
      .core_new = make_core,
      .observer = {.opaque = seen,
                   .late_result = on_late,
                   .heartbeat_lost = on_lost,
                   .duplicate = on_dup,
                   .dispatched = on_dispatched,
                   .undecodable = on_undecodable,
                   .started = on_started},
  };
  decide_t *d = decide_new(&c, err, sizeof(err));
  assert_non_null(d);
  decide_assign(d, 0, NULL, -1, -1);
  decide_assign(d, 1, NULL, -1, -1);
  decide_control_ready(d);
  return d;
}

/* ---- record builders -----------------------------------------------------*/

typedef struct {
  void *buf;
  size_t len;
} rec_t;

static void task_init(strata_task_t *t, const char *id, const char *tier) {
  strata_task_init(t);
  t->id = strdup(id);
  t->tier = strdup(tier);
  t->created_ms = T0 - 10;
  t->enqueued_ms = T0 - 10;
}

static rec_t encode_task(strata_task_t *t) {
  rec_t r;
  char err[256];
  assert_int_equal(strata_task_encode(t, &r.buf, &r.len, err, sizeof(err)),
                   STRATA_OK);
  strata_task_clear(t);
  return r;
}

static rec_t simple_task(const char *id, const char *tier) {
  strata_task_t t;
  task_init(&t, id, tier);
  return encode_task(&t);
}

static void feed_task(decide_t *d, int input, int32_t p, int64_t offset,
                      rec_t r, strata_epoch_ms_t now) {
  decide_task(d, &(decide_record_t){input, p, offset, r.buf, r.len}, now);
  free(r.buf);
}

static void feed_event(decide_t *d, int32_t p, int64_t offset,
                       strata_event_kind_t kind, const char *id,
                       int32_t attempt, const char *worker,
                       strata_epoch_ms_t now) {
  strata_event_t e;
  void *buf;
  size_t len;
  char err[256];
  strata_event_init(&e);
  e.kind = kind;
  e.task_id = strdup(id);
  e.routing_key = strdup(id);
  e.attempt = attempt;
  e.tier = strdup("low");
  e.time_ms = now;
  e.worker_id = worker ? strdup(worker) : NULL;
  e.retryable = false;
  assert_int_equal(strata_event_encode(&e, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  strata_event_clear(&e);
  decide_event(d, p, offset, buf, len, now);
  free(buf);
}

/* A STARTED event the worker wrote at `started` and the scheduler reads at
 * `now`. */
static void feed_started(decide_t *d, int64_t offset, const char *id,
                         strata_epoch_ms_t started, strata_epoch_ms_t now) {
  strata_event_t e;
  void *buf;
  size_t len;
  char err[256];
  strata_event_init(&e);
  e.kind = STRATA_EVENT_STARTED;
  e.task_id = strdup(id);
  e.routing_key = strdup(id);
  e.attempt = 1;
  e.tier = strdup("low");
  e.time_ms = started;
  e.worker_id = strdup("w");
  assert_int_equal(strata_event_encode(&e, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  strata_event_clear(&e);
  decide_event(d, 0, offset, buf, len, now);
  free(buf);
}

static void feed_cancel(decide_t *d, const char *id, strata_epoch_ms_t now) {
  strata_control_t c;
  void *buf;
  size_t len;
  char err[256];
  strata_control_init(&c);
  c.kind = STRATA_CONTROL_CANCEL;
  c.task_id = strdup(id);
  c.issued_ms = now;
  assert_int_equal(strata_control_encode(&c, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  strata_control_clear(&c);
  decide_control(d, 0, buf, len, now);
  free(buf);
}

/* ---- output readers ------------------------------------------------------*/

static size_t count_kind(decide_t *d, decide_out_kind_t kind) {
  size_t n, c = 0;
  const decide_out_t *o = decide_outputs(d, &n);
  for (size_t i = 0; i < n; i++)
    c += o[i].kind == kind;
  return c;
}

/* The i-th event output decoded into `e` (caller clears); false if none. */
static bool nth_event(decide_t *d, size_t nth, strata_event_t *e) {
  size_t n;
  const decide_out_t *o = decide_outputs(d, &n);
  char err[256];
  for (size_t i = 0; i < n; i++) {
    if (o[i].kind != DECIDE_OUT_EVENT || nth--)
      continue;
    strata_event_init(e);
    assert_int_equal(
        strata_event_decode(o[i].value, o[i].len, e, err, sizeof(err)),
        STRATA_OK);
    return true;
  }
  return false;
}

static bool has_event(decide_t *d, strata_event_kind_t kind, const char *id) {
  strata_event_t e;
  for (size_t i = 0; nth_event(d, i, &e); i++) {
    bool hit = e.kind == kind && !strcmp(e.task_id, id);
    strata_event_clear(&e);
    if (hit)
      return true;
  }
  return false;
}

static strata_dlq_reason_t first_dlq_reason(decide_t *d) {
  size_t n;
  const decide_out_t *o = decide_outputs(d, &n);
  char err[256];
  for (size_t i = 0; i < n; i++) {
    if (o[i].kind != DECIDE_OUT_DLQ)
      continue;
    strata_deadletter_t dl;
    strata_deadletter_init(&dl);
    assert_int_equal(
        strata_deadletter_decode(o[i].value, o[i].len, &dl, err, sizeof(err)),
        STRATA_OK);
    strata_dlq_reason_t r = dl.reason;
    strata_deadletter_clear(&dl);
    return r;
  }
  fail_msg("no dead letter among the outputs");
  return STRATA_DLQ_INVALID;
}

/* The committable offset of (input, p), or -1 when it did not move. */
static int64_t offset_of(decide_t *d, int input, int32_t p, int64_t *mark) {
  decide_offset_t offs[16];
  size_t n = decide_offsets(d, offs);
  for (size_t i = 0; i < n; i++)
    if (offs[i].input == input && offs[i].partition == p) {
      if (mark)
        *mark = offs[i].mark;
      return offs[i].offset;
    }
  return -1;
}

/* ---- tests ---------------------------------------------------------------*/

static void test_dispatch_writes_the_task_bytes_and_its_event(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  rec_t r = simple_task("t1", "low");
  void *copy = memcpy(malloc(r.len), r.buf, r.len);
  size_t n, len = r.len;
  (void)state;

  feed_task(d, 1, 0, 5, r, T0);
  assert_int_equal(decide_turn(d, T0, 100), 1);
  const decide_out_t *o = decide_outputs(d, &n);
  assert_int_equal(n, 2);
  assert_int_equal(o[0].kind, DECIDE_OUT_DISPATCH);
  assert_string_equal(o[0].topic, "s.dispatch");
  assert_int_equal(o[0].partition, 0);
  assert_int_equal(o[0].len, len);
  assert_memory_equal(o[0].value, copy, len);
  assert_true(has_event(d, STRATA_EVENT_DISPATCHED, "t1"));
  assert_int_equal(offset_of(d, 1, 0, NULL), 6);
  /* Metrics count only what committed. */
  assert_int_equal(seen.dispatched, 0);
  decide_committed(d, T0 + 5);
  assert_int_equal(seen.dispatched, 1);
  assert_false(decide_has_effects(d));
  free(copy);
  decide_destroy(d);
}

static void test_offset_waits_for_the_first_unfinished_record(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t;
  int64_t mark = -1;
  (void)state;

  decide_events_read(d, 0, 40); /* the events partition is at 40 */
  /* Offset 10 waits for a dependency; 11 dispatches at once. */
  task_init(&t, "child", "low");
  t.depends_on = calloc(1, sizeof(char *));
  t.depends_on[0] = strdup("parent");
  t.depends_on_count = 1;
  feed_task(d, 1, 0, 10, encode_task(&t), T0);
  decide_events_read(d, 0, 41);
  feed_task(d, 1, 0, 11, simple_task("other", "low"), T0);
  decide_turn(d, T0, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  /* Nothing below the held record is committable past it, and its mark is
   * the events position when it was read. */
  assert_int_equal(offset_of(d, 1, 0, &mark), -1);
  decide_committed(d, T0);
  /* The parent succeeds (read back from events): the child dispatches and
   * both records are finished. */
  feed_event(d, 0, 41, STRATA_EVENT_SUCCEEDED, "parent", 1, "w", T0 + 1);
  decide_turn(d, T0 + 1, 100);
  assert_true(has_event(d, STRATA_EVENT_DISPATCHED, "child"));
  assert_int_equal(offset_of(d, 1, 0, &mark), 12);
  assert_int_equal(mark, 42);
  decide_destroy(d);
}

static void test_hard_deadline_past_is_dead_lettered_not_run(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t;
  (void)state;

  task_init(&t, "late", "critical");
  t.has_deadline_ms = true;
  t.deadline_ms = T0 + 100;
  t.deadline_hard = true;
  t.has_estimate_ms = true;
  t.estimate_ms = 50;
  /* Its gpu demand is held by another task, so it waits until too late. */
  strata_task_add_demand(&t, "gpu", 1);
  feed_task(d, 0, 1, 0, simple_task("holder", "critical"), T0);
  {
    strata_task_t h;
    task_init(&h, "gpuholder", "critical");
    strata_task_add_demand(&h, "gpu", 1);
    feed_task(d, 0, 1, 1, encode_task(&h), T0);
  }
  decide_turn(d, T0, 100);
  decide_committed(d, T0);
  feed_task(d, 0, 1, 2, encode_task(&t), T0);
  decide_turn(d, T0 + 10, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  decide_committed(d, T0 + 10);
  decide_turn(d, T0 + 60, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_true(has_event(d, STRATA_EVENT_DEADLINE_MISSED, "late"));
  assert_true(has_event(d, STRATA_EVENT_DEAD_LETTERED, "late"));
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_DEADLINE_EXPIRED);
  decide_destroy(d);
}

static void test_schedule_to_start_timeout_is_a_timed_out_event(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t, h;
  (void)state;

  task_init(&h, "gpuholder", "low");
  strata_task_add_demand(&h, "gpu", 1);
  feed_task(d, 1, 0, 0, encode_task(&h), T0);
  decide_turn(d, T0, 100);
  decide_committed(d, T0);
  task_init(&t, "waits", "low");
  strata_task_add_demand(&t, "gpu", 1);
  t.timeouts.has_schedule_to_start_ms = true;
  t.timeouts.schedule_to_start_ms = 500;
  feed_task(d, 1, 0, 1, encode_task(&t), T0);
  decide_turn(d, T0 + 1000, 100);
  assert_true(has_event(d, STRATA_EVENT_TIMED_OUT, "waits"));
  assert_false(has_event(d, STRATA_EVENT_DEADLINE_MISSED, "waits"));
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  decide_destroy(d);
}

/* A task with a heartbeat timeout, dispatched, started by worker "w". */
static decide_t *running_with_heartbeat(seen_t *seen, int32_t max_attempts) {
  decide_t *d = new_layer(seen);
  strata_task_t t;
  task_init(&t, "hb", "low");
  t.timeouts.has_heartbeat_ms = true;
  t.timeouts.heartbeat_ms = 1000;
  t.retry.max_attempts = max_attempts;
  feed_task(d, 1, 0, 0, encode_task(&t), T0);
  decide_turn(d, T0, 100);
  decide_committed(d, T0);
  feed_event(d, 0, 0, STRATA_EVENT_STARTED, "hb", 1, "w", T0 + 10);
  return d;
}

static void test_lost_heartbeat_writes_the_next_attempt(void **state) {
  seen_t seen = {0};
  decide_t *d = running_with_heartbeat(&seen, 3);
  size_t n;
  char err[256];
  (void)state;

  decide_watch(d, T0 + 500); /* within the timeout: nothing */
  assert_false(decide_has_effects(d));
  decide_watch(d, T0 + 2000);
  assert_int_equal(count_kind(d, DECIDE_OUT_RETRY), 1);
  const decide_out_t *o = decide_outputs(d, &n);
  for (size_t i = 0; i < n; i++) {
    strata_task_t next;
    if (o[i].kind != DECIDE_OUT_RETRY)
      continue;
    assert_string_equal(o[i].topic, "s.tasks.low");
    strata_task_init(&next);
    assert_int_equal(
        strata_task_decode(o[i].value, o[i].len, &next, err, sizeof(err)),
        STRATA_OK);
    assert_int_equal(next.attempt, 2);
    assert_true(next.has_not_before_ms);
    assert_true(next.not_before_ms >= T0 + 2000);
    strata_task_clear(&next);
  }
  strata_event_t e;
  assert_true(nth_event(d, 0, &e));
  assert_int_equal(e.kind, STRATA_EVENT_TIMED_OUT);
  assert_true(e.retryable);
  assert_null(e.worker_id);
  strata_event_clear(&e);
  decide_committed(d, T0 + 2000);
  assert_int_equal(seen.lost, 1);
  /* The lost attempt's result comes in late: recorded, applies nothing. */
  feed_event(d, 0, 5, STRATA_EVENT_SUCCEEDED, "hb", 1, "w", T0 + 2500);
  assert_int_equal(seen.late, 1);
  assert_false(decide_has_effects(d));
  decide_destroy(d);
}

static void test_lost_heartbeat_last_attempt_is_dead_lettered(void **state) {
  seen_t seen = {0};
  decide_t *d = running_with_heartbeat(&seen, 1);
  (void)state;

  decide_watch(d, T0 + 2000);
  assert_int_equal(count_kind(d, DECIDE_OUT_RETRY), 0);
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_EXHAUSTED);
  assert_true(has_event(d, STRATA_EVENT_TIMED_OUT, "hb"));
  assert_true(has_event(d, STRATA_EVENT_DEAD_LETTERED, "hb"));
  decide_destroy(d);
}

static void test_cancel_of_a_held_task_wins_over_dispatch(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  (void)state;

  feed_task(d, 1, 0, 3, simple_task("c1", "low"), T0);
  feed_cancel(d, "c1", T0 + 1);
  assert_true(has_event(d, STRATA_EVENT_CANCELLED, "c1"));
  decide_turn(d, T0 + 2, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_int_equal(offset_of(d, 1, 0, NULL), 4);
  decide_committed(d, T0 + 2);
  /* The same record read again (a retry of the producer): skipped, and no
   * second CANCELLED event. */
  feed_task(d, 1, 0, 4, simple_task("c1", "low"), T0 + 3);
  decide_turn(d, T0 + 3, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_int_equal(count_kind(d, DECIDE_OUT_EVENT), 0);
  decide_destroy(d);
}

static void test_cancel_before_arrival_is_reported_once(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  (void)state;

  feed_cancel(d, "early", T0);
  assert_false(decide_has_effects(d)); /* nothing held: nothing to write */
  feed_task(d, 1, 1, 0, simple_task("early", "low"), T0 + 1);
  decide_turn(d, T0 + 1, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_true(has_event(d, STRATA_EVENT_CANCELLED, "early"));
  decide_committed(d, T0 + 1);
  feed_task(d, 1, 1, 1, simple_task("early", "low"), T0 + 2);
  assert_int_equal(count_kind(d, DECIDE_OUT_EVENT), 0);
  decide_destroy(d);
}

static void test_cancel_already_reported_by_a_predecessor(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  (void)state;

  /* A recovery scan reads the CANCELLED event a predecessor wrote, then the
   * command itself: the task, when it arrives, is skipped silently. */
  feed_event(d, 1, 0, STRATA_EVENT_CANCELLED, "gone", 1, NULL, T0);
  feed_cancel(d, "gone", T0);
  feed_task(d, 1, 1, 0, simple_task("gone", "low"), T0 + 1);
  decide_turn(d, T0 + 1, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_int_equal(count_kind(d, DECIDE_OUT_EVENT), 0);
  decide_destroy(d);
}

static void test_cancel_of_a_running_task_is_left_to_its_worker(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t a, b;
  (void)state;

  task_init(&a, "run", "low");
  strata_task_add_demand(&a, "gpu", 1);
  feed_task(d, 1, 0, 0, encode_task(&a), T0);
  decide_turn(d, T0, 100);
  decide_committed(d, T0);
  task_init(&b, "next", "low");
  strata_task_add_demand(&b, "gpu", 1);
  feed_task(d, 1, 0, 1, encode_task(&b), T0);
  feed_cancel(d, "run", T0 + 1);
  /* The scheduler writes nothing for a running attempt... */
  assert_int_equal(count_kind(d, DECIDE_OUT_EVENT), 0);
  decide_turn(d, T0 + 1, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0); /* gpu held */
  /* ...until its worker reports CANCELLED, which frees the pool. */
  feed_event(d, 0, 3, STRATA_EVENT_CANCELLED, "run", 1, "w", T0 + 2);
  decide_turn(d, T0 + 2, 100);
  assert_true(has_event(d, STRATA_EVENT_DISPATCHED, "next"));
  decide_destroy(d);
}

static void test_idempotency_holds_across_a_recovery(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t;
  size_t n;
  const decide_out_t *o;
  (void)state;

  /* Instance A dispatches a keyed task. */
  task_init(&t, "a-1", "low");
  t.idempotency_key = strdup("order-7");
  feed_task(d, 1, 0, 0, encode_task(&t), T0);
  decide_turn(d, T0, 100);
  strata_event_t e;
  assert_true(nth_event(d, 0, &e));
  o = decide_outputs(d, &n);
  void *ev = NULL;
  size_t evlen = 0;
  for (size_t i = 0; i < n; i++)
    if (o[i].kind == DECIDE_OUT_EVENT) {
      ev = memcpy(malloc(o[i].len), o[i].value, o[i].len);
      evlen = o[i].len;
    }
  strata_event_clear(&e);
  decide_committed(d, T0);
  decide_destroy(d);

  /* Instance B takes partition 0, scans events 0..1 (A's DISPATCHED), then
   * reads the record again (A died before committing its offset) and a
   * second submission under the same key. Neither runs. */
  seen_t seen_b = {0};
  d = new_layer(&seen_b);
  decide_reset(d);
  decide_assign(d, 0, NULL, 0, 1);
  assert_true(decide_recovering(d, 0));
  decide_event(d, 0, 0, ev, evlen, T0 + 100);
  assert_true(decide_events_read(d, 0, 1));
  assert_false(decide_recovering(d, 0));
  free(ev);
  task_init(&t, "a-1", "low");
  t.idempotency_key = strdup("order-7");
  feed_task(d, 1, 0, 0, encode_task(&t), T0 + 100);
  task_init(&t, "a-2", "low");
  t.idempotency_key = strdup("order-7");
  feed_task(d, 1, 0, 1, encode_task(&t), T0 + 100);
  decide_turn(d, T0 + 100, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_int_equal(seen_b.duplicates, 2);
  assert_int_equal(offset_of(d, 1, 0, NULL), 2);
  decide_destroy(d);
}

static void test_adopted_attempt_keeps_its_pool_until_it_ends(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_event_t e;
  strata_task_t t;
  void *buf;
  size_t len;
  char err[256];
  (void)state;

  decide_reset(d);
  decide_assign(d, 0, NULL, 0, 10);
  strata_event_init(&e);
  e.kind = STRATA_EVENT_DISPATCHED;
  e.task_id = strdup("old");
  e.routing_key = strdup("old");
  e.attempt = 1;
  e.tier = strdup("low");
  e.time_ms = T0;
  e.usage = calloc(1, sizeof(*e.usage));
  e.usage[0].key = strdup("gpu");
  e.usage[0].value = 1;
  e.usage_count = 1;
  assert_int_equal(strata_event_encode(&e, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  strata_event_clear(&e);
  decide_event(d, 0, 3, buf, len, T0);
  free(buf);
  decide_events_read(d, 0, 10);
  assert_int_equal(decide_running(d), 1);
  task_init(&t, "new", "low");
  strata_task_add_demand(&t, "gpu", 1);
  feed_task(d, 1, 0, 0, encode_task(&t), T0 + 1);
  decide_turn(d, T0 + 1, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  feed_event(d, 0, 11, STRATA_EVENT_SUCCEEDED, "old", 1, "w", T0 + 2);
  decide_turn(d, T0 + 2, 100);
  assert_true(has_event(d, STRATA_EVENT_DISPATCHED, "new"));
  decide_destroy(d);
}

static void test_aborted_turn_decides_nothing(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  (void)state;

  feed_task(d, 1, 0, 0, simple_task("x", "low"), T0);
  decide_turn(d, T0, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  /* The transaction aborted: the layer is rebuilt and the record re-read
   * from the committed offset dispatches again. */
  assert_int_equal(decide_reset(d), STRATA_OK);
  assert_false(decide_has_effects(d));
  decide_assign(d, 0, NULL, -1, -1);
  feed_task(d, 1, 0, 0, simple_task("x", "low"), T0 + 1);
  decide_turn(d, T0 + 1, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  assert_int_equal(seen.dispatched, 0);
  decide_destroy(d);
}

static void test_far_delay_hops_onto_the_longest_step(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t;
  size_t n;
  (void)state;

  task_init(&t, "later", "low");
  t.has_not_before_ms = true;
  t.not_before_ms = T0 + 45000;
  feed_task(d, 1, 0, 0, encode_task(&t), T0);
  const decide_out_t *o = decide_outputs(d, &n);
  assert_int_equal(n, 1);
  assert_int_equal(o[0].kind, DECIDE_OUT_HOP);
  assert_string_equal(o[0].topic, "s.delay.30s");
  assert_int_equal(o[0].timestamp, T0);
  assert_int_equal(offset_of(d, 1, 0, NULL), 1);
  decide_committed(d, T0);
  /* Due soon: held in the core and dispatched once due. */
  task_init(&t, "soon", "low");
  t.has_not_before_ms = true;
  t.not_before_ms = T0 + 500;
  feed_task(d, 1, 0, 1, encode_task(&t), T0);
  decide_turn(d, T0 + 100, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  decide_turn(d, T0 + 500, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  decide_destroy(d);
}

static void test_bad_records_are_dead_lettered_and_committed(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  (void)state;

  decide_task(d, &(decide_record_t){1, 0, 0, "garbage", 7}, T0);
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_UNDECODABLE);
  assert_int_equal(seen.undecodable, 1);
  decide_committed(d, T0);
  /* A task on the wrong tier's topic. */
  feed_task(d, 1, 0, 1, simple_task("wrong", "critical"), T0);
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_INVALID);
  assert_true(has_event(d, STRATA_EVENT_DEAD_LETTERED, "wrong"));
  /* A delay step record naming no configured tier: no tier to name. */
  feed_task(d, 2, 0, 0, simple_task("nowhere", "gold"), T0);
  assert_int_equal(offset_of(d, 1, 0, NULL), 2);
  assert_int_equal(offset_of(d, 2, 0, NULL), 1);
  decide_destroy(d);
}

static void test_nothing_is_decided_before_the_control_history(void **state) {
  seen_t seen = {0};
  char err[256];
  decide_config_t c = {.tiers = tiers,
                       .ntiers = 2,
                       .nparts = 1,
                       .tier_topics = tier_topics,
                       .step_topics = step_topics,
                       .step_ms = step_ms,
                       .nsteps = 0,
                       .queues = queues,
                       .dispatch_topics = dispatch_topics,
                       .nqueues = 2,
                       .events_topic = "s.events",
                       .dlq_topic = "s.dlq",
                       .control_topic = "s.control",
                       .instance = "test",
                       .window_ms = 1000,
                       .core_new = make_core,
                       .observer = {.opaque = &seen}};
  decide_t *d = decide_new(&c, err, sizeof(err));
  (void)state;
  assert_non_null(d);
  decide_assign(d, 0, NULL, -1, -1);
  feed_task(d, 1, 0, 0, simple_task("y", "low"), T0);
  assert_int_equal(decide_turn(d, T0, 100), 0);
  decide_control_ready(d);
  assert_int_equal(decide_turn(d, T0, 100), 1);
  decide_destroy(d);
}

/* ---- the dispatch window -------------------------------------------------*/

/* Dispatches of one turn (tier 1 = low, ids low-<n>), as a count. */
static size_t turn_dispatches(decide_t *d, strata_epoch_ms_t now) {
  size_t n;
  decide_turn(d, now, 1000);
  n = count_kind(d, DECIDE_OUT_DISPATCH);
  decide_committed(d, now);
  return n;
}

static void feed_backlog(decide_t *d, int n, strata_epoch_ms_t now) {
  char id[32];
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "low-%d", i);
    feed_task(d, 1, 0, i, simple_task(id, "low"), now);
  }
}

static void test_window_bounds_attempts_no_worker_started(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer_window(&seen, 4, 100);
  decide_window_t w;
  (void)state;

  feed_backlog(d, 10, T0);
  assert_int_equal(turn_dispatches(d, T0), 4);
  /* Nobody started anything: nothing more leaves the core. */
  assert_int_equal(turn_dispatches(d, T0 + 10), 0);
  decide_window(d, 0, &w);
  assert_true(w.on);
  assert_int_equal(w.unstarted, 4);
  /* Two start: two more go. */
  feed_event(d, 0, 0, STRATA_EVENT_STARTED, "low-0", 1, "w", T0 + 20);
  feed_event(d, 0, 1, STRATA_EVENT_STARTED, "low-1", 1, "w", T0 + 20);
  assert_int_equal(turn_dispatches(d, T0 + 20), 2);
  /* A worker that reports only the end frees room as well. */
  feed_event(d, 0, 2, STRATA_EVENT_SUCCEEDED, "low-2", 1, "w", T0 + 30);
  assert_int_equal(turn_dispatches(d, T0 + 30), 1);
  decide_destroy(d);
}

static void test_window_lets_a_later_critical_task_go_first(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer_window(&seen, 2, 100);
  strata_event_t e;
  (void)state;

  feed_backlog(d, 50, T0);
  assert_int_equal(turn_dispatches(d, T0), 2);
  feed_task(d, 0, 0, 0, simple_task("urgent", "critical"), T0 + 5);
  assert_int_equal(turn_dispatches(d, T0 + 5), 0);
  /* A slot frees: the critical task goes, not the 48 low ones before it. */
  feed_event(d, 0, 0, STRATA_EVENT_STARTED, "low-0", 1, "w", T0 + 10);
  decide_turn(d, T0 + 10, 1000);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  assert_true(nth_event(d, 0, &e));
  assert_int_equal(e.kind, STRATA_EVENT_DISPATCHED);
  assert_string_equal(e.task_id, "urgent");
  strata_event_clear(&e);
  decide_destroy(d);
}

static void test_window_grows_to_rate_times_round_trip(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer_window(&seen, 8, 100000);
  decide_window_t w;
  strata_epoch_ms_t sent[6000], began[6000];
  char id[32];
  int next = 0, started = 0, read = 0;
  (void)state;

  /* A fleet that starts at most one attempt a millisecond, each one 40 ms
   * after it was dispatched, and whose STARTED events are read 20 ms after
   * each start: 4 s of simulated time in 1 ms turns. */
  feed_backlog(d, 6000, T0);
  for (int ms = 0; ms < 4000; ms++) {
    strata_epoch_ms_t now = T0 + ms;
    size_t n = turn_dispatches(d, now);
    for (size_t k = 0; k < n; k++)
      sent[next++] = now;
    if (started < next && sent[started] <= now - 40)
      began[started++] = now;
    while (read < started && began[read] <= now - 20) {
      snprintf(id, sizeof(id), "low-%d", read);
      feed_started(d, read + 1, id, began[read], now);
      read++;
    }
    decide_window(d, 0, &w);
    assert_true(w.unstarted <= w.limit + 1);
  }
  decide_window(d, 0, &w);
  /* limit = min + ceil(1.5 * rate * 4 * latency) = 8 + 6 * 1000 * 0.020 */
  assert_true(w.start_rate > 900 && w.start_rate < 1100);
  assert_true(w.latency_ms > 19 && w.latency_ms < 21);
  assert_true(w.limit >= 110 && w.limit <= 135);
  /* The bound covers the round trip (60 ms): after a ramp of a few round
   * trips the fleet kept its pace of one start a millisecond. */
  assert_true(started > 3500);
  /* Idle, the window shrinks back to its minimum. */
  for (int ms = 4000; ms < 8000; ms += 100)
    turn_dispatches(d, T0 + ms);
  decide_window(d, 0, &w);
  assert_true(w.limit < 12);
  decide_destroy(d);
}

/* ---- queues --------------------------------------------------------------*/

static rec_t queued_task(const char *id, const char *queue) {
  strata_task_t t;
  task_init(&t, id, "low");
  t.queue = queue ? strdup(queue) : NULL;
  return encode_task(&t);
}

static void test_a_task_goes_to_its_queues_dispatch_topic(void **state) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  const decide_out_t *o;
  strata_event_t e;
  size_t n;
  (void)state;

  feed_task(d, 1, 0, 0, queued_task("g", "gpu.q"), T0);
  feed_task(d, 1, 0, 1, queued_task("n", NULL), T0);
  feed_task(d, 1, 0, 2, queued_task("x", "default"), T0);
  decide_turn(d, T0, 100);
  o = decide_outputs(d, &n);
  for (size_t i = 0, k = 0; i < n; i++) {
    if (o[i].kind != DECIDE_OUT_DISPATCH)
      continue;
    /* The core's order among equals is arrival order. */
    assert_string_equal(o[i].topic, k == 0 ? "s.dispatch.gpu.q" : "s.dispatch");
    k++;
  }
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 3);
  /* The DISPATCHED event names the queue; null for the default one. */
  for (size_t k = 0; nth_event(d, k, &e); k++) {
    if (!strcmp(e.task_id, "g"))
      assert_string_equal(e.queue, "gpu.q");
    else
      assert_null(e.queue);
    strata_event_clear(&e);
  }
  decide_destroy(d);
}

static void test_an_unconfigured_queue_is_dead_lettered_naming_it(void **s) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_event_t e;
  (void)s;

  feed_task(d, 1, 0, 0, queued_task("q", "nope"), T0);
  decide_turn(d, T0, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 0);
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_INVALID);
  assert_true(nth_event(d, 0, &e));
  assert_int_equal(e.kind, STRATA_EVENT_DEAD_LETTERED);
  assert_non_null(strstr(e.error, "Task.queue: \"nope\" is not a configured"));
  strata_event_clear(&e);
  decide_destroy(d);
}

static void test_a_full_queue_window_does_not_hold_back_another(void **s) {
  seen_t seen = {0};
  decide_t *d = new_layer_window(&seen, 3, 100);
  decide_window_t w;
  char id[32];
  (void)s;

  /* 50 gpu tasks first, then 5 default ones, all low: gpu's window takes
   * 3, and the default queue's window its own 3 at once. */
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof(id), "g-%d", i);
    feed_task(d, 1, 0, i, queued_task(id, "gpu.q"), T0);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof(id), "d-%d", i);
    feed_task(d, 1, 0, 50 + i, queued_task(id, NULL), T0);
  }
  assert_int_equal(turn_dispatches(d, T0), 6);
  assert_int_equal(turn_dispatches(d, T0 + 1), 0);
  decide_window(d, 0, &w);
  assert_int_equal(w.unstarted, 3);
  decide_window(d, 1, &w);
  assert_int_equal(w.unstarted, 3);
  /* A default-queue start frees room in that queue only. */
  feed_event(d, 0, 0, STRATA_EVENT_STARTED, "d-0", 1, "w", T0 + 2);
  decide_turn(d, T0 + 2, 1000);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  assert_string_equal(decide_outputs(d, &(size_t){0})[0].topic, "s.dispatch");
  decide_committed(d, T0 + 2);
  /* A gpu start, a gpu dispatch. */
  feed_event(d, 0, 1, STRATA_EVENT_STARTED, "g-0", 1, "w", T0 + 3);
  decide_turn(d, T0 + 3, 1000);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 1);
  assert_string_equal(decide_outputs(d, &(size_t){0})[0].topic,
                      "s.dispatch.gpu.q");
  decide_destroy(d);
}

static void test_a_start_reports_its_latency_and_a_late_one(void **s) {
  seen_t seen = {0};
  decide_t *d = new_layer(&seen);
  strata_task_t t;
  (void)s;

  /* Enqueued at T0 - 10 with a deadline at T0 + 100. */
  task_init(&t, "on-time", "low");
  t.has_deadline_ms = true;
  t.deadline_ms = T0 + 100;
  feed_task(d, 1, 0, 0, encode_task(&t), T0);
  task_init(&t, "late", "low");
  t.has_deadline_ms = true;
  t.deadline_ms = T0 + 100;
  feed_task(d, 1, 0, 1, encode_task(&t), T0);
  decide_turn(d, T0, 100);
  decide_committed(d, T0);
  feed_started(d, 0, "on-time", T0 + 40, T0 + 45);
  assert_int_equal(seen.started, 1);
  assert_int_equal(seen.started_late, 0);
  assert_true(seen.start_latency_s > 0.049 && seen.start_latency_s < 0.051);
  feed_started(d, 1, "late", T0 + 190, T0 + 200);
  assert_int_equal(seen.started, 2);
  assert_int_equal(seen.started_late, 1);
  /* A heartbeat of a started attempt reports no second start. */
  feed_event(d, 0, 2, STRATA_EVENT_HEARTBEAT, "late", 1, "w", T0 + 300);
  assert_int_equal(seen.started, 2);
  decide_destroy(d);
}

/* A task record too large to dispatch (above strata_record_budget()) is
 * dead-lettered at intake, and its dead letter fits a record: good tasks
 * around it go on. */
static void test_a_task_too_large_to_dispatch_is_dead_lettered(void **s) {
  seen_t seen = {0};
  decide_t *d;
  strata_task_t t;
  const decide_out_t *o;
  strata_event_t e;
  size_t n, dl = 0;
  (void)s;

  strata_codec_set_max_record_size(16384);
  d = new_layer(&seen);
  feed_task(d, 1, 0, 0, simple_task("before", "low"), T0);
  task_init(&t, "big", "low");
  t.payload_len = strata_record_budget() + 200 - 100;
  t.payload = calloc(1, t.payload_len);
  feed_task(d, 1, 0, 1, encode_task(&t), T0);
  feed_task(d, 1, 0, 2, simple_task("after", "low"), T0);
  decide_turn(d, T0, 100);
  assert_int_equal(count_kind(d, DECIDE_OUT_DISPATCH), 2);
  assert_int_equal(first_dlq_reason(d), STRATA_DLQ_INVALID);
  o = decide_outputs(d, &n);
  for (size_t i = 0; i < n; i++)
    if (o[i].kind == DECIDE_OUT_DLQ) {
      assert_true(o[i].len <= strata_record_budget());
      dl++;
    }
  assert_int_equal(dl, 1);
  assert_true(has_event(d, STRATA_EVENT_DEAD_LETTERED, "big"));
  for (size_t k = 0; nth_event(d, k, &e); k++) {
    if (e.kind == STRATA_EVENT_DEAD_LETTERED)
      assert_non_null(strstr(e.error, "can be dispatched"));
    strata_event_clear(&e);
  }
  decide_destroy(d);
  strata_codec_set_max_record_size(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dispatch_writes_the_task_bytes_and_its_event),
      cmocka_unit_test(test_offset_waits_for_the_first_unfinished_record),
      cmocka_unit_test(test_hard_deadline_past_is_dead_lettered_not_run),
      cmocka_unit_test(test_schedule_to_start_timeout_is_a_timed_out_event),
      cmocka_unit_test(test_lost_heartbeat_writes_the_next_attempt),
      cmocka_unit_test(test_lost_heartbeat_last_attempt_is_dead_lettered),
      cmocka_unit_test(test_cancel_of_a_held_task_wins_over_dispatch),
      cmocka_unit_test(test_cancel_before_arrival_is_reported_once),
      cmocka_unit_test(test_cancel_already_reported_by_a_predecessor),
      cmocka_unit_test(test_cancel_of_a_running_task_is_left_to_its_worker),
      cmocka_unit_test(test_idempotency_holds_across_a_recovery),
      cmocka_unit_test(test_adopted_attempt_keeps_its_pool_until_it_ends),
      cmocka_unit_test(test_aborted_turn_decides_nothing),
      cmocka_unit_test(test_far_delay_hops_onto_the_longest_step),
      cmocka_unit_test(test_bad_records_are_dead_lettered_and_committed),
      cmocka_unit_test(test_nothing_is_decided_before_the_control_history),
      cmocka_unit_test(test_window_bounds_attempts_no_worker_started),
      cmocka_unit_test(test_window_lets_a_later_critical_task_go_first),
      cmocka_unit_test(test_window_grows_to_rate_times_round_trip),
      cmocka_unit_test(test_a_task_goes_to_its_queues_dispatch_topic),
      cmocka_unit_test(test_a_task_too_large_to_dispatch_is_dead_lettered),
      cmocka_unit_test(test_a_start_reports_its_latency_and_a_late_one),
      cmocka_unit_test(test_an_unconfigured_queue_is_dead_lettered_naming_it),
      cmocka_unit_test(test_a_full_queue_window_does_not_hold_back_another),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
