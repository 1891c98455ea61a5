/*
 * At-least-once execution on a real Apache Kafka broker
 * ($STRATA_TEST_BOOTSTRAP): a strata-worker process is killed with SIGKILL
 * while one of its tasks runs; a second worker in the same group gets that
 * dispatch record again and completes it. Tasks that finished on the first
 * worker but whose commits were held back behind the blocked record (commits
 * advance in offset order) run again too: the test reports how many such
 * duplicates there were, and requires every task to have succeeded at least
 * once and the killed one to have succeeded on the second worker.
 *
 * Each run uses its own topic prefix and group, creates the layout with
 * strata_topics_ensure() and deletes it afterwards. Every process started is
 * stopped by PID in the teardown, whatever happened.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "strata/codec.h"
#include "strata/config.h"
#include "strata/kafka.h"
#include "strata/time.h"

#ifndef STRATA_WORKER_BIN
#error "STRATA_WORKER_BIN must name the strata-worker binary"
#endif

#define NPART 2
#define NTASKS 4
#define MAX_EVENTS 256

typedef struct {
  const char *bootstrap;
  char prefix[32], group[48], dir[64], topic_events[64], topic_dispatch[64];
  strata_config_t *cfg;
  strata_layout_t layout;
  rd_kafka_t *admin; /* producer handle: admin requests and dispatch writes */
  rd_kafka_t *reader;
  bool layout_created;
  pid_t worker_a, worker_b;
  strata_event_t events[MAX_EVENTS];
  int32_t event_part[MAX_EVENTS];
  int nevents;
} fixture_t;

static int64_t now_ms(void) {
  return strata_mono_now_us() / 1000;
}

static void set(fixture_t *f, const char *k, const char *v) {
  char err[512];
  if (strata_config_set(f->cfg, k, v, err, sizeof(err)))
    fail_msg("config %s=%s: %s", k, v, err);
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  uint32_t r;
  char err[512];
  rd_kafka_conf_t *conf;

  f->bootstrap = getenv("STRATA_TEST_BOOTSTRAP");
  if (!f->bootstrap || !*f->bootstrap) {
    fprintf(stderr, "STRATA_TEST_BOOTSTRAP is not set: this test needs a real "
                    "Kafka broker (deploy/kafka-local/kafka-local start)\n");
    free(f);
    return -1;
  }
  if (getrandom(&r, sizeof(r), 0) != sizeof(r))
    r = (uint32_t)getpid();
  snprintf(f->prefix, sizeof(f->prefix), "t%08x.", r);
  snprintf(f->group, sizeof(f->group), "t%08x-workers", r);
  snprintf(f->topic_dispatch, sizeof(f->topic_dispatch), "%sdispatch",
           f->prefix);
  snprintf(f->topic_events, sizeof(f->topic_events), "%sevents", f->prefix);
  snprintf(f->dir, sizeof(f->dir), "/tmp/strata-alo-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  f->cfg = strata_config_new();
  set(f, "bootstrap.servers", f->bootstrap);
  set(f, "topic.prefix", f->prefix);
  set(f, "topic.partitions", "2");
  set(f, "log.level", "warn");
  if (strata_layout_build(f->cfg, &f->layout, err, sizeof(err)))
    return -1;
  conf = strata_kafka_conf_new(f->cfg, "ktest", NULL, err, sizeof(err));
  if (!conf ||
      !(f->admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    fprintf(stderr, "setup: %s\n", err);
    return -1;
  }
  *state = f;
  return 0;
}

static void kill_and_reap(pid_t *pid) {
  if (*pid <= 0)
    return;
  kill(*pid, SIGKILL);
  waitpid(*pid, NULL, 0);
  *pid = 0;
}

/* Kills the process group recorded in `dir`/blocker.pid, if any. */
static void kill_blocker(fixture_t *f) {
  char path[128];
  FILE *fp;
  long pgid = 0;

  snprintf(path, sizeof(path), "%s/blocker.pid", f->dir);
  if ((fp = fopen(path, "r"))) {
    if (fscanf(fp, "%ld", &pgid) == 1 && pgid > 1)
      kill((pid_t)-pgid, SIGKILL);
    fclose(fp);
  }
}

static void delete_layout(fixture_t *f) {
  rd_kafka_DeleteTopic_t *del[64];
  rd_kafka_queue_t *q = rd_kafka_queue_new(f->admin);
  rd_kafka_event_t *ev;
  int n = 0;

  for (int i = 0; i < f->layout.count && n < 64; i++)
    del[n++] = rd_kafka_DeleteTopic_new(f->layout.topics[i].name);
  rd_kafka_DeleteTopics(f->admin, del, (size_t)n, NULL, q);
  if ((ev = rd_kafka_queue_poll(q, 20000)))
    rd_kafka_event_destroy(ev);
  rd_kafka_DeleteTopic_destroy_array(del, (size_t)n);
  rd_kafka_queue_destroy(q);
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char cmd[128];

  kill_and_reap(&f->worker_a);
  kill_and_reap(&f->worker_b);
  kill_blocker(f);
  for (int i = 0; i < f->nevents; i++)
    strata_event_clear(&f->events[i]);
  if (f->reader) {
    rd_kafka_consumer_close(f->reader);
    rd_kafka_destroy(f->reader);
  }
  if (f->layout_created)
    delete_layout(f);
  rd_kafka_flush(f->admin, 5000);
  rd_kafka_destroy(f->admin);
  strata_layout_clear(&f->layout);
  strata_config_destroy(f->cfg);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "teardown: could not remove %s\n", f->dir);
  free(f);
  return 0;
}

/* Starts strata-worker; it dies with this process (PR_SET_PDEATHSIG). */
static pid_t spawn_worker(fixture_t *f) {
  char a_boot[256], a_prefix[64], a_group[96], a_exec[512];
  pid_t pid;

  snprintf(a_boot, sizeof(a_boot), "bootstrap.servers=%s", f->bootstrap);
  snprintf(a_prefix, sizeof(a_prefix), "topic.prefix=%s", f->prefix);
  snprintf(a_group, sizeof(a_group), "worker.group.id=%s", f->group);
  /* Every run is logged; the first run of a task with header block=1 takes
   * the lock and blocks (as `sleep`, in the command's process group). */
  snprintf(a_exec, sizeof(a_exec),
           "exec.job=echo \"$STRATA_TASK_ID $STRATA_WORKER_ID\" >> '%s/runs'; "
           "if [ \"$STRATA_HEADER_BLOCK\" = 1 ] && mkdir '%s/lock' "
           "2>/dev/null; then echo $$ > '%s/blocker.pid'; exec sleep 30; fi",
           f->dir, f->dir, f->dir);
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(STRATA_WORKER_BIN, "strata-worker", "--log-level", "warn", "--set",
          a_boot, "--set", a_prefix, "--set", "topic.partitions=2", "--set",
          a_group, "--set", a_exec, "--set", "worker.concurrency=4", "--set",
          "worker.heartbeat.interval=1s", "--set",
          "kafka.session.timeout.ms=6000", "--set",
          "kafka.heartbeat.interval.ms=500", (char *)NULL);
    _exit(127);
  }
  assert_true(pid > 0);
  return pid;
}

static void produce_task(fixture_t *f, const char *id, int32_t p, bool block) {
  strata_task_t t;
  void *buf;
  size_t len;
  char err[512];

  strata_task_init(&t);
  t.id = strdup(id);
  t.type = strdup("job");
  t.tier = strdup("normal");
  t.created_ms = t.enqueued_ms = strata_epoch_now_ms();
  if (block)
    strata_task_add_header(&t, "block", "1");
  assert_int_equal(strata_task_encode(&t, &buf, &len, err, sizeof(err)),
                   STRATA_OK);
  assert_int_equal(
      rd_kafka_producev(f->admin, RD_KAFKA_V_TOPIC(f->topic_dispatch),
                        RD_KAFKA_V_PARTITION(p),
                        RD_KAFKA_V_KEY((void *)(uintptr_t)id, strlen(id)),
                        RD_KAFKA_V_VALUE(buf, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                        RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  strata_task_clear(&t);
}

static void pump(fixture_t *f, int timeout_ms) {
  rd_kafka_message_t *m;
  char err[512];

  while ((m = rd_kafka_consumer_poll(f->reader, timeout_ms))) {
    timeout_ms = 0;
    if (!m->err && f->nevents < MAX_EVENTS) {
      strata_event_init(&f->events[f->nevents]);
      if (strata_event_decode(m->payload, m->len, &f->events[f->nevents], err,
                              sizeof(err)))
        fail_msg("event does not decode: %s", err);
      f->event_part[f->nevents++] = m->partition;
    }
    rd_kafka_message_destroy(m);
  }
}

/* Number of SUCCEEDED events of `id`, optionally from `worker_id` only. */
static int succeeded(fixture_t *f, const char *id, const char *worker_id) {
  int n = 0;
  for (int i = 0; i < f->nevents; i++) {
    strata_event_t *e = &f->events[i];
    if (e->kind == STRATA_EVENT_SUCCEEDED && !strcmp(e->task_id, id) &&
        (!worker_id || (e->worker_id && !strcmp(e->worker_id, worker_id))))
      n++;
  }
  return n;
}

static bool file_exists(const char *dir, const char *name) {
  char path[128];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return stat(path, &st) == 0;
}

static int count_runs(fixture_t *f, const char *id) {
  char path[128], line[256];
  FILE *fp;
  int n = 0;
  size_t len = strlen(id);

  snprintf(path, sizeof(path), "%s/runs", f->dir);
  if (!(fp = fopen(path, "r")))
    return 0;
  while (fgets(line, sizeof(line), fp))
    n += !strncmp(line, id, len) && line[len] == ' ';
  fclose(fp);
  return n;
}

/* The group's committed offsets of dispatch partitions 0 and 1 (-1: none). */
static void committed(fixture_t *f, int64_t out[NPART]) {
  const char *d[] = {"group.id", f->group, NULL};
  rd_kafka_topic_partition_list_t *parts;
  rd_kafka_conf_t *conf;
  rd_kafka_t *probe;
  char err[512];

  conf = strata_kafka_conf_new(f->cfg, "ktest", d, err, sizeof(err));
  assert_non_null(conf);
  probe = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  assert_non_null(probe);
  parts = rd_kafka_topic_partition_list_new(NPART);
  for (int p = 0; p < NPART; p++)
    rd_kafka_topic_partition_list_add(parts, f->topic_dispatch, p);
  assert_int_equal(rd_kafka_committed(probe, parts, 10000),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int p = 0; p < NPART; p++)
    out[p] = parts->elems[p].offset;
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy(probe);
}

static void test_killed_worker_task_is_redelivered_and_completed(void **st) {
  fixture_t *f = *st;
  static const char *const ids[NTASKS] = {"alo-block", "alo-1", "alo-2",
                                          "alo-3"};
  char err[512], worker_b_id[300], host[256];
  rd_kafka_topic_partition_list_t *parts;
  rd_kafka_conf_t *conf;
  int64_t t0 = now_ms(), deadline;
  int status = 0, total_runs = 0;
  bool reaped = false;
  int64_t offsets[NPART];

  assert_int_equal(strata_topics_ensure(f->admin, &f->layout, true, 30000, NULL,
                                        NULL, err, sizeof(err)),
                   STRATA_OK);
  f->layout_created = true;

  static const char *const rdefaults[] = {"group.id", "ktest-reader", NULL};
  conf = strata_kafka_conf_new(f->cfg, "ktest", rdefaults, err, sizeof(err));
  assert_non_null(conf);
  f->reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  assert_non_null(f->reader);
  parts = rd_kafka_topic_partition_list_new(NPART);
  for (int p = 0; p < NPART; p++)
    rd_kafka_topic_partition_list_add(parts, f->topic_events, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(f->reader, parts);
  rd_kafka_topic_partition_list_destroy(parts);

  /* The blocking task first on partition 0, so alo-1 behind it finishes
   * but cannot be committed. */
  produce_task(f, ids[0], 0, true);
  produce_task(f, ids[1], 0, false);
  produce_task(f, ids[2], 1, false);
  produce_task(f, ids[3], 1, false);
  assert_int_equal(rd_kafka_flush(f->admin, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);

  f->worker_a = spawn_worker(f);
  deadline = now_ms() + 20000;
  while (now_ms() < deadline &&
         !(file_exists(f->dir, "blocker.pid") && succeeded(f, ids[1], NULL) &&
           succeeded(f, ids[2], NULL) && succeeded(f, ids[3], NULL)))
    pump(f, 100);
  assert_true(file_exists(f->dir, "blocker.pid"));
  assert_int_equal(succeeded(f, ids[0], NULL), 0);
  /* Commits follow the terminal events: partition 1 reaches offset 2, while
   * partition 0 stays before the blocked record although alo-1 behind it is
   * done. */
  deadline = now_ms() + 10000;
  do {
    committed(f, offsets);
  } while (offsets[1] != 2 && now_ms() < deadline);
  assert_int_equal(offsets[1], 2);
  assert_true(offsets[0] < 1);

  /* The machine dies: the worker and the command it ran. */
  assert_int_equal(kill(f->worker_a, SIGKILL), 0);
  waitpid(f->worker_a, &status, 0);
  f->worker_a = 0;
  kill_blocker(f);

  f->worker_b = spawn_worker(f);
  if (gethostname(host, sizeof(host)))
    snprintf(host, sizeof(host), "unknown");
  snprintf(worker_b_id, sizeof(worker_b_id), "%s:%ld", host, (long)f->worker_b);
  deadline = now_ms() + 40000;
  while (now_ms() < deadline && !succeeded(f, ids[0], worker_b_id))
    pump(f, 100);
  assert_int_equal(succeeded(f, ids[0], worker_b_id), 1);

  /* Graceful stop of the second worker. */
  assert_int_equal(kill(f->worker_b, SIGTERM), 0);
  deadline = now_ms() + 20000;
  while (now_ms() < deadline && !reaped) {
    reaped = waitpid(f->worker_b, &status, WNOHANG) == f->worker_b;
    pump(f, 100);
  }
  assert_true(reaped); /* else the teardown kills it */
  f->worker_b = 0;
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  pump(f, 500);

  for (int i = 0; i < NTASKS; i++) {
    int runs = count_runs(f, ids[i]);
    assert_true(succeeded(f, ids[i], NULL) >= 1);
    assert_true(runs >= 1);
    total_runs += runs;
    printf("  %-10s ran %d time(s), succeeded %d time(s)\n", ids[i], runs,
           succeeded(f, ids[i], NULL));
  }
  /* Redelivered: the killed task and the one held behind it; not the tasks
   * whose commit was acknowledged. */
  assert_true(count_runs(f, ids[0]) >= 2);
  assert_true(count_runs(f, ids[1]) >= 2);
  assert_int_equal(count_runs(f, ids[2]), 1);
  assert_int_equal(count_runs(f, ids[3]), 1);
  printf("at-least-once: %d tasks, %d runs, %d duplicate run(s) (the killed "
         "task's redelivery included), %.1f s\n",
         NTASKS, total_runs, total_runs - NTASKS,
         (double)(now_ms() - t0) / 1000.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_killed_worker_task_is_redelivered_and_completed, setup,
          teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
