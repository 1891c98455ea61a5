/*
 * What strata-scheduler shows the outside: Prometheus metrics and the admin
 * HTTP endpoints (/metrics, /healthz, /tasks, /tasks/<id>).
 *
 * The core belongs to the daemon's one thread and is not thread-safe, while
 * HTTP handlers run on the admin server's thread. So handlers never touch the
 * core: gauges are refreshed by the daemon once per turn (views_turn), and a
 * /tasks request is handed to the daemon through a one-slot mailbox (mutex +
 * condition variable) that views_turn answers at the top of its next turn,
 * at most one tick later.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sched_int.h"
#include "strata/admin.h"
#include "strata/log.h"
#include "strata/metrics.h"

#define MAX_POOLS STRATA_CORE_MAX_POOLS

static const char *const state_names[STRATA_CORE_STATE__COUNT] = {
    "ready", "blocked", "delayed", "running"};

struct views_s {
  strata_admin_t *admin;
  strata_metrics_t *reg;
  int ntiers;
  char **tiers; /* borrowed from the daemon, live as long as it */

  strata_metrics_child_t *dispatched[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *misses[STRATA_CORE_MAX_TIERS][2]; /* soft, hard */
  strata_metrics_child_t *miss_ratio[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t
      *depth[STRATA_CORE_MAX_TIERS][STRATA_CORE_STATE__COUNT];
  strata_metrics_child_t *starvation[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *head_blocked[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *lag[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *latency[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *unblock[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *start_latency[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *started_late[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *lateness;
  strata_metrics_family_t *pool_avail, *pool_in_use, *dlq, *outcomes;
  strata_metrics_child_t *duplicates, *undecodable, *held, *full, *partitions,
      *recovering, *draining, *running, *window, *unstarted, *unread;
  strata_metrics_child_t *paused[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *lost[STRATA_CORE_MAX_TIERS];
  strata_metrics_child_t *preempted[STRATA_CORE_MAX_TIERS];
  strata_metrics_family_t *late;
  double miss_count[STRATA_CORE_MAX_TIERS], decided[STRATA_CORE_MAX_TIERS];

  /* Mailbox for /tasks requests, guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool pending, answered;
  int req_tier;        /* -1: all */
  unsigned req_states; /* state mask */
  long req_limit;
  char req_id[STRATA_CORE_ID_MAX + 1]; /* "" for the list */
  int resp_status;
  char *resp_body;
  int assigned, recovering_n;
  uint32_t paused_bits;       /* for /healthz */
  bool kafka_recovering;      /* the producer is being recreated */
  strata_mono_us_t last_turn; /* start of the loop's last turn */
  int64_t stall_ms;           /* /healthz fails past this; 0: never */
  bool is_draining;
  size_t running_n;
};

static strata_metrics_child_t *child1(strata_metrics_family_t *f,
                                      const char *a) {
  return f ? strata_metrics_childv(f, (const char *[]){a}) : NULL;
}

views_t *views_new(const char *listen, char **tiers, int ntiers, char *err,
                   size_t size) {
  static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.015,
                                      0.025, 0.05,   0.1,   0.25, 0.5,
                                      1,     2.5,    5,     10,   30};
  const char *const tier_l[] = {"tier"};
  const char *const tier_kind[] = {"tier", "kind"};
  const char *const tier_state[] = {"tier", "state"};
  views_t *v = calloc(1, sizeof(*v));
  strata_metrics_family_t *f_disp, *f_miss, *f_ratio, *f_depth, *f_starv,
      *f_head, *f_lag, *f_lat, *f_unb, *f_paused, *f_lost, *f_pre, *f_start,
      *f_slate;

  if (!v)
    return NULL;
  pthread_mutex_init(&v->mu, NULL);
  pthread_cond_init(&v->cv, NULL);
  v->tiers = tiers;
  v->ntiers = ntiers;
  if (!(v->reg = strata_metrics_new()))
    goto err;
#define FAM(var, kind, name, help, n, labels)                                  \
  if (!(var =                                                                  \
            strata_metrics_##kind(v->reg, name, help, n, labels, err, size)))  \
    goto err;
  FAM(f_disp, counter, "strata_dispatched_total",
      "Tasks dispatched (committed to the dispatch topic).", 1, tier_l)
  FAM(f_miss, counter, "strata_deadline_misses_total",
      "Deadline misses: soft (dispatched late) and hard (expired, never "
      "dispatched).",
      2, tier_kind)
  FAM(f_ratio, gauge, "strata_deadline_miss_ratio",
      "Deadline misses over tasks decided, since this process started.", 1,
      tier_l)
  FAM(f_depth, gauge, "strata_queue_depth",
      "Tasks held by the scheduler, by state.", 2, tier_state)
  FAM(f_starv, gauge, "strata_starvation_seconds",
      "Starvation index: the longest current wait of a ready task.", 1, tier_l)
  FAM(f_head, gauge, "strata_tier_head_blocked",
      "1 when the most urgent ready task of the tier waits on resources.", 1,
      tier_l)
  FAM(f_lag, gauge, "strata_consumer_lag",
      "Records of the tier topic not yet read by this instance.", 1, tier_l)
  FAM(v->pool_avail, gauge, "strata_pool_available",
      "Tokens available (token bucket) or free units (concurrency).", 1,
      (const char *[]){"pool"})
  FAM(v->pool_in_use, gauge, "strata_pool_in_use",
      "Concurrency units held by running tasks.", 1, (const char *[]){"pool"})
  FAM(v->outcomes, counter, "strata_task_outcomes_total",
      "Outcomes reported by workers (succeeded, failed and timed_out "
      "attempts, cancelled, dead_lettered), from the events topic of every "
      "partition.",
      2, tier_kind)
  FAM(v->dlq, counter, "strata_dead_letters_total",
      "Records written to the dead-letter topic, by reason.", 1,
      (const char *[]){"reason"})
  FAM(f_paused, gauge, "strata_tier_paused",
      "1 while the tier is paused (strata tier pause, strata drain).", 1,
      tier_l)
  FAM(f_lost, counter, "strata_heartbeat_timeouts_total",
      "Running attempts presumed lost because their heartbeat timeout "
      "passed (retried or dead-lettered by the scheduler).",
      1, tier_l)
  FAM(f_pre, counter, "strata_preemptions_total",
      "Running attempts asked to yield to a higher tier (PREEMPT).", 1, tier_l)
  FAM(f_slate, counter, "strata_started_after_deadline_total",
      "Attempts this instance dispatched that a worker started after the "
      "task's deadline.",
      1, tier_l)
  FAM(v->late, counter, "strata_late_results_total",
      "Results reported for attempts already presumed lost; recorded, not "
      "applied.",
      2, tier_kind)
#undef FAM
  if (!(f_lat = strata_metrics_histogram(
            v->reg, "strata_dispatch_latency_seconds",
            "From submission (enqueued_ms) to the committed dispatch.", 1,
            tier_l, sizeof(lat_bounds) / sizeof(lat_bounds[0]), lat_bounds, err,
            size)) ||
      !(f_start = strata_metrics_histogram(
            v->reg, "strata_start_latency_seconds",
            "From submission (enqueued_ms) to the handler's start (the "
            "worker's STARTED time), for attempts this instance dispatched.",
            1, tier_l, sizeof(lat_bounds) / sizeof(lat_bounds[0]), lat_bounds,
            err, size)) ||
      !(f_unb = strata_metrics_histogram(
            v->reg, "strata_unblock_latency_seconds",
            "From the last dependency's success to the task being ready.", 1,
            tier_l, sizeof(lat_bounds) / sizeof(lat_bounds[0]), lat_bounds, err,
            size)))
    goto err;
  {
    strata_metrics_family_t *f_late = strata_metrics_histogram(
        v->reg, "strata_delay_lateness_seconds",
        "Delayed tasks: committed dispatch minus the not-before time.", 0, NULL,
        sizeof(lat_bounds) / sizeof(lat_bounds[0]), lat_bounds, err, size);
    if (!f_late)
      goto err;
    v->lateness = strata_metrics_childv(f_late, NULL);
  }
  for (int t = 0; t < ntiers; t++) {
    v->dispatched[t] = child1(f_disp, tiers[t]);
    v->misses[t][0] = strata_metrics_child(f_miss, tiers[t], "soft");
    v->misses[t][1] = strata_metrics_child(f_miss, tiers[t], "hard");
    v->miss_ratio[t] = child1(f_ratio, tiers[t]);
    for (int s = 0; s < STRATA_CORE_STATE__COUNT; s++)
      v->depth[t][s] = strata_metrics_child(f_depth, tiers[t], state_names[s]);
    v->starvation[t] = child1(f_starv, tiers[t]);
    v->head_blocked[t] = child1(f_head, tiers[t]);
    v->lag[t] = child1(f_lag, tiers[t]);
    v->latency[t] = child1(f_lat, tiers[t]);
    v->unblock[t] = child1(f_unb, tiers[t]);
    v->start_latency[t] = child1(f_start, tiers[t]);
    v->started_late[t] = child1(f_slate, tiers[t]);
    v->paused[t] = child1(f_paused, tiers[t]);
    v->lost[t] = child1(f_lost, tiers[t]);
    v->preempted[t] = child1(f_pre, tiers[t]);
  }
  {
    strata_metrics_family_t *f;
#define SCALAR(var, kind, name, help)                                          \
  if (!(f = strata_metrics_##kind(v->reg, name, help, 0, NULL, err, size)))    \
    goto err;                                                                  \
  var = strata_metrics_childv(f, NULL);
    SCALAR(v->duplicates, counter, "strata_duplicates_skipped_total",
           "Submissions skipped as duplicates (idempotency key or already "
           "decided).")
    SCALAR(v->undecodable, counter, "strata_undecodable_total",
           "Tier records that did not decode (dead-lettered).")
    SCALAR(v->held, gauge, "strata_held_tasks",
           "Tasks held in memory (bounded by scheduler.max.tasks).")
    SCALAR(v->full, gauge, "strata_core_full",
           "1 while the scheduler holds its maximum and stops fetching.")
    SCALAR(v->partitions, gauge, "strata_assigned_partitions",
           "Partitions (per tier) owned by this instance.")
    SCALAR(v->recovering, gauge, "strata_recovering_partitions",
           "Owned partitions still re-reading events before consuming.")
    SCALAR(v->draining, gauge, "strata_draining",
           "1 after a drain command, until a tier is resumed.")
    SCALAR(v->running, gauge, "strata_running_attempts",
           "Attempts this instance dispatched that have not finished.")
    SCALAR(v->window, gauge, "strata_dispatch_window",
           "Bound on attempts dispatched and not yet started (0: off).")
    SCALAR(v->unstarted, gauge, "strata_dispatch_unstarted",
           "Attempts dispatched that no worker has reported started.")
    SCALAR(v->unread, gauge, "strata_unread_partitions",
           "Partitions of tier or delay topics assigned to this instance "
           "beyond topic.partitions: their records are never read.")
#undef SCALAR
  }
  if (!(v->admin = strata_admin_new(listen, err, size)))
    goto err;
  if (strata_admin_serve_metrics(v->admin, v->reg))
    goto err;
  return v;
err:
  views_destroy(v);
  return NULL;
}

void views_destroy(views_t *v) {
  if (!v)
    return;
  strata_admin_destroy(v->admin);
  strata_metrics_destroy(v->reg);
  free(v->resp_body);
  pthread_mutex_destroy(&v->mu);
  pthread_cond_destroy(&v->cv);
  free(v);
}

int views_port(const views_t *v) {
  return strata_admin_port(v->admin);
}

/* ---- counters fed by the daemon ------------------------------------------*/

void views_dispatched(views_t *v, int tier, double latency_s,
                      int64_t unblock_ms, bool soft_missed) {
  strata_metrics_counter_add(v->dispatched[tier], 1);
  strata_metrics_histogram_observe(v->latency[tier], latency_s);
  if (unblock_ms >= 0)
    strata_metrics_histogram_observe(v->unblock[tier], unblock_ms / 1000.0);
  if (soft_missed) {
    strata_metrics_counter_add(v->misses[tier][0], 1);
    v->miss_count[tier]++;
  }
  v->decided[tier]++;
}

void views_started(views_t *v, int tier, double latency_s,
                   bool after_deadline) {
  strata_metrics_histogram_observe(v->start_latency[tier], latency_s);
  if (after_deadline)
    strata_metrics_counter_add(v->started_late[tier], 1);
}

void views_lateness(views_t *v, double seconds) {
  strata_metrics_histogram_observe(v->lateness, seconds);
}

void views_expired(views_t *v, int tier) {
  strata_metrics_counter_add(v->misses[tier][1], 1);
  v->miss_count[tier]++;
  v->decided[tier]++;
}

void views_dead_lettered(views_t *v, const char *reason) {
  strata_metrics_counter_add(child1(v->dlq, reason), 1);
}

void views_outcome(views_t *v, const char *tier, const char *outcome) {
  strata_metrics_counter_add(strata_metrics_child(v->outcomes, tier, outcome),
                             1);
}

void views_duplicate(views_t *v) {
  strata_metrics_counter_add(v->duplicates, 1);
}

void views_undecodable(views_t *v) {
  strata_metrics_counter_add(v->undecodable, 1);
}

void views_lag(views_t *v, int tier, int64_t lag) {
  strata_metrics_gauge_set(v->lag[tier], (double)lag);
}

void views_partitions(views_t *v, int assigned, int recovering) {
  strata_metrics_gauge_set(v->partitions, assigned);
  strata_metrics_gauge_set(v->recovering, recovering);
  pthread_mutex_lock(&v->mu);
  v->assigned = assigned;
  v->recovering_n = recovering;
  pthread_mutex_unlock(&v->mu);
}

void views_control(views_t *v, uint32_t paused, bool draining) {
  for (int t = 0; t < v->ntiers; t++)
    strata_metrics_gauge_set(v->paused[t], (paused >> t) & 1u);
  strata_metrics_gauge_set(v->draining, draining ? 1 : 0);
  pthread_mutex_lock(&v->mu);
  v->paused_bits = paused;
  v->is_draining = draining;
  pthread_mutex_unlock(&v->mu);
}

void views_running(views_t *v, size_t running) {
  strata_metrics_gauge_set(v->running, (double)running);
  pthread_mutex_lock(&v->mu);
  v->running_n = running;
  pthread_mutex_unlock(&v->mu);
}

void views_unread_partitions(views_t *v, int n) {
  strata_metrics_gauge_set(v->unread, (double)n);
}

void views_window(views_t *v, const decide_window_t *w) {
  strata_metrics_gauge_set(v->window, w->on ? (double)w->limit : 0);
  strata_metrics_gauge_set(v->unstarted, (double)w->unstarted);
}

void views_late_result(views_t *v, const char *tier, const char *outcome) {
  strata_metrics_counter_add(strata_metrics_child(v->late, tier, outcome), 1);
}

void views_heartbeat_lost(views_t *v, int tier) {
  strata_metrics_counter_add(v->lost[tier], 1);
}

void views_preempted(views_t *v, int tier) {
  strata_metrics_counter_add(v->preempted[tier], 1);
}

/* ---- per-turn work on the daemon thread ----------------------------------*/

static const char *deadline_kind_name(strata_core_deadline_kind_t k) {
  return k == STRATA_CORE_DEADLINE_HARD   ? "hard"
         : k == STRATA_CORE_DEADLINE_SOFT ? "soft"
                                          : "implicit";
}

static json_t *task_json(const views_t *v, const strata_core_task_info_t *t) {
  return json_pack(
      "{s:s, s:s, s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:i, "
      "s:i}",
      "id", t->id, "tier", v->tiers[t->tier], "state", state_names[t->state],
      "priority", (int)t->priority, "deadline_ms", (json_int_t)t->deadline,
      "deadline_kind", deadline_kind_name(t->deadline_kind), "estimate_ms",
      (json_int_t)t->estimate_ms, "submitted_ms", (json_int_t)t->submitted_at,
      "since_ms", (json_int_t)t->since, "urgency_key", (json_int_t)t->key,
      "deps_waiting", (int)t->deps_waiting, "dependents", (int)t->dependents);
}

typedef struct {
  const views_t *v;
  json_t *arr;
  long left;
} list_ctx_t;

static int add_task(const strata_core_task_info_t *t, void *opaque) {
  list_ctx_t *c = opaque;
  if (c->left-- <= 0)
    return 1;
  json_array_append_new(c->arr, task_json(c->v, t));
  return 0;
}

static void answer(views_t *v, const strata_core_t *core) {
  json_t *doc;
  int status = 200;

  if (v->req_id[0]) {
    strata_core_task_info_t info;
    if (core && strata_core_lookup(core, v->req_id, &info) == STRATA_OK) {
      doc = task_json(v, &info);
    } else {
      status = 404;
      doc = json_pack("{s:s, s:s}", "error",
                      "task not held by this scheduler instance (not yet "
                      "read, already dispatched, or owned by another "
                      "instance)",
                      "id", v->req_id);
    }
  } else {
    list_ctx_t c = {v, json_array(), v->req_limit};
    if (core)
      strata_core_iterate(core, v->req_tier, v->req_states, add_task, &c);
    doc = json_pack("{s:o, s:b}", "tasks", c.arr, "truncated", c.left < 0);
  }
  v->resp_body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  v->resp_status = status;
}

void views_set_stall(views_t *v, int64_t ms) {
  pthread_mutex_lock(&v->mu);
  v->stall_ms = ms;
  pthread_mutex_unlock(&v->mu);
}

void views_kafka_state(views_t *v, bool recovering) {
  pthread_mutex_lock(&v->mu);
  v->kafka_recovering = recovering;
  pthread_mutex_unlock(&v->mu);
}

void views_turn(views_t *v, strata_core_t *core, strata_epoch_ms_t now) {
  strata_core_stats_t st;

  pthread_mutex_lock(&v->mu);
  v->last_turn = strata_mono_now_us();
  if (v->pending) {
    answer(v, core);
    v->pending = false;
    v->answered = true;
    pthread_cond_broadcast(&v->cv);
  }
  pthread_mutex_unlock(&v->mu);
  if (!core)
    return;
  strata_core_stats(core, now, &st);
  for (int t = 0; t < v->ntiers && (size_t)t < st.ntiers; t++) {
    const strata_core_tier_stats_t *ts = &st.tiers[t];
    for (int s = 0; s < STRATA_CORE_STATE__COUNT; s++)
      strata_metrics_gauge_set(v->depth[t][s], (double)ts->depth[s]);
    strata_metrics_gauge_set(v->starvation[t], ts->longest_wait_ms / 1000.0);
    strata_metrics_gauge_set(v->head_blocked[t], ts->head_blocked ? 1 : 0);
    strata_metrics_gauge_set(
        v->miss_ratio[t],
        v->decided[t] > 0 ? v->miss_count[t] / v->decided[t] : 0);
  }
  strata_metrics_gauge_set(v->held, (double)st.held);
  strata_metrics_gauge_set(v->full, st.full ? 1 : 0);
  for (int id = 0; id < MAX_POOLS; id++) {
    strata_core_pool_info_t pi;
    if (strata_core_pool_info(core, id, now, &pi) != STRATA_OK)
      break;
    strata_metrics_gauge_set(child1(v->pool_avail, pi.name),
                             (double)pi.available);
    strata_metrics_gauge_set(child1(v->pool_in_use, pi.name),
                             (double)pi.in_use);
  }
}

/* ---- HTTP handlers (admin thread) -----------------------------------------*/

static int parse_state(const char *s) {
  for (int i = 0; i < STRATA_CORE_STATE__COUNT; i++)
    if (!strcmp(s, state_names[i]))
      return i;
  return -1;
}

static void respond_json_error(strata_admin_response_t *resp, int status,
                               const char *msg) {
  json_t *j = json_pack("{s:s}", "error", msg);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  strata_admin_respond(resp, text ? status : 500, "application/json",
                       text ? text : "{\"error\":\"internal error\"}");
  free(text);
  json_decref(j);
}

/* Hands the request to the daemon thread and waits (bounded) for it. */
static void ask_daemon(views_t *v, strata_admin_response_t *resp) {
  struct timespec until;
  int rc = 0;

  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  v->pending = true;
  v->answered = false;
  while (!v->answered && rc == 0)
    rc = pthread_cond_timedwait(&v->cv, &v->mu, &until);
  if (!v->answered) {
    v->pending = false;
    respond_json_error(resp, 503, "the scheduler loop did not answer in 5 s");
    return;
  }
  if (!v->resp_body) {
    /* The answer could not be encoded (out of memory). */
    respond_json_error(resp, 500, "the answer could not be built");
    return;
  }
  resp->status = v->resp_status;
  resp->content_type = "application/json";
  resp->body = v->resp_body;
  resp->body_len = strlen(v->resp_body);
  v->resp_body = NULL;
}

static void on_tasks(const strata_admin_request_t *req,
                     strata_admin_response_t *resp, void *opaque) {
  views_t *v = opaque;
  const char *path = strata_admin_request_path(req);
  const char *tier = strata_admin_request_query(req, "tier");
  const char *state = strata_admin_request_query(req, "state");
  const char *limit = strata_admin_request_query(req, "limit");
  char msg[256];

  pthread_mutex_lock(&v->mu);
  v->req_tier = -1;
  v->req_states = STRATA_CORE_STATE_ALL;
  v->req_limit = limit ? strtol(limit, NULL, 10) : 1000;
  v->req_id[0] = '\0';
  if (!strncmp(path, "/tasks/", 7) && path[7]) {
    snprintf(v->req_id, sizeof(v->req_id), "%s", path + 7);
  } else {
    if (tier && *tier) {
      for (int t = 0; t < v->ntiers; t++)
        if (!strcmp(v->tiers[t], tier))
          v->req_tier = t;
      if (v->req_tier < 0) {
        pthread_mutex_unlock(&v->mu);
        snprintf(msg, sizeof(msg), "unknown tier \"%s\"", tier);
        respond_json_error(resp, 400, msg);
        return;
      }
    }
    if (state && *state) {
      int s = parse_state(state);
      if (s < 0) {
        pthread_mutex_unlock(&v->mu);
        snprintf(msg, sizeof(msg),
                 "unknown state \"%s\"; allowed: ready, blocked, delayed, "
                 "running",
                 state);
        respond_json_error(resp, 400, msg);
        return;
      }
      v->req_states = STRATA_CORE_STATE_BIT(s);
    }
  }
  ask_daemon(v, resp);
  pthread_mutex_unlock(&v->mu);
}

static void on_healthz(const strata_admin_request_t *req,
                       strata_admin_response_t *resp, void *opaque) {
  views_t *v = opaque;
  json_t *j;
  char *text;
  (void)req;
  int status = 200;
  const char *state;
  int64_t idle_ms;
  pthread_mutex_lock(&v->mu);
  /* "draining" until the attempts dispatched before the drain finished,
   * then "drained": safe to stop for maintenance. "recovering" while the
   * transactional producer is recreated after a fatal error, and "stalled"
   * (503) when the loop has not finished a turn within the bound. */
  idle_ms = v->last_turn ? (strata_mono_now_us() - v->last_turn) / 1000 : 0;
  state = v->kafka_recovering ? "recovering"
          : !v->is_draining   ? "ok"
          : v->running_n > 0  ? "draining"
                              : "drained";
  if (v->stall_ms > 0 && idle_ms > v->stall_ms) {
    state = "stalled";
    status = 503;
  } else if (v->kafka_recovering) {
    status = 503;
  }
  j = json_pack("{s:s, s:I, s:i, s:i, s:I, s:[]}", "status", state,
                "last_turn_ms_ago", (json_int_t)idle_ms, "assigned_partitions",
                v->assigned, "recovering_partitions", v->recovering_n,
                "running", (json_int_t)v->running_n, "paused_tiers");
  for (int t = 0; j && t < v->ntiers; t++)
    if ((v->paused_bits >> t) & 1u)
      json_array_append_new(json_object_get(j, "paused_tiers"),
                            json_string(v->tiers[t]));
  pthread_mutex_unlock(&v->mu);
  text = json_dumps(j, JSON_COMPACT);
  strata_admin_respond(resp, status, "application/json", text);
  free(text);
  json_decref(j);
}

strata_err_t views_routes(views_t *v) {
  strata_err_t rc;
  if ((rc = strata_admin_route(v->admin, "/tasks", false, on_tasks, v)) ||
      (rc = strata_admin_route(v->admin, "/tasks/", true, on_tasks, v)) ||
      (rc = strata_admin_route(v->admin, "/healthz", false, on_healthz, v)))
    return rc;
  return STRATA_OK;
}

/* ---- the decision layer's observer ---------------------------------------*/

static void ob_dispatched(void *o, int tier, double latency_s,
                          int64_t unblock_ms, bool soft_missed) {
  views_dispatched(o, tier, latency_s, unblock_ms, soft_missed);
}
static void ob_expired(void *o, int tier) {
  views_expired(o, tier);
}
static void ob_lateness(void *o, double seconds) {
  views_lateness(o, seconds);
}
static void ob_dead_lettered(void *o, const char *reason) {
  views_dead_lettered(o, reason);
}
static void ob_duplicate(void *o) {
  views_duplicate(o);
}
static void ob_outcome(void *o, const char *tier, const char *outcome) {
  views_outcome(o, tier, outcome);
}
static void ob_late_result(void *o, const char *tier, const char *outcome) {
  views_late_result(o, tier, outcome);
}
static void ob_undecodable(void *o) {
  views_undecodable(o);
}
static void ob_heartbeat_lost(void *o, int tier) {
  views_heartbeat_lost(o, tier);
}
static void ob_preempted(void *o, int tier) {
  views_preempted(o, tier);
}
static void ob_control(void *o, uint32_t paused, bool draining) {
  views_control(o, paused, draining);
}
static void ob_started(void *o, int tier, double latency_s,
                       bool after_deadline) {
  views_started(o, tier, latency_s, after_deadline);
}

decide_observer_t views_observer(views_t *v) {
  return (decide_observer_t){v,
                             ob_dispatched,
                             ob_expired,
                             ob_lateness,
                             ob_dead_lettered,
                             ob_duplicate,
                             ob_outcome,
                             ob_late_result,
                             ob_undecodable,
                             ob_heartbeat_lost,
                             ob_preempted,
                             ob_control,
                             ob_started};
}
