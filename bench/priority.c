/*
 * `strata-bench priority`: does the right task run first under a backlog?
 *
 * The shape of BullMQ's priority-latency benchmark (bench/peers/bullmq/ runs
 * the same shape on BullMQ). Two phases, each on fresh topics with a fresh
 * `strata-scheduler` child (stopped by PID at the end, also on failure) and a
 * fresh in-process worker (strata_worker_* on a thread of this process, with
 * --concurrency slots and a C handler that takes its start time and then
 * works for --handler-ms):
 *
 *  1. With backlog: --backlog tasks on the background tier are submitted and
 *     acknowledged by Kafka; then, for --seconds (the window), critical tasks
 *     at --rate per second, paced by absolute monotonic deadlines.
 *  2. Without backlog: the same critical tasks alone, for reference. With
 *     --backlog 0 only this phase runs.
 *
 * The worker runs from before the backlog is submitted, as a deployed one
 * would. Each task carries its submit time (CLOCK_MONOTONIC µs of this
 * process) and, for critical tasks, its index in headers. Measured for the
 * critical tasks: submit -> dispatch record visible to a read_committed
 * consumer of the dispatch topic (the "watcher"), and submit -> handler
 * start, both in the same process on the same clock. A critical task that
 * was not seen (or not started) by the end of the wait after the window
 * (--wait) counts with its wait until then: a lower bound, and the count of
 * such tasks is reported, so a percentile is never flattered by the tasks
 * that are missing. Duplicated deliveries (at-least-once) count once, at
 * their first start. Also measured: how many backlog tasks started during
 * the window, and before the last critical task started, and how much of the
 * backlog had already been dispatched when the window opened.
 *
 * Every topic a phase created is deleted at its end. The last stdout line is
 * the JSON result.
 */
#include "bench.h"

#include "strata/codec.h"
#include "strata/config.h"
#include "strata/kafka.h"
#include "strata/log.h"
#include "strata/producer.h"
#include "strata/task.h"
#include "strata/time.h"
#include "strata/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WHO "strata-bench priority"
#define MAX_SETS 32
#define HDR_T0 "bench.t0"
#define HDR_PHASE "bench.phase"
#define HDR_INDEX "bench.i"
#define TIER_CRITICAL "critical"
#define TIER_BACKLOG "background"
/* rate x seconds: the per-task arrays of one phase stay small. */
#define MAX_CRITICAL 1000000

extern char **environ;

typedef struct {
  const char *bootstrap;
  uint64_t backlog;
  double rate, seconds, wait_s;
  int handler_ms, concurrency, partitions;
  char bindir[PATH_MAX];
  char *sched_sets[MAX_SETS]; /* point into argv */
  int nsched_sets;
} prio_opts_t;

/* What one phase measured. Latencies in ms; -1 without samples. */
typedef struct {
  bool ran;
  uint64_t backlog;
  size_t critical;              /* submitted */
  size_t not_seen, not_started; /* by the end of the wait */
  double disp_p50, disp_p99, disp_max;
  double start_p50, start_p99, start_max;
  uint64_t backlog_dispatched_at_open; /* seen by the watcher */
  uint64_t backlog_started_at_open;
  uint64_t backlog_in_window;   /* started during the window */
  uint64_t backlog_before_last; /* started from window open to the last
                                   critical start */
  double backlog_submit_s;      /* submit -> acknowledged */
  double window_s;
  uint64_t delivery_failures;
  char sched_log[PATH_MAX];
} prio_result_t;

/* One phase: its topics, scheduler, worker and watcher, and its samples. */
typedef struct {
  const prio_opts_t *o;
  char prefix[160];
  bench_sched_t sched;
  strata_worker_t *worker;
  pthread_t worker_thread;
  bool worker_started;
  rd_kafka_t *watch;
  pthread_t watch_thread;
  bool watch_started;
  atomic_bool watch_stop;
  /* Per critical task, by index: submit time, and the latency to the watcher
   * seeing it and to its handler starting (µs, -1 until then). */
  size_t ncap;
  int64_t *submit_us;
  atomic_int_fast64_t *seen_lat, *start_lat;
  atomic_uint_fast64_t warm_seen, warm_started;
  atomic_uint_fast64_t crit_seen, crit_started;
  atomic_uint_fast64_t backlog_seen, backlog_started;
  pthread_mutex_t lock;           /* guards backlog_starts */
  bench_samples_t backlog_starts; /* monotonic µs of each backlog start */
  atomic_uint_fast64_t delivery_failures;
} prio_run_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: strata-bench priority --bootstrap HOST:PORT [options]\n\n"
      "Critical tasks submitted behind a backlog of background tasks: how\n"
      "long until each is dispatched and until its handler starts, and how\n"
      "many backlog tasks run meanwhile; then the same without the backlog.\n"
      "Runs strata-scheduler and an in-process worker on a real broker.\n\n"
      "  --bootstrap B       broker address (required)\n"
      "  --backlog N         background tasks submitted first (default "
      "250000;\n"
      "                      0: only the phase without backlog)\n"
      "  --rate R            critical tasks per second (default 500)\n"
      "  --seconds S         length of the critical window (default 20)\n"
      "  --handler-ms H      handler run time, ms (default 1)\n"
      "  --concurrency C     worker.concurrency of the one worker (default "
      "20)\n"
      "  --partitions P      topic.partitions of the fresh topics (default 4)\n"
      "  --wait S            after the window, how long to wait for critical\n"
      "                      tasks still unseen or not started (default 60)\n"
      "  --bin DIR           where strata-scheduler is (default: the "
      "directory\n"
      "                      of this executable)\n"
      "  --scheduler-set K=V an extra --set for strata-scheduler "
      "(repeatable)\n"
      "  --help              this text\n\n"
      "The last stdout line is JSON: {\"bench\":\"priority\",...,"
      "\"with_backlog\":{..},\"no_backlog\":{..}}\n");
}

static int parse_opts(prio_opts_t *o, int argc, char **argv) {
  o->backlog = 250000;
  o->rate = 500;
  o->seconds = 20;
  o->wait_s = 60;
  o->handler_ms = 1;
  o->concurrency = 20;
  o->partitions = 4;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, WHO ": %s needs a value (or is unknown)\n", a);
      return -1;
    }
    i++;
    errno = 0;
    if (!strcmp(a, "--bootstrap")) {
      o->bootstrap = v;
      end = (char *)"";
    } else if (!strcmp(a, "--backlog")) {
      unsigned long long n = strtoull(v, &end, 10);
      if (*v == '-' || n > 10000000)
        end = NULL;
      o->backlog = n;
    } else if (!strcmp(a, "--rate")) {
      o->rate = strtod(v, &end);
      if (!(o->rate > 0 && o->rate <= 100000))
        end = NULL;
    } else if (!strcmp(a, "--seconds")) {
      o->seconds = strtod(v, &end);
      if (!(o->seconds > 0 && o->seconds <= 600))
        end = NULL;
    } else if (!strcmp(a, "--wait")) {
      o->wait_s = strtod(v, &end);
      if (!(o->wait_s > 0 && o->wait_s <= 3600))
        end = NULL;
    } else if (!strcmp(a, "--handler-ms")) {
      long n = strtol(v, &end, 10);
      if (n < 0 || n > 60000)
        end = NULL;
      o->handler_ms = (int)n;
    } else if (!strcmp(a, "--concurrency")) {
      long n = strtol(v, &end, 10);
      if (n < 1 || n > 4096)
        end = NULL;
      o->concurrency = (int)n;
    } else if (!strcmp(a, "--partitions")) {
      long n = strtol(v, &end, 10);
      if (n < 1 || n > 4096)
        end = NULL;
      o->partitions = (int)n;
    } else if (!strcmp(a, "--bin")) {
      snprintf(o->bindir, sizeof(o->bindir), "%s", v);
      end = (char *)"";
    } else if (!strcmp(a, "--scheduler-set")) {
      end = NULL;
      if (o->nsched_sets < MAX_SETS && strchr(v, '=')) {
        o->sched_sets[o->nsched_sets++] = argv[i];
        end = (char *)"";
      }
    } else {
      fprintf(stderr, WHO ": unknown option \"%s\"\n", a);
      return -1;
    }
    if (!end || *end || errno) {
      fprintf(stderr, WHO ": %s: \"%s\" is not allowed\n", a, v);
      return -1;
    }
  }
  if (!o->bootstrap || !*o->bootstrap) {
    fprintf(stderr, WHO ": --bootstrap is required (a real broker; the "
                        "embedded one has no transactions)\n");
    return -1;
  }
  if (o->rate * o->seconds > MAX_CRITICAL) {
    fprintf(stderr,
            WHO ": --rate x --seconds is %.0f critical tasks; at most %d\n",
            o->rate * o->seconds, MAX_CRITICAL);
    return -1;
  }
  if (!o->bindir[0]) {
    ssize_t n = readlink("/proc/self/exe", o->bindir, sizeof(o->bindir) - 1);
    char *slash;
    if (n <= 0) {
      fprintf(stderr, WHO ": /proc/self/exe: %s; give --bin\n",
              strerror(errno));
      return -1;
    }
    o->bindir[n] = '\0';
    if ((slash = strrchr(o->bindir, '/')))
      *slash = '\0';
  }
  return 0;
}

/* ---- configuration, topics, the scheduler ------------------------------*/

static strata_config_t *make_cfg(const prio_run_t *r, char *err, size_t size) {
  strata_config_t *cfg = strata_config_new();
  char parts[16], conc[16], group[256];

  if (!cfg) {
    snprintf(err, size, "out of memory");
    return NULL;
  }
  snprintf(parts, sizeof(parts), "%d", r->o->partitions);
  snprintf(conc, sizeof(conc), "%d", r->o->concurrency);
  snprintf(group, sizeof(group), "%sworker", r->prefix);
  if (strata_config_set(cfg, "bootstrap.servers", r->o->bootstrap, err, size) ||
      strata_config_set(cfg, "topic.prefix", r->prefix, err, size) ||
      strata_config_set(cfg, "topic.partitions", parts, err, size) ||
      strata_config_set(cfg, "worker.group.id", group, err, size) ||
      strata_config_set(cfg, "worker.concurrency", conc, err, size)) {
    strata_config_destroy(cfg);
    return NULL;
  }
  return cfg;
}

/* ---- the records' bench headers ----------------------------------------*/

typedef struct {
  char phase;    /* 'w' warm-up, 'b' backlog, 'c' critical; 0: none */
  int64_t t0;    /* submit time, monotonic µs */
  int64_t index; /* critical tasks only; -1 otherwise */
} bench_tags_t;

static bench_tags_t read_tags(const strata_task_t *t) {
  bench_tags_t g = {0, 0, -1};
  for (size_t i = 0; i < t->headers_count; i++) {
    const char *k = t->headers[i].key, *v = t->headers[i].value;
    if (!k || !v)
      continue;
    if (!strcmp(k, HDR_PHASE))
      g.phase = v[0];
    else if (!strcmp(k, HDR_T0))
      g.t0 = strtoll(v, NULL, 10);
    else if (!strcmp(k, HDR_INDEX))
      g.index = strtoll(v, NULL, 10);
  }
  return g;
}

/* Records the first latency of critical task `index`; true if it was the
 * first (a redelivery does not count again). */
static bool first_latency(prio_run_t *r, atomic_int_fast64_t *lat,
                          int64_t index, int64_t value) {
  int_fast64_t unset = -1;
  if (index < 0 || (size_t)index >= r->ncap)
    return false;
  return atomic_compare_exchange_strong(&lat[index], &unset, value);
}

/* ---- the in-process worker ---------------------------------------------*/

/* Takes its start time before anything else, then works for --handler-ms,
 * in slices short enough to notice a stop. */
static strata_handler_status_t prio_handler(strata_job_t *job, void *opaque) {
  prio_run_t *r = opaque;
  strata_mono_us_t now = strata_mono_now_us();
  bench_tags_t g = read_tags(strata_job_task(job));
  int64_t left_us = (int64_t)r->o->handler_ms * 1000;

  if (g.phase == 'c') {
    if (first_latency(r, r->start_lat, g.index, now - g.t0))
      atomic_fetch_add(&r->crit_started, 1);
  } else if (g.phase == 'b') {
    pthread_mutex_lock(&r->lock);
    bench_samples_push(&r->backlog_starts, now);
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->backlog_started, 1);
  } else if (g.phase == 'w') {
    atomic_fetch_add(&r->warm_started, 1);
  }
  while (left_us > 0 && !strata_job_cancel_requested(job)) {
    int64_t slice = left_us < 10000 ? left_us : 10000;
    bench_sleep_us(slice);
    left_us -= slice;
  }
  return STRATA_HANDLER_SUCCEEDED;
}

static void *worker_main(void *arg) {
  prio_run_t *r = arg;
  char err[512];
  if (strata_worker_run(r->worker, err, sizeof(err)))
    fprintf(stderr, WHO ": worker: %s\n", err);
  return NULL;
}

static int start_worker(prio_run_t *r, const strata_config_t *cfg, char *err,
                        size_t size) {
  if (!(r->worker = strata_worker_new(cfg, err, size)))
    return -1;
  if (strata_worker_register(r->worker, "*", prio_handler, r)) {
    snprintf(err, size, "registering the handler failed");
    return -1;
  }
  if (pthread_create(&r->worker_thread, NULL, worker_main, r)) {
    snprintf(err, size, "starting the worker thread failed");
    return -1;
  }
  r->worker_started = true;
  return 0;
}

static void stop_worker(prio_run_t *r) {
  if (r->worker_started) {
    strata_worker_stop(r->worker);
    pthread_join(r->worker_thread, NULL);
    r->worker_started = false;
  }
  strata_worker_destroy(r->worker);
  r->worker = NULL;
}

/* ---- the watcher: a read_committed consumer of the dispatch topic -------*/

static void *watcher_main(void *arg) {
  prio_run_t *r = arg;
  while (!atomic_load(&r->watch_stop)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->watch, 100);
    strata_mono_us_t now = strata_mono_now_us();
    strata_task_t t;
    char err[256];
    bench_tags_t g;

    if (!m)
      continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        fprintf(stderr, WHO ": watcher: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    strata_task_init(&t);
    if (!strata_task_decode(m->payload, m->len, &t, err, sizeof(err))) {
      g = read_tags(&t);
      if (g.phase == 'c') {
        if (first_latency(r, r->seen_lat, g.index, now - g.t0))
          atomic_fetch_add(&r->crit_seen, 1);
      } else if (g.phase == 'b') {
        atomic_fetch_add(&r->backlog_seen, 1);
      } else if (g.phase == 'w') {
        atomic_fetch_add(&r->warm_seen, 1);
      }
    }
    strata_task_clear(&t);
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

static int watcher_start(prio_run_t *r, const strata_config_t *cfg, char *err,
                         size_t size) {
  char group[256], topic[256];
  /* A short fetch wait: the watcher is the clock of "visible", so it should
   * not add the default 500 ms wait to a fetch that the broker holds back. */
  const char *const defaults[] = {"group.id",
                                  group,
                                  "enable.auto.commit",
                                  "false",
                                  "isolation.level",
                                  "read_committed",
                                  "fetch.wait.max.ms",
                                  "10",
                                  NULL};
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *l;

  snprintf(group, sizeof(group), "%swatch", r->prefix);
  snprintf(topic, sizeof(topic), "%sdispatch", r->prefix);
  if (!(conf =
            strata_kafka_conf_new(cfg, "bench-watcher", defaults, err, size)))
    return -1;
  if (!(r->watch = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, size))) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  l = rd_kafka_topic_partition_list_new(r->o->partitions);
  for (int p = 0; p < r->o->partitions; p++)
    rd_kafka_topic_partition_list_add(l, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(r->watch, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (pthread_create(&r->watch_thread, NULL, watcher_main, r)) {
    snprintf(err, size, "starting the watcher thread failed");
    return -1;
  }
  r->watch_started = true;
  return 0;
}

static void watcher_stop(prio_run_t *r) {
  if (r->watch_started) {
    atomic_store(&r->watch_stop, true);
    pthread_join(r->watch_thread, NULL);
    r->watch_started = false;
  }
  if (r->watch) {
    rd_kafka_consumer_close(r->watch);
    rd_kafka_destroy(r->watch);
    r->watch = NULL;
  }
}

/* ---- submitting -----------------------------------------------------------*/

static void on_delivery(const char *task_id, strata_err_t err,
                        const char *errstr, void *opaque) {
  prio_run_t *r = opaque;
  if (err && atomic_fetch_add(&r->delivery_failures, 1) == 0)
    fprintf(stderr, WHO ": task %s not delivered: %s\n", task_id, errstr);
}

/* Submits one task of `tier` tagged with `phase`, the current monotonic time
 * and, when index >= 0, its index; *t0 gets that time. */
static int submit_one(prio_run_t *r, strata_producer_t *p, const char *tier,
                      const char *phase, int64_t index, int64_t *t0) {
  strata_task_t t;
  char now[32], idx[32], err[512];
  strata_err_t rc;
  int64_t t_us = strata_mono_now_us();

  strata_task_init(&t);
  snprintf(now, sizeof(now), "%" PRId64, t_us);
  snprintf(idx, sizeof(idx), "%" PRId64, index);
  if (!(t.tier = strdup(tier)) || !(t.type = strdup("sleep")) ||
      strata_task_add_header(&t, HDR_PHASE, phase) ||
      strata_task_add_header(&t, HDR_T0, now) ||
      (index >= 0 && strata_task_add_header(&t, HDR_INDEX, idx))) {
    strata_task_clear(&t);
    fprintf(stderr, WHO ": out of memory\n");
    return -1;
  }
  while ((rc = strata_producer_submit(p, &t, on_delivery, r, err,
                                      sizeof(err))) == STRATA_ERR_FULL &&
         !g_stop)
    strata_producer_poll(p, 1);
  strata_task_clear(&t);
  if (rc) {
    fprintf(stderr, WHO ": submit: %s\n",
            rc == STRATA_ERR_FULL ? "stopped" : err);
    return -1;
  }
  strata_producer_poll(p, 0);
  if (t0)
    *t0 = t_us;
  return 0;
}

/* ---- waiting
 * ----------------------------------------------------------------*/

/* Polls until *a >= want_a and *b >= want_b, or the monotonic `deadline`, a
 * stop, or the scheduler's exit. 0 when reached. */
static int wait_counts(prio_run_t *r, atomic_uint_fast64_t *a, uint64_t want_a,
                       atomic_uint_fast64_t *b, uint64_t want_b,
                       strata_mono_us_t deadline, const char *what,
                       bool report_timeout) {
  while (!g_stop) {
    if (atomic_load(a) >= want_a && atomic_load(b) >= want_b)
      return 0;
    if (strata_mono_now_us() > deadline) {
      if (report_timeout)
        fprintf(stderr,
                WHO ": timed out waiting for %s: %" PRIu64 "/%" PRIu64
                    " dispatched, %" PRIu64 "/%" PRIu64 " started\n",
                what, (uint64_t)atomic_load(a), want_a,
                (uint64_t)atomic_load(b), want_b);
      return -1;
    }
    if (!bench_sched_alive(&r->sched, WHO))
      return -1;
    bench_sleep_us(1000);
  }
  return -1;
}

/* ---- one phase ------------------------------------------------------------*/

/* Percentiles of one latency array over the `n` submitted critical tasks; a
 * task without a value counts with its wait until `end_us` (a lower bound)
 * and is counted in *missing. */
static void latency_figures(const prio_run_t *r, atomic_int_fast64_t *lat,
                            size_t n, strata_mono_us_t end_us, double *p50,
                            double *p99, double *max, size_t *missing) {
  bench_samples_t s = {0};
  *missing = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t v = atomic_load(&lat[i]);
    if (v < 0) {
      v = end_us - r->submit_us[i];
      (*missing)++;
    }
    bench_samples_push(&s, v);
  }
  bench_samples_sort(&s);
  *p50 = bench_samples_pct_ms(&s, 0.5);
  *p99 = bench_samples_pct_ms(&s, 0.99);
  *max = bench_samples_pct_ms(&s, 1.0);
  bench_samples_free(&s);
}

static int phase_measure(prio_run_t *r, strata_producer_t *p, uint64_t backlog,
                         prio_result_t *res) {
  const prio_opts_t *o = r->o;
  double period_us = 1e6 / o->rate;
  strata_mono_us_t t, t_open, t_close, end_wait, last_start = 0;
  size_t n = 0;

  /* Warm-up: one task per tier used, through scheduler and worker, so group
   * joins and metadata lookups are behind us. */
  if (submit_one(r, p, TIER_CRITICAL, "w", -1, NULL) ||
      submit_one(r, p, TIER_BACKLOG, "w", -1, NULL))
    return -1;
  strata_producer_flush(p, 10000);
  if (wait_counts(r, &r->warm_seen, 2, &r->warm_started, 2,
                  strata_mono_now_us() + 90000000, "the warm-up tasks", true))
    return -1;

  if (backlog) {
    fprintf(stderr, WHO ": [%s] submitting %" PRIu64 " backlog tasks\n",
            r->prefix, backlog);
    t = strata_mono_now_us();
    for (uint64_t i = 0; i < backlog && !g_stop; i++)
      if (submit_one(r, p, TIER_BACKLOG, "b", -1, NULL))
        return -1;
    if (strata_producer_flush(p, 120000)) {
      fprintf(stderr, WHO ": backlog submissions not acknowledged in 120 s\n");
      return -1;
    }
    res->backlog_submit_s = (double)(strata_mono_now_us() - t) / 1e6;
  }
  fprintf(stderr, WHO ": [%s] critical tasks at %.0f/s for %.1f s\n", r->prefix,
          o->rate, o->seconds);

  t_open = strata_mono_now_us();
  res->backlog_dispatched_at_open = atomic_load(&r->backlog_seen);
  res->backlog_started_at_open = atomic_load(&r->backlog_started);
  {
    strata_mono_us_t end = t_open + (strata_mono_us_t)(o->seconds * 1e6);
    for (;;) {
      strata_mono_us_t due = t_open + (strata_mono_us_t)((double)n * period_us);
      if (due >= end || n >= r->ncap || g_stop)
        break;
      if (strata_mono_now_us() < due)
        bench_sleep_until_us(due, &g_stop);
      if (submit_one(r, p, TIER_CRITICAL, "c", (int64_t)n, &r->submit_us[n]))
        return -1;
      n++;
    }
  }
  t_close = strata_mono_now_us();
  res->window_s = (double)(t_close - t_open) / 1e6;
  res->critical = n;
  strata_producer_flush(p, 30000);

  /* Missing tasks are reported in the figures, not as a failure: under a
   * large backlog that is the finding. */
  if (wait_counts(r, &r->crit_seen, n, &r->crit_started, n,
                  t_close + (strata_mono_us_t)(o->wait_s * 1e6),
                  "the critical tasks", false) &&
      (g_stop || r->sched.pid <= 0))
    return -1;
  end_wait = strata_mono_now_us();

  latency_figures(r, r->seen_lat, n, end_wait, &res->disp_p50, &res->disp_p99,
                  &res->disp_max, &res->not_seen);
  latency_figures(r, r->start_lat, n, end_wait, &res->start_p50,
                  &res->start_p99, &res->start_max, &res->not_started);
  for (size_t i = 0; i < n; i++) {
    int64_t v = atomic_load(&r->start_lat[i]);
    if (v >= 0 && r->submit_us[i] + v > last_start)
      last_start = r->submit_us[i] + v;
  }
  if (res->not_started)
    last_start = end_wait;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->backlog_starts.n; i++) {
    int64_t s = r->backlog_starts.v[i];
    if (s >= t_open && s < t_close)
      res->backlog_in_window++;
    if (s >= t_open && s <= last_start)
      res->backlog_before_last++;
  }
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static int phase_run(const prio_opts_t *o, uint64_t backlog, const char *name,
                     prio_result_t *res) {
  prio_run_t r;
  strata_config_t *cfg = NULL;
  strata_producer_t *p = NULL;
  char err[512];
  bool topics = false;
  int rc = -1;

  memset(&r, 0, sizeof(r));
  memset(res, 0, sizeof(*res));
  res->backlog = backlog;
  r.o = o;
  pthread_mutex_init(&r.lock, NULL);
  {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(r.prefix, sizeof(r.prefix), "bench-prio-%d-%lx.%s.", (int)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec), name);
  }
  r.ncap = (size_t)(o->rate * o->seconds) + 2;
  r.submit_us = calloc(r.ncap, sizeof(*r.submit_us));
  r.seen_lat = calloc(r.ncap, sizeof(*r.seen_lat));
  r.start_lat = calloc(r.ncap, sizeof(*r.start_lat));
  if (!r.submit_us || !r.seen_lat || !r.start_lat) {
    fprintf(stderr, WHO ": out of memory\n");
    goto done;
  }
  for (size_t i = 0; i < r.ncap; i++) {
    atomic_init(&r.seen_lat[i], -1);
    atomic_init(&r.start_lat[i], -1);
  }
  if (!(cfg = make_cfg(&r, err, sizeof(err)))) {
    fprintf(stderr, WHO ": %s\n", err);
    goto done;
  }
  if (bench_topics(cfg, true, WHO, err, sizeof(err))) {
    fprintf(stderr, WHO ": topics on %s: %s\n", o->bootstrap, err);
    goto done;
  }
  topics = true;
  if (bench_sched_spawn(&r.sched, o->bindir, o->bootstrap, r.prefix,
                        o->partitions, o->sched_sets, o->nsched_sets, err,
                        sizeof(err)) ||
      start_worker(&r, cfg, err, sizeof(err)) ||
      watcher_start(&r, cfg, err, sizeof(err)) ||
      !(p = strata_producer_new(cfg, err, sizeof(err)))) {
    fprintf(stderr, WHO ": %s\n", err);
    goto done;
  }
  if (phase_measure(&r, p, backlog, res))
    goto done;
  res->delivery_failures = atomic_load(&r.delivery_failures);
  snprintf(res->sched_log, sizeof(res->sched_log), "%s", r.sched.log);
  res->ran = true;
  rc = 0;
done:
  strata_producer_destroy(p);
  stop_worker(&r);
  bench_sched_stop(&r.sched);
  watcher_stop(&r);
  if (topics)
    bench_topics(cfg, false, WHO, err, sizeof(err));
  strata_config_destroy(cfg);
  bench_samples_free(&r.backlog_starts);
  pthread_mutex_destroy(&r.lock);
  free(r.submit_us);
  free(r.seen_lat);
  free(r.start_lat);
  return rc;
}

/* ---- report -------------------------------------------------------------*/

static void print_phase(const char *title, const prio_result_t *r) {
  const char *ge_d = r->not_seen ? ">=" : "";
  const char *ge_s = r->not_started ? ">=" : "";
  printf("  %s:\n", title);
  if (r->backlog)
    printf("    backlog %" PRIu64 " submitted and acknowledged in %.2f s; at "
           "window open %" PRIu64 " dispatched, %" PRIu64 " started\n",
           r->backlog, r->backlog_submit_s, r->backlog_dispatched_at_open,
           r->backlog_started_at_open);
  printf("    %zu critical tasks over %.2f s\n", r->critical, r->window_s);
  printf("    submit -> dispatch visible: p50 %s%.2f ms  p99 %s%.2f ms  max "
         "%s%.2f ms  (%zu not seen)\n",
         ge_d, r->disp_p50, ge_d, r->disp_p99, ge_d, r->disp_max, r->not_seen);
  printf("    submit -> handler start:    p50 %s%.2f ms  p99 %s%.2f ms  max "
         "%s%.2f ms  (%zu not started)\n",
         ge_s, r->start_p50, ge_s, r->start_p99, ge_s, r->start_max,
         r->not_started);
  if (r->backlog)
    printf("    backlog tasks started during the window: %" PRIu64
           "; before the last critical start: %" PRIu64 "\n",
           r->backlog_in_window, r->backlog_before_last);
  if (r->delivery_failures)
    printf("    %" PRIu64 " submissions failed\n", r->delivery_failures);
  printf("    scheduler log: %s\n", r->sched_log);
}

static void json_phase(const char *key, const prio_result_t *r) {
  if (!r->ran) {
    printf(",\"%s\":null", key);
    return;
  }
  printf(",\"%s\":{\"backlog\":%" PRIu64 ",\"critical\":%zu,"
         "\"dispatch_p50_ms\":%.2f,\"dispatch_p99_ms\":%.2f,"
         "\"start_p50_ms\":%.2f,\"start_p99_ms\":%.2f,\"not_seen\":%zu,"
         "\"not_started\":%zu,\"backlog_started_in_window\":%" PRIu64
         ",\"backlog_started_before_last_critical\":%" PRIu64
         ",\"backlog_dispatched_at_open\":%" PRIu64 "}",
         key, r->backlog, r->critical, r->disp_p50, r->disp_p99, r->start_p50,
         r->start_p99, r->not_seen, r->not_started, r->backlog_in_window,
         r->backlog_before_last, r->backlog_dispatched_at_open);
}

int bench_priority_main(int argc, char **argv) {
  prio_opts_t o;
  prio_result_t with, without;
  struct sigaction sa;
  char err[512];

  memset(&o, 0, sizeof(o));
  memset(&with, 0, sizeof(with));
  memset(&without, 0, sizeof(without));
  if (parse_opts(&o, argc, argv))
    return 2;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  strata_log_set_level(STRATA_LOG_WARN);
  if (strata_codec_init(err, sizeof(err))) {
    fprintf(stderr, WHO ": %s\n", err);
    return 1;
  }
  if (o.backlog && phase_run(&o, o.backlog, "backlog", &with))
    return 1;
  if (g_stop || phase_run(&o, 0, "alone", &without))
    return 1;

  printf("strata-bench priority: backlog %" PRIu64 " (%s tier), critical at "
         "%g/s for %g s, handler %d ms, concurrency %d, %d partitions, "
         "broker %s\n",
         o.backlog, TIER_BACKLOG, o.rate, o.seconds, o.handler_ms,
         o.concurrency, o.partitions, o.bootstrap);
  if (with.ran)
    print_phase("with the backlog", &with);
  print_phase("without a backlog", &without);
  printf("{\"bench\":\"priority\",\"backlog\":%" PRIu64 ",\"rate\":%g,"
         "\"seconds\":%g,\"handler_ms\":%d,\"concurrency\":%d,"
         "\"partitions\":%d",
         o.backlog, o.rate, o.seconds, o.handler_ms, o.concurrency,
         o.partitions);
  json_phase("with_backlog", &with);
  json_phase("no_backlog", &without);
  printf("}\n");
  fflush(stdout);
  return 0;
}
