/*
 * `strata-bench txn`: the floor that Kafka transactions set on a broker.
 *
 * One transactional producer with strata-scheduler's own settings runs
 * transactions one after the other through txn_commit() (common/kafka_txn.c),
 * the step the scheduler and the worker run: consumer offsets first, then
 * --records records spread over the partitions of a fresh topic, then the
 * commit. A read_committed consumer on the topic (fetch.wait.max.ms 10, as
 * the e2e watcher) timestamps every record it sees. Reported: the cycle (the
 * whole step), the commit call alone, and each record's time from the start
 * of the step (a turn builds its records before its transaction begins) to
 * visible to read_committed consumers, which is what a dispatch can never
 * beat: a worker sees a dispatch record only after the transaction that
 * wrote it has committed and its markers are written.
 *
 * --interval-ms I starts a cycle every I ms (a scheduler at a low rate);
 * 0 (the default) runs them back to back (a loaded one). The topic is
 * deleted at the end. The last stdout line is JSON.
 */
#include "bench.h"
#include "kafka_txn.h"
#include "sched_kafka.h"

#include "strata/time.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bound on every blocking Kafka call: a broker problem ends the run with an
 * error instead of a hang. */
#define TXN_TIMEOUT_MS 30000

typedef struct {
  const char *bootstrap;
  int cycles, partitions, records;
  double interval_ms;
  char topic[128], group[160];
  rd_kafka_t *tx, *cons;
  txn_record_t *recs; /* [records], refilled each cycle */
  pthread_t thread;
  bool started, created;
  atomic_bool stop;
  atomic_uint_fast64_t seen;
  pthread_mutex_t lock;
  bench_samples_t cycle, commit, visible; /* µs */
} txn_bench_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(FILE *f) {
  fprintf(f, "usage: strata-bench txn --bootstrap HOST:PORT [options]\n\n"
             "Serial Kafka transactions shaped like a scheduler turn, with "
             "strata-scheduler's\nproducer settings, and the time until a "
             "read_committed consumer sees each record.\n\n"
             "  --bootstrap B       broker address (required; a real broker)\n"
             "  --cycles N          transactions to run (default 500)\n"
             "  --records R         records per transaction (default 2)\n"
             "  --partitions P      partitions of the fresh topic (default 4)\n"
             "  --interval-ms I     start a transaction every I ms; 0: back to "
             "back (default)\n"
             "  --help              this text\n\n"
             "The last stdout line is JSON: {\"bench\":\"txn\",\"cycles\":..,"
             "\"cycle_ms\":{\"p50\":..,\"p99\":..},\n\"commit_ms\":{..},"
             "\"visible_ms\":{..}}\n");
}

static int parse_opts(txn_bench_t *b, int argc, char **argv) {
  b->cycles = 500;
  b->records = 2;
  b->partitions = 4;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    long n;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "strata-bench txn: %s needs a value (or is unknown)\n",
              a);
      return -1;
    }
    i++;
    errno = 0;
    if (!strcmp(a, "--bootstrap")) {
      b->bootstrap = v;
      continue;
    }
    if (!strcmp(a, "--interval-ms")) {
      b->interval_ms = strtod(v, &end);
      if (*end || errno || !(b->interval_ms >= 0 && b->interval_ms <= 60000)) {
        fprintf(stderr,
                "strata-bench txn: --interval-ms: \"%s\" is not "
                "allowed (0..60000)\n",
                v);
        return -1;
      }
      continue;
    }
    n = strtol(v, &end, 10);
    if (*end || errno || n < 1 || n > 1000000) {
      fprintf(stderr, "strata-bench txn: %s: \"%s\" is not allowed\n", a, v);
      return -1;
    }
    if (!strcmp(a, "--cycles"))
      b->cycles = (int)n;
    else if (!strcmp(a, "--records"))
      b->records = (int)n;
    else if (!strcmp(a, "--partitions") && n <= 4096)
      b->partitions = (int)n;
    else {
      fprintf(stderr, "strata-bench txn: unknown option \"%s\"\n", a);
      return -1;
    }
  }
  if (!b->bootstrap || !*b->bootstrap) {
    fprintf(stderr, "strata-bench txn: --bootstrap is required (a real "
                    "broker; the embedded one has no transactions)\n");
    return -1;
  }
  return 0;
}

static rd_kafka_conf_t *conf_new(const txn_bench_t *b, const char *const *pairs,
                                 char *err, size_t size) {
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  if (rd_kafka_conf_set(c, "bootstrap.servers", b->bootstrap, err, size)) {
    rd_kafka_conf_destroy(c);
    return NULL;
  }
  for (int i = 0; pairs && pairs[i]; i += 2)
    if (rd_kafka_conf_set(c, pairs[i], pairs[i + 1], err, size)) {
      rd_kafka_conf_destroy(c);
      return NULL;
    }
  return c;
}

/* Creates the bench topic. */
static int create_topic(txn_bench_t *b, char *err, size_t size) {
  rd_kafka_AdminOptions_t *o =
      rd_kafka_AdminOptions_new(b->tx, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_queue_t *q = rd_kafka_queue_new(b->tx);
  rd_kafka_NewTopic_t *nt =
      rd_kafka_NewTopic_new(b->topic, b->partitions, 1, err, size);
  rd_kafka_event_t *ev = NULL;
  int rc = -1;

  rd_kafka_AdminOptions_set_operation_timeout(o, 30000, err, size);
  if (!nt)
    goto done;
  rd_kafka_CreateTopics(b->tx, &nt, 1, o, q);
  if (!(ev = rd_kafka_queue_poll(q, 40000))) {
    snprintf(err, size, "creating %s: timed out", b->topic);
    goto done;
  }
  {
    size_t n = 0;
    const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &n);
    if (rd_kafka_event_error(ev))
      snprintf(err, size, "creating %s: %s", b->topic,
               rd_kafka_event_error_string(ev));
    else if (n == 1 && rd_kafka_topic_result_error(res[0]))
      snprintf(err, size, "creating %s: %s", b->topic,
               rd_kafka_topic_result_error_string(res[0]));
    else
      rc = 0;
  }
done:
  if (ev)
    rd_kafka_event_destroy(ev);
  if (nt)
    rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(o);
  return rc;
}

static void *watch_main(void *arg) {
  txn_bench_t *b = arg;
  while (!atomic_load(&b->stop)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(b->cons, 100);
    strata_mono_us_t now = strata_mono_now_us();
    int64_t t0;
    if (!m)
      continue;
    if (!m->err && m->len == sizeof(t0)) {
      memcpy(&t0, m->payload, sizeof(t0));
      pthread_mutex_lock(&b->lock);
      bench_samples_push(&b->visible, now - t0);
      pthread_mutex_unlock(&b->lock);
      atomic_fetch_add(&b->seen, 1);
    }
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

static int setup(txn_bench_t *b, char *err, size_t size) {
  char txid[160];
  struct timespec ts;
  const char *const tx_pairs[] = {STRATA_SCHED_TX_SETTINGS, NULL};
  const char *cons_pairs[] = {"group.id",
                              b->group,
                              "isolation.level",
                              "read_committed",
                              "fetch.wait.max.ms",
                              "10",
                              "enable.auto.commit",
                              "false",
                              NULL};
  rd_kafka_conf_t *c;
  rd_kafka_resp_err_t kerr;
  rd_kafka_topic_partition_list_t *l;

  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(b->topic, sizeof(b->topic), "bench-txn-%d-%lx", (int)getpid(),
           (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
  snprintf(b->group, sizeof(b->group), "%s-watch", b->topic);
  snprintf(txid, sizeof(txid), "%s-tx", b->topic);
  if (!(c = conf_new(b, tx_pairs, err, size)))
    return -1;
  if (rd_kafka_conf_set(c, "transactional.id", txid, err, size)) {
    rd_kafka_conf_destroy(c);
    return -1;
  }
  rd_kafka_conf_set_dr_msg_cb(c, strata_sched_tx_delivered);
  if (!(b->tx = txn_producer_new(c, TXN_TIMEOUT_MS, err, size)))
    return -1;
  if (create_topic(b, err, size))
    return -1;
  b->created = true;
  if (!(c = conf_new(b, cons_pairs, err, size)))
    return -1;
  if (!(b->cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, size))) {
    rd_kafka_conf_destroy(c);
    return -1;
  }
  l = rd_kafka_topic_partition_list_new(b->partitions);
  for (int p = 0; p < b->partitions; p++)
    rd_kafka_topic_partition_list_add(l, b->topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(b->cons, l);
  /* Reading the group's committed offsets waits until its coordinator is
   * loaded; on a fresh broker the first transactional offset commit
   * otherwise waits for it without end in librdkafka 2.0.2. */
  if ((kerr = rd_kafka_committed(b->cons, l, TXN_TIMEOUT_MS))) {
    snprintf(err, size, "reading the offsets of group %s: %s", b->group,
             rd_kafka_err2str(kerr));
    rd_kafka_topic_partition_list_destroy(l);
    return -1;
  }
  rd_kafka_topic_partition_list_destroy(l);
  if (pthread_create(&b->thread, NULL, watch_main, b)) {
    snprintf(err, size, "starting the watcher thread failed");
    return -1;
  }
  b->started = true;
  return 0;
}

/* One scheduler-shaped transaction; its times go to the series. */
static int cycle(txn_bench_t *b, int i, char *err, size_t size) {
  strata_mono_us_t t0 = strata_mono_now_us();
  rd_kafka_topic_partition_list_t *off = rd_kafka_topic_partition_list_new(1);
  txn_timing_t timing;
  txn_result_t res;

  rd_kafka_topic_partition_list_add(off, b->topic, 0)->offset = i + 2;
  for (int r = 0; r < b->records; r++)
    b->recs[r] =
        (txn_record_t){.topic = b->topic,
                       .partition = ((i + 1) * b->records + r) % b->partitions,
                       .value = &t0,
                       .len = sizeof(t0)};
  /* The consumer's group metadata stands in for a group member's: it has
   * group.id b->group and is assigned, not subscribed. */
  res = txn_commit_timed(b->tx, b->cons, off, b->recs, (size_t)b->records,
                         TXN_TIMEOUT_MS, &timing, err, size);
  rd_kafka_topic_partition_list_destroy(off);
  if (res != TXN_OK)
    return -1; /* a benchmark does not recover: err names the step */
  bench_samples_push(&b->commit, timing.commit_us);
  bench_samples_push(&b->cycle, strata_mono_now_us() - t0);
  return 0;
}

int bench_txn_main(int argc, char **argv) {
  txn_bench_t b;
  char err[512] = "";
  int rc = 1, done = 0;
  uint64_t want;
  strata_mono_us_t start, deadline;
  struct sigaction sa;

  memset(&b, 0, sizeof(b));
  pthread_mutex_init(&b.lock, NULL);
  if (parse_opts(&b, argc, argv))
    return 2;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (!(b.recs = calloc((size_t)b.records, sizeof(*b.recs)))) {
    snprintf(err, sizeof(err), "out of memory");
    goto end;
  }
  if (setup(&b, err, sizeof(err)))
    goto end;
  /* Warm-up, not counted: the first transaction also looks up the fresh
   * topic's metadata (up to a second in librdkafka 2.0.2). */
  if (cycle(&b, -1, err, sizeof(err)))
    goto end;
  deadline = strata_mono_now_us() + 30 * 1000000LL;
  while (atomic_load(&b.seen) < (uint64_t)b.records &&
         strata_mono_now_us() < deadline && !g_stop)
    usleep(1000);
  if (atomic_load(&b.seen) < (uint64_t)b.records) {
    snprintf(err, sizeof(err),
             "the warm-up transaction's records were not visible within 30 s");
    goto end;
  }
  pthread_mutex_lock(&b.lock);
  b.cycle.n = b.commit.n = b.visible.n = 0;
  atomic_store(&b.seen, 0);
  pthread_mutex_unlock(&b.lock);
  start = strata_mono_now_us();
  for (; done < b.cycles && !g_stop; done++) {
    if (b.interval_ms > 0) {
      strata_mono_us_t due =
          start + (strata_mono_us_t)(done * b.interval_ms * 1000.0);
      strata_mono_us_t now = strata_mono_now_us();
      if (due > now)
        usleep((useconds_t)(due - now));
    }
    if (cycle(&b, done, err, sizeof(err)))
      goto end;
  }
  /* Every committed record must become visible; poll with a deadline. */
  want = (uint64_t)done * (uint64_t)b.records;
  deadline = strata_mono_now_us() + 30 * 1000000LL;
  while (atomic_load(&b.seen) < want && strata_mono_now_us() < deadline &&
         !g_stop)
    usleep(1000);
  if (atomic_load(&b.seen) < want) {
    snprintf(err, sizeof(err),
             "only %" PRIu64 " of %" PRIu64 " committed records seen",
             (uint64_t)atomic_load(&b.seen), want);
    goto end;
  }
  printf("strata-bench txn: %d transactions of %d records (%s), %d "
         "partitions, broker %s\n",
         done, b.records, b.interval_ms > 0 ? "paced" : "back to back",
         b.partitions, b.bootstrap);
  if (b.interval_ms > 0)
    printf("  one every %.1f ms\n", b.interval_ms);
  {
    static const char *const label[] = {"cycle (begin -> commit returned)",
                                        "commit_transaction alone",
                                        "step start -> record visible"};
    static const char *const key[] = {"cycle_ms", "commit_ms", "visible_ms"};
    bench_samples_t *series[] = {&b.cycle, &b.commit, &b.visible};
    for (int i = 0; i < 3; i++) {
      bench_samples_sort(series[i]);
      printf("  %-33s p50 %6.2f  p99 %6.2f  max %6.2f ms\n", label[i],
             bench_samples_pct_ms(series[i], 0.5),
             bench_samples_pct_ms(series[i], 0.99),
             bench_samples_pct_ms(series[i], 1));
    }
    printf("{\"bench\":\"txn\",\"cycles\":%d,\"records\":%d,"
           "\"interval_ms\":%g",
           done, b.records, b.interval_ms);
    for (int i = 0; i < 3; i++)
      printf(",\"%s\":{\"p50\":%.2f,\"p99\":%.2f}", key[i],
             bench_samples_pct_ms(series[i], 0.5),
             bench_samples_pct_ms(series[i], 0.99));
    printf("}\n");
  }
  fflush(stdout);
  rc = 0;
end:
  if (rc)
    fprintf(stderr, "strata-bench txn: %s\n", err);
  if (b.started) {
    atomic_store(&b.stop, true);
    pthread_join(b.thread, NULL);
  }
  if (b.cons) {
    rd_kafka_consumer_close(b.cons);
    rd_kafka_destroy(b.cons);
  }
  if (b.tx) {
    const char *names[] = {b.topic};
    if (b.created)
      bench_delete_topics(b.tx, names, 1, "strata-bench txn");
    rd_kafka_destroy(b.tx);
  }
  bench_samples_free(&b.cycle);
  bench_samples_free(&b.commit);
  bench_samples_free(&b.visible);
  free(b.recs);
  pthread_mutex_destroy(&b.lock);
  return rc;
}
