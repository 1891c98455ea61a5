/*
 * strata-scheduler's loop: I/O stages around the decision layer.
 *
 * One thread. A turn reads the clock once, then: worker events and control
 * commands (a separate consumer assigned every events partition and the
 * control partition), tier records while the core has room, the delay
 * ladder heads that are due, the decisions of the turn (decide_turn,
 * decide_watch), and finally one Kafka transaction holding every record
 * the turn decided together with the input offsets it consumed.
 *
 * Invariants that make a crash lose and duplicate nothing:
 *  - A tier record's offset is committed only once the record is finished
 *    (dispatched, dead-lettered, cancelled or skipped) in a transaction that
 *    also holds the consequence (decide.h, tracker.c).
 *  - Every decision writes an event to the events partition of the task's
 *    own partition number in the same transaction; the commit metadata of
 *    each tier partition names the events offset ("mark") from which a
 *    successor must re-read events (assign.c).
 *  - The transactional.id is stable per instance and offsets are sent with
 *    the consumer group metadata (KIP-447), so a zombie is fenced.
 *  - Tier, events and dispatch topics are co-partitioned (same count, same
 *    key, range assignor).
 * A transaction that aborts rewinds to the committed offsets and rebuilds
 * the decision layer's state from Kafka; a fatal producer error recreates
 * the producer in process and does the same.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched_int.h"
#include "kafka_txn.h"
#include "sched_kafka.h"
#include "strata/backoff.h"
#include "strata/codec.h"
#include "strata/log.h"
#include "strata/program.h"

#define COMP "scheduler"

/* ---- transactions --------------------------------------------------------*/

/* The bound on one turn's transaction (kafka_txn.h): the producer's
 * transaction.timeout.ms, past which the broker aborts it anyway. */
#define TURN_TIMEOUT_MS 10000

static rd_kafka_topic_partition_list_t *turn_offsets(sched_t *s) {
  size_t n = decide_offsets(s->decide, s->offsets);
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new((int)n);
  for (size_t i = 0; i < n; i++) {
    const decide_offset_t *o = &s->offsets[i];
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(
        l, s->topic_tasks[o->input], o->partition);
    char meta[32];
    int len = snprintf(meta, sizeof(meta), "m=%" PRId64, o->mark);
    tp->offset = o->offset;
    if (!(tp->metadata = malloc((size_t)len)))
      strata_program_oom();
    memcpy(tp->metadata, meta, (size_t)len);
    tp->metadata_size = (size_t)len;
  }
  return l;
}

/* Commits the turn's effects in one transaction (common/kafka/kafka_txn.c:
 * offsets first, then the records; retriable errors retried, abortable
 * ones and the deadline abort, fatal ones need a new producer). */
static txn_result_t commit_turn(sched_t *s) {
  rd_kafka_topic_partition_list_t *offsets;
  const decide_out_t *out;
  size_t nout;
  txn_result_t r;
  char err[512];

  if (!decide_has_effects(s->decide))
    return TXN_OK;
  out = decide_outputs(s->decide, &nout);
  if (nout > s->caprecs) {
    size_t cap = nout * 2;
    if (!(s->recs = realloc(s->recs, cap * sizeof(*s->recs))))
      strata_program_oom();
    s->caprecs = cap;
  }
  for (size_t i = 0; i < nout; i++)
    s->recs[i] = (txn_record_t){
        out[i].topic, out[i].partition, out[i].key,      strlen(out[i].key),
        out[i].value, out[i].len,       out[i].timestamp};
  offsets = turn_offsets(s);
  r = txn_commit(s->tx, s->in, offsets, s->recs, nout, TURN_TIMEOUT_MS, err,
                 sizeof(err));
  rd_kafka_topic_partition_list_destroy(offsets);
  if (r == TXN_OK)
    decide_committed(s->decide, strata_epoch_now_ms());
  else
    STRATA_ERROR(COMP, "%s; %s", err,
                 r == TXN_ABORTED
                     ? "aborted: rewinding to the committed offsets"
                     : "fatal: recreating the transactional producer");
  return r;
}

/* ---- clients -------------------------------------------------------------*/

static rd_kafka_t *make_client(sched_t *s, rd_kafka_type_t type,
                               const char *role, const char *const *defaults,
                               bool rebalance, char *err, size_t size) {
  rd_kafka_conf_t *conf =
      strata_kafka_conf_new(s->cfg, role, defaults, err, size);
  rd_kafka_t *rk;
  if (!conf)
    return NULL;
  if (rebalance) {
    rd_kafka_conf_set_rebalance_cb(conf, sched_on_rebalance);
    rd_kafka_conf_set_opaque(conf, s);
  }
  if (type == RD_KAFKA_PRODUCER)
    rd_kafka_conf_set_dr_msg_cb(conf, strata_sched_tx_delivered);
  if (!(rk = rd_kafka_new(type, conf, err, size)))
    rd_kafka_conf_destroy(conf);
  return rk;
}

/* The transactional producer, transactions initialised. */
static rd_kafka_t *make_producer(sched_t *s, char *err, size_t size) {
  char txid[300], mmb[32];
  rd_kafka_conf_t *conf;
  snprintf(txid, sizeof(txid), "strata-scheduler-%s", s->instance);
  /* Above every record it writes (librdkafka's default, 1 000 000, is below
   * the codec's 1 MiB: a valid large task could not be dispatched). */
  snprintf(mmb, sizeof(mmb), "%zu", strata_codec_max_record_size() + 65536);
  const char *const tx_defaults[] = {"transactional.id",       txid,
                                     "message.max.bytes",      mmb,
                                     STRATA_SCHED_TX_SETTINGS, NULL};
  if (!(conf = strata_kafka_conf_new(s->cfg, "scheduler-tx", tx_defaults, err,
                                     size)))
    return NULL;
  rd_kafka_conf_set_dr_msg_cb(conf, strata_sched_tx_delivered);
  return txn_producer_new(conf, 30000, err, size);
}

/* ---- setup ---------------------------------------------------------------*/

static strata_core_t *core_from_settings(void *opaque, char *err, size_t size);

/* Topic names of the layout: tiers, then delay steps, then the rest. */
static strata_err_t topics_setup(sched_t *s, char *err, size_t size) {
  const char *prefix = s->set.prefix;
  s->ntiers = s->set.ntiers;
  for (int i = 0; i < s->ntiers; i++)
    s->tiers[i] = s->set.tiers[i];
  if (strata_layout_build(s->cfg, &s->layout, err, size))
    return STRATA_ERR_CONFIG;
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
  }
  for (int i = 0; i < s->ninputs; i++)
    s->input_names[i] = s->topic_tasks[i];
  s->nqueues = 0;
  for (int i = 0; i < s->layout.count; i++) {
    const strata_topic_spec_t *t = &s->layout.topics[i];
    if (t->role != STRATA_TOPIC_DISPATCH || s->nqueues == STRATA_CORE_MAX_LANES)
      continue;
    s->queues[s->nqueues] = t->queue;
    s->topic_dispatch[s->nqueues++] = t->name;
  }
  s->set.core.lanes = (uint32_t)s->nqueues;
  snprintf(s->topic_events, sizeof(s->topic_events), "%sevents", prefix);
  snprintf(s->topic_dlq, sizeof(s->topic_dlq), "%sdlq", prefix);
  snprintf(s->topic_control, sizeof(s->topic_control), "%scontrol", prefix);
  return STRATA_OK;
}

static strata_err_t decide_setup(sched_t *s, char *err, size_t size) {
  decide_config_t dc = {
      .tiers = s->tiers,
      .ntiers = s->ntiers,
      .nparts = s->nparts,
      .tier_topics = s->input_names,
      .step_topics = s->input_names + s->ntiers,
      .step_ms = s->in_delay_ms + s->ntiers,
      .nsteps = s->ninputs - s->ntiers,
      .queues = s->queues,
      .dispatch_topics = s->topic_dispatch,
      .nqueues = s->nqueues,
      .events_topic = s->topic_events,
      .dlq_topic = s->topic_dlq,
      .control_topic = s->topic_control,
      .instance = s->instance,
      .window_ms = s->window_ms,
      .preemption = s->set.preemption,
      .window = s->set.window,
      .window_min = s->set.window_min,
      .window_max = s->set.window_max,
      .core_new = core_from_settings,
      .core_opaque = s,
      .observer = views_observer(s->views),
  };
  strata_prng_seed(&dc.seed);
  if (!(s->decide = decide_new(&dc, err, size)))
    return STRATA_ERR_CONFIG;
  s->offsets =
      calloc((size_t)(s->ninputs * s->nparts) + 1, sizeof(*s->offsets));
  s->dq = calloc((size_t)((s->ninputs - s->ntiers) * s->nparts) + 1,
                 sizeof(*s->dq));
  s->dhead = calloc((size_t)((s->ninputs - s->ntiers) * s->nparts) + 1,
                    sizeof(*s->dhead));
  return s->offsets && s->dq && s->dhead ? STRATA_OK : STRATA_ERR_NOMEM;
}

/* Events of every partition (dependencies cross partitions) from the end:
 * their history is read on assignment. The one control partition from its
 * start: paused tiers and a drain hold until undone, whatever their age, so
 * the whole (small) command history is replayed, and no decision is made
 * before it is. */
static strata_err_t aux_setup(sched_t *s, char *err, size_t size) {
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(s->nparts + 1);
  strata_mono_us_t until = strata_mono_now_us() + 30 * 1000000LL;
  rd_kafka_resp_err_t kerr;
  int64_t lo, hi;

  for (int p = 0; p < s->nparts; p++)
    rd_kafka_topic_partition_list_add(l, s->topic_events, p)->offset =
        RD_KAFKA_OFFSET_END;
  /* Right after the topics were created, the partition's leader may not be
   * known yet: retry for a while. */
  while ((kerr = rd_kafka_query_watermark_offsets(s->aux, s->topic_control, 0,
                                                  &lo, &hi, 10000)) &&
         strata_mono_now_us() < until) {
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (kerr) {
    rd_kafka_topic_partition_list_destroy(l);
    return strata_errf(STRATA_ERR_KAFKA, err, size, "reading the end of %s: %s",
                       s->topic_control, rd_kafka_err2str(kerr));
  }
  s->control_until = hi;
  if (hi <= lo)
    decide_control_ready(s->decide);
  rd_kafka_topic_partition_list_add(l, s->topic_control, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(s->aux, l);
  rd_kafka_topic_partition_list_destroy(l);
  for (int p = 0; p < s->nparts; p++)
    if (rd_kafka_query_watermark_offsets(s->aux, s->topic_events, p, &lo, &hi,
                                         10000) == 0)
      decide_events_read(s->decide, p, hi);
  return STRATA_OK;
}

static strata_err_t sched_setup(sched_t *s, char *err, size_t size) {
  const char *group = s->set.group;
  char auxgroup[600];
  rd_kafka_topic_partition_list_t *l;
  strata_err_t rc;

  /* Everything below reads the settings. */
  if ((rc = sched_settings_load(&s->set, s->cfg, err, size)) ||
      (rc = topics_setup(s, err, size)))
    return rc;
  snprintf(s->instance, sizeof(s->instance), "%s", s->set.instance);
  snprintf(auxgroup, sizeof(auxgroup), "%s-aux-%s", group, s->instance);
  const char *const in_defaults[] = {"group.id",
                                     group,
                                     "group.instance.id",
                                     s->instance,
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

  s->nparts = s->set.nparts;
  s->window_ms = s->set.window_ms;
  s->batch = s->set.batch;
  s->tick_ms = s->set.tick_ms;
  s->max_tasks = s->set.max_tasks;
  s->watch_us = s->set.watch_ms * 1000;
  if (!(s->views = views_new(strata_config_get_str(s->cfg, "admin.listen"),
                             s->tiers, s->ntiers, err, size)) ||
      views_routes(s->views))
    return STRATA_ERR_CONFIG;
  views_set_stall(s->views, s->set.stall_ms);
  if ((rc = decide_setup(s, err, size)))
    return rc;
  if (views_port(s->views) > 0)
    STRATA_INFO(COMP, "admin endpoint on port %d (/metrics, /tasks, /healthz)",
                views_port(s->views));
  if (!(s->aux = make_client(s, RD_KAFKA_CONSUMER, "scheduler-aux",
                             aux_defaults, false, err, size)) ||
      !(s->in = make_client(s, RD_KAFKA_CONSUMER, "scheduler", in_defaults,
                            true, err, size)))
    return STRATA_ERR_CONFIG;
  if (!(s->tx = make_producer(s, err, size)))
    return STRATA_ERR_KAFKA;
  /* Every topic of the layout is an output (dispatch, events, dlq, tiers
   * and delay steps for retries and hops, control for PREEMPT). */
  if (!(s->out_rkt = calloc((size_t)s->layout.count + 1, sizeof(*s->out_rkt))))
    return STRATA_ERR_NOMEM;
  s->nout_rkt = strata_layout_learn(s->tx, &s->layout, s->out_rkt);
  if ((rc = aux_setup(s, err, size)))
    return rc;
  /* Tier and delay topics in one subscription: the range assignor gives
   * partition p of all of them to one instance. */
  l = rd_kafka_topic_partition_list_new(s->ninputs);
  for (int i = 0; i < s->ninputs; i++)
    rd_kafka_topic_partition_list_add(l, s->topic_tasks[i],
                                      RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(s->in, l);
  rd_kafka_topic_partition_list_destroy(l);
  STRATA_INFO(COMP,
              "started: transactional.id strata-scheduler-%s, group %s, %d "
              "tiers x %d partitions",
              s->instance, group, s->ntiers, s->nparts);
  return STRATA_OK;
}

static void sched_teardown(sched_t *s) {
  /* The queues go before the consumer; the decision layer stays until
   * after it, as closing the consumer revokes its partitions. */
  ladder_drop(s);
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
  decide_destroy(s->decide);
  views_destroy(s->views);
  free(s->dq);
  free(s->dhead);
  free(s->offsets);
  free(s->recs);
  strata_layout_clear(&s->layout);
  sched_settings_clear(&s->set);
}

/* ---- stages of a turn ----------------------------------------------------*/

/* Pauses all tier partitions when the core is full; resumes below 90 %, so
 * the partitions do not flap around the limit (each pause drops prefetched
 * records). */
static void flow_control(sched_t *s) {
  strata_core_t *core = decide_core(s->decide);
  uint64_t held = strata_core_held(core);
  bool full = strata_core_is_full(core);
  rd_kafka_topic_partition_list_t *l;

  if (s->paused_full ? held >= s->max_tasks / 10 * 9 : !full)
    return;
  l = rd_kafka_topic_partition_list_new(s->ninputs * s->nparts);
  for (int p = 0; p < s->nparts; p++)
    if (decide_owns(s->decide, p) && !decide_recovering(s->decide, p))
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

/* Records of the tier topics not yet read. The watermarks are those of the
 * last fetch response, never a broker round trip: a query would block the
 * loop behind the consumer's long-poll fetch (seconds of added latency,
 * measured). While a partition is paused its high watermark is as of the
 * pause, so the figure is a lower bound then. */
static void update_lag(sched_t *s) {
  int64_t lag[MAX_TIERS] = {0};
  for (int t = 0; t < s->ntiers; t++) {
    for (int p = 0; p < s->nparts; p++) {
      int64_t lo, hi, pos;
      if (!decide_owns(s->decide, p) ||
          rd_kafka_get_watermark_offsets(s->in, s->topic_tasks[t], p, &lo,
                                         &hi) ||
          hi < 0)
        continue;
      pos = decide_next_offset(s->decide, t, p);
      if (pos < 0)
        pos = lo;
      if (hi > pos)
        lag[t] += hi - pos;
    }
  }
  for (int t = 0; t < s->ntiers; t++)
    views_lag(s->views, t, lag[t]);
}

/* The aux consumer has read control up to `next`: once that is the end the
 * control partition had at start-up, decisions may begin. */
static void control_read(sched_t *s, int64_t next) {
  if (!decide_is_control_ready(s->decide) && next >= s->control_until) {
    decide_control_ready(s->decide);
    STRATA_INFO(
        COMP, "control history read (%" PRId64 " records)%s", s->control_until,
        decide_paused_tiers(s->decide) ? "; some tiers are paused" : "");
  }
}

/* Worker events and control commands. */
static int aux_stage(sched_t *s, strata_epoch_ms_t now) {
  int work = 0;
  for (int i = 0; i < 1000; i++) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->aux, 0);
    const char *t;
    if (!m)
      break;
    t = rd_kafka_topic_name(m->rkt);
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      STRATA_WARN(COMP, "events/control: %s", rd_kafka_message_errstr(m));
    } else if (!strcmp(t, s->topic_control)) {
      if (!m->err)
        decide_control(s->decide, m->offset, m->payload, m->len, now);
      control_read(s, m->err ? m->offset : m->offset + 1);
    } else if (!strcmp(t, s->topic_events)) {
      if (!m->err)
        decide_event(s->decide, m->partition, m->offset, m->payload, m->len,
                     now);
      if (decide_events_read(s->decide, m->partition,
                             m->err ? m->offset : m->offset + 1))
        sched_recovered(s, m->partition);
    }
    rd_kafka_message_destroy(m);
    work++;
  }
  return work;
}

static void take_task(sched_t *s, const rd_kafka_message_t *m,
                      strata_epoch_ms_t now) {
  int in = sched_input_of_topic(s, rd_kafka_topic_name(m->rkt));
  if (in >= 0)
    decide_task(
        s->decide,
        &(decide_record_t){in, m->partition, m->offset, m->payload, m->len},
        now);
}

/* Tier records while the core has room. */
static int intake_stage(sched_t *s, strata_epoch_ms_t now) {
  int work = 0;
  flow_control(s);
  for (int i = 0; i < s->batch && !decide_is_full(s->decide); i++) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->in, 0);
    if (!m)
      break;
    if (!m->err) {
      take_task(s, m, now);
      work++;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      STRATA_WARN(COMP, "tiers: %s", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  return work;
}

/* Idle: block on the tier consumer until the next timer or a tick. `now`
 * is read again: the commit may have taken a while, and a wait measured
 * from before it would oversleep a due timer by that long. */
static void idle_wait(sched_t *s, strata_epoch_ms_t wake) {
  strata_epoch_ms_t now = strata_epoch_now_ms();
  int64_t wait = s->tick_ms;
  rd_kafka_message_t *m;
  if (wake != STRATA_CORE_NEVER && wake - now < wait)
    wait = wake - now < 0 ? 0 : wake - now;
  if (decide_is_full(s->decide)) {
    rd_kafka_poll(s->in, (int)wait);
    return;
  }
  if ((m = rd_kafka_consumer_poll(s->in, (int)wait))) {
    if (!m->err)
      take_task(s, m, strata_epoch_now_ms());
    rd_kafka_message_destroy(m);
  }
}

/* A fatal producer error (fenced, or an idempotence state it cannot leave):
 * a new producer of the same transactional.id, then a rewind. Retried
 * until it works or the scheduler is stopped. */
static void recover_producer(sched_t *s, volatile int *stop) {
  char err[512];
  struct timespec pause = {1, 0};
  views_kafka_state(s->views, true);
  for (int i = 0; i < s->nout_rkt; i++)
    rd_kafka_topic_destroy(s->out_rkt[i]);
  s->nout_rkt = 0;
  rd_kafka_destroy(s->tx);
  s->tx = NULL;
  while (!*stop && !(s->tx = make_producer(s, err, sizeof(err)))) {
    STRATA_ERROR(COMP, "recreating the transactional producer: %s", err);
    nanosleep(&pause, NULL);
  }
  if (s->tx) {
    s->nout_rkt = strata_layout_learn(s->tx, &s->layout, s->out_rkt);
    STRATA_INFO(COMP, "transactional producer recreated; rewinding to the "
                      "committed offsets");
    sched_rewind(s);
  }
  views_kafka_state(s->views, false);
}

static void turn(sched_t *s, volatile int *stop) {
  strata_epoch_ms_t now = strata_epoch_now_ms();
  strata_epoch_ms_t wake = STRATA_CORE_NEVER, core_wake;
  strata_mono_us_t mono = strata_mono_now_us();
  int work;

  views_turn(s->views, decide_core(s->decide), now);
  if (mono - s->last_lag > 5000000) {
    update_lag(s);
    s->last_lag = mono;
  }
  work = aux_stage(s, now);
  work += intake_stage(s, now);
  work += ladder_turn(s, now, &wake);
  work += decide_turn(s->decide, now, s->batch);
  if (mono - s->last_watch >= s->watch_us) {
    decide_watch(s->decide, now);
    views_running(s->views, decide_running(s->decide));
    {
      /* The gauges show the sum over the queues. */
      decide_window_t win, sum = {0};
      for (int i = 0; i < s->nqueues; i++) {
        decide_window(s->decide, i, &win);
        sum.on = win.on;
        sum.limit += win.limit;
        sum.unstarted += win.unstarted;
      }
      views_window(s->views, &sum);
    }
    s->last_watch = mono;
  }
  switch (commit_turn(s)) {
  case TXN_OK:
    break;
  case TXN_ABORTED:
    sched_rewind(s);
    break;
  case TXN_FATAL:
    recover_producer(s, stop);
    break;
  }
  if (mono - s->last_prune > 60 * 1000000LL) {
    decide_prune(s->decide, now);
    s->last_prune = mono;
  }
  if (!work && !*stop) {
    core_wake = strata_core_next_wakeup(decide_core(s->decide));
    idle_wait(s, core_wake < wake ? core_wake : wake);
  }
}

int sched_run(strata_config_t *cfg, volatile int *stop) {
  sched_t s;
  char err[512];
  strata_err_t rc;
  decide_totals_t tot;

  memset(&s, 0, sizeof(s));
  s.cfg = cfg;
  if ((rc = strata_codec_init(err, sizeof(err))) ||
      (rc = sched_setup(&s, err, sizeof(err)))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    sched_teardown(&s);
    return rc == STRATA_ERR_CONFIG ? STRATA_EXIT_USAGE : STRATA_EXIT_FAILURE;
  }
  s.last_prune = strata_mono_now_us();
  while (!*stop)
    turn(&s, stop);
  decide_totals(s.decide, &tot);
  STRATA_INFO(COMP,
              "stopping: dispatched %" PRIu64 ", dead-lettered %" PRIu64
              ", duplicates skipped %" PRIu64 ", undecodable %" PRIu64,
              tot.dispatched, tot.dead_lettered, tot.duplicates,
              tot.undecodable);
  sched_teardown(&s);
  return STRATA_EXIT_OK;
}

/* ---- the core ------------------------------------------------------------*/

/* The decision layer's core factory: from the settings read at start-up. */
static strata_core_t *core_from_settings(void *opaque, char *err, size_t size) {
  const sched_t *s = opaque;
  return sched_settings_core(&s->set, err, size);
}
