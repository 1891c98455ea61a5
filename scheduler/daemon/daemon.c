/*
 * The scheduler daemon loop: tier topics in, the core in the middle, dispatch
 * records out, each turn committed as one Kafka transaction.
 *
 * One thread. A turn: read worker events and control commands (a separate
 * consumer that is assigned every events partition and the control
 * partition), read tier records while the core has room, let the core decide,
 * then write every dispatch, event and dead letter of the turn together with
 * the input offsets in one transaction.
 *
 * Invariants that make a crash lose and duplicate nothing:
 *  - A tier record's offset is committed only once the record is finished
 *    (dispatched, dead-lettered, cancelled or skipped) in a transaction that
 *    also holds the consequence: the committed offset of each tier partition
 *    is the first unfinished record (tracker.c).
 *  - Every decision about a task writes an event to the events partition of
 *    the task's own partition number in the same transaction; the commit
 *    metadata of each tier partition names the events offset ("mark") from
 *    which a successor must re-read events to learn which records above the
 *    committed offset were already decided. After an assignment, tier
 *    partitions stay paused until that scan reached the end of the events
 *    partition as it was at assignment time.
 *  - The transactional.id is stable per instance and offsets are sent with the
 *    consumer group metadata (KIP-447), so a zombie is fenced.
 *  - Tier, events and dispatch topics are co-partitioned (same count, same
 *    key, range assignor): partition p of every tier goes to one instance, and
 *    its dispatch and event records go to partition p explicitly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched_int.h"
#include "sched_kafka.h"
#include "strata/backoff.h"
#include "strata/codec.h"
#include "strata/core.h"
#include "strata/kafka.h"
#include "strata/log.h"

#define COMP "scheduler"
#define MAX_TIERS STRATA_CORE_MAX_TIERS
#define MAX_STEPS 64
#define MAX_INPUTS (MAX_TIERS + MAX_STEPS)

typedef struct {
  void *value; /* the original Task record (owned) */
  size_t len;
  char *key; /* routing key (owned) */
  int32_t partition;
  int tier;  /* core tier */
  int input; /* input topic the record came from (tracker index) */
  strata_epoch_ms_t not_before; /* 0: none; for the lateness metric */
  uint64_t seq;                 /* tracker sequence */
  int32_t attempt;
  int64_t offset;
  strata_epoch_ms_t enqueued_ms;
  int64_t heartbeat_ms;                /* Task.timeouts.heartbeat_ms; 0: none */
  int pools[RUNNING_MAX_POOLS];        /* concurrency pools it demands */
  uint32_t amounts[RUNNING_MAX_POOLS]; /* units of each */
  int npools;
  bool in_use;
} held_t;

/* A record to write in the current transaction. */
typedef struct {
  const char *topic; /* name, in storage owned by sched_t */
  int32_t partition;
  char *key;
  void *value;
  size_t len;
  int64_t timestamp; /* Kafka timestamp, epoch ms; 0: when produced */
} out_msg_t;

enum { OUT_DISPATCH, OUT_EVENTS, OUT_DLQ, OUT__COUNT };

/* What a committed transaction makes true: a ledger entry, and the metric
 * it counts toward (only once the transaction commits, so an aborted turn
 * counts nothing). */
typedef enum {
  PEND_DECIDED,
  PEND_DISPATCHED,
  PEND_EXPIRED,
  PEND_LOST,     /* an attempt presumed lost to its heartbeat timeout */
  PEND_CANCELLED /* a CANCELLED event for a task cancelled before it came */
} pend_kind_t;

typedef struct {
  char *id;
  int32_t attempt;
  pend_kind_t kind;
  int tier;
  strata_epoch_ms_t enqueued_ms;
  int64_t unblock_ms;
  bool soft_missed;
  strata_epoch_ms_t not_before; /* 0: none */
} pending_decision_t;

typedef struct {
  strata_config_t *cfg;
  strata_layout_t layout;
  char *tiers[MAX_TIERS];
  int ntiers;
  int nparts;
  /* Input topics: the tier topics (index = tier), then the delay steps. */
  int ninputs;
  char topic_tasks[MAX_INPUTS][256];
  int64_t in_delay_ms[MAX_INPUTS];
  int64_t min_step_ms; /* shortest delay step; 0 without a ladder */
  /* Delay partitions are read head-first from their own queues: [(input -
   * ntiers) * nparts + p]. The head waits in dhead until it is due. */
  rd_kafka_queue_t **dq;
  rd_kafka_message_t **dhead;
  char out_topics[OUT__COUNT][256];
  char topic_events[256], topic_control[256];

  rd_kafka_t *in;  /* tier consumer: group member */
  rd_kafka_t *aux; /* events + control: assigned, never commits */
  rd_kafka_t *tx;  /* transactional producer */
  /* Handles of every topic tx writes, held so their metadata stays known. */
  rd_kafka_topic_t **out_rkt;
  int nout_rkt;

  strata_core_t *core;
  ledger_t *ledger;
  held_t *held;
  uint64_t nheld_cap;
  uint64_t *free_slots;
  uint64_t nfree;

  tracker_t *trackers; /* [tier * nparts + p] */
  bool *assigned;      /* [p] */
  bool *recovering;    /* [p]: tier partitions paused until events scanned */
  int64_t *recover_until;
  int64_t *events_pos;     /* [p]: events offset known to be read */
  int64_t *events_counted; /* [p]: outcomes counted below this offset */
  bool paused_full;

  out_msg_t *out;
  size_t nout, capout;
  pending_decision_t *pend;
  size_t npend, cappend;

  views_t *views;
  strata_mono_us_t last_lag;
  uint32_t dlq_turn[STRATA_DLQ_CANCELLED + 1]; /* dead letters this turn */
  int64_t window_ms;
  int batch;
  int fatal;

  /* Running attempts (heartbeat timeouts, preemption). */
  running_table_t *running;
  strata_mono_us_t last_watch;
  int64_t watch_us;
  uint64_t rng; /* backoff jitter of scheduler-made retries */
  bool preemption;
  char *instance; /* scheduler.instance.id or the host name */

  /* Operator state from the control topic: it outlives rebalances (the core
   * is rebuilt; the bits are applied to each new core). */
  uint32_t paused_tiers; /* bit per tier */
  uint64_t conc_pools;   /* bit per concurrency pool id (core_create) */
  /* Pool names by id, owned by the core (core_create). */
  const char *pool_names[STRATA_CORE_MAX_POOLS];
  bool draining;
  bool control_ready;    /* control history read: decisions may start */
  int64_t control_until; /* control end offset at start-up */
  uint64_t dispatched, dead_lettered, duplicates, undecodable, expired;
} sched_t;

/* ---- helpers -------------------------------------------------------------*/

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, "strata-scheduler: out of memory\n");
    abort();
  }
  return q;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) {
    fprintf(stderr, "strata-scheduler: out of memory\n");
    abort();
  }
  return d;
}

static tracker_t *tracker_of(sched_t *s, int input, int32_t p) {
  return &s->trackers[input * s->nparts + p];
}

static void report_partitions(sched_t *s) {
  int assigned = 0, recovering = 0;
  for (int p = 0; p < s->nparts; p++) {
    assigned += s->assigned[p];
    recovering += s->recovering[p];
  }
  if (s->views)
    views_partitions(s->views, assigned, recovering);
}

static int input_of_topic(const sched_t *s, const char *topic) {
  for (int i = 0; i < s->ninputs; i++)
    if (!strcmp(s->topic_tasks[i], topic))
      return i;
  return -1;
}

static int tier_index(const sched_t *s, const char *tier) {
  for (int i = 0; i < s->ntiers; i++)
    if (!strcmp(s->tiers[i], tier))
      return i;
  return -1;
}

/* The record structs own their members, but encoding only reads them; a
 * borrowed pointer lets the hot path encode without copying strings. The
 * struct is never cleared while it borrows. */
static char *borrow(const char *s) {
  union {
    const char *c;
    char *m;
  } u = {s};
  return u.m;
}

static uint8_t *borrow_bytes(const void *p) {
  union {
    const void *c;
    uint8_t *m;
  } u = {p};
  return u.m;
}

/* Queues a record for the current transaction; takes `value`. */
static void out_add(sched_t *s, const char *topic, int32_t partition,
                    const char *key, void *value, size_t len) {
  if (s->nout == s->capout) {
    s->capout = s->capout ? s->capout * 2 : 256;
    s->out = xrealloc(s->out, s->capout * sizeof(*s->out));
  }
  s->out[s->nout++] =
      (out_msg_t){topic, partition, xstrdup(key ? key : ""), value, len, 0};
}

static pending_decision_t *pend_decision(sched_t *s, const char *id,
                                         int32_t attempt) {
  if (s->npend == s->cappend) {
    s->cappend = s->cappend ? s->cappend * 2 : 256;
    s->pend = xrealloc(s->pend, s->cappend * sizeof(*s->pend));
  }
  s->pend[s->npend] = (pending_decision_t){.id = xstrdup(id),
                                           .attempt = attempt,
                                           .kind = PEND_DECIDED,
                                           .unblock_ms = -1};
  return &s->pend[s->npend++];
}

static void clear_outputs(sched_t *s) {
  for (size_t i = 0; i < s->nout; i++) {
    free(s->out[i].key);
    free(s->out[i].value);
  }
  s->nout = 0;
  for (size_t i = 0; i < s->npend; i++)
    free(s->pend[i].id);
  s->npend = 0;
  memset(s->dlq_turn, 0, sizeof(s->dlq_turn));
}

/* Writes an event about a task to the events partition `p`. */
static void emit_event_u(sched_t *s, strata_event_kind_t kind, const char *id,
                         const char *routing_key, int32_t attempt, int tier,
                         int32_t p, const char *error, bool retryable,
                         strata_kv_long_t *usage, size_t nusage) {
  /* The routing key is the idempotency key whenever it differs from the id. */
  const char *idem = strcmp(routing_key, id) ? routing_key : NULL;
  strata_event_t e;
  void *buf;
  size_t len;
  char err[256];

  strata_event_init(&e);
  e.kind = kind;
  e.task_id = borrow(id);
  e.routing_key = borrow(routing_key);
  e.idempotency_key = borrow(idem);
  e.attempt = attempt;
  e.tier = tier >= 0 ? s->tiers[tier] : borrow("unknown");
  e.time_ms = strata_epoch_now_ms();
  e.error = borrow(error);
  e.retryable = retryable;
  e.worker_id = NULL;
  e.usage = usage;
  e.usage_count = nusage;
  if (strata_event_encode(&e, &buf, &len, err, sizeof(err)))
    STRATA_ERROR(COMP, "encoding a %s event for %s: %s",
                 strata_event_kind_name(kind), id, err);
  else
    out_add(s, s->out_topics[OUT_EVENTS], p, routing_key, buf, len);
  /* The struct borrowed every pointer: nothing to clear. */
}

/* An event about a decision of the scheduler: `retryable` stays false except
 * when the scheduler itself wrote the next attempt (a lost attempt). */
static void emit_event(sched_t *s, strata_event_kind_t kind, const char *id,
                       const char *routing_key, int32_t attempt, int tier,
                       int32_t p, const char *error) {
  emit_event_u(s, kind, id, routing_key, attempt, tier, p, error, false, NULL,
               0);
}

/* Writes a control record (PREEMPT) to the one control partition. */
static void emit_control(sched_t *s, strata_control_kind_t kind,
                         const char *task_id, const char *reason) {
  strata_control_t c;
  char by[300], err[256];
  void *buf;
  size_t len;

  strata_control_init(&c);
  c.kind = kind;
  c.task_id = borrow(task_id);
  c.reason = borrow(reason);
  c.issued_ms = strata_epoch_now_ms();
  snprintf(by, sizeof(by), "strata-scheduler %s", s->instance);
  c.issued_by = by;
  if (strata_control_encode(&c, &buf, &len, err, sizeof(err)))
    STRATA_ERROR(COMP, "encoding a control record for %s: %s", task_id, err);
  else
    out_add(s, s->topic_control, 0, task_id, buf, len);
}

/* Writes a dead letter for a record. `task` may be NULL (undecodable); its
 * attempt history comes from its headers, then `last` (this attempt, may be
 * NULL: the task never ran here). */
static void emit_dlq(sched_t *s, strata_dlq_reason_t reason, const char *detail,
                     const strata_task_t *task, const void *orig,
                     size_t origlen, const char *topic, int32_t p,
                     int64_t offset, const strata_attempt_record_t *last) {
  strata_deadletter_t d;
  strata_task_t copy;
  void *buf;
  size_t len;
  char err[256];

  strata_deadletter_init(&d);
  d.reason = reason;
  d.detail = borrow(detail);
  d.task_id = task ? task->id : NULL;
  d.original = borrow_bytes(orig);
  d.original_len = origlen;
  d.original_topic = borrow(topic);
  d.original_partition = p;
  d.original_offset = offset;
  d.dead_lettered_ms = strata_epoch_now_ms();
  strata_task_init(&copy);
  if (task && strata_task_copy(&copy, task, err, sizeof(err)) == STRATA_OK)
    d.task = &copy;
  /* Out of memory, the history is what could be had. */
  if (task)
    strata_deadletter_set_history(&d, task, last);
  if (last && last->error)
    d.last_error = borrow(last->error);
  if (strata_deadletter_encode(&d, &buf, &len, err, sizeof(err)))
    STRATA_ERROR(COMP,
                 "encoding a dead letter for %s[%" PRId32 "]@%" PRId64 ": %s",
                 topic, p, offset, err);
  else
    out_add(s, s->out_topics[OUT_DLQ], p, task ? task->id : "", buf, len);
  strata_task_clear(&copy);
  for (size_t i = 0; i < d.attempts_count; i++) {
    free(d.attempts[i].outcome);
    free(d.attempts[i].error);
  }
  free(d.attempts);
  s->dlq_turn[reason]++;
}

/* ---- held tasks ----------------------------------------------------------*/

static uint64_t held_alloc(sched_t *s) {
  if (s->nfree)
    return s->free_slots[--s->nfree];
  uint64_t old = s->nheld_cap, cap = old ? old * 2 : 1024;
  s->held = xrealloc(s->held, cap * sizeof(*s->held));
  s->free_slots = xrealloc(s->free_slots, cap * sizeof(*s->free_slots));
  memset(s->held + old, 0, (cap - old) * sizeof(*s->held));
  for (uint64_t i = cap; i > old + 1; i--)
    s->free_slots[s->nfree++] = i - 1;
  s->nheld_cap = cap;
  return old;
}

static void held_free(sched_t *s, uint64_t slot) {
  held_t *h = &s->held[slot];
  free(h->value);
  free(h->key);
  memset(h, 0, sizeof(*h));
  s->free_slots[s->nfree++] = slot;
}

/* Finishes a held record: its tracker entry becomes committable. */
static void held_finish(sched_t *s, uint64_t slot) {
  held_t *h = &s->held[slot];
  tracker_done(tracker_of(s, h->input, h->partition), h->seq);
  held_free(s, slot);
}

/* ---- core setup ----------------------------------------------------------*/

/* Parses pool.<name>=rate:N/D[,burst:M] | concurrency:N. */
typedef struct {
  sched_t *s;
  char *err;
  size_t size;
  strata_err_t rc;
} pool_ctx_t;

static void add_pool(const char *name, const char *value, void *opaque) {
  pool_ctx_t *ctx = opaque;
  strata_core_pool_config_t pc;
  char unit[32];
  long long n, m;
  int used = 0;

  if (ctx->rc)
    return;
  memset(&pc, 0, sizeof(pc));
  if (sscanf(value, "concurrency:%lld%n", &n, &used) == 1 &&
      value[used] == '\0' && n > 0) {
    pc.kind = STRATA_CORE_POOL_CONCURRENCY;
    pc.limit = n;
  } else if (sscanf(value, "rate:%lld/%31[^,]%n", &n, unit, &used) == 2 &&
             n > 0 && strata_parse_duration_ms(unit, &pc.period_ms) &&
             pc.period_ms > 0) {
    pc.kind = STRATA_CORE_POOL_TOKEN_BUCKET;
    pc.rate = n;
    pc.burst = n;
    if (value[used] == ',') {
      int more = 0;
      if (sscanf(value + used, ",burst:%lld%n", &m, &more) != 1 ||
          value[used + more] != '\0' || m <= 0) {
        ctx->rc = strata_errf(STRATA_ERR_CONFIG, ctx->err, ctx->size,
                              "pool.%s: \"%s\": bad burst; allowed: "
                              "rate:<N>/<duration>[,burst:<M>]",
                              name, value);
        return;
      }
      pc.burst = m;
    } else if (value[used] != '\0') {
      ctx->rc = strata_errf(STRATA_ERR_CONFIG, ctx->err, ctx->size,
                            "pool.%s: \"%s\": trailing text; allowed: "
                            "rate:<N>/<duration>[,burst:<M>]",
                            name, value);
      return;
    }
  } else {
    ctx->rc = strata_errf(STRATA_ERR_CONFIG, ctx->err, ctx->size,
                          "pool.%s: \"%s\" is not a pool; allowed: "
                          "rate:<N>/<duration>[,burst:<M>] or "
                          "concurrency:<N>",
                          name, value);
    return;
  }
  ctx->rc =
      strata_core_pool_add(ctx->s->core, name, &pc, NULL, ctx->err, ctx->size);
}

static strata_err_t core_create(sched_t *s, char *err, size_t size) {
  strata_core_tier_config_t tc[MAX_TIERS];
  char *weights[MAX_TIERS], *waits[MAX_TIERS];
  int nw, nt;
  strata_core_config_t cc;
  strata_err_t rc = STRATA_OK;

  nw = strata_config_get_list(s->cfg, "tier.weights", weights, MAX_TIERS);
  nt = strata_config_get_list(s->cfg, "tier.target.waits", waits, MAX_TIERS);
  if (nw != s->ntiers || nt != s->ntiers) {
    rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                     "%s: has %d items but `tiers` has %d; give one per tier",
                     nw != s->ntiers ? "tier.weights" : "tier.target.waits",
                     nw != s->ntiers ? nw : nt, s->ntiers);
    goto done;
  }
  for (int i = 0; i < s->ntiers; i++) {
    char *end;
    long w = strtol(weights[i], &end, 10);
    if (*end || w < 1 || w > 1000000) {
      rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tier.weights: \"%s\" (tier %s) is not allowed; "
                       "allowed: integer 1..1000000",
                       weights[i], s->tiers[i]);
      goto done;
    }
    tc[i].name = s->tiers[i];
    tc[i].weight = (uint32_t)w;
    if (!strata_parse_duration_ms(waits[i], &tc[i].target_wait_ms)) {
      rc = strata_errf(STRATA_ERR_CONFIG, err, size,
                       "tier.target.waits: \"%s\" (tier %s) is not a "
                       "duration",
                       waits[i], s->tiers[i]);
      goto done;
    }
  }
  strata_core_config_default(&cc);
  cc.tiers = tc;
  cc.ntiers = (size_t)s->ntiers;
  cc.max_tasks = (uint64_t)strata_config_get_int(s->cfg, "scheduler.max.tasks");
  cc.starvation_bound_ms =
      strata_config_get_int(s->cfg, "scheduler.starvation.bound");
  if (!(s->core = strata_core_new(&cc, err, size))) {
    rc = STRATA_ERR_CONFIG;
    goto done;
  }
  {
    pool_ctx_t ctx = {s, err, size, STRATA_OK};
    strata_config_foreach_prefix(s->cfg, "pool.", add_pool, &ctx);
    rc = ctx.rc;
  }
  for (int i = 0; i < s->ntiers; i++)
    if (s->paused_tiers & (1u << i))
      strata_core_tier_pause(s->core, i, 1);
  s->conc_pools = 0;
  for (int id = 0; rc == STRATA_OK && id < STRATA_CORE_MAX_POOLS; id++) {
    strata_core_pool_info_t pi;
    if (strata_core_pool_info(s->core, id, 0, &pi) != STRATA_OK)
      break;
    s->pool_names[id] = pi.name;
    if (pi.kind == STRATA_CORE_POOL_CONCURRENCY)
      s->conc_pools |= 1ull << id;
  }
done:
  for (int i = 0; i < nw; i++)
    free(weights[i]);
  for (int i = 0; i < nt; i++)
    free(waits[i]);
  return rc;
}

/* ---- delay ladder ------------------------------------------------------*/

static int ndelay_slots(const sched_t *s) {
  return (s->ninputs - s->ntiers) * s->nparts;
}

/* Releases the delay partitions' queues and the heads waiting in them. */
static void delay_queues_drop(sched_t *s) {
  for (int i = 0; s->dq && i < ndelay_slots(s); i++) {
    if (s->dhead[i])
      rd_kafka_message_destroy(s->dhead[i]);
    s->dhead[i] = NULL;
    if (s->dq[i])
      rd_kafka_queue_destroy(s->dq[i]);
    s->dq[i] = NULL;
  }
}

/* Takes partition p of every delay step out of the consumer queue: its
 * records are read one at a time, only when the one in front is due, so a
 * waiting head never forces a pause (which would drop prefetched records)
 * or a spin. Each step topic has one fixed delay, so its partitions are
 * ordered by due time: looking at the head is enough. */
static void delay_queues_take(sched_t *s, int32_t p) {
  for (int in = s->ntiers; in < s->ninputs; in++) {
    int slot = (in - s->ntiers) * s->nparts + p;
    if (s->dq[slot])
      continue;
    s->dq[slot] = rd_kafka_queue_get_partition(s->in, s->topic_tasks[in], p);
    if (s->dq[slot])
      rd_kafka_queue_forward(s->dq[slot], NULL);
  }
}

/* Drops everything derived from the current assignment. */
static void state_reset(sched_t *s) {
  char err[256];
  strata_core_destroy(s->core);
  s->core = NULL;
  for (uint64_t i = 0; i < s->nheld_cap; i++)
    if (s->held[i].in_use)
      held_free(s, i);
  for (int i = 0; i < s->ninputs * s->nparts; i++)
    tracker_clear(&s->trackers[i]);
  for (int p = 0; p < s->nparts; p++) {
    s->assigned[p] = false;
    s->recovering[p] = false;
  }
  delay_queues_drop(s);
  s->paused_full = false;
  clear_outputs(s);
  /* Config was validated at start-up; a failure here is out of memory. */
  if (core_create(s, err, sizeof(err))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    abort();
  }
  running_clear(s->running);
}

/* ---- recovery ------------------------------------------------------------*/

/* Re-points the aux consumer: events partitions of `from` (>= 0) start
 * there, the others keep their position; control keeps its position. */
static void aux_reassign(sched_t *s, const int64_t *from) {
  rd_kafka_topic_partition_list_t *cur = NULL, *next;

  rd_kafka_assignment(s->aux, &cur);
  rd_kafka_position(s->aux, cur);
  next = rd_kafka_topic_partition_list_new(cur->cnt);
  for (int i = 0; i < cur->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &cur->elems[i];
    rd_kafka_topic_partition_t *n =
        rd_kafka_topic_partition_list_add(next, tp->topic, tp->partition);
    /* No position yet: events start at the end (their history comes from
     * `from`), control at its start (its history is the operator state). */
    n->offset = tp->offset >= 0 ? tp->offset
                : !strcmp(tp->topic, s->topic_control)
                    ? RD_KAFKA_OFFSET_BEGINNING
                    : RD_KAFKA_OFFSET_END;
    if (!strcmp(tp->topic, s->topic_events) && from[tp->partition] >= 0)
      n->offset = from[tp->partition];
  }
  rd_kafka_assign(s->aux, next);
  rd_kafka_topic_partition_list_destroy(next);
  rd_kafka_topic_partition_list_destroy(cur);
}

/* Events offset at time `t` on partition p, or the end when none. */
static int64_t events_offset_for_time(sched_t *s, int32_t p,
                                      strata_epoch_ms_t t) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  int64_t off = RD_KAFKA_OFFSET_END;
  rd_kafka_topic_partition_list_add(l, s->topic_events, p)->offset = t;
  if (rd_kafka_offsets_for_times(s->aux, l, 10000) == 0 && l->elems[0].err == 0)
    off = l->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(l);
  return off;
}

/*
 * A new assignment: fetch committed offsets and marks, start consuming the
 * tier partitions from there but paused, and rewind the events partitions to
 * the marks (or the idempotency window, whichever is earlier) so the ledger
 * learns what was decided above the committed offsets.
 */
static void on_assign(sched_t *s, rd_kafka_topic_partition_list_t *parts) {
  int64_t *from = calloc((size_t)s->nparts, sizeof(*from));
  strata_epoch_ms_t now = strata_epoch_now_ms();
  rd_kafka_resp_err_t kerr;

  state_reset(s);
  for (int p = 0; p < s->nparts; p++)
    from[p] = -1;
  kerr = rd_kafka_committed(s->in, parts, 30000);
  if (kerr)
    STRATA_WARN(COMP,
                "fetching committed offsets: %s; starting from the "
                "earliest offsets",
                rd_kafka_err2str(kerr));
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &parts->elems[i];
    int64_t mark = -1;
    int32_t p = tp->partition;
    if (p >= s->nparts)
      continue;
    s->assigned[p] = true;
    s->recovering[p] = true;
    if (tp->offset >= 0 && tp->metadata && tp->metadata_size > 2 &&
        !strncmp(tp->metadata, "m=", 2)) {
      char buf[32];
      size_t n = tp->metadata_size < sizeof(buf) - 1 ? tp->metadata_size
                                                     : sizeof(buf) - 1;
      memcpy(buf, tp->metadata, n);
      buf[n] = '\0';
      mark = strtoll(buf + 2, NULL, 10);
    } else if (tp->offset >= 0) {
      /* Committed without our metadata: scan the whole events partition. */
      mark = 0;
    }
    if (mark >= 0 && (from[p] < 0 || mark < from[p]))
      from[p] = mark;
    if (tp->offset < 0)
      tp->offset = RD_KAFKA_OFFSET_BEGINNING;
    else if (input_of_topic(s, tp->topic) >= 0)
      tracker_of(s, input_of_topic(s, tp->topic), p)->start_offset = tp->offset;
  }
  for (int p = 0; p < s->nparts; p++) {
    int64_t lo, hi, w;
    if (!s->assigned[p])
      continue;
    /* Idempotency keys of the window live in the events partition too. */
    w = events_offset_for_time(s, p, now - s->window_ms);
    if (w >= 0 && (from[p] < 0 || w < from[p]))
      from[p] = w;
    if (rd_kafka_query_watermark_offsets(s->aux, s->topic_events, p, &lo, &hi,
                                         10000)) {
      lo = 0;
      hi = 0;
    }
    if (from[p] < 0 || hi <= from[p]) {
      /* Nothing to scan: the partition is ready at once. */
      s->recovering[p] = false;
      from[p] = -1;
    } else {
      if (from[p] < lo)
        from[p] = lo;
      s->recover_until[p] = hi;
      STRATA_INFO(COMP,
                  "partition %d: re-reading events %" PRId64 "..%" PRId64
                  " before consuming its tiers",
                  p, from[p], hi);
    }
  }
  for (int p = 0; p < s->nparts; p++)
    if (s->assigned[p])
      delay_queues_take(s, p);
  rd_kafka_assign(s->in, parts);
  {
    rd_kafka_topic_partition_list_t *pause =
        rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
      if (s->recovering[parts->elems[i].partition])
        rd_kafka_topic_partition_list_add(pause, parts->elems[i].topic,
                                          parts->elems[i].partition);
    if (pause->cnt)
      rd_kafka_pause_partitions(s->in, pause);
    rd_kafka_topic_partition_list_destroy(pause);
  }
  aux_reassign(s, from);
  free(from);
  report_partitions(s);
}

/* Resumes the tier partitions of `p` once its events scan is complete. */
static void recovery_done(sched_t *s, int32_t p) {
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(s->ninputs);
  s->recovering[p] = false;
  for (int t = 0; t < s->ninputs; t++)
    rd_kafka_topic_partition_list_add(l, s->topic_tasks[t], p);
  if (!s->paused_full)
    rd_kafka_resume_partitions(s->in, l);
  rd_kafka_topic_partition_list_destroy(l);
  STRATA_INFO(COMP,
              "partition %d: recovered; consuming its tiers (%zu attempts "
              "running)",
              p, running_count(s->running));
  report_partitions(s);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  sched_t *s = opaque;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    STRATA_INFO(COMP, "assigned %d tier partitions", parts->cnt);
    on_assign(s, parts);
  } else {
    STRATA_INFO(COMP, "revoked %d tier partitions", parts->cnt);
    rd_kafka_assign(rk, NULL);
    state_reset(s);
    report_partitions(s);
  }
}

/* ---- input ---------------------------------------------------------------*/

/* The hard deadline standing for a task's schedule-to-start timeout. */
static strata_epoch_ms_t s2s_deadline(const strata_task_t *t) {
  return t->enqueued_ms + t->timeouts.schedule_to_start_ms +
         (t->has_estimate_ms ? t->estimate_ms : 0);
}

/* True when the schedule-to-start timeout, not the task's own hard
 * deadline, is what expired it. */
static bool s2s_expired(const strata_task_t *t) {
  return t->timeouts.has_schedule_to_start_ms &&
         (!t->has_deadline_ms || !t->deadline_hard ||
          s2s_deadline(t) <= t->deadline_ms);
}

/* Fills a core spec from a task; `demands` has room for every demand. */
static void spec_from_task(const strata_task_t *t, int tier, uint64_t cookie,
                           strata_core_task_spec_t *spec,
                           strata_core_demand_t *demands) {
  memset(spec, 0, sizeof(*spec));
  spec->id = t->id;
  spec->tier = (uint32_t)tier;
  spec->priority = t->priority;
  spec->deadline_kind = !t->has_deadline_ms ? STRATA_CORE_DEADLINE_NONE
                        : t->deadline_hard  ? STRATA_CORE_DEADLINE_HARD
                                            : STRATA_CORE_DEADLINE_SOFT;
  spec->deadline = t->deadline_ms;
  spec->not_before = t->has_not_before_ms ? t->not_before_ms : 0;
  spec->estimate_ms = t->has_estimate_ms ? t->estimate_ms : 0;
  /* A schedule-to-start timeout is a hard limit on the start: the core
   * expires a hard task whose latest start (deadline - estimate) has passed,
   * so the limit becomes a hard deadline one estimate after it (or tightens
   * an earlier hard deadline). A soft deadline gives way to it. */
  if (t->timeouts.has_schedule_to_start_ms) {
    strata_epoch_ms_t limit = s2s_deadline(t);
    if (spec->deadline_kind != STRATA_CORE_DEADLINE_HARD ||
        limit < spec->deadline)
      spec->deadline = limit;
    spec->deadline_kind = STRATA_CORE_DEADLINE_HARD;
  }
  for (size_t i = 0; i < t->demands_count; i++)
    demands[i] = (strata_core_demand_t){t->demands[i].key, t->demands[i].value};
  spec->demands = demands;
  spec->ndemands = t->demands_count;
  spec->deps = (const char *const *)t->depends_on;
  spec->ndeps = t->depends_on_count;
  spec->cookie = cookie;
}

static void handle_task(sched_t *s, const rd_kafka_message_t *m) {
  const char *topic = rd_kafka_topic_name(m->rkt);
  int input = input_of_topic(s, topic), tier = input;
  int32_t p = m->partition;
  strata_epoch_ms_t now = strata_epoch_now_ms();
  tracker_t *tr;
  strata_task_t t;
  char err[512];
  uint64_t seq, slot;
  strata_err_t rc;

  if (input < 0 || p >= s->nparts)
    return;
  tr = tracker_of(s, input, p);
  seq = tracker_push(tr, m->offset, s->events_pos[p]);
  if (seq == UINT64_MAX) {
    fprintf(stderr, "strata-scheduler: out of memory\n");
    abort();
  }
  strata_task_init(&t);
  if ((rc = strata_task_decode(m->payload, m->len, &t, err, sizeof(err)))) {
    STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": undecodable, dead-lettered: %s",
                topic, p, m->offset, err);
    emit_dlq(s, STRATA_DLQ_UNDECODABLE, err, NULL, m->payload, m->len, topic, p,
             m->offset, NULL);
    s->undecodable++;
    views_undecodable(s->views);
    tracker_done(tr, seq);
    return;
  }
  if ((rc = strata_task_validate(&t, err, sizeof(err))) == STRATA_OK) {
    if (input >= s->ntiers && (tier = tier_index(s, t.tier)) < 0)
      rc = strata_errf(STRATA_ERR_INVALID_TASK, err, sizeof(err),
                       "Task.tier: \"%s\" is not a configured tier", t.tier);
    else if (input < s->ntiers && strcmp(t.tier, s->tiers[tier]))
      rc = strata_errf(STRATA_ERR_INVALID_TASK, err, sizeof(err),
                       "Task.tier: \"%s\" does not match the topic %s", t.tier,
                       topic);
  }
  if (rc) {
    STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": invalid task %s, dead-lettered: %s",
                topic, p, m->offset, t.id, err);
    emit_dlq(s, STRATA_DLQ_INVALID, err, &t, m->payload, m->len, topic, p,
             m->offset, NULL);
    emit_event(s, STRATA_EVENT_DEAD_LETTERED, t.id,
               t.idempotency_key ? t.idempotency_key : t.id, t.attempt, tier, p,
               err);
    pend_decision(s, t.id, t.attempt);
    tracker_done(tr, seq);
    strata_task_clear(&t);
    return;
  }
  if (ledger_cancel_pending(s->ledger, t.id)) {
    /* Cancelled before it reached this scheduler (on the ladder, not yet
     * read, or owned elsewhere then): it never runs, gets its one
     * CANCELLED event, and its dependents fail like a held task's. */
    emit_event(s, STRATA_EVENT_CANCELLED, t.id,
               t.idempotency_key ? t.idempotency_key : t.id, t.attempt, tier, p,
               "cancelled before it was scheduled");
    pend_decision(s, t.id, t.attempt)->kind = PEND_CANCELLED;
    strata_core_mark_failed(s->core, t.id, now, "cancelled");
    STRATA_INFO(COMP, "%s[%d]@%" PRId64 ": task %s was cancelled; not run",
                topic, p, m->offset, t.id);
    tracker_done(tr, seq);
    strata_task_clear(&t);
    return;
  }
  if (ledger_is_decided(s->ledger, t.id, t.attempt) ||
      (t.idempotency_key &&
       !ledger_claim_key(s->ledger, t.idempotency_key, t.id, now))) {
    /* Decided before a restart, or a duplicate submission. */
    s->duplicates++;
    views_duplicate(s->views);
    STRATA_DEBUG(COMP,
                 "%s[%d]@%" PRId64 ": task %s attempt %d already "
                 "decided or a duplicate; skipped",
                 topic, p, m->offset, t.id, t.attempt);
    tracker_done(tr, seq);
    strata_task_clear(&t);
    return;
  }
  if (t.has_not_before_ms && s->min_step_ms > 0 &&
      t.not_before_ms - now >= s->min_step_ms) {
    /* Still far from due: wait on the ladder, not in memory. The record
     * moves unchanged to the longest step that does not overshoot. */
    const strata_topic_spec_t *step =
        strata_layout_delay_step(&s->layout, t.not_before_ms - now);
    void *copy = malloc(m->len);
    if (!copy) {
      fprintf(stderr, "strata-scheduler: out of memory\n");
      abort();
    }
    memcpy(copy, m->payload, m->len);
    out_add(s, step->name, p, t.idempotency_key ? t.idempotency_key : t.id,
            copy, m->len);
    /* Due at timestamp + step: stamped with the time the step was chosen
     * for, not the later produce, so the hop never overshoots not_before. */
    s->out[s->nout - 1].timestamp = now;
    tracker_done(tr, seq);
    strata_task_clear(&t);
    return;
  }

  slot = held_alloc(s);
  {
    held_t *h = &s->held[slot];
    strata_core_task_spec_t spec;
    strata_core_demand_t *demands =
        calloc(t.demands_count + 1, sizeof(*demands));
    if (!demands) {
      fprintf(stderr, "strata-scheduler: out of memory\n");
      abort();
    }
    h->in_use = true;
    h->value = malloc(m->len);
    memcpy(h->value, m->payload, m->len);
    h->len = m->len;
    h->key = xstrdup(t.idempotency_key ? t.idempotency_key : t.id);
    h->partition = p;
    h->tier = tier;
    h->input = input;
    h->not_before = t.has_not_before_ms ? t.not_before_ms : 0;
    h->seq = seq;
    h->attempt = t.attempt;
    h->offset = m->offset;
    h->enqueued_ms = t.enqueued_ms;
    h->heartbeat_ms = t.timeouts.has_heartbeat_ms ? t.timeouts.heartbeat_ms : 0;
    h->npools = 0;
    for (size_t i = 0; i < t.demands_count && h->npools < RUNNING_MAX_POOLS;
         i++) {
      int id = strata_core_pool_id(s->core, t.demands[i].key);
      if (id >= 0 && t.demands[i].value > 0 &&
          t.demands[i].value <= UINT32_MAX && ((s->conc_pools >> id) & 1u)) {
        h->amounts[h->npools] = (uint32_t)t.demands[i].value;
        h->pools[h->npools++] = id;
      }
    }
    spec_from_task(&t, tier, slot, &spec, demands);
    rc = strata_core_submit(s->core, &spec, now, err, sizeof(err));
    free(demands);
  }
  if (rc == STRATA_ERR_EXISTS) {
    strata_core_task_info_t info;
    /* The ledger already let this attempt through, so a running task of the
     * same id is an earlier attempt: this record is its retry, read before
     * the worker's FAILED event (both commit in one transaction, read by two
     * consumers). Release the old attempt as retried and admit this one. */
    if (strata_core_lookup(s->core, t.id, &info) == STRATA_OK &&
        info.state == STRATA_CORE_STATE_RUNNING &&
        strata_core_complete(s->core, t.id, STRATA_CORE_FAILED_RETRY, NULL, 0,
                             now, err, sizeof(err)) == STRATA_OK) {
      strata_core_task_spec_t spec;
      strata_core_demand_t *demands =
          calloc(t.demands_count + 1, sizeof(*demands));
      if (!demands) {
        fprintf(stderr, "strata-scheduler: out of memory\n");
        abort();
      }
      spec_from_task(&t, tier, slot, &spec, demands);
      rc = strata_core_submit(s->core, &spec, now, err, sizeof(err));
      free(demands);
    }
  }
  if (rc == STRATA_ERR_EXISTS) {
    s->duplicates++;
    views_duplicate(s->views);
    held_finish(s, slot);
  } else if (rc) {
    STRATA_WARN(COMP,
                "%s[%d]@%" PRId64 ": task %s refused, dead-lettered: "
                "%s",
                topic, p, m->offset, t.id, err);
    emit_dlq(s, STRATA_DLQ_INVALID, err, &t, m->payload, m->len, topic, p,
             m->offset, NULL);
    emit_event(s, STRATA_EVENT_DEAD_LETTERED, t.id, s->held[slot].key,
               t.attempt, tier, p, err);
    pend_decision(s, t.id, t.attempt);
    held_finish(s, slot);
  }
  strata_task_clear(&t);
}

/* The attempt `attempt` of `id` ended (or moved on): stop watching it. */
static void running_done(sched_t *s, const char *id, int32_t attempt) {
  running_t *r = running_find(s->running, id);
  if (r && r->attempt <= attempt)
    running_del(s->running, r);
}

/* A CHECKPOINT event with an error ends an attempt that yielded (the worker
 * wrote the requeue record with it); without one it is a progress report. */
static bool is_yield(const strata_event_t *e) {
  return e->kind == STRATA_EVENT_CHECKPOINT && e->error && e->worker_id;
}

/*
 * A DISPATCHED event read by the recovery scan of a partition this instance
 * owns, for an attempt the core does not hold: the attempt was dispatched
 * before this instance took the partition (a restart or a rebalance) and
 * its end has not been read yet, so it may still be running. It is adopted:
 * held as running in the core with the concurrency units the event lists,
 * and watched for preemption, until its terminal event (later in the same
 * partition, read in order) releases it. Rate pools are not charged: the
 * attempt spent its rate when it was dispatched. Heartbeats are not
 * watched: the task record needed to write a next attempt is not in the
 * event.
 */
static void adopt_running(sched_t *s, const strata_event_t *e, int32_t p) {
  /* The caller checked that p is an owned partition being recovered. */
  strata_core_demand_t dem[RUNNING_MAX_POOLS];
  int ids[RUNNING_MAX_POOLS];
  strata_core_task_spec_t spec;
  strata_core_task_info_t info;
  running_t *r;
  char err[256];
  int tier = tier_index(s, e->tier), n = 0;

  if (tier < 0)
    return;
  if (strata_core_lookup(s->core, e->task_id, &info) == STRATA_OK) {
    /* Held already: an earlier attempt adopted in this scan that a newer
     * one replaces (the scheduler presumed it lost). */
    r = running_find(s->running, e->task_id);
    if (r && r->attempt < e->attempt)
      r->attempt = e->attempt;
    return;
  }
  for (size_t i = 0; i < e->usage_count && n < RUNNING_MAX_POOLS; i++) {
    int id = strata_core_pool_id(s->core, e->usage[i].key);
    if (id < 0 || !((s->conc_pools >> id) & 1u) || e->usage[i].value < 1) {
      STRATA_WARN(COMP,
                  "task %s attempt %d: \"%s\" of its DISPATCHED event is "
                  "not a concurrency pool here or holds no units; not counted",
                  e->task_id, e->attempt, e->usage[i].key);
      continue;
    }
    ids[n] = id;
    dem[n++] = (strata_core_demand_t){e->usage[i].key, e->usage[i].value};
  }
  memset(&spec, 0, sizeof(spec));
  spec.id = e->task_id;
  spec.tier = (uint32_t)tier;
  spec.demands = dem;
  spec.ndemands = (size_t)n;
  spec.cookie = UINT64_MAX; /* no held record */
  if (strata_core_adopt(s->core, &spec, strata_epoch_now_ms(), err,
                        sizeof(err))) {
    STRATA_WARN(COMP, "task %s attempt %d may still run but is not counted: %s",
                e->task_id, e->attempt, err);
    return;
  }
  if ((r = running_add(s->running, e->task_id, e->routing_key, e->attempt, NULL,
                       0))) {
    r->tier = tier;
    r->input = -1;
    r->partition = p;
    r->offset = -1;
    r->npools = n;
    memcpy(r->pools, ids, (size_t)n * sizeof(*ids));
    r->heartbeat_ms = 0;
  }
}

static void handle_event(sched_t *s, const rd_kafka_message_t *m) {
  strata_event_t e;
  strata_epoch_ms_t now = strata_epoch_now_ms();
  char err[256];
  int32_t p = m->partition;
  bool terminal, fresh, late;

  if (p < s->nparts && m->offset + 1 > s->events_pos[p])
    s->events_pos[p] = m->offset + 1;
  strata_event_init(&e);
  if (strata_event_decode(m->payload, m->len, &e, err, sizeof(err))) {
    STRATA_WARN(COMP, "%s[%d]@%" PRId64 ": undecodable event ignored: %s",
                s->topic_events, p, m->offset, err);
    return;
  }
  /* What a worker reports as the end of an attempt. */
  terminal = e.worker_id && (e.kind == STRATA_EVENT_SUCCEEDED ||
                             e.kind == STRATA_EVENT_FAILED ||
                             e.kind == STRATA_EVENT_TIMED_OUT ||
                             e.kind == STRATA_EVENT_CANCELLED || is_yield(&e));
  /* A recovery scan re-reads events: count each offset once. */
  fresh = p < s->nparts && m->offset >= s->events_counted[p];
  /* A result of an attempt this scheduler presumed lost (heartbeat timeout)
   * and retried: recorded, but it completes nothing. */
  late = e.worker_id && ledger_is_lost(s->ledger, e.task_id, e.attempt);
  if ((terminal || (e.kind == STRATA_EVENT_DEAD_LETTERED && e.worker_id)) &&
      e.tier && fresh) {
    char outcome[32];
    size_t i;
    snprintf(outcome, sizeof(outcome), "%s",
             is_yield(&e) ? "yielded" : strata_event_kind_name(e.kind));
    for (i = 0; outcome[i]; i++)
      outcome[i] =
          (char)(outcome[i] >= 'A' && outcome[i] <= 'Z' ? outcome[i] - 'A' + 'a'
                                                        : outcome[i]);
    if (late && terminal) {
      views_late_result(s->views, e.tier, outcome);
      STRATA_INFO(COMP,
                  "task %s attempt %d: late %s from %s after the attempt was "
                  "presumed lost; recorded, not applied",
                  e.task_id, e.attempt, outcome, e.worker_id);
    } else {
      views_outcome(s->views, e.tier, outcome);
    }
    s->events_counted[p] = m->offset + 1;
  }
  if (late) {
    strata_event_clear(&e);
    return;
  }
  /* An outcome of an attempt older than one already dispatched (a retry
   * that overtook its FAILED event) must not touch the newer attempt. */
  if (terminal && ledger_attempt(s->ledger, e.task_id) > e.attempt) {
    strata_event_clear(&e);
    return;
  }
  switch (e.kind) {
  case STRATA_EVENT_DISPATCHED:
  case STRATA_EVENT_DEADLINE_MISSED:
  case STRATA_EVENT_DEAD_LETTERED:
  case STRATA_EVENT_CANCELLED:
    ledger_decided(s->ledger, e.task_id, e.attempt, e.time_ms);
    if (e.idempotency_key)
      ledger_claim_key(s->ledger, e.idempotency_key, e.task_id, e.time_ms);
    /* Only the recovery scan can meet an attempt dispatched by an earlier
     * owner; afterwards every DISPATCHED event read back is this
     * instance's own, already held. */
    if (e.kind == STRATA_EVENT_DISPATCHED && !e.worker_id && p < s->nparts &&
        s->recovering[p])
      adopt_running(s, &e, p);
    if (e.kind == STRATA_EVENT_CANCELLED && e.worker_id) {
      strata_core_complete(s->core, e.task_id, STRATA_CORE_CANCELLED, NULL, 0,
                           now, err, sizeof(err));
      running_done(s, e.task_id, e.attempt);
    } else if (e.kind == STRATA_EVENT_CANCELLED) {
      ledger_cancel_reported(s->ledger, e.task_id, e.time_ms);
    }
    break;
  case STRATA_EVENT_STARTED:
  case STRATA_EVENT_HEARTBEAT:
  case STRATA_EVENT_CHECKPOINT: {
    running_t *r = running_find(s->running, e.task_id);
    if (is_yield(&e)) {
      /* The attempt checkpointed and yielded; its requeue record (attempt
       * + 1) was committed with this event and brings the task back. */
      strata_core_complete(s->core, e.task_id, STRATA_CORE_FAILED_RETRY, NULL,
                           0, now, err, sizeof(err));
      running_done(s, e.task_id, e.attempt);
    } else if (r && r->attempt == e.attempt) {
      if (e.kind == STRATA_EVENT_STARTED && !r->started_ms)
        r->started_ms = now;
      if (e.kind == STRATA_EVENT_CHECKPOINT && e.has_checkpoint && r->len)
        running_checkpoint(r, e.checkpoint, e.checkpoint_len);
      running_seen(r, e.worker_id, now);
    }
    break;
  }
  case STRATA_EVENT_SUCCEEDED: {
    strata_core_usage_t usage[64];
    /* Usage read again in a recovery scan was charged by whoever ran the
     * scheduler then; the buckets here have refilled since. */
    size_t n = p < s->nparts && s->recovering[p] ? 0
               : e.usage_count < 64              ? e.usage_count
                                                 : 64;
    for (size_t i = 0; i < n; i++)
      usage[i] = (strata_core_usage_t){e.usage[i].key, e.usage[i].value};
    if (strata_core_complete(s->core, e.task_id, STRATA_CORE_SUCCEEDED, usage,
                             n, now, err, sizeof(err)))
      strata_core_mark_succeeded(s->core, e.task_id, now);
    running_done(s, e.task_id, e.attempt);
    break;
  }
  case STRATA_EVENT_FAILED:
  case STRATA_EVENT_TIMED_OUT:
    if (!e.worker_id) {
      /* The scheduler's own timeouts: schedule-to-start (the attempt never
       * ran) or heartbeat (the attempt is presumed lost; the next one was
       * written with this event). Either way, results that still arrive for
       * this attempt are late. */
      ledger_lost(s->ledger, e.task_id, e.attempt, e.time_ms);
      break;
    }
    running_done(s, e.task_id, e.attempt);
    /* The worker sets `retryable` only when it also wrote the next attempt
     * (to the delay ladder): dependents keep waiting for it. Otherwise the
     * attempt was final and tasks waiting on it fail too. */
    if (e.retryable) {
      strata_core_complete(s->core, e.task_id, STRATA_CORE_FAILED_RETRY, NULL,
                           0, now, err, sizeof(err));
    } else if (strata_core_complete(s->core, e.task_id, STRATA_CORE_FAILED,
                                    NULL, 0, now, err, sizeof(err))) {
      strata_core_mark_failed(s->core, e.task_id, now, e.error);
    }
    break;
  default:
    break;
  }
  strata_event_clear(&e);
}

/* Applies the paused-tier bits to the core and the views. */
static void apply_pauses(sched_t *s) {
  for (int i = 0; i < s->ntiers; i++)
    strata_core_tier_pause(s->core, i, (s->paused_tiers >> i) & 1u);
  views_control(s->views, s->paused_tiers, s->draining);
}

/* PAUSE_TIER / RESUME_TIER: `tier` names one tier or "*" (every tier). */
static void control_tier(sched_t *s, const strata_control_t *c) {
  bool pause = c->kind == STRATA_CONTROL_PAUSE_TIER;
  uint32_t bits;
  int t;

  if (!strcmp(c->tier, "*")) {
    bits = s->ntiers >= 32 ? UINT32_MAX : (1u << s->ntiers) - 1;
  } else if ((t = tier_index(s, c->tier)) >= 0) {
    bits = 1u << t;
  } else {
    STRATA_WARN(COMP,
                "control: %s for tier \"%s\" ignored: not a configured tier",
                strata_control_kind_name(c->kind), c->tier);
    return;
  }
  if (pause) {
    s->paused_tiers |= bits;
  } else {
    s->paused_tiers &= ~bits;
    s->draining = false; /* a resumed tier ends a drain */
  }
  STRATA_INFO(COMP, "tier %s %s (control record by %s%s%s)", c->tier,
              pause ? "paused" : "resumed",
              c->issued_by ? c->issued_by : "unknown", c->reason ? ": " : "",
              c->reason ? c->reason : "");
  apply_pauses(s);
}

static void handle_control(sched_t *s, const rd_kafka_message_t *m) {
  strata_control_t c;
  strata_core_task_info_t info;
  strata_epoch_ms_t now = strata_epoch_now_ms();
  char err[256];

  strata_control_init(&c);
  if (strata_control_decode(m->payload, m->len, &c, err, sizeof(err))) {
    STRATA_WARN(COMP,
                "%s@%" PRId64 ": undecodable control record ignored: "
                "%s",
                s->topic_control, m->offset, err);
    return;
  }
  switch (c.kind) {
  case STRATA_CONTROL_CANCEL:
    if (!c.task_id)
      break;
    if (strata_core_lookup(s->core, c.task_id, &info) == STRATA_OK &&
        info.state != STRATA_CORE_STATE_RUNNING &&
        strata_core_cancel(s->core, c.task_id, now) == STRATA_OK) {
      held_t *h = &s->held[info.cookie];
      emit_event(s, STRATA_EVENT_CANCELLED, c.task_id, h->key, h->attempt,
                 h->tier, h->partition, c.reason);
      pend_decision(s, c.task_id, h->attempt)->kind = PEND_CANCELLED;
      held_finish(s, info.cookie);
    } else {
      /* Not held here (yet): remember, so a later arrival never runs. The
       * whole control history is read at start-up; the ledger forgets a
       * cancel one idempotency window after it was issued. */
      ledger_cancelled(s->ledger, c.task_id,
                       c.issued_ms > 0 && c.issued_ms < now ? c.issued_ms
                                                            : now);
    }
    break;
  case STRATA_CONTROL_PAUSE_TIER:
  case STRATA_CONTROL_RESUME_TIER:
    if (c.tier)
      control_tier(s, &c);
    break;
  case STRATA_CONTROL_DRAIN:
    s->paused_tiers = s->ntiers >= 32 ? UINT32_MAX : (1u << s->ntiers) - 1;
    s->draining = true;
    STRATA_INFO(COMP,
                "draining (control record by %s): every tier paused; "
                "running tasks finish",
                c.issued_by ? c.issued_by : "unknown");
    apply_pauses(s);
    break;
  case STRATA_CONTROL_PREEMPT:
    break; /* for the workers (this scheduler may have written it) */
  }
  strata_control_clear(&c);
}

/* ---- running attempts: heartbeat timeouts and preemption -----------------*/

/*
 * The heartbeat timeout of a running attempt passed: presume it lost. In the
 * turn's transaction: a TIMED_OUT event (no worker_id: the scheduler's
 * decision) and either the next attempt (the task's retry policy, written to
 * its tier topic; the ladder takes it from there) or, when attempts are
 * exhausted, a dead letter. The pools it held are released now. A result
 * that the lost attempt still reports later is recorded and ignored
 * (handle_event, ledger_lost).
 */
static void lost_attempt(sched_t *s, running_t *r, strata_epoch_ms_t now) {
  strata_task_t t;
  char err[256], why[512];
  strata_err_t rc;
  bool retry;

  strata_task_init(&t);
  if ((rc = strata_task_decode(r->value, r->len, &t, err, sizeof(err)))) {
    /* Decoded when it was read; cannot fail short of memory. */
    STRATA_ERROR(COMP, "task %s: re-decoding for a retry: %s", r->id, err);
    running_del(s->running, r);
    return;
  }
  snprintf(why, sizeof(why),
           "heartbeat_ms %" PRId64 " exceeded: no heartbeat for %" PRId64
           " ms from %s; attempt %" PRId32 " presumed lost",
           r->heartbeat_ms, now - r->last_seen_ms,
           r->worker ? r->worker : "its worker", r->attempt);
  retry = t.attempt < t.retry.max_attempts;
  STRATA_WARN(COMP, "task %s: %s; %s", r->id, why,
              retry ? "retrying" : "attempts exhausted, dead-lettered");
  if (retry) {
    int64_t backoff =
        strata_retry_backoff_ms(&t.retry, t.attempt, strata_prng_next(&s->rng));
    char *hist =
        strata_attempt_history_json("TIMED_OUT", r->started_ms, now, why);
    void *buf = NULL;
    size_t len = 0;
    if (r->has_ckpt) {
      /* The next attempt resumes from the lost one's last checkpoint, as a
       * worker's own retry would. */
      uint8_t *c = malloc(r->ckpt_len ? r->ckpt_len : 1);
      if (c) {
        if (r->ckpt_len)
          memcpy(c, r->ckpt, r->ckpt_len);
        free(t.checkpoint);
        t.checkpoint = c;
        t.checkpoint_len = r->ckpt_len;
        t.has_checkpoint = true;
      }
    }
    t.has_not_before_ms = true;
    t.not_before_ms = now + backoff;
    if (!hist ||
        strata_task_next_attempt(&t, STRATA_HEADER_ATTEMPT_PREFIX, hist, now) ||
        strata_task_encode(&t, &buf, &len, err, sizeof(err))) {
      /* Out of memory: leave the attempt watched; the next check retries. */
      STRATA_ERROR(COMP, "task %s: building the retry record failed", r->id);
      free(hist);
      strata_task_clear(&t);
      return;
    }
    free(hist);
    out_add(s, s->topic_tasks[r->tier], r->partition, r->key, buf, len);
    emit_event_u(s, STRATA_EVENT_TIMED_OUT, r->id, r->key, r->attempt, r->tier,
                 r->partition, why, true, NULL, 0);
    strata_core_complete(s->core, r->id, STRATA_CORE_FAILED_RETRY, NULL, 0, now,
                         err, sizeof(err));
  } else {
    char detail[600];
    emit_event(s, STRATA_EVENT_TIMED_OUT, r->id, r->key, r->attempt, r->tier,
               r->partition, why);
    strata_attempt_record_t last = {
        .attempt = r->attempt,
        .has_started_ms = r->started_ms > 0,
        .started_ms = r->started_ms,
        .has_ended_ms = true,
        .ended_ms = now,
        .outcome = (char *)(uintptr_t) "TIMED_OUT",
        .error = why,
    };
    emit_dlq(s, STRATA_DLQ_EXHAUSTED, why, &t, r->value, r->len,
             s->topic_tasks[r->input], r->partition, r->offset, &last);
    snprintf(detail, sizeof(detail), "EXHAUSTED: %s", why);
    emit_event(s, STRATA_EVENT_DEAD_LETTERED, r->id, r->key, r->attempt,
               r->tier, r->partition, detail);
    if (strata_core_complete(s->core, r->id, STRATA_CORE_FAILED, NULL, 0, now,
                             err, sizeof(err)))
      strata_core_mark_failed(s->core, r->id, now, why);
  }
  pend_decision(s, r->id, r->attempt)->kind = PEND_LOST;
  views_heartbeat_lost(s->views, r->tier);
  strata_task_clear(&t);
  running_del(s->running, r);
}

typedef struct {
  sched_t *s;
  strata_epoch_ms_t now;
  int pool;         /* preemption: the pool a higher tier waits on */
  int tier;         /* ... and that tier */
  bool outstanding; /* a PREEMPT for this pool is still unanswered */
  running_t *victim;
} watch_ctx_t;

static void check_heartbeat(running_t *r, void *opaque) {
  watch_ctx_t *w = opaque;
  if (r->heartbeat_ms > 0 && r->started_ms > 0 &&
      w->now - r->last_seen_ms > r->heartbeat_ms)
    lost_attempt(w->s, r, w->now);
}

static bool holds_pool(const running_t *r, int pool) {
  for (int i = 0; i < r->npools; i++)
    if (r->pools[i] == pool)
      return true;
  return false;
}

/* The victim: a started attempt of a lower tier holding the pool; the
 * lowest tier first, then the most recently started (least work lost). */
static void pick_victim(running_t *r, void *opaque) {
  watch_ctx_t *w = opaque;
  if (!holds_pool(r, w->pool))
    return;
  if (r->preempted) {
    w->outstanding = true;
    return;
  }
  if (r->tier <= w->tier || !r->started_ms)
    return;
  if (!w->victim || r->tier > w->victim->tier ||
      (r->tier == w->victim->tier && r->started_ms > w->victim->started_ms))
    w->victim = r;
}

/*
 * Once per scheduler.watch.interval: heartbeat timeouts of running attempts,
 * then preemption: for each tier (most urgent first) whose most urgent ready
 * task waits for a concurrency pool, ask one running attempt of a lower tier
 * that holds the pool to yield (a PREEMPT control record, written in this
 * turn's transaction). One request per pool at a time: the next is sent once
 * the asked attempt has ended (yielded, or finished anyway).
 */
static void watch_running(sched_t *s, strata_epoch_ms_t now) {
  watch_ctx_t w = {s, now, -1, -1, false, NULL};
  strata_core_stats_t st;
  uint64_t asked = 0; /* pools preempted for in this pass */

  /* Most tasks set no heartbeat timeout; then the table, which holds
   * every attempt dispatched and not yet seen ending, is not walked. */
  if (running_watched(s->running))
    running_each(s->running, check_heartbeat, &w);
  if (!s->preemption || running_count(s->running) == 0)
    return;
  strata_core_stats(s->core, now, &st);
  for (int ti = 0; ti < s->ntiers && (size_t)ti < st.ntiers; ti++) {
    const strata_core_tier_stats_t *ts = &st.tiers[ti];
    char reason[256];
    strata_core_pool_info_t pi;
    if (!ts->head_blocked || ts->paused || ts->blocked_pool < 0 ||
        ts->blocked_until != STRATA_CORE_NEVER ||
        ts->depth[STRATA_CORE_STATE_READY] == 0 ||
        (asked & (1ull << ts->blocked_pool)))
      continue;
    w.pool = ts->blocked_pool;
    w.tier = ti;
    w.outstanding = false;
    w.victim = NULL;
    running_each(s->running, pick_victim, &w);
    if (w.outstanding || !w.victim)
      continue;
    if (strata_core_pool_info(s->core, w.pool, now, &pi) != STRATA_OK)
      continue;
    snprintf(reason, sizeof(reason),
             "tier %s waits for pool %s held by this %s task", s->tiers[ti],
             pi.name, s->tiers[w.victim->tier]);
    STRATA_INFO(COMP, "asking task %s attempt %d to yield: %s", w.victim->id,
                w.victim->attempt, reason);
    emit_control(s, STRATA_CONTROL_PREEMPT, w.victim->id, reason);
    w.victim->preempted = true;
    asked |= 1ull << w.pool;
    views_preempted(s->views, w.victim->tier);
  }
}

/* The aux consumer has read control up to `next`: once that is the end the
 * control partition had at start-up, decisions may begin. */
static void control_caught_up(sched_t *s, int64_t next) {
  if (!s->control_ready && next >= s->control_until) {
    s->control_ready = true;
    STRATA_INFO(COMP, "control history read (%" PRId64 " records)%s",
                s->control_until,
                s->paused_tiers ? "; some tiers are paused" : "");
  }
}

/* ---- decisions -----------------------------------------------------------*/

static void dispatch_one(sched_t *s, const strata_core_dispatch_t *d) {
  held_t *h = &s->held[d->cookie];
  void *value = h->value;
  void *copy = NULL;
  running_t *r;

  /* Watch the attempt while it runs; keep the record only when a lost
   * heartbeat would make the scheduler write the next attempt. */
  if (h->heartbeat_ms > 0 && (copy = malloc(h->len)))
    memcpy(copy, value, h->len);
  if ((r = running_add(s->running, d->id, h->key, h->attempt, copy,
                       copy ? h->len : 0))) {
    r->tier = h->tier;
    r->input = h->input;
    r->partition = h->partition;
    r->offset = h->offset;
    r->npools = h->npools;
    memcpy(r->pools, h->pools, sizeof(r->pools));
    r->heartbeat_ms = copy ? h->heartbeat_ms : 0;
  } else {
    free(copy);
  }

  h->value = NULL; /* the dispatch record takes the bytes */
  out_add(s, s->out_topics[OUT_DISPATCH], h->partition, h->key, value, h->len);
  {
    /* The concurrency units the attempt holds while it runs, so that a
     * scheduler that recovers the partition counts them (adopt_running). */
    strata_kv_long_t units[RUNNING_MAX_POOLS];
    for (int i = 0; i < h->npools; i++)
      units[i] =
          (strata_kv_long_t){borrow(s->pool_names[h->pools[i]]), h->amounts[i]};
    emit_event_u(s, STRATA_EVENT_DISPATCHED, d->id, h->key, h->attempt, h->tier,
                 h->partition, NULL, false, units, (size_t)h->npools);
  }
  {
    pending_decision_t *pd = pend_decision(s, d->id, h->attempt);
    pd->kind = PEND_DISPATCHED;
    pd->tier = h->tier;
    pd->enqueued_ms = h->enqueued_ms;
    pd->unblock_ms = d->unblock_latency_ms;
    pd->soft_missed = d->soft_missed != 0;
    pd->not_before = h->not_before;
  }
  held_finish(s, d->cookie);
}

static void outcome_one(sched_t *s, const strata_core_outcome_t *o) {
  held_t *h = &s->held[o->cookie];
  strata_task_t t;
  char err[256];
  bool drop = false;

  strata_task_init(&t);
  if (strata_task_decode(h->value, h->len, &t, err, sizeof(err)) == STRATA_OK)
    drop = o->kind == STRATA_CORE_OUTCOME_EXPIRED &&
           t.expiry_policy == STRATA_EXPIRY_DROP;
  const char *reason = o->reason;
  char why[256];
  if (o->kind == STRATA_CORE_OUTCOME_EXPIRED && s2s_expired(&t)) {
    /* Not dispatched within its schedule-to-start timeout. */
    snprintf(why, sizeof(why),
             "schedule_to_start_ms %" PRId64 " exceeded: not dispatched "
             "within %" PRId64 " ms of being enqueued",
             t.timeouts.schedule_to_start_ms, t.timeouts.schedule_to_start_ms);
    reason = why;
    emit_event(s, STRATA_EVENT_TIMED_OUT, o->id, h->key, h->attempt, h->tier,
               h->partition, reason);
  } else if (o->kind == STRATA_CORE_OUTCOME_EXPIRED) {
    emit_event(s, STRATA_EVENT_DEADLINE_MISSED, o->id, h->key, h->attempt,
               h->tier, h->partition, reason);
  }
  if (!drop) {
    emit_dlq(s,
             o->kind == STRATA_CORE_OUTCOME_EXPIRED
                 ? STRATA_DLQ_DEADLINE_EXPIRED
                 : STRATA_DLQ_DEPENDENCY_FAILED,
             reason, &t, h->value, h->len, s->topic_tasks[h->input],
             h->partition, h->offset, NULL);
    emit_event(s, STRATA_EVENT_DEAD_LETTERED, o->id, h->key, h->attempt,
               h->tier, h->partition, reason);
  }
  {
    pending_decision_t *pd = pend_decision(s, o->id, h->attempt);
    if (o->kind == STRATA_CORE_OUTCOME_EXPIRED) {
      pd->kind = PEND_EXPIRED;
      pd->tier = h->tier;
    }
  }
  held_finish(s, o->cookie);
  strata_task_clear(&t);
}

/* ---- transactions --------------------------------------------------------*/

static bool any_dirty(sched_t *s) {
  for (int i = 0; i < s->ninputs * s->nparts; i++)
    if (s->trackers[i].dirty)
      return true;
  return false;
}

/* Returns 0 on success, -1 when the transaction was aborted (state must be
 * rebuilt), -2 on a fatal error. */
static int commit_turn(sched_t *s) {
  rd_kafka_topic_partition_list_t *offsets;
  rd_kafka_error_t *error;
  char meta[32];

  if (s->nout == 0 && !any_dirty(s))
    return 0;
  if ((error = rd_kafka_begin_transaction(s->tx))) {
    STRATA_ERROR(COMP, "begin_transaction: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return -2;
  }
  offsets = rd_kafka_topic_partition_list_new(s->ninputs * s->nparts);
  for (int t = 0; t < s->ninputs; t++) {
    for (int p = 0; p < s->nparts; p++) {
      tracker_t *tr = tracker_of(s, t, p);
      int64_t off = tracker_commit_offset(tr);
      rd_kafka_topic_partition_t *tp;
      int n;
      if (!s->assigned[p] || off < 0 || !tr->dirty)
        continue;
      tp = rd_kafka_topic_partition_list_add(offsets, s->topic_tasks[t], p);
      tp->offset = off;
      n = snprintf(meta, sizeof(meta), "m=%" PRId64,
                   tracker_commit_mark(tr, s->events_pos[p]));
      tp->metadata = malloc((size_t)n);
      memcpy(tp->metadata, meta, (size_t)n);
      tp->metadata_size = (size_t)n;
    }
  }
  /* The group metadata carries the current generation and member id, so it
   * is taken afresh for every transaction (KIP-447 fencing).
   * Offsets go first, records after: until the coordinator has finished the
   * previous transaction it answers CONCURRENT_TRANSACTIONS, which
   * AddOffsetsToTxn retries after retry.backoff.ms but AddPartitionsToTxn
   * (sent on the first record) after a fixed 20 ms in librdkafka 2.0.2.
   * Once the offsets are in, the partitions are added at once. The order
   * within a transaction changes nothing about what commits together. */
  error = NULL;
  if (offsets->cnt) {
    rd_kafka_consumer_group_metadata_t *cgmd =
        rd_kafka_consumer_group_metadata(s->in);
    error = rd_kafka_send_offsets_to_transaction(s->tx, offsets, cgmd, -1);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
  }
  rd_kafka_topic_partition_list_destroy(offsets);
  if (error)
    goto txn_error;
  for (size_t i = 0; i < s->nout; i++) {
    out_msg_t *o = &s->out[i];
    rd_kafka_resp_err_t kerr;
    for (;;) {
      kerr = rd_kafka_producev(
          s->tx, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
          RD_KAFKA_V_KEY(o->key, strlen(o->key)),
          RD_KAFKA_V_VALUE(o->value, o->len),
          RD_KAFKA_V_TIMESTAMP(o->timestamp),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        break;
      rd_kafka_poll(s->tx, 10);
    }
    if (kerr) {
      STRATA_ERROR(COMP, "producing to %s: %s", o->topic,
                   rd_kafka_err2str(kerr));
      goto abort;
    }
  }
  if ((error = rd_kafka_commit_transaction(s->tx, -1)))
    goto txn_error;

  {
    strata_epoch_ms_t done = strata_epoch_now_ms();
    for (size_t i = 0; i < s->npend; i++) {
      pending_decision_t *pd = &s->pend[i];
      ledger_decided(s->ledger, pd->id, pd->attempt, done);
      if (pd->kind == PEND_DISPATCHED) {
        s->dispatched++;
        views_dispatched(s->views, pd->tier,
                         (double)(done - pd->enqueued_ms) / 1000.0,
                         pd->unblock_ms, pd->soft_missed);
        if (pd->not_before > 0)
          views_lateness(s->views, (double)(done - pd->not_before) / 1000.0);
      } else if (pd->kind == PEND_EXPIRED) {
        s->expired++;
        views_expired(s->views, pd->tier);
      } else if (pd->kind == PEND_LOST) {
        ledger_lost(s->ledger, pd->id, pd->attempt, done);
      } else if (pd->kind == PEND_CANCELLED) {
        /* Every later arrival of the task is skipped without an event. */
        ledger_cancelled(s->ledger, pd->id, done);
        ledger_cancel_reported(s->ledger, pd->id, done);
      }
    }
    for (int r = 0; r <= STRATA_DLQ_CANCELLED; r++) {
      for (uint32_t k = 0; k < s->dlq_turn[r]; k++)
        views_dead_lettered(s->views,
                            strata_dlq_reason_name((strata_dlq_reason_t)r));
      s->dead_lettered += s->dlq_turn[r];
    }
  }
  for (int i = 0; i < s->ninputs * s->nparts; i++)
    s->trackers[i].dirty = false;
  clear_outputs(s);
  return 0;

txn_error:
  STRATA_ERROR(COMP, "transaction: %s", rd_kafka_error_string(error));
  if (rd_kafka_error_is_fatal(error)) {
    rd_kafka_error_destroy(error);
    return -2;
  }
  rd_kafka_error_destroy(error);
abort:
  if ((error = rd_kafka_abort_transaction(s->tx, -1))) {
    STRATA_ERROR(COMP, "abort_transaction: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return -2;
  }
  clear_outputs(s);
  return -1;
}

/* After an aborted transaction: forget everything and start again from the
 * committed offsets of the current assignment. */
static void rewind_to_committed(sched_t *s) {
  rd_kafka_topic_partition_list_t *cur = NULL;
  if (rd_kafka_assignment(s->in, &cur) == 0 && cur) {
    rd_kafka_topic_partition_list_t *copy =
        rd_kafka_topic_partition_list_copy(cur);
    on_assign(s, copy);
    rd_kafka_topic_partition_list_destroy(copy);
    rd_kafka_topic_partition_list_destroy(cur);
  }
}

/* ---- setup and loop ------------------------------------------------------*/

static rd_kafka_t *make_client(sched_t *s, rd_kafka_type_t type,
                               const char *role, const char *const *defaults,
                               bool rebalance, char *err, size_t size) {
  rd_kafka_conf_t *conf =
      strata_kafka_conf_new(s->cfg, role, defaults, err, size);
  rd_kafka_t *rk;
  if (!conf)
    return NULL;
  if (rebalance) {
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, s);
  }
  if (type == RD_KAFKA_PRODUCER)
    rd_kafka_conf_set_dr_msg_cb(conf, strata_sched_tx_delivered);
  if (!(rk = rd_kafka_new(type, conf, err, size)))
    rd_kafka_conf_destroy(conf);
  return rk;
}

static int sched_setup(sched_t *s, char *err, size_t size) {
  const char *group = strata_config_get_str(s->cfg, "scheduler.group.id");
  const char *prefix = strata_config_get_str(s->cfg, "topic.prefix");
  const char *instance = strata_config_get_str(s->cfg, "scheduler.instance.id");
  char txid[300], host[200], auxgroup[300];
  rd_kafka_topic_partition_list_t *l;
  rd_kafka_error_t *error;

  if (!*instance) {
    if (gethostname(host, sizeof(host)))
      snprintf(host, sizeof(host), "default");
    host[sizeof(host) - 1] = '\0';
    instance = host;
  }
  snprintf(txid, sizeof(txid), "strata-scheduler-%s", instance);
  snprintf(auxgroup, sizeof(auxgroup), "%s-aux-%s", group, instance);
  const char *const in_defaults[] = {"group.id",
                                     group,
                                     "group.instance.id",
                                     instance,
                                     STRATA_SCHED_CONSUMER_SETTINGS,
                                     NULL};
  const char *const aux_defaults[] = {"group.id",
                                      auxgroup,
                                      "enable.auto.commit",
                                      "false",
                                      "enable.partition.eof",
                                      "true",
                                      "isolation.level",
                                      "read_committed",
                                      "auto.offset.reset",
                                      "latest",
                                      NULL};
  const char *const tx_defaults[] = {"transactional.id", txid,
                                     STRATA_SCHED_TX_SETTINGS, NULL};

  if ((s->ntiers =
           strata_config_get_list(s->cfg, "tiers", s->tiers, MAX_TIERS)) < 0) {
    s->ntiers = 0;
    return strata_errf(STRATA_ERR_CONFIG, err, size, "tiers: more than %d",
                       MAX_TIERS);
  }
  if (strata_layout_build(s->cfg, &s->layout, err, size))
    return STRATA_ERR_CONFIG;
  s->nparts = (int)strata_config_get_int(s->cfg, "topic.partitions");
  s->window_ms = strata_config_get_int(s->cfg, "idempotency.window");
  s->batch = (int)strata_config_get_int(s->cfg, "scheduler.batch");
  for (int i = 0; i < s->ntiers; i++)
    snprintf(s->topic_tasks[i], sizeof(s->topic_tasks[i]), "%stasks.%s", prefix,
             s->tiers[i]);
  s->ninputs = s->ntiers;
  for (int i = 0; i < s->layout.count; i++) {
    const strata_topic_spec_t *t = &s->layout.topics[i];
    if (t->role != STRATA_TOPIC_DELAY || s->ninputs == MAX_INPUTS)
      continue;
    snprintf(s->topic_tasks[s->ninputs], sizeof(s->topic_tasks[0]), "%s",
             t->name);
    s->in_delay_ms[s->ninputs++] = t->delay_ms;
    if (!s->min_step_ms || t->delay_ms < s->min_step_ms)
      s->min_step_ms = t->delay_ms;
  }
  snprintf(s->out_topics[OUT_DISPATCH], 256, "%sdispatch", prefix);
  snprintf(s->out_topics[OUT_EVENTS], 256, "%sevents", prefix);
  snprintf(s->out_topics[OUT_DLQ], 256, "%sdlq", prefix);
  snprintf(s->topic_events, 256, "%sevents", prefix);
  snprintf(s->topic_control, 256, "%scontrol", prefix);
  s->trackers = calloc((size_t)(s->ninputs * s->nparts), sizeof(tracker_t));
  s->dq = calloc((size_t)ndelay_slots(s) + 1, sizeof(*s->dq));
  s->dhead = calloc((size_t)ndelay_slots(s) + 1, sizeof(*s->dhead));
  s->assigned = calloc((size_t)s->nparts, sizeof(bool));
  s->recovering = calloc((size_t)s->nparts, sizeof(bool));
  s->recover_until = calloc((size_t)s->nparts, sizeof(int64_t));
  s->events_pos = calloc((size_t)s->nparts, sizeof(int64_t));
  s->events_counted = calloc((size_t)s->nparts, sizeof(int64_t));
  s->ledger = ledger_new();
  s->running = running_new();
  if (!s->trackers || !s->dq || !s->dhead || !s->assigned || !s->recovering ||
      !s->recover_until || !s->events_pos || !s->events_counted || !s->ledger ||
      !s->running)
    return STRATA_ERR_NOMEM;
  s->instance = strdup(instance);
  s->preemption = strata_config_get_bool(s->cfg, "scheduler.preemption");
  s->watch_us =
      strata_config_get_int(s->cfg, "scheduler.watch.interval") * 1000;
  strata_prng_seed(&s->rng);
  for (int i = 0; i < s->ninputs * s->nparts; i++)
    tracker_init(&s->trackers[i]);
  if (core_create(s, err, size))
    return STRATA_ERR_CONFIG;
  if (!(s->views = views_new(strata_config_get_str(s->cfg, "admin.listen"),
                             s->tiers, s->ntiers, err, size)) ||
      views_routes(s->views))
    return STRATA_ERR_CONFIG;
  if (views_port(s->views) > 0)
    STRATA_INFO(COMP, "admin endpoint on port %d (/metrics, /tasks, /healthz)",
                views_port(s->views));

  if (!(s->tx = make_client(s, RD_KAFKA_PRODUCER, "scheduler-tx", tx_defaults,
                            false, err, size)) ||
      !(s->aux = make_client(s, RD_KAFKA_CONSUMER, "scheduler-aux",
                             aux_defaults, false, err, size)) ||
      !(s->in = make_client(s, RD_KAFKA_CONSUMER, "scheduler", in_defaults,
                            true, err, size)))
    return STRATA_ERR_CONFIG;
  if ((error = rd_kafka_init_transactions(s->tx, 30000))) {
    strata_errf(STRATA_ERR_KAFKA, err, size,
                "init_transactions (transactional.id %s): %s", txid,
                rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return STRATA_ERR_KAFKA;
  }
  /* Every topic of the layout is an output (dispatch, events, dlq, tiers
   * and delay steps for retries and hops, control for PREEMPT). */
  if (!(s->out_rkt = calloc((size_t)s->layout.count + 1, sizeof(*s->out_rkt))))
    return STRATA_ERR_NOMEM;
  s->nout_rkt = strata_layout_learn(s->tx, &s->layout, s->out_rkt);
  /* Events of every partition (dependencies cross partitions), from the
   * end: their history is read on assignment. The one control partition
   * from its start: paused tiers and a drain hold until undone, whatever
   * their age, so the whole (small) command history is replayed, and no
   * decision is made before it is (control_ready). */
  l = rd_kafka_topic_partition_list_new(s->nparts + 1);
  for (int p = 0; p < s->nparts; p++)
    rd_kafka_topic_partition_list_add(l, s->topic_events, p)->offset =
        RD_KAFKA_OFFSET_END;
  {
    int64_t lo, hi;
    rd_kafka_resp_err_t kerr;
    strata_mono_us_t until = strata_mono_now_us() + 30 * 1000000LL;
    /* Right after the topics were created, the partition's leader may not
     * be known yet: retry for a while. */
    while ((kerr = rd_kafka_query_watermark_offsets(s->aux, s->topic_control, 0,
                                                    &lo, &hi, 10000)) &&
           strata_mono_now_us() < until) {
      struct timespec ts = {0, 200 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (kerr)
      return strata_errf(STRATA_ERR_KAFKA, err, size,
                         "reading the end of %s: %s", s->topic_control,
                         rd_kafka_err2str(kerr));
    s->control_until = hi;
    s->control_ready = hi <= lo;
    rd_kafka_topic_partition_list_add(l, s->topic_control, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(s->aux, l);
  rd_kafka_topic_partition_list_destroy(l);
  for (int p = 0; p < s->nparts; p++) {
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(s->aux, s->topic_events, p, &lo, &hi,
                                         10000) == 0)
      s->events_pos[p] = hi;
  }
  /* Tier and delay topics in one subscription: the range assignor gives
   * partition p of all of them to one instance. */
  l = rd_kafka_topic_partition_list_new(s->ninputs);
  for (int i = 0; i < s->ninputs; i++)
    rd_kafka_topic_partition_list_add(l, s->topic_tasks[i],
                                      RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(s->in, l);
  rd_kafka_topic_partition_list_destroy(l);
  STRATA_INFO(COMP,
              "started: transactional.id %s, group %s, %d tiers x %d "
              "partitions",
              txid, group, s->ntiers, s->nparts);
  return STRATA_OK;
}

static void sched_teardown(sched_t *s) {
  views_destroy(s->views);
  s->views = NULL;
  clear_outputs(s);
  /* The queues go before the consumer; the arrays stay until after it, as
   * closing the consumer revokes its partitions (state_reset). */
  delay_queues_drop(s);
  if (s->in) {
    rd_kafka_consumer_close(s->in);
    rd_kafka_destroy(s->in);
  }
  if (s->aux) {
    rd_kafka_consumer_close(s->aux);
    rd_kafka_destroy(s->aux);
  }
  for (int i = 0; i < s->nout_rkt; i++)
    rd_kafka_topic_destroy(s->out_rkt[i]);
  free(s->out_rkt);
  if (s->tx)
    rd_kafka_destroy(s->tx);
  for (uint64_t i = 0; i < s->nheld_cap; i++)
    if (s->held[i].in_use)
      held_free(s, i);
  free(s->held);
  free(s->free_slots);
  free(s->dq);
  free(s->dhead);
  if (s->trackers)
    for (int i = 0; i < s->ninputs * s->nparts; i++)
      tracker_clear(&s->trackers[i]);
  free(s->trackers);
  free(s->assigned);
  free(s->recovering);
  free(s->recover_until);
  free(s->events_pos);
  free(s->events_counted);
  free(s->out);
  free(s->pend);
  ledger_destroy(s->ledger);
  running_destroy(s->running);
  free(s->instance);
  strata_core_destroy(s->core);
  strata_layout_clear(&s->layout);
  for (int i = 0; i < s->ntiers; i++)
    free(s->tiers[i]);
}

/* Pauses all tier partitions when the core is full; resumes below 90 %. */
static void flow_control(sched_t *s) {
  uint64_t held = strata_core_held(s->core);
  uint64_t max = (uint64_t)strata_config_get_int(s->cfg, "scheduler.max.tasks");
  bool full = strata_core_is_full(s->core);
  rd_kafka_topic_partition_list_t *l;

  /* Pause when full; resume only below 90 %, so the partitions do not
   * flap around the limit (each pause drops prefetched records). */
  if (s->paused_full ? held >= max / 10 * 9 : !full)
    return;
  l = rd_kafka_topic_partition_list_new(s->ninputs * s->nparts);
  for (int p = 0; p < s->nparts; p++)
    if (s->assigned[p] && !s->recovering[p])
      for (int t = 0; t < s->ninputs; t++)
        rd_kafka_topic_partition_list_add(l, s->topic_tasks[t], p);
  if (full) {
    rd_kafka_pause_partitions(s->in, l);
    STRATA_WARN(COMP,
                "the core holds %" PRIu64 " tasks (scheduler.max.tasks): "
                "not fetching the tiers until it drains",
                held);
  } else {
    rd_kafka_resume_partitions(s->in, l);
  }
  s->paused_full = full;
  rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Moves due records off the heads of the delay partitions: a record on step
 * S written at time T (its Kafka timestamp) is due at T + S. Due records go
 * through handle_task (into the core, or on to a shorter step); the first
 * record not yet due stays as the head and sets the next wake-up. Returns
 * how many records were taken; *wake is lowered to the earliest due time.
 */
static int delay_turn(sched_t *s, strata_epoch_ms_t now,
                      strata_epoch_ms_t *wake) {
  int taken = 0;
  for (int in = s->ntiers; in < s->ninputs; in++) {
    for (int p = 0; p < s->nparts; p++) {
      int slot = (in - s->ntiers) * s->nparts + p;
      if (!s->assigned[p] || s->recovering[p] || !s->dq[slot])
        continue;
      while (!strata_core_is_full(s->core)) {
        rd_kafka_message_t *m = s->dhead[slot];
        rd_kafka_timestamp_type_t tstype;
        int64_t ts, due;
        if (!m) {
          if (!(m = rd_kafka_consume_queue(s->dq[slot], 0)))
            break;
          STRATA_DEBUG(COMP, "%s[%d]@%" PRId64 ": seen (err %d)",
                       s->topic_tasks[in], p, m->offset, m->err);
        }
        if (m->err) {
          if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            STRATA_WARN(COMP, "%s: %s", s->topic_tasks[in],
                        rd_kafka_message_errstr(m));
          rd_kafka_message_destroy(m);
          s->dhead[slot] = NULL;
          continue;
        }
        ts = rd_kafka_message_timestamp(m, &tstype);
        due = ts < 0 ? now : ts + s->in_delay_ms[in];
        if (due > now) {
          s->dhead[slot] = m;
          if (due < *wake)
            *wake = due;
          break;
        }
        STRATA_DEBUG(COMP, "%s[%d]@%" PRId64 ": due %" PRId64 " ms ago",
                     s->topic_tasks[in], p, m->offset, now - due);
        handle_task(s, m);
        rd_kafka_message_destroy(m);
        s->dhead[slot] = NULL;
        taken++;
      }
    }
  }
  return taken;
}

/* Records of the tier topics not yet read (see below for the source). */
static void update_lag(sched_t *s) {
  int64_t lag[MAX_TIERS] = {0};

  for (int t = 0; t < s->ntiers; t++) {
    for (int p = 0; p < s->nparts; p++) {
      const tracker_t *tr = tracker_of(s, t, p);
      int64_t lo, hi, pos;
      /* The watermarks of the last fetch response, never a broker round
       * trip: a query would block the loop behind the consumer's long-poll
       * fetch (seconds of added latency, measured). While a partition is
       * paused its high watermark is as of the pause, so the figure is a
       * lower bound then. */
      if (!s->assigned[p] ||
          rd_kafka_get_watermark_offsets(s->in, s->topic_tasks[t], p, &lo,
                                         &hi) ||
          hi < 0)
        continue;
      pos = tr->next_offset >= 0    ? tr->next_offset
            : tr->start_offset >= 0 ? tr->start_offset
                                    : lo;
      if (hi > pos)
        lag[t] += hi - pos;
    }
  }
  for (int t = 0; t < s->ntiers; t++)
    views_lag(s->views, t, lag[t]);
}

int sched_run(strata_config_t *cfg, volatile int *stop) {
  sched_t s;
  char err[512];
  int rc = 1;
  int64_t tick = strata_config_get_int(cfg, "scheduler.tick");
  strata_mono_us_t last_prune = strata_mono_now_us();

  memset(&s, 0, sizeof(s));
  s.cfg = cfg;
  if (strata_codec_init(err, sizeof(err)) ||
      sched_setup(&s, err, sizeof(err))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    sched_teardown(&s);
    return 2;
  }
  while (!*stop) {
    strata_epoch_ms_t now;
    strata_core_dispatch_t d;
    strata_core_outcome_t outs[64];
    size_t nouts;
    int n = 0, work = 0, r;
    strata_epoch_ms_t delay_wake;

    views_turn(s.views, s.core, strata_epoch_now_ms());
    if (strata_mono_now_us() - s.last_lag > 5000000) {
      update_lag(&s);
      s.last_lag = strata_mono_now_us();
    }

    /* Worker events and control commands. */
    for (int i = 0; i < 1000; i++) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(s.aux, 0);
      if (!m)
        break;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        const char *t = rd_kafka_topic_name(m->rkt);
        int32_t p = m->partition;
        if (!strcmp(t, s.topic_control))
          control_caught_up(&s, m->offset);
        if (!strcmp(t, s.topic_events) && p < s.nparts) {
          if (m->offset > s.events_pos[p])
            s.events_pos[p] = m->offset;
          if (s.recovering[p] && m->offset >= s.recover_until[p])
            recovery_done(&s, p);
        }
      } else if (m->err) {
        STRATA_WARN(COMP, "events/control: %s", rd_kafka_message_errstr(m));
      } else if (!strcmp(rd_kafka_topic_name(m->rkt), s.topic_control)) {
        handle_control(&s, m);
        control_caught_up(&s, m->offset + 1);
      } else {
        handle_event(&s, m);
        if (s.recovering[m->partition] &&
            m->offset + 1 >= s.recover_until[m->partition])
          recovery_done(&s, m->partition);
      }
      rd_kafka_message_destroy(m);
      work++;
    }

    /* Tier records while the core has room. */
    flow_control(&s);
    for (int i = 0; i < s.batch && !strata_core_is_full(s.core); i++) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(s.in, 0);
      if (!m)
        break;
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          STRATA_WARN(COMP, "tiers: %s", rd_kafka_message_errstr(m));
      } else {
        handle_task(&s, m);
        work++;
      }
      rd_kafka_message_destroy(m);
    }

    /* Delay ladder heads that are due. */
    now = strata_epoch_now_ms();
    delay_wake = STRATA_CORE_NEVER;
    work += delay_turn(&s, now, &delay_wake);

    /* Decisions, once the control history is known (a cancel or a pause
     * in it must not be overtaken). */
    now = strata_epoch_now_ms();
    while (s.control_ready &&
           (nouts = strata_core_poll_outcomes(s.core, now, outs, 64)) > 0) {
      for (size_t i = 0; i < nouts; i++)
        outcome_one(&s, &outs[i]);
      work++;
    }
    while (s.control_ready && n < s.batch &&
           strata_core_next(s.core, now, &d)) {
      dispatch_one(&s, &d);
      n++;
    }
    work += n;
    if (strata_mono_now_us() - s.last_watch >= s.watch_us) {
      watch_running(&s, now);
      views_running(s.views, running_count(s.running));
      s.last_watch = strata_mono_now_us();
    }

    r = commit_turn(&s);
    if (r == -2) {
      fprintf(stderr, "strata-scheduler: fatal Kafka transaction error "
                      "(see the log); exiting so a restart can recover\n");
      break;
    } else if (r == -1) {
      rewind_to_committed(&s);
    }

    if (strata_mono_now_us() - last_prune > 60 * 1000000LL) {
      ledger_prune(s.ledger, now - s.window_ms);
      last_prune = strata_mono_now_us();
    }
    if (!work) {
      /* Idle: block on the tier consumer until the next timer or a tick.
       * `now` is read again: the commit may have taken a while, and a wait
       * measured from before it would oversleep a due timer by that long. */
      strata_epoch_ms_t wake = strata_core_next_wakeup(s.core);
      if (delay_wake < wake)
        wake = delay_wake;
      now = strata_epoch_now_ms();
      int64_t wait = tick;
      if (wake != STRATA_CORE_NEVER && wake - now < wait)
        wait = wake - now < 0 ? 0 : wake - now;
      rd_kafka_message_t *m = strata_core_is_full(s.core)
                                  ? (rd_kafka_poll(s.in, (int)wait), NULL)
                                  : rd_kafka_consumer_poll(s.in, (int)wait);
      if (m) {
        if (!m->err)
          handle_task(&s, m);
        rd_kafka_message_destroy(m);
      }
    }
  }
  if (!*stop)
    rc = 1;
  else
    rc = 0;
  STRATA_INFO(COMP,
              "stopping: dispatched %" PRIu64 ", dead-lettered %" PRIu64
              ", duplicates skipped %" PRIu64 ", undecodable %" PRIu64,
              s.dispatched, s.dead_lettered, s.duplicates, s.undecodable);
  sched_teardown(&s);
  return rc;
}
