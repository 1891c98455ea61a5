/*
 * The decision layer's lifecycle, the assignment it decides for, and the
 * turn's outputs: the records every decision writes (events, dead letters,
 * control records) and the ledger marks and metrics that take effect only
 * once the turn's transaction commits.
 *
 * Invariants: every decision about a task writes an event to the events
 * partition of the task's own partition number, in the same turn as the
 * decision's other records; an output list is either committed whole
 * (decide_committed) or dropped whole with the assignment (decide_reset).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide_int.h"
#include "strata/backoff.h"
#include "strata/log.h"
#include "strata/program.h"

#define COMP "scheduler"

/* Out of memory in the decision layer ends the program: a decision that
 * cannot be recorded cannot be half made, and nothing of the turn was
 * committed, so a restart resumes from Kafka (strata_program_oom). */
_Noreturn void decide_oom(void) {
  strata_program_oom();
}

void decide_must(strata_err_t rc) {
  if (rc == STRATA_ERR_NOMEM)
    decide_oom();
}

void *decide_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    decide_oom();
  return p;
}

void *decide_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q)
    decide_oom();
  return q;
}

char *decide_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(decide_xmalloc(n), s, n);
}

tracker_t *decide_tracker(decide_t *d, int input, int32_t p) {
  return &d->trackers[input * d->cfg.nparts + p];
}

int decide_queue_lane(const decide_t *d, const char *queue) {
  if (!queue)
    return 0;
  for (int i = 0; i < d->cfg.nqueues; i++)
    if (!strcmp(d->cfg.queues[i], queue))
      return i;
  return -1;
}

int decide_tier_index(const decide_t *d, const char *tier) {
  for (int i = 0; i < d->cfg.ntiers; i++)
    if (!strcmp(d->cfg.tiers[i], tier))
      return i;
  return -1;
}

const char *decide_input_topic(const decide_t *d, int input) {
  return input < d->cfg.ntiers ? d->cfg.tier_topics[input]
                               : d->cfg.step_topics[input - d->cfg.ntiers];
}

const char *decide_routing_key(const strata_task_t *t) {
  return t->idempotency_key ? t->idempotency_key : t->id;
}

static uint8_t *borrow_bytes(const void *p) {
  union {
    const void *c;
    uint8_t *m;
  } u = {p};
  return u.m;
}

decide_out_t *decide_out_add(decide_t *d, decide_out_kind_t kind,
                             const char *topic, int32_t partition,
                             const char *key, void *value, size_t len) {
  if (d->nout == d->capout) {
    d->capout = d->capout ? d->capout * 2 : 256;
    d->out = decide_xrealloc(d->out, d->capout * sizeof(*d->out));
  }
  d->out[d->nout] = (decide_out_t){
      kind, topic, partition, decide_xstrdup(key ? key : ""), value, len, 0};
  return &d->out[d->nout++];
}

pending_decision_t *decide_pend(decide_t *d, const char *id, int32_t attempt) {
  if (d->npend == d->cappend) {
    d->cappend = d->cappend ? d->cappend * 2 : 256;
    d->pend = decide_xrealloc(d->pend, d->cappend * sizeof(*d->pend));
  }
  d->pend[d->npend] = (pending_decision_t){.id = decide_xstrdup(id),
                                           .attempt = attempt,
                                           .kind = PEND_DECIDED,
                                           .unblock_ms = -1};
  return &d->pend[d->npend++];
}

static void clear_outputs(decide_t *d) {
  for (size_t i = 0; i < d->nout; i++) {
    free(d->out[i].key);
    free(d->out[i].value);
  }
  d->nout = 0;
  for (size_t i = 0; i < d->npend; i++)
    free(d->pend[i].id);
  d->npend = 0;
  memset(d->dlq_turn, 0, sizeof(d->dlq_turn));
}

void decide_emit_event(decide_t *d, strata_event_kind_t kind,
                       const subject_t *who, const char *error, bool retryable,
                       strata_kv_long_t *usage, size_t nusage,
                       strata_epoch_ms_t now) {
  strata_event_t e;
  void *buf;
  size_t len;
  char err[256];

  strata_event_init(&e);
  e.kind = kind;
  e.task_id = borrow(who->id);
  e.routing_key = borrow(who->key);
  e.idempotency_key = who->keyed ? borrow(who->key) : NULL;
  e.attempt = who->attempt;
  e.tier = who->tier >= 0 ? d->cfg.tiers[who->tier] : borrow("unknown");
  e.time_ms = now;
  e.error = borrow(error);
  e.retryable = retryable;
  e.worker_id = NULL;
  e.usage = usage;
  e.usage_count = nusage;
  e.queue = who->lane > 0 ? borrow(d->cfg.queues[who->lane]) : NULL;
  if (strata_event_encode(&e, &buf, &len, err, sizeof(err)))
    STRATA_ERROR(COMP, "encoding a %s event for %s: %s",
                 strata_event_kind_name(kind), who->id, err);
  else
    decide_out_add(d, DECIDE_OUT_EVENT, d->cfg.events_topic, who->partition,
                   who->key, buf, len);
  /* The struct borrowed every pointer: nothing to clear. */
}

void decide_emit_control(decide_t *d, strata_control_kind_t kind,
                         const char *task_id, const char *reason,
                         strata_epoch_ms_t now) {
  strata_control_t c;
  char by[300], err[256];
  void *buf;
  size_t len;

  strata_control_init(&c);
  c.kind = kind;
  c.task_id = borrow(task_id);
  c.reason = borrow(reason);
  c.issued_ms = now;
  snprintf(by, sizeof(by), "strata-scheduler %s", d->cfg.instance);
  c.issued_by = by;
  if (strata_control_encode(&c, &buf, &len, err, sizeof(err)))
    STRATA_ERROR(COMP, "encoding a control record for %s: %s", task_id, err);
  else
    decide_out_add(d, DECIDE_OUT_CONTROL, d->cfg.control_topic, 0, task_id, buf,
                   len);
}

void decide_emit_dlq(decide_t *d, strata_dlq_reason_t reason,
                     const char *detail, const strata_task_t *task,
                     const void *orig, size_t origlen, const char *topic,
                     int32_t p, int64_t offset,
                     const strata_attempt_record_t *last,
                     strata_epoch_ms_t now) {
  strata_deadletter_t dl;
  strata_task_t copy;
  void *buf;
  size_t len;
  char err[256], key[STRATA_DLQ_ID_MAX + 1];
  strata_err_t rc;

  strata_deadletter_init(&dl);
  dl.reason = reason;
  dl.detail = borrow(detail);
  dl.task_id = task ? task->id : NULL;
  dl.original = borrow_bytes(orig);
  dl.original_len = origlen;
  dl.original_topic = borrow(topic);
  dl.original_partition = p;
  dl.original_offset = offset;
  dl.dead_lettered_ms = now;
  strata_task_init(&copy);
  if (task && strata_task_copy(&copy, task, err, sizeof(err)) == STRATA_OK)
    dl.task = &copy;
  /* Out of memory, the history is what could be had. */
  if (task)
    strata_deadletter_set_history(&dl, task, last);
  if (last && last->error)
    dl.last_error = borrow(last->error);
  /* Bounded: a dead letter too large for a record would be one lost. */
  rc = strata_deadletter_encode_bounded(&dl, 0, &buf, &len, err, sizeof(err));
  if (rc == STRATA_ERR_NOMEM)
    decide_oom();
  if (rc)
    STRATA_ERROR(COMP,
                 "encoding a dead letter for %s[%" PRId32 "]@%" PRId64 ": %s",
                 topic, p, offset, err);
  else
    decide_out_add(
        d, DECIDE_OUT_DLQ, d->cfg.dlq_topic, p,
        strata_deadletter_key(task ? task->id : NULL, key, sizeof(key)), buf,
        len);
  strata_task_clear(&copy);
  for (size_t i = 0; i < dl.attempts_count; i++) {
    free(dl.attempts[i].outcome);
    free(dl.attempts[i].error);
  }
  free(dl.attempts);
  d->dlq_turn[reason]++;
}

/* ---- lifecycle -----------------------------------------------------------*/

/* A new core from the configuration, with the operator state applied and
 * the concurrency pools noted. */
static strata_err_t core_build(decide_t *d, char *err, size_t size) {
  if (!(d->core = d->cfg.core_new(d->cfg.core_opaque, err, size)))
    return STRATA_ERR_CONFIG;
  d->conc_pools = 0;
  memset(d->pool_names, 0, sizeof(d->pool_names));
  for (int id = 0; id < STRATA_CORE_MAX_POOLS; id++) {
    strata_core_pool_info_t pi;
    if (strata_core_pool_info(d->core, id, 0, &pi) != STRATA_OK)
      break;
    d->pool_names[id] = pi.name;
    if (pi.kind == STRATA_CORE_POOL_CONCURRENCY)
      d->conc_pools |= 1ull << id;
  }
  decide_apply_pauses(d);
  return STRATA_OK;
}

decide_t *decide_new(const decide_config_t *cfg, char *err, size_t size) {
  decide_t *d = calloc(1, sizeof(*d));
  size_t nparts = (size_t)cfg->nparts, nin;

  if (!d) {
    strata_errf(STRATA_ERR_NOMEM, err, size, "out of memory");
    return NULL;
  }
  if (cfg->nqueues < 1 || cfg->nqueues > STRATA_CORE_MAX_LANES) {
    strata_errf(STRATA_ERR_CONFIG, err, size,
                "queues: %d queues, allowed 1..%d (the default one included)",
                cfg->nqueues, STRATA_CORE_MAX_LANES);
    free(d);
    return NULL;
  }
  d->cfg = *cfg;
  d->ninputs = cfg->ntiers + cfg->nsteps;
  for (int i = 0; i < cfg->nsteps; i++)
    if (!d->min_step_ms || cfg->step_ms[i] < d->min_step_ms)
      d->min_step_ms = cfg->step_ms[i];
  nin = (size_t)d->ninputs * nparts;
  d->trackers = calloc(nin + 1, sizeof(*d->trackers));
  d->assigned = calloc(nparts, sizeof(bool));
  d->recovering = calloc(nparts, sizeof(bool));
  d->recover_until = calloc(nparts, sizeof(int64_t));
  d->events_pos = calloc(nparts, sizeof(int64_t));
  d->events_counted = calloc(nparts, sizeof(int64_t));
  d->ledger = ledger_new();
  d->running = running_new();
  d->rng = cfg->seed ? cfg->seed : 1;
  for (int i = 0; i < cfg->nqueues; i++) {
    d->window[i].latency_ms = -1;
    d->window[i].limit = cfg->window_min;
  }
  if (!d->trackers || !d->assigned || !d->recovering || !d->recover_until ||
      !d->events_pos || !d->events_counted || !d->ledger || !d->running) {
    strata_errf(STRATA_ERR_NOMEM, err, size, "out of memory");
    decide_destroy(d);
    return NULL;
  }
  for (size_t i = 0; i < nin; i++)
    tracker_init(&d->trackers[i]);
  if (core_build(d, err, size)) {
    decide_destroy(d);
    return NULL;
  }
  return d;
}

void decide_destroy(decide_t *d) {
  if (!d)
    return;
  clear_outputs(d);
  held_clear(d);
  free(d->held);
  free(d->free_slots);
  if (d->trackers)
    for (int i = 0; i < d->ninputs * d->cfg.nparts; i++)
      tracker_clear(&d->trackers[i]);
  free(d->trackers);
  free(d->assigned);
  free(d->recovering);
  free(d->recover_until);
  free(d->events_pos);
  free(d->events_counted);
  free(d->out);
  free(d->pend);
  ledger_destroy(d->ledger);
  running_destroy(d->running);
  strata_core_destroy(d->core);
  free(d);
}

strata_err_t decide_reset(decide_t *d) {
  char err[256];
  held_clear(d);
  strata_core_destroy(d->core);
  d->core = NULL;
  for (int i = 0; i < d->ninputs * d->cfg.nparts; i++)
    tracker_clear(&d->trackers[i]);
  for (int p = 0; p < d->cfg.nparts; p++) {
    d->assigned[p] = false;
    d->recovering[p] = false;
  }
  clear_outputs(d);
  running_clear(d->running);
  /* The configuration was accepted by decide_new(): a failure now is a
   * lack of memory. */
  if (core_build(d, err, sizeof(err))) {
    STRATA_ERROR(COMP, "rebuilding the core: %s", err);
    return STRATA_ERR_NOMEM;
  }
  return STRATA_OK;
}

void decide_assign(decide_t *d, int32_t p, const int64_t *start,
                   int64_t recover_from, int64_t recover_until) {
  if (p < 0 || p >= d->cfg.nparts)
    return;
  d->assigned[p] = true;
  for (int in = 0; start && in < d->ninputs; in++)
    decide_tracker(d, in, p)->start_offset = start[in];
  d->recovering[p] = recover_until > recover_from;
  d->recover_until[p] = recover_until;
}

bool decide_owns(const decide_t *d, int32_t p) {
  return p >= 0 && p < d->cfg.nparts && d->assigned[p];
}

bool decide_recovering(const decide_t *d, int32_t p) {
  return p >= 0 && p < d->cfg.nparts && d->recovering[p];
}

bool decide_events_read(decide_t *d, int32_t p, int64_t next) {
  if (p < 0 || p >= d->cfg.nparts)
    return false;
  if (next > d->events_pos[p])
    d->events_pos[p] = next;
  if (d->recovering[p] && next >= d->recover_until[p]) {
    d->recovering[p] = false;
    return true;
  }
  return false;
}

int64_t decide_events_pos(const decide_t *d, int32_t p) {
  return p >= 0 && p < d->cfg.nparts ? d->events_pos[p] : 0;
}

void decide_control_ready(decide_t *d) {
  d->control_ready = true;
}

bool decide_is_control_ready(const decide_t *d) {
  return d->control_ready;
}

void decide_apply_pauses(decide_t *d) {
  for (int i = 0; d->core && i < d->cfg.ntiers; i++)
    strata_core_tier_pause(d->core, i, (d->paused_tiers >> i) & 1u);
  if (d->cfg.observer.control)
    d->cfg.observer.control(d->cfg.observer.opaque, d->paused_tiers,
                            d->draining);
}

void decide_prune(decide_t *d, strata_epoch_ms_t now) {
  ledger_prune(d->ledger, now - d->cfg.window_ms);
}

/* ---- outputs -------------------------------------------------------------*/

const decide_out_t *decide_outputs(const decide_t *d, size_t *n) {
  *n = d->nout;
  return d->out;
}

bool decide_has_effects(const decide_t *d) {
  if (d->nout)
    return true;
  for (int i = 0; i < d->ninputs * d->cfg.nparts; i++)
    if (d->trackers[i].dirty)
      return true;
  return false;
}

size_t decide_offsets(const decide_t *d, decide_offset_t *out) {
  size_t n = 0;
  for (int in = 0; in < d->ninputs; in++) {
    for (int p = 0; p < d->cfg.nparts; p++) {
      const tracker_t *tr = &d->trackers[in * d->cfg.nparts + p];
      int64_t off = tracker_commit_offset(tr);
      if (!d->assigned[p] || off < 0 || !tr->dirty)
        continue;
      out[n++] = (decide_offset_t){in, p, off,
                                   tracker_commit_mark(tr, d->events_pos[p])};
    }
  }
  return n;
}

void decide_committed(decide_t *d, strata_epoch_ms_t now) {
  const decide_observer_t *ob = &d->cfg.observer;
  for (size_t i = 0; i < d->npend; i++) {
    pending_decision_t *pd = &d->pend[i];
    decide_must(ledger_decided(d->ledger, pd->id, pd->attempt, now));
    if (pd->kind == PEND_DISPATCHED) {
      d->totals.dispatched++;
      if (ob->dispatched)
        ob->dispatched(ob->opaque, pd->tier,
                       (double)(now - pd->enqueued_ms) / 1000.0, pd->unblock_ms,
                       pd->soft_missed);
      if (pd->not_before > 0 && ob->lateness)
        ob->lateness(ob->opaque, (double)(now - pd->not_before) / 1000.0);
    } else if (pd->kind == PEND_EXPIRED) {
      d->totals.expired++;
      if (ob->expired)
        ob->expired(ob->opaque, pd->tier);
    } else if (pd->kind == PEND_LOST) {
      decide_must(ledger_lost(d->ledger, pd->id, pd->attempt, now));
    } else if (pd->kind == PEND_CANCELLED) {
      /* Every later arrival of the task is skipped without an event. */
      decide_must(ledger_cancelled(d->ledger, pd->id, now));
      decide_must(ledger_cancel_reported(d->ledger, pd->id, now));
    }
  }
  for (int r = 0; r <= STRATA_DLQ_CANCELLED; r++) {
    for (uint32_t k = 0; ob->dead_lettered && k < d->dlq_turn[r]; k++)
      ob->dead_lettered(ob->opaque,
                        strata_dlq_reason_name((strata_dlq_reason_t)r));
    d->totals.dead_lettered += d->dlq_turn[r];
  }
  for (int i = 0; i < d->ninputs * d->cfg.nparts; i++)
    d->trackers[i].dirty = false;
  clear_outputs(d);
}

/* ---- views ---------------------------------------------------------------*/

strata_core_t *decide_core(const decide_t *d) {
  return d->core;
}

bool decide_is_full(const decide_t *d) {
  return !d->core || strata_core_is_full(d->core);
}

size_t decide_running(const decide_t *d) {
  return running_count(d->running);
}

int64_t decide_next_offset(const decide_t *d, int input, int32_t p) {
  const tracker_t *tr = &d->trackers[input * d->cfg.nparts + p];
  return tr->next_offset >= 0 ? tr->next_offset : tr->start_offset;
}

uint32_t decide_paused_tiers(const decide_t *d) {
  return d->paused_tiers;
}

bool decide_draining(const decide_t *d) {
  return d->draining;
}

void decide_totals(const decide_t *d, decide_totals_t *out) {
  *out = d->totals;
}
