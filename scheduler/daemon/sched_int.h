/*
 * Internal interface of strata-scheduler's I/O stages around the decision
 * layer (scheduler/decide/decide.h): the daemon's state (daemon.c: setup,
 * the loop, the transaction), the assignment and its recovery scan
 * (assign.c), the delay ladder's partition queues (ladder.c) and the
 * metrics and admin endpoint (views.c).
 */
#ifndef STRATA_SCHED_INT_H
#define STRATA_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "decide.h"
#include "kafka_txn.h"
#include "settings.h"
#include "strata/config.h"
#include "strata/kafka.h"
#include "strata/err.h"
#include "strata/time.h"

/* ---- Views (views.c): metrics and admin endpoints ------------------------*/

typedef struct views_s views_t;

/* Starts the admin server on `listen` (empty: disabled) with the metric
 * families; `tiers` is borrowed for the life of the views. */
views_t *views_new(const char *listen, char **tiers, int ntiers, char *err,
                   size_t size);
strata_err_t views_routes(views_t *v);
void views_destroy(views_t *v);
int views_port(const views_t *v);
/* Daemon thread only: refreshes gauges and answers a pending /tasks
 * request from `core` (may be NULL). */
void views_turn(views_t *v, strata_core_t *core, strata_epoch_ms_t now);
void views_dispatched(views_t *v, int tier, double latency_s,
                      int64_t unblock_ms, bool soft_missed);
void views_expired(views_t *v, int tier);
void views_lateness(views_t *v, double seconds);
void views_started(views_t *v, int tier, double latency_s, bool after_deadline);
void views_dead_lettered(views_t *v, const char *reason);
void views_duplicate(views_t *v);
void views_outcome(views_t *v, const char *tier, const char *outcome);
void views_undecodable(views_t *v);
void views_lag(views_t *v, int tier, int64_t lag);
void views_partitions(views_t *v, int assigned, int recovering);
/* Operator state: paused tiers (bit per tier) and whether draining. */
void views_control(views_t *v, uint32_t paused, bool draining);
/* Attempts dispatched and not yet finished. */
void views_running(views_t *v, size_t running);
void views_late_result(views_t *v, const char *tier, const char *outcome);
void views_heartbeat_lost(views_t *v, int tier);
void views_preempted(views_t *v, int tier);

/* /healthz: "recovering" (503) while the transactional producer is being
 * recreated; "stalled" (503) when the loop has not started a turn for
 * longer than `ms` (0: never). */
void views_kafka_state(views_t *v, bool recovering);
void views_set_stall(views_t *v, int64_t ms);
void views_window(views_t *v, const decide_window_t *w);
void views_unread_partitions(views_t *v, int n);
/* The decision layer's observer that feeds these views. */
decide_observer_t views_observer(views_t *v);

/* ---- Daemon --------------------------------------------------------------*/

#define MAX_TIERS DECIDE_MAX_TIERS
#define MAX_STEPS DECIDE_MAX_STEPS
#define MAX_INPUTS DECIDE_MAX_INPUTS

typedef struct {
  strata_config_t *cfg;
  sched_settings_t set; /* read and validated once, at start-up */
  strata_layout_t layout;
  char *tiers[MAX_TIERS]; /* borrowed from set */
  int ntiers;
  int nparts;
  /* Input topics: the tier topics (index = tier), then the delay steps. */
  int ninputs;
  char topic_tasks[MAX_INPUTS][320];
  const char *input_names[MAX_INPUTS];
  int64_t in_delay_ms[MAX_INPUTS];
  /* Queues, the default one first, and their dispatch topics (names owned
   * by the layout): queue i is the core's lane i. */
  const char *queues[STRATA_CORE_MAX_LANES];
  const char *topic_dispatch[STRATA_CORE_MAX_LANES];
  int nqueues;
  char topic_events[320], topic_dlq[320];
  char topic_control[320];
  /* Delay partitions are read head-first from their own queues: [(input -
   * ntiers) * nparts + p]. The head waits in dhead until it is due. */
  rd_kafka_queue_t **dq;
  rd_kafka_message_t **dhead;

  rd_kafka_t *in;  /* tier consumer: group member */
  rd_kafka_t *aux; /* events + control: assigned, never commits */
  rd_kafka_t *tx;  /* transactional producer */
  /* Handles of every topic tx writes, held so their metadata stays known. */
  rd_kafka_topic_t **out_rkt;
  int nout_rkt;

  decide_t *decide;
  views_t *views;
  bool paused_full;
  decide_offset_t *offsets; /* [ninputs * nparts]: a turn's positions */
  txn_record_t *recs;       /* a turn's records, as the step takes them */
  size_t caprecs;

  strata_mono_us_t last_lag, last_watch, last_prune;
  int64_t window_ms, watch_us, tick_ms;
  uint64_t max_tasks;
  int batch;
  char instance[256];
  int64_t control_until; /* control end offset at start-up */
} sched_t;

/* assign.c */
void sched_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *parts, void *opaque);
/* After an aborted transaction: forget everything and start again from the
 * committed offsets of the current assignment. */
void sched_rewind(sched_t *s);
/* Partition p finished its recovery scan: consume its tiers. */
void sched_recovered(sched_t *s, int32_t p);
void sched_report_partitions(sched_t *s);
int sched_input_of_topic(const sched_t *s, const char *topic);

/* ladder.c */
void ladder_take(sched_t *s, int32_t p);
void ladder_drop(sched_t *s);
/* Due records off the heads of the delay partitions; returns how many;
 * *wake is lowered to the earliest due time of a waiting head. */
int ladder_turn(sched_t *s, strata_epoch_ms_t now, strata_epoch_ms_t *wake);

/* Runs the scheduler until *stop becomes non-zero. Returns an exit code. */
int sched_run(strata_config_t *cfg, volatile int *stop);

#endif /* STRATA_SCHED_INT_H */
