/*
 * Test fixtures for the codec: fully populated and minimal records of each
 * kind, and a hand-rolled Avro writer used to build malformed inputs that
 * the real encoder would never produce.
 */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup(const char *s) {
  return strdup(s);
}

static uint8_t *bytes(const char *s, size_t *len) {
  *len = strlen(s);
  uint8_t *p = malloc(*len ? *len : 1);
  memcpy(p, s, *len);
  return p;
}

void fixture_task_full(strata_task_t *t) {
  strata_task_init(t);
  t->id = dup("task-0001");
  t->idempotency_key = dup("order-42/charge");
  t->type = dup("payments.charge");
  t->tier = dup("critical");
  t->priority = -7;
  t->has_deadline_ms = true;
  t->deadline_ms = 1767225600000;
  t->deadline_hard = true;
  t->expiry_policy = STRATA_EXPIRY_DROP;
  t->has_not_before_ms = true;
  t->not_before_ms = 1767225500000;
  t->has_estimate_ms = true;
  t->estimate_ms = 2500;
  strata_task_add_demand(t, "llm.tokens", 1800);
  strata_task_add_demand(t, "llm.requests", 1);
  strata_task_add_dependency(t, "task-0000");
  strata_task_add_dependency(t, "task-ffff");
  t->retry.max_attempts = 5;
  t->retry.backoff = STRATA_BACKOFF_EXPONENTIAL;
  t->retry.base_ms = 250;
  t->retry.cap_ms = 60000;
  t->attempt = 2;
  t->timeouts.has_schedule_to_start_ms = true;
  t->timeouts.schedule_to_start_ms = 30000;
  t->timeouts.has_start_to_close_ms = true;
  t->timeouts.start_to_close_ms = 120000;
  t->timeouts.has_heartbeat_ms = true;
  t->timeouts.heartbeat_ms = 10000;
  t->created_ms = 1767225400000;
  t->enqueued_ms = 1767225400123;
  strata_task_add_header(t, "trace-id", "4bf92f3577b34da6");
  strata_task_add_header(t, "tenant", "acme \xc3\xa9t\xc3\xa9");
  t->payload = bytes("{\"amount\":1299,\"currency\":\"EUR\"}\n\x01\xff",
                     &t->payload_len);
  t->has_checkpoint = true;
  t->checkpoint = bytes("step=3", &t->checkpoint_len);
  t->queue = strdup("gpu.large");
}

void fixture_task_minimal(strata_task_t *t) {
  strata_task_init(t);
  t->id = dup("t");
  t->tier = dup("normal");
  t->created_ms = 1;
  t->enqueued_ms = 2;
}

void fixture_event_full(strata_event_t *e) {
  strata_event_init(e);
  e->task_id = dup("task-0001");
  e->idempotency_key = dup("order-42/charge");
  e->attempt = 2;
  e->kind = STRATA_EVENT_FAILED;
  e->time_ms = 1767225401000;
  e->tier = dup("critical");
  e->worker_id = dup("worker-7");
  e->error = dup("upstream 503");
  e->retryable = false;
  strata_event_add_usage(e, "llm.tokens", 1650);
  e->has_checkpoint = true;
  e->checkpoint = bytes("", &e->checkpoint_len);
  e->routing_key = dup("order-42/charge");
  e->queue = dup("payments");
}

void fixture_event_minimal(strata_event_t *e) {
  strata_event_init(e);
  e->task_id = dup("t");
  e->attempt = 1;
  e->kind = STRATA_EVENT_ACCEPTED;
  e->time_ms = 5;
  e->tier = dup("normal");
  e->routing_key = dup("t");
}

void fixture_control_full(strata_control_t *c) {
  strata_control_init(c);
  c->kind = STRATA_CONTROL_PREEMPT;
  c->task_id = dup("task-0001");
  c->tier = dup("low");
  c->reason = dup("make room for critical");
  c->issued_ms = 1767225402000;
  c->issued_by = dup("ops@example.com");
}

void fixture_control_minimal(strata_control_t *c) {
  strata_control_init(c);
  c->kind = STRATA_CONTROL_DRAIN;
  c->issued_ms = 0;
}

void fixture_deadletter_full(strata_deadletter_t *d) {
  strata_deadletter_init(d);
  d->task_id = dup("task-0001");
  d->reason = STRATA_DLQ_EXHAUSTED;
  d->detail = dup("5 attempts failed");
  d->last_error = dup("upstream 503");
  d->attempts = calloc(2, sizeof(*d->attempts));
  d->attempts_count = 2;
  d->attempts[0].attempt = 1;
  d->attempts[0].has_started_ms = true;
  d->attempts[0].started_ms = 100;
  d->attempts[0].has_ended_ms = true;
  d->attempts[0].ended_ms = 200;
  d->attempts[0].outcome = dup("FAILED");
  d->attempts[0].error = dup("boom");
  d->attempts[1].attempt = 2;
  d->attempts[1].outcome = dup("TIMED_OUT");
  d->task = malloc(sizeof(*d->task));
  fixture_task_full(d->task);
  d->original = bytes("\xc3\x01garbage", &d->original_len);
  d->original_topic = dup("strata.tasks.critical");
  d->original_partition = 3;
  d->original_offset = 9007199254740993LL;
  d->dead_lettered_ms = 1767225403000;
  d->replayed = 1;
}

void fixture_deadletter_minimal(strata_deadletter_t *d) {
  strata_deadletter_init(d);
  d->reason = STRATA_DLQ_UNDECODABLE;
  d->detail = dup("bad magic");
  d->original_topic = dup("strata.tasks.normal");
}

void tb_raw(tbuf_t *b, const void *p, size_t n) {
  memcpy(b->b + b->n, p, n);
  b->n += n;
}

void tb_header(tbuf_t *b, uint64_t fp) {
  b->n = 0;
  b->b[b->n++] = 0xC3;
  b->b[b->n++] = 0x01;
  for (int i = 0; i < 8; i++)
    b->b[b->n++] = (uint8_t)(fp >> (8 * i));
}

void tb_long(tbuf_t *b, int64_t v) {
  uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
  while (z > 0x7f) {
    b->b[b->n++] = (uint8_t)((z & 0x7f) | 0x80);
    z >>= 7;
  }
  b->b[b->n++] = (uint8_t)z;
}

void tb_str(tbuf_t *b, const char *s) {
  tb_long(b, (int64_t)strlen(s));
  tb_raw(b, s, strlen(s));
}

void tb_task_until(tbuf_t *b, const char *stop) {
  static const char *const order[] = {"id",
                                      "idempotency_key",
                                      "type",
                                      "tier",
                                      "priority",
                                      "deadline_ms",
                                      "deadline_hard",
                                      "expiry_policy",
                                      "not_before_ms",
                                      "estimate_ms",
                                      "demands",
                                      "depends_on",
                                      "retry",
                                      "attempt",
                                      "timeouts",
                                      "created_ms",
                                      "enqueued_ms",
                                      "headers",
                                      "payload",
                                      "checkpoint",
                                      "queue"};
  tb_header(b, strata_codec_fingerprint(STRATA_RECORD_TASK));
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
    const char *f = order[i];
    if (stop && strcmp(f, stop) == 0)
      return;
    if (!strcmp(f, "id") || !strcmp(f, "type") || !strcmp(f, "tier"))
      tb_str(b, "x");
    else if (!strcmp(f, "retry")) {
      tb_long(b, 3);
      tb_long(b, 2);
      tb_long(b, 1000);
      tb_long(b, 300000);
    } else if (!strcmp(f, "timeouts")) {
      tb_long(b, 0);
      tb_long(b, 0);
      tb_long(b, 0);
    } else if (!strcmp(f, "attempt")) {
      tb_long(b, 1);
    } else {
      /* union branch 0 (null), 0, false, enum 0, empty map/array/bytes */
      tb_long(b, 0);
    }
  }
}

int same_json(json_t *a, json_t *b) {
  int eq = a && b && json_equal(a, b);
  if (!eq) {
    char *sa = a ? json_dumps(a, JSON_SORT_KEYS) : NULL;
    char *sb = b ? json_dumps(b, JSON_SORT_KEYS) : NULL;
    fprintf(stderr, "JSON differs:\n  %s\n  %s\n", sa ? sa : "(null)",
            sb ? sb : "(null)");
    free(sa);
    free(sb);
  }
  json_decref(a);
  json_decref(b);
  return eq;
}
