/*
 * `strata-bench e2e`: the whole pipeline on a real broker, and a bare
 * transactional relay of the same records for reference.
 *
 * Set-up: a fresh topic prefix and fresh group ids per run, the topic layout
 * created with strata_topics_ensure(), `strata-scheduler` as a child process
 * (stopped by PID at the end, also on failure), and one worker: the
 * strata_worker_* runtime on a thread of this process with a C handler that
 * succeeds at once (strata-worker has only the exec handler, whose fork/exec
 * per task would measure /bin/true rather than the pipeline).
 *
 * Phases:
 *  1. Throughput: N tasks, round-robin over the tiers, submitted with
 *     strata_producer_* as fast as it takes them. tasks_per_sec is N over the
 *     time from the first submit to the moment a read_committed consumer of
 *     the dispatch topic (the "watcher") has seen N records. Records are
 *     counted, not offsets, since transaction markers occupy offsets too.
 *     The completion rate counts the worker's SUCCEEDED events.
 *  2. Latency: first a wait until the machine is idle (--settle, at most
 *     10 s by default: what the throughput phase left behind, such as the
 *     scheduler reading three events per task and the broker's markers, is
 *     not part of this phase's rate). Then tasks at a fraction (default
 *     30 %) of the measured rate, or at --rate, for --seconds, paced by
 *     absolute monotonic deadlines. Each task carries its
 *     submit time (monotonic µs, this process) in a header; its latency is
 *     the time the watcher saw the dispatch record minus that time.
 *  3. Relay: the scheduler and the worker are stopped; the same kind of
 *     encoded task records go to one fresh input topic, and a loop on a
 *     thread here consumes them read_committed and produces each to an output
 *     topic in one transaction per turn of up to scheduler.batch records,
 *     with the consumer offsets sent to the transaction: the scheduler's
 *     client settings and turn shape without its work. relay_per_sec is N
 *     over first produce → N records visible on the output topic. Then the
 *     relay's own latency at the latency phase's rate: the floor that one
 *     transactional producer committing turn after turn sets on this broker.
 *
 * Every topic the run created is deleted at its end. The last stdout line is
 * the JSON result; --trace writes the latency phase's samples as CSV.
 */
#include "bench.h"
#include "kafka_txn.h"
#include "sched_kafka.h"

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

#define MAX_TIERS 16
#define MAX_SETS 32
#define HDR_T0 "bench.t0"
#define HDR_PHASE "bench.phase"
/* The scheduler's own client settings (scheduler/daemon/daemon.c,
 * sched_setup), repeated here for the relay. */
#define SCHED_TICK_MS 10
/* Bound of the relay's transaction step and of its producer's
 * init_transactions: a broker problem ends the phase instead of a hang. */
#define RELAY_TXN_MS 30000

extern char **environ;

/* A read_committed consumer assigned every partition of one topic. */
typedef struct {
  rd_kafka_t *rk;
  pthread_t thread;
  bool started, inited;
  char *const *tiers;
  int ntiers;
  atomic_bool stop;
  atomic_uint_fast64_t count;     /* records seen */
  atomic_uint_fast64_t target;    /* count at which reached_us is set */
  atomic_int_fast64_t reached_us; /* 0 until count >= target */
  atomic_bool measure;            /* decode and take latency samples */
  pthread_mutex_t lock;           /* guards lat and the stages */
  bench_samples_t lat[MAX_TIERS];
  /* Stages of the latency-phase samples, all tiers, µs (ms resolution):
   * submit -> dispatch record created by the scheduler (its CreateTime),
   * and that -> seen by the watcher. */
  bench_samples_t to_produce, to_visible;
  /* With --trace: every latency-phase sample, in the order seen. */
  bool trace;
  struct trace_row {
    int64_t submit_us; /* monotonic */
    int64_t total_us, created_ms, visible_ms;
    int tier;
  } * rows;
  size_t nrows, caprows;
} watcher_t;

/* The bare relay: read_committed consumer → transactional producer. */
typedef struct {
  rd_kafka_t *in, *tx;
  char in_topic[256], out_topic[256];
  int nparts, batch;
  txn_record_t *recs; /* [batch + 1], one turn's records */
  pthread_t thread;
  bool started;
  atomic_bool stop;
  atomic_bool failed;
  uint64_t turns, relayed;
  char err[512];
} relay_t;

typedef struct {
  /* options */
  const char *bootstrap;
  uint64_t tasks;
  int partitions;
  char bindir[PATH_MAX];
  double seconds;
  double fraction;
  double rate; /* fixed latency-phase rate, tasks/s; 0: fraction */
  int concurrency;
  char *sched_sets[MAX_SETS]; /* point into argv */
  int nsched_sets;
  const char *trace_path; /* --trace: per-sample CSV of the latency phase */
  double settle;          /* --settle: longest idle wait before it, s */
  /* run */
  char prefix[128];
  char *tiers[MAX_TIERS];
  int ntiers;
  int batch;
  bench_sched_t sched;
  strata_worker_t *worker;
  pthread_t worker_thread;
  bool worker_started;
  atomic_uint_fast64_t delivery_failures;
} e2e_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: strata-bench e2e --bootstrap HOST:PORT [options]\n\n"
      "The pipeline (strata-scheduler + an in-process worker with a no-op\n"
      "handler) on a real Kafka broker, against a bare transactional relay.\n"
      "Never uses the embedded broker: it has no transactions.\n\n"
      "  --bootstrap B       broker address (required)\n"
      "  --tasks N           tasks in the throughput and relay phases "
      "(default 50000)\n"
      "  --partitions P      topic.partitions of the fresh topics (default 4)\n"
      "  --seconds S         length of the latency phase (default 10)\n"
      "  --fraction F        latency-phase rate as a fraction of the measured\n"
      "                      scheduler rate (default 0.3)\n"
      "  --rate R            latency-phase rate in tasks/s instead (for\n"
      "                      comparing runs at the same load)\n"
      "  --concurrency C     worker.concurrency of the worker (default 16)\n"
      "  --bin DIR           where strata-scheduler is (default: the "
      "directory\n"
      "                      of this executable)\n"
      "  --scheduler-set K=V an extra --set for strata-scheduler "
      "(repeatable)\n"
      "  --settle S          before the latency phase, wait until the machine\n"
      "                      is idle (under 5 %% busy), at most S s\n"
      "                      (default 10; 0: start at once)\n"
      "  --trace FILE        write every latency-phase sample as CSV:\n"
      "                      submit time (ms from the phase's start), tier,\n"
      "                      total, submit -> created, created -> visible "
      "(ms)\n"
      "  --help              this text\n\n"
      "The last stdout line is JSON: {\"bench\":\"e2e\",\"tasks_per_sec\":..,"
      "\n\"relay_per_sec\":..,\"ratio\":..,\"p99_ms\":{tier:..},"
      "\"p50_ms\":{tier:..}}\n");
}

static int parse_opts(e2e_t *e, int argc, char **argv) {
  e->tasks = 50000;
  e->partitions = 4;
  e->seconds = 10;
  e->fraction = 0.3;
  e->concurrency = 16;
  e->settle = 10;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "strata-bench e2e: %s needs a value (or is unknown)\n",
              a);
      return -1;
    }
    i++;
    errno = 0;
    if (!strcmp(a, "--bootstrap")) {
      e->bootstrap = v;
      end = (char *)"";
    } else if (!strcmp(a, "--tasks")) {
      unsigned long long n = strtoull(v, &end, 10);
      if (n < 1 || n > 10000000)
        end = NULL;
      e->tasks = n;
    } else if (!strcmp(a, "--partitions")) {
      long n = strtol(v, &end, 10);
      if (n < 1 || n > 4096)
        end = NULL;
      e->partitions = (int)n;
    } else if (!strcmp(a, "--seconds")) {
      e->seconds = strtod(v, &end);
      if (!(e->seconds > 0 && e->seconds <= 600))
        end = NULL;
    } else if (!strcmp(a, "--fraction")) {
      e->fraction = strtod(v, &end);
      if (!(e->fraction > 0 && e->fraction <= 1))
        end = NULL;
    } else if (!strcmp(a, "--rate")) {
      e->rate = strtod(v, &end);
      if (!(e->rate > 0 && e->rate <= 1e6))
        end = NULL;
    } else if (!strcmp(a, "--concurrency")) {
      long n = strtol(v, &end, 10);
      if (n < 1 || n > 4096)
        end = NULL;
      e->concurrency = (int)n;
    } else if (!strcmp(a, "--settle")) {
      e->settle = strtod(v, &end);
      if (!(e->settle >= 0 && e->settle <= 600))
        end = NULL;
    } else if (!strcmp(a, "--trace")) {
      e->trace_path = v;
      end = (char *)"";
    } else if (!strcmp(a, "--bin")) {
      snprintf(e->bindir, sizeof(e->bindir), "%s", v);
      end = (char *)"";
    } else if (!strcmp(a, "--scheduler-set")) {
      end = NULL;
      if (e->nsched_sets < MAX_SETS && strchr(v, '=')) {
        e->sched_sets[e->nsched_sets++] = argv[i];
        end = (char *)"";
      }
    } else {
      fprintf(stderr, "strata-bench e2e: unknown option \"%s\"\n", a);
      return -1;
    }
    if (!end || *end || errno) {
      fprintf(stderr, "strata-bench e2e: %s: \"%s\" is not allowed\n", a, v);
      return -1;
    }
  }
  if (!e->bootstrap || !*e->bootstrap) {
    fprintf(stderr, "strata-bench e2e: --bootstrap is required (a real broker; "
                    "the embedded one has no transactions)\n");
    return -1;
  }
  if (!e->bindir[0]) {
    ssize_t n = readlink("/proc/self/exe", e->bindir, sizeof(e->bindir) - 1);
    char *slash;
    if (n <= 0) {
      fprintf(stderr, "strata-bench e2e: /proc/self/exe: %s; give --bin\n",
              strerror(errno));
      return -1;
    }
    e->bindir[n] = '\0';
    if ((slash = strrchr(e->bindir, '/')))
      *slash = '\0';
  }
  return 0;
}

/* ---- configuration and topics ------------------------------------------*/

/* A configuration for the bench's own clients under `prefix`. */
static strata_config_t *make_cfg(const e2e_t *e, const char *prefix,
                                 const char *tiers, char *err, size_t size) {
  strata_config_t *cfg = strata_config_new();
  char parts[16], conc[16], group[256];

  if (!cfg) {
    snprintf(err, size, "out of memory");
    return NULL;
  }
  snprintf(parts, sizeof(parts), "%d", e->partitions);
  snprintf(conc, sizeof(conc), "%d", e->concurrency);
  snprintf(group, sizeof(group), "%sworker", prefix);
  if (strata_config_set(cfg, "bootstrap.servers", e->bootstrap, err, size) ||
      strata_config_set(cfg, "topic.prefix", prefix, err, size) ||
      strata_config_set(cfg, "topic.partitions", parts, err, size) ||
      strata_config_set(cfg, "worker.group.id", group, err, size) ||
      strata_config_set(cfg, "worker.concurrency", conc, err, size) ||
      (tiers && strata_config_set(cfg, "tiers", tiers, err, size))) {
    strata_config_destroy(cfg);
    return NULL;
  }
  return cfg;
}

/* Creates (create = true) or deletes the topics of cfg's layout. */
/* CPU seconds (user + system) a process has used, from /proc; -1 if gone. */
static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  unsigned long ut = 0, st = 0;
  FILE *f;
  char *p;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if (!(f = fopen(path, "r")))
    return -1;
  if (!fgets(buf, sizeof(buf), f)) {
    fclose(f);
    return -1;
  }
  fclose(f);
  /* Fields after the parenthesised command: state is field 3, utime 14. */
  if (!(p = strrchr(buf, ')')) ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
             &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the in-process worker ---------------------------------------------*/

static strata_handler_status_t noop_handler(strata_job_t *job, void *opaque) {
  (void)job;
  (void)opaque;
  return STRATA_HANDLER_SUCCEEDED;
}

static void *worker_main(void *arg) {
  e2e_t *e = arg;
  char err[512];
  if (strata_worker_run(e->worker, err, sizeof(err)))
    fprintf(stderr, "strata-bench e2e: worker: %s\n", err);
  return NULL;
}

static int start_worker(e2e_t *e, const strata_config_t *cfg, char *err,
                        size_t size) {
  if (!(e->worker = strata_worker_new(cfg, err, size)) ||
      strata_worker_register(e->worker, "*", noop_handler, NULL)) {
    if (e->worker)
      snprintf(err, size, "registering the no-op handler failed");
    return -1;
  }
  if (pthread_create(&e->worker_thread, NULL, worker_main, e)) {
    snprintf(err, size, "starting the worker thread failed");
    return -1;
  }
  e->worker_started = true;
  return 0;
}

static uint64_t worker_succeeded(const e2e_t *e) {
  strata_worker_stats_t st;
  if (!e->worker)
    return 0;
  strata_worker_stats(e->worker, &st);
  return st.succeeded;
}

static void stop_worker(e2e_t *e) {
  if (e->worker_started) {
    strata_worker_stop(e->worker);
    pthread_join(e->worker_thread, NULL);
    e->worker_started = false;
  }
  strata_worker_destroy(e->worker);
  e->worker = NULL;
}

/* ---- the watcher ---------------------------------------------------------*/

static int tier_index(char *const *tiers, int ntiers, const char *tier) {
  for (int i = 0; tier && i < ntiers; i++)
    if (!strcmp(tiers[i], tier))
      return i;
  return -1;
}

/* Takes a latency sample from a dispatch record of the latency phase. */
static void watcher_sample(watcher_t *w, const rd_kafka_message_t *m,
                           strata_mono_us_t seen) {
  strata_task_t t;
  char err[256];
  const char *t0 = NULL, *phase = NULL;
  int tier;

  strata_task_init(&t);
  if (strata_task_decode(m->payload, m->len, &t, err, sizeof(err))) {
    strata_task_clear(&t);
    return;
  }
  for (size_t i = 0; i < t.headers_count; i++) {
    if (!strcmp(t.headers[i].key, HDR_T0))
      t0 = t.headers[i].value;
    else if (!strcmp(t.headers[i].key, HDR_PHASE))
      phase = t.headers[i].value;
  }
  tier = tier_index(w->tiers, w->ntiers, t.tier);
  if (t0 && phase && !strcmp(phase, "l") && tier >= 0) {
    pthread_mutex_lock(&w->lock);
    int64_t submit_us = strtoll(t0, NULL, 10);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    int64_t now_ms = strata_epoch_now_ms();
    bench_samples_push(&w->lat[tier], seen - submit_us);
    if (ts > 0) {
      bench_samples_push(&w->to_produce, (ts - t.created_ms) * 1000);
      bench_samples_push(&w->to_visible, (now_ms - ts) * 1000);
    }
    if (w->trace) {
      if (w->nrows == w->caprows) {
        size_t cap = w->caprows ? 2 * w->caprows : 4096;
        struct trace_row *r = realloc(w->rows, cap * sizeof(*r));
        if (!r) {
          fprintf(stderr, "strata-bench e2e: out of memory\n");
          exit(1);
        }
        w->rows = r;
        w->caprows = cap;
      }
      w->rows[w->nrows++] =
          (struct trace_row){.submit_us = submit_us,
                             .total_us = seen - submit_us,
                             .created_ms = ts > 0 ? ts - t.created_ms : -1,
                             .visible_ms = ts > 0 ? now_ms - ts : -1,
                             .tier = tier};
    }
    pthread_mutex_unlock(&w->lock);
  }
  strata_task_clear(&t);
}

static void *watcher_main(void *arg) {
  watcher_t *w = arg;
  while (!atomic_load(&w->stop)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 100);
    strata_mono_us_t now;
    uint64_t c;
    if (!m)
      continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        fprintf(stderr, "strata-bench e2e: watcher: %s\n",
                rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    now = strata_mono_now_us();
    c = atomic_fetch_add(&w->count, 1) + 1;
    if (c >= atomic_load(&w->target) && atomic_load(&w->reached_us) == 0)
      atomic_store(&w->reached_us, now);
    if (atomic_load(&w->measure))
      watcher_sample(w, m, now);
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

static int watcher_start(watcher_t *w, const strata_config_t *cfg,
                         const char *topic, int nparts, const char *group,
                         char *const *tiers, int ntiers, char *err,
                         size_t size) {
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

  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->lock, NULL);
  w->inited = true;
  w->tiers = tiers;
  w->ntiers = ntiers;
  atomic_store(&w->target, UINT64_MAX);
  if (!(conf =
            strata_kafka_conf_new(cfg, "bench-watcher", defaults, err, size)))
    return -1;
  if (!(w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, size))) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  l = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++)
    rd_kafka_topic_partition_list_add(l, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(w->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (pthread_create(&w->thread, NULL, watcher_main, w)) {
    snprintf(err, size, "starting the watcher thread failed");
    return -1;
  }
  w->started = true;
  return 0;
}

/* From now on, reached_us is set when `target` records have been seen. */
static void watcher_arm(watcher_t *w, uint64_t target) {
  atomic_store(&w->reached_us, 0);
  atomic_store(&w->target, target);
  if (atomic_load(&w->count) >= target)
    atomic_store(&w->reached_us, strata_mono_now_us());
}

static void watcher_stop(watcher_t *w) {
  if (w->started) {
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    w->started = false;
  }
  if (w->rk) {
    rd_kafka_consumer_close(w->rk);
    rd_kafka_destroy(w->rk);
    w->rk = NULL;
  }
}

/* Frees the samples; after watcher_stop(). */
static void watcher_free(watcher_t *w) {
  for (int i = 0; i < MAX_TIERS; i++)
    bench_samples_free(&w->lat[i]);
  bench_samples_free(&w->to_produce);
  bench_samples_free(&w->to_visible);
  free(w->rows);
  w->rows = NULL;
  w->nrows = w->caprows = 0;
  if (w->inited)
    pthread_mutex_destroy(&w->lock);
  w->inited = false;
}

/*
 * Waits until the watcher has seen `target` records (and, when `succeeded`
 * is non-zero, the worker has written that many SUCCEEDED events, whose time
 * goes to *succ_us). Returns 0, or -1 on timeout, a stop or a dead scheduler.
 */
static int wait_for(e2e_t *e, watcher_t *w, uint64_t target, uint64_t succeeded,
                    strata_mono_us_t *succ_us, double timeout_s,
                    const char *what) {
  strata_mono_us_t deadline =
      strata_mono_now_us() + (strata_mono_us_t)(timeout_s * 1e6);
  bool need_sched = e->sched.pid > 0;
  while (!g_stop) {
    strata_mono_us_t now = strata_mono_now_us();
    bool seen = atomic_load(&w->count) >= target;
    if (succeeded && succ_us && *succ_us == 0 &&
        worker_succeeded(e) >= succeeded)
      *succ_us = now;
    if (seen && (!succeeded || (succ_us && *succ_us)))
      return 0;
    if (now > deadline) {
      fprintf(stderr,
              "strata-bench e2e: timed out after %.0f s waiting for %s: "
              "%" PRIu64 "/%" PRIu64 " records seen, %" PRIu64 "/%" PRIu64
              " succeeded\n",
              timeout_s, what, (uint64_t)atomic_load(&w->count), target,
              worker_succeeded(e), succeeded);
      return -1;
    }
    if (need_sched && !bench_sched_alive(&e->sched, "strata-bench e2e"))
      return -1;
    bench_sleep_us(1000);
  }
  return -1;
}

/* ---- submitting ---------------------------------------------------------*/

static void on_delivery(const char *task_id, strata_err_t err,
                        const char *errstr, void *opaque) {
  e2e_t *e = opaque;
  if (err) {
    if (atomic_fetch_add(&e->delivery_failures, 1) == 0)
      fprintf(stderr, "strata-bench e2e: task %s not delivered: %s\n", task_id,
              errstr);
  }
}

/* A no-op task of `tier` stamped with the current monotonic time. */
static int build_task(strata_task_t *t, const char *tier, const char *phase) {
  char t0[32];
  strata_task_init(t);
  snprintf(t0, sizeof(t0), "%" PRId64, strata_mono_now_us());
  if (!(t->tier = strdup(tier)) || !(t->type = strdup("noop")) ||
      strata_task_add_header(t, HDR_PHASE, phase) ||
      strata_task_add_header(t, HDR_T0, t0))
    return -1;
  return 0;
}

static int submit_one(e2e_t *e, strata_producer_t *p, const char *tier,
                      const char *phase) {
  strata_task_t t;
  char err[512];
  strata_err_t rc;

  if (build_task(&t, tier, phase)) {
    strata_task_clear(&t);
    fprintf(stderr, "strata-bench e2e: out of memory\n");
    return -1;
  }
  while ((rc = strata_producer_submit(p, &t, on_delivery, e, err,
                                      sizeof(err))) == STRATA_ERR_FULL)
    strata_producer_poll(p, 1);
  strata_task_clear(&t);
  if (rc) {
    fprintf(stderr, "strata-bench e2e: submit: %s\n", err);
    return -1;
  }
  strata_producer_poll(p, 0);
  return 0;
}

/* ---- the relay -----------------------------------------------------------*/

static int relay_commit(relay_t *r, rd_kafka_message_t **msgs, int n) {
  rd_kafka_topic_partition_list_t *offsets =
      rd_kafka_topic_partition_list_new(r->nparts);
  txn_result_t res;

  for (int i = 0; i < n; i++) {
    rd_kafka_message_t *m = msgs[i];
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(offsets, r->in_topic, m->partition);
    if (!tp)
      tp =
          rd_kafka_topic_partition_list_add(offsets, r->in_topic, m->partition);
    if (m->offset + 1 > tp->offset)
      tp->offset = m->offset + 1;
    r->recs[i] = (txn_record_t){.topic = r->out_topic,
                                .partition = m->partition,
                                .key = m->key,
                                .keylen = m->key_len,
                                .value = m->payload,
                                .len = m->len};
  }
  /* The scheduler's step (offsets first, then the records). A benchmark
   * does not recover: any result but TXN_OK ends the phase. */
  res = txn_commit(r->tx, r->in, offsets, r->recs, (size_t)n, RELAY_TXN_MS,
                   r->err, sizeof(r->err));
  rd_kafka_topic_partition_list_destroy(offsets);
  if (res != TXN_OK)
    return -1;
  r->turns++;
  r->relayed += (uint64_t)n;
  return 0;
}

/* The scheduler's turn without its work: take up to `batch` records without
 * waiting, write them in one transaction; when there were none, block on the
 * consumer for one tick, as the scheduler does when idle. */
static void *relay_main(void *arg) {
  relay_t *r = arg;
  rd_kafka_message_t **msgs = calloc((size_t)r->batch + 1, sizeof(*msgs));
  int n = 0;

  r->recs = calloc((size_t)r->batch + 1, sizeof(*r->recs));
  if (!msgs || !r->recs) {
    free(msgs);
    snprintf(r->err, sizeof(r->err), "out of memory");
    atomic_store(&r->failed, true);
    return NULL;
  }
  while (!atomic_load(&r->stop)) {
    while (n < r->batch) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(r->in, 0);
      if (!m)
        break;
      if (m->err) {
        rd_kafka_message_destroy(m);
        continue;
      }
      msgs[n++] = m;
    }
    if (n == 0) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll(r->in, SCHED_TICK_MS);
      if (m && !m->err)
        msgs[n++] = m; /* written next turn, as the scheduler does */
      else if (m)
        rd_kafka_message_destroy(m);
      continue;
    }
    if (relay_commit(r, msgs, n)) {
      atomic_store(&r->failed, true);
      break;
    }
    for (int i = 0; i < n; i++)
      rd_kafka_message_destroy(msgs[i]);
    n = 0;
  }
  for (int i = 0; i < n; i++)
    rd_kafka_message_destroy(msgs[i]);
  free(msgs);
  return NULL;
}

static int relay_start(relay_t *r, const strata_config_t *cfg,
                       const char *prefix, int nparts, int batch, char *err,
                       size_t size) {
  char group[256], txid[256], inst[256];
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *l;

  memset(r, 0, sizeof(*r));
  r->nparts = nparts;
  r->batch = batch;
  snprintf(r->in_topic, sizeof(r->in_topic), "%stasks.relay", prefix);
  snprintf(r->out_topic, sizeof(r->out_topic), "%sdispatch", prefix);
  snprintf(group, sizeof(group), "%srelay", prefix);
  snprintf(txid, sizeof(txid), "%srelay-tx", prefix);
  snprintf(inst, sizeof(inst), "%srelay-inst", prefix);
  {
    /* Exactly the scheduler's tier consumer and transactional producer
     * settings (scheduler/daemon/sched_kafka.h). */
    const char *const in_defaults[] = {"group.id",
                                       group,
                                       "group.instance.id",
                                       inst,
                                       STRATA_SCHED_CONSUMER_SETTINGS,
                                       NULL};
    const char *const tx_defaults[] = {"transactional.id", txid,
                                       STRATA_SCHED_TX_SETTINGS, NULL};
    if (!(conf = strata_kafka_conf_new(cfg, "bench-relay-tx", tx_defaults, err,
                                       size)))
      return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, strata_sched_tx_delivered);
    if (!(r->tx = txn_producer_new(conf, RELAY_TXN_MS, err, size)))
      return -1;
    if (!(conf = strata_kafka_conf_new(cfg, "bench-relay", in_defaults, err,
                                       size)))
      return -1;
    if (!(r->in = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, size))) {
      rd_kafka_conf_destroy(conf);
      return -1;
    }
  }
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, r->in_topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(r->in, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (pthread_create(&r->thread, NULL, relay_main, r)) {
    snprintf(err, size, "starting the relay thread failed");
    return -1;
  }
  r->started = true;
  return 0;
}

static void relay_stop(relay_t *r) {
  if (r->started) {
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    r->started = false;
  }
  if (r->in) {
    rd_kafka_consumer_close(r->in);
    rd_kafka_destroy(r->in);
  }
  if (r->tx)
    rd_kafka_destroy(r->tx);
  r->in = r->tx = NULL;
  free(r->recs);
  r->recs = NULL;
}

/* The relay's input: the same task records strata_producer writes (encoded
 * the same way, same headers), from the same kind of idempotent producer. */
static int relay_produce(e2e_t *e, rd_kafka_t *rk, const char *topic,
                         const char *tier, const char *phase) {
  strata_task_t t;
  char id[37], err[256];
  void *buf = NULL;
  size_t len = 0;
  rd_kafka_resp_err_t kerr;

  if (build_task(&t, tier, phase))
    goto oom;
  strata_task_id_generate(id);
  if (!(t.id = strdup(id)))
    goto oom;
  t.created_ms = t.enqueued_ms = strata_epoch_now_ms();
  t.attempt = 1;
  if (strata_task_encode(&t, &buf, &len, err, sizeof(err))) {
    fprintf(stderr, "strata-bench e2e: encode: %s\n", err);
    strata_task_clear(&t);
    return -1;
  }
  strata_task_clear(&t);
  for (;;) {
    kerr = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(id, strlen(id)),
        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_OPAQUE(e), RD_KAFKA_V_END);
    if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      break;
    rd_kafka_poll(rk, 1);
  }
  if (kerr) {
    free(buf);
    fprintf(stderr, "strata-bench e2e: producing to %s: %s\n", topic,
            rd_kafka_err2str(kerr));
    return -1;
  }
  rd_kafka_poll(rk, 0);
  return 0;
oom:
  strata_task_clear(&t);
  fprintf(stderr, "strata-bench e2e: out of memory\n");
  return -1;
}

static void relay_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
                     void *opaque) {
  e2e_t *e = opaque;
  (void)rk;
  if (m->err && atomic_fetch_add(&e->delivery_failures, 1) == 0)
    fprintf(stderr, "strata-bench e2e: relay input not delivered: %s\n",
            rd_kafka_err2str(m->err));
}

/* ---- results -------------------------------------------------------------*/

typedef struct {
  double tasks_per_sec, submit_per_sec, completed_per_sec, relay_per_sec;
  double sched_cpu_s, bench_cpu_s, thr_elapsed_s;
  double lat_rate, lat_elapsed_s;
  uint64_t lat_tasks;
  strata_mono_us_t lat_start_us;
  double settle_s; /* idle wait before the latency phase */
  uint64_t relay_turns;
  double relay_elapsed_s;
  /* The relay at the latency phase's rate: the floor Kafka transactions
   * set here, all tiers together. */
  uint64_t relay_lat_n;
  double relay_p50_ms, relay_p99_ms, relay_max_ms;
} results_t;

static double process_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Busy and total CPU time of the whole machine from /proc/stat, in ticks;
 * -1 when it cannot be read. */
static int machine_cpu(unsigned long long *busy, unsigned long long *total) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  int n;
  if (!f)
    return -1;
  n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 5)
    return -1;
  *total = 0;
  for (int i = 0; i < 8; i++)
    *total += v[i];
  *busy = *total - v[3] - v[4]; /* minus idle and iowait */
  return 0;
}

/*
 * Waits until the machine is idle (under SETTLE_IDLE of its CPU time busy
 * over a SETTLE_WINDOW_US window), at most `max_s` seconds. The throughput
 * phase leaves work behind (the scheduler reads three events per task, the
 * worker commits, the broker writes markers and offsets), and a latency
 * phase started on top of it measures that backlog, not the rate it runs
 * at. The whole machine is watched, not the scheduler alone: a local
 * broker's backlog outlasts the clients'. Returns the seconds waited, or -1
 * when the scheduler died.
 */
#define SETTLE_WINDOW_US 250000
#define SETTLE_IDLE 0.05
static double settle(e2e_t *e, double max_s) {
  strata_mono_us_t t0 = strata_mono_now_us();
  strata_mono_us_t end = t0 + (strata_mono_us_t)(max_s * 1e6);
  unsigned long long b0, t0_ticks, b1, t1_ticks;
  if (machine_cpu(&b0, &t0_ticks))
    return 0;
  while (!g_stop && strata_mono_now_us() < end) {
    bench_sleep_us(SETTLE_WINDOW_US);
    if (!bench_sched_alive(&e->sched, "strata-bench e2e"))
      return -1;
    if (machine_cpu(&b1, &t1_ticks))
      break;
    if (t1_ticks > t0_ticks &&
        (double)(b1 - b0) < SETTLE_IDLE * (double)(t1_ticks - t0_ticks))
      break;
    b0 = b1;
    t0_ticks = t1_ticks;
  }
  return (double)(strata_mono_now_us() - t0) / 1e6;
}

/* ---- phases ---------------------------------------------------------------*/

static int pipeline_phases(e2e_t *e, strata_config_t *cfg, watcher_t *w,
                           results_t *res) {
  strata_producer_t *p = NULL;
  char err[512];
  uint64_t warm = (uint64_t)e->ntiers, base, nlat = 0;
  strata_mono_us_t t_start, t_sent, t_succ = 0, t_lat;
  double sched_cpu0, bench_cpu0;
  int rc = -1;

  if (!(p = strata_producer_new(cfg, err, sizeof(err)))) {
    fprintf(stderr, "strata-bench e2e: producer: %s\n", err);
    return -1;
  }
  /* Warm-up: one task per tier through scheduler and worker, so group joins
   * and metadata lookups are not part of the timed phase. */
  for (int i = 0; i < e->ntiers; i++)
    if (submit_one(e, p, e->tiers[i], "w"))
      goto done;
  strata_producer_flush(p, 10000);
  if (wait_for(e, w, warm, warm, &t_succ, 90, "the warm-up tasks"))
    goto done;
  base = atomic_load(&w->count);
  fprintf(stderr, "strata-bench e2e: pipeline warm; throughput phase\n");

  /* Throughput. */
  watcher_arm(w, base + e->tasks);
  sched_cpu0 = proc_cpu_s(e->sched.pid);
  bench_cpu0 = process_cpu_s();
  t_succ = 0;
  t_start = strata_mono_now_us();
  for (uint64_t i = 0; i < e->tasks && !g_stop; i++)
    if (submit_one(e, p, e->tiers[i % (uint64_t)e->ntiers], "t"))
      goto done;
  if (strata_producer_flush(p, 60000)) {
    fprintf(stderr, "strata-bench e2e: submissions not acknowledged\n");
    goto done;
  }
  t_sent = strata_mono_now_us();
  if (wait_for(e, w, base + e->tasks, warm + e->tasks, &t_succ, 150,
               "the throughput phase"))
    goto done;
  res->thr_elapsed_s = (double)(atomic_load(&w->reached_us) - t_start) / 1e6;
  res->tasks_per_sec = (double)e->tasks / res->thr_elapsed_s;
  res->submit_per_sec = (double)e->tasks / ((double)(t_sent - t_start) / 1e6);
  res->completed_per_sec =
      (double)e->tasks / ((double)(t_succ - t_start) / 1e6);
  res->sched_cpu_s = proc_cpu_s(e->sched.pid) - sched_cpu0;
  res->bench_cpu_s = process_cpu_s() - bench_cpu0;
  fprintf(stderr,
          "strata-bench e2e: %.0f tasks/s dispatched; latency phase at "
          "%.0f tasks/s for %.0f s\n",
          res->tasks_per_sec,
          e->rate > 0 ? e->rate : res->tasks_per_sec * e->fraction, e->seconds);

  if ((res->settle_s = settle(e, e->settle)) < 0)
    goto done;
  /* Latency: open loop at a fraction of the sustained rate. */
  base = atomic_load(&w->count);
  res->lat_rate = e->rate > 0 ? e->rate : res->tasks_per_sec * e->fraction;
  pthread_mutex_lock(&w->lock);
  w->trace = e->trace_path != NULL;
  pthread_mutex_unlock(&w->lock);
  atomic_store(&w->measure, true);
  t_lat = strata_mono_now_us();
  res->lat_start_us = t_lat;
  {
    double period_us = 1e6 / res->lat_rate;
    strata_mono_us_t end = t_lat + (strata_mono_us_t)(e->seconds * 1e6);
    for (;;) {
      strata_mono_us_t due =
          t_lat + (strata_mono_us_t)((double)nlat * period_us);
      if (due >= end || g_stop)
        break;
      if (strata_mono_now_us() < due)
        bench_sleep_until_us(due, &g_stop);
      if (submit_one(e, p, e->tiers[nlat % (uint64_t)e->ntiers], "l"))
        goto done;
      nlat++;
    }
  }
  res->lat_elapsed_s = (double)(strata_mono_now_us() - t_lat) / 1e6;
  res->lat_tasks = nlat;
  strata_producer_flush(p, 30000);
  if (wait_for(e, w, base + nlat, 0, NULL, 60, "the latency phase"))
    goto done;
  atomic_store(&w->measure, false);
  rc = 0;
done:
  strata_producer_destroy(p);
  return rc;
}

static int relay_phase(e2e_t *e, results_t *res) {
  char prefix[160], err[512];
  strata_config_t *cfg = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *prod = NULL;
  relay_t r;
  watcher_t w;
  uint64_t warm = 4, base;
  strata_mono_us_t t_start;
  char in_topic[256];
  int rc = -1;
  bool topics = false;
  const char *const prod_defaults[] = {
      "enable.idempotence", "true", "partitioner", "murmur2_random",
      "linger.ms",          "5",    NULL};

  memset(&r, 0, sizeof(r));
  memset(&w, 0, sizeof(w));
  snprintf(prefix, sizeof(prefix), "%srelay.", e->prefix);
  snprintf(in_topic, sizeof(in_topic), "%stasks.relay", prefix);
  if (!(cfg = make_cfg(e, prefix, "relay", err, sizeof(err))) ||
      bench_topics(cfg, true, "strata-bench e2e", err, sizeof(err)))
    goto fail;
  topics = true;
  if (relay_start(&r, cfg, prefix, e->partitions, e->batch, err, sizeof(err)))
    goto fail;
  {
    char group[256], out_topic[256];
    snprintf(group, sizeof(group), "%swatch", prefix);
    snprintf(out_topic, sizeof(out_topic), "%sdispatch", prefix);
    if (watcher_start(&w, cfg, out_topic, e->partitions, group, e->tiers,
                      e->ntiers, err, sizeof(err)))
      goto fail;
  }
  /* Same settings as strata_producer's (producer/producer.c). */
  if (!(conf = strata_kafka_conf_new(cfg, "bench-relay-input", prod_defaults,
                                     err, sizeof(err))))
    goto fail;
  rd_kafka_conf_set_dr_msg_cb(conf, relay_dr);
  if (!(prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    goto fail;
  }

  for (uint64_t i = 0; i < warm; i++)
    if (relay_produce(e, prod, in_topic, e->tiers[i % (uint64_t)e->ntiers],
                      "w"))
      goto done;
  rd_kafka_flush(prod, 10000);
  if (wait_for(e, &w, warm, 0, NULL, 60, "the relay warm-up"))
    goto done;
  base = atomic_load(&w.count);
  fprintf(stderr, "strata-bench e2e: relay warm; relay phase\n");
  watcher_arm(&w, base + e->tasks);
  t_start = strata_mono_now_us();
  for (uint64_t i = 0; i < e->tasks && !g_stop; i++)
    if (relay_produce(e, prod, in_topic, e->tiers[i % (uint64_t)e->ntiers],
                      "t"))
      goto done;
  rd_kafka_flush(prod, 60000);
  if (wait_for(e, &w, base + e->tasks, 0, NULL, 150, "the relay phase"))
    goto done;
  res->relay_elapsed_s = (double)(atomic_load(&w.reached_us) - t_start) / 1e6;
  res->relay_per_sec = (double)e->tasks / res->relay_elapsed_s;
  res->relay_turns = r.turns;

  /* Latency through the relay at the pipeline's latency-phase rate. */
  if (res->lat_rate > 0) {
    double period_us = 1e6 / res->lat_rate;
    strata_mono_us_t t0 = strata_mono_now_us();
    strata_mono_us_t end = t0 + (strata_mono_us_t)(e->seconds * 1e6);
    bench_samples_t all = {0};
    uint64_t n = 0;
    base = atomic_load(&w.count);
    atomic_store(&w.measure, true);
    for (;;) {
      strata_mono_us_t due = t0 + (strata_mono_us_t)((double)n * period_us);
      if (due >= end || g_stop)
        break;
      if (strata_mono_now_us() < due)
        bench_sleep_until_us(due, &g_stop);
      if (relay_produce(e, prod, in_topic, e->tiers[n % (uint64_t)e->ntiers],
                        "l"))
        goto done;
      n++;
    }
    rd_kafka_flush(prod, 30000);
    if (wait_for(e, &w, base + n, 0, NULL, 60, "the relay latency phase"))
      goto done;
    atomic_store(&w.measure, false);
    pthread_mutex_lock(&w.lock);
    for (int i = 0; i < e->ntiers; i++)
      for (size_t k = 0; k < w.lat[i].n; k++)
        bench_samples_push(&all, w.lat[i].v[k]);
    pthread_mutex_unlock(&w.lock);
    bench_samples_sort(&all);
    res->relay_lat_n = all.n;
    res->relay_p50_ms = bench_samples_pct_ms(&all, 0.5);
    res->relay_p99_ms = bench_samples_pct_ms(&all, 0.99);
    res->relay_max_ms = bench_samples_pct_ms(&all, 1.0);
    bench_samples_free(&all);
  }
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "strata-bench e2e: relay: %s\n", err);
done:
  if (atomic_load(&r.failed))
    fprintf(stderr, "strata-bench e2e: relay: %s\n", r.err);
  relay_stop(&r);
  if (r.turns)
    res->relay_turns = r.turns;
  watcher_stop(&w);
  watcher_free(&w);
  if (prod)
    rd_kafka_destroy(prod);
  if (topics)
    bench_topics(cfg, false, "strata-bench e2e", err, sizeof(err));
  strata_config_destroy(cfg);
  return rc;
}

/* ---- report -------------------------------------------------------------*/

/* --trace: the latency phase's samples as CSV, in the order seen. */
static int write_trace(const e2e_t *e, const watcher_t *w,
                       const results_t *res) {
  FILE *f = fopen(e->trace_path, "w");
  if (!f) {
    fprintf(stderr, "strata-bench e2e: --trace %s: %s\n", e->trace_path,
            strerror(errno));
    return -1;
  }
  fprintf(f, "submit_ms,tier,total_ms,to_created_ms,to_visible_ms\n");
  for (size_t i = 0; i < w->nrows; i++) {
    const struct trace_row *r = &w->rows[i];
    fprintf(f, "%.3f,%s,%.3f,%" PRId64 ",%" PRId64 "\n",
            (double)(r->submit_us - res->lat_start_us) / 1e3, e->tiers[r->tier],
            (double)r->total_us / 1e3, r->created_ms, r->visible_ms);
  }
  if (fclose(f)) {
    fprintf(stderr, "strata-bench e2e: --trace %s: %s\n", e->trace_path,
            strerror(errno));
    return -1;
  }
  return 0;
}

static void report(const e2e_t *e, watcher_t *w, const results_t *res) {
  double ratio =
      res->relay_per_sec > 0 ? res->tasks_per_sec / res->relay_per_sec : 0;
  int ci = tier_index(e->tiers, e->ntiers, "critical");
  double crit_p99;

  for (int i = 0; i < e->ntiers; i++)
    bench_samples_sort(&w->lat[i]);
  crit_p99 = ci >= 0 ? bench_samples_pct_ms(&w->lat[ci], 0.99) : -1;

  printf("strata-bench e2e: %" PRIu64 " tasks, %d tiers x %d partitions, "
         "scheduler.batch %d, broker %s, prefix %s\n",
         e->tasks, e->ntiers, e->partitions, e->batch, e->bootstrap, e->prefix);
  printf("  throughput (submit -> dispatch committed): %.0f tasks/s "
         "(%.2f s; submit alone %.0f/s)\n",
         res->tasks_per_sec, res->thr_elapsed_s, res->submit_per_sec);
  printf("  completion (submit -> SUCCEEDED written):  %.0f tasks/s\n",
         res->completed_per_sec);
  printf("  CPU during the throughput phase: scheduler %.2f s (%.0f %% of one "
         "core), bench process (producer, worker, watcher) %.2f s\n",
         res->sched_cpu_s, 100.0 * res->sched_cpu_s / res->thr_elapsed_s,
         res->bench_cpu_s);
  printf("  relay (consume -> transactional produce):  %.0f records/s "
         "(%.2f s, %" PRIu64 " transactions)\n",
         res->relay_per_sec, res->relay_elapsed_s, res->relay_turns);
  printf("  ratio %.3f (target >= 0.3: %s)\n", ratio,
         ratio >= 0.3 ? "met" : "NOT met");
  printf("  latency submit -> dispatch visible (read_committed), %" PRIu64
         " tasks at %.0f/s over %.1f s, after %.1f s for the machine to "
         "settle:\n",
         res->lat_tasks, res->lat_rate, res->lat_elapsed_s, res->settle_s);
  for (int i = 0; i < e->ntiers; i++)
    printf("    %-11s n=%-6zu p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
           e->tiers[i], w->lat[i].n, bench_samples_pct_ms(&w->lat[i], 0.5),
           bench_samples_pct_ms(&w->lat[i], 0.99),
           bench_samples_pct_ms(&w->lat[i], 1.0));
  bench_samples_sort(&w->to_produce);
  bench_samples_sort(&w->to_visible);
  printf("    stages, all tiers: submit -> dispatch record created p50 %.0f "
         "p99 %.0f ms; created -> visible p50 %.0f p99 %.0f ms\n",
         bench_samples_pct_ms(&w->to_produce, 0.5),
         bench_samples_pct_ms(&w->to_produce, 0.99),
         bench_samples_pct_ms(&w->to_visible, 0.5),
         bench_samples_pct_ms(&w->to_visible, 0.99));
  printf("  relay latency at the same rate (all tiers, n=%" PRIu64
         "): p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
         res->relay_lat_n, res->relay_p50_ms, res->relay_p99_ms,
         res->relay_max_ms);
  printf("  critical p99 %.2f ms (target <= 15 ms: %s)\n", crit_p99,
         crit_p99 >= 0 && crit_p99 <= 15 ? "met" : "NOT met");
  printf("  scheduler log: %s\n", e->sched.log);

  printf("{\"bench\":\"e2e\",\"tasks_per_sec\":%.0f,\"relay_per_sec\":%.0f,"
         "\"ratio\":%.3f,\"p99_ms\":{",
         res->tasks_per_sec, res->relay_per_sec, ratio);
  for (int i = 0; i < e->ntiers; i++)
    printf("%s\"%s\":%.2f", i ? "," : "", e->tiers[i],
           bench_samples_pct_ms(&w->lat[i], 0.99));
  printf("},\"p50_ms\":{");
  for (int i = 0; i < e->ntiers; i++)
    printf("%s\"%s\":%.2f", i ? "," : "", e->tiers[i],
           bench_samples_pct_ms(&w->lat[i], 0.5));
  printf("}}\n");
  fflush(stdout);
}

int bench_e2e_main(int argc, char **argv) {
  e2e_t e;
  strata_config_t *cfg = NULL;
  watcher_t w;
  results_t res;
  struct sigaction sa;
  char err[512], dispatch[256], group[256];
  int rc = 1;
  bool topics = false;

  memset(&e, 0, sizeof(e));
  memset(&w, 0, sizeof(w));
  memset(&res, 0, sizeof(res));
  if (parse_opts(&e, argc, argv))
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
    fprintf(stderr, "strata-bench e2e: %s\n", err);
    return 1;
  }
  {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(e.prefix, sizeof(e.prefix), "bench-e2e-%d-%lx.", (int)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
  }
  if (!(cfg = make_cfg(&e, e.prefix, NULL, err, sizeof(err)))) {
    fprintf(stderr, "strata-bench e2e: %s\n", err);
    return 2;
  }
  e.ntiers = strata_config_get_list(cfg, "tiers", e.tiers, MAX_TIERS);
  e.batch = (int)strata_config_get_int(cfg, "scheduler.batch");
  for (int i = 0; i < e.nsched_sets; i++)
    if (!strncmp(e.sched_sets[i], "scheduler.batch=", 16))
      e.batch = atoi(e.sched_sets[i] + 16);
  if (e.ntiers < 1 || e.batch < 1) {
    fprintf(stderr, "strata-bench e2e: bad tiers or scheduler.batch\n");
    goto done;
  }
  if (bench_topics(cfg, true, "strata-bench e2e", err, sizeof(err))) {
    fprintf(stderr, "strata-bench e2e: topics on %s: %s\n", e.bootstrap, err);
    goto done;
  }
  topics = true;
  {
    /* The run's batch first, so a --scheduler-set of it wins. */
    char batch[64], *sets[1 + MAX_SETS];
    snprintf(batch, sizeof(batch), "scheduler.batch=%d", e.batch);
    sets[0] = batch;
    for (int i = 0; i < e.nsched_sets; i++)
      sets[1 + i] = e.sched_sets[i];
    if (bench_sched_spawn(&e.sched, e.bindir, e.bootstrap, e.prefix,
                          e.partitions, sets, 1 + e.nsched_sets, err,
                          sizeof(err)))
      e.sched.pid = 0;
  }
  if (e.sched.pid <= 0 || start_worker(&e, cfg, err, sizeof(err))) {
    fprintf(stderr, "strata-bench e2e: %s\n", err);
    goto done;
  }
  snprintf(dispatch, sizeof(dispatch), "%sdispatch", e.prefix);
  snprintf(group, sizeof(group), "%swatch", e.prefix);
  if (watcher_start(&w, cfg, dispatch, e.partitions, group, e.tiers, e.ntiers,
                    err, sizeof(err))) {
    fprintf(stderr, "strata-bench e2e: %s\n", err);
    goto done;
  }
  if (pipeline_phases(&e, cfg, &w, &res))
    goto done;
  /* The relay gets the machine to itself, as the pipeline had. */
  watcher_stop(&w);
  stop_worker(&e);
  bench_sched_stop(&e.sched);
  if (relay_phase(&e, &res))
    goto done;
  if (atomic_load(&e.delivery_failures))
    fprintf(stderr, "strata-bench e2e: %" PRIu64 " submissions failed\n",
            (uint64_t)atomic_load(&e.delivery_failures));
  report(&e, &w, &res);
  rc = e.trace_path && write_trace(&e, &w, &res) ? 1 : 0;
done:
  stop_worker(&e);
  bench_sched_stop(&e.sched);
  watcher_stop(&w);
  watcher_free(&w);
  if (topics)
    bench_topics(cfg, false, "strata-bench e2e", err, sizeof(err));
  strata_config_destroy(cfg);
  for (int i = 0; i < e.ntiers; i++)
    free(e.tiers[i]);
  return rc;
}
