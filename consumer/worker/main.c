/*
 * strata-worker: a consumer-group member of the dispatch topic that runs each
 * task with the built-in exec handler (exec.<type>=<command>) and reports its
 * outcome as events. SIGINT or SIGTERM stops it gracefully (running tasks get
 * worker.shutdown.timeout, then are handed back to the group); a second one
 * exits at once, which is still safe: unfinished tasks are not committed, so
 * another worker runs them.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/log.h"
#include "strata/program.h"
#include "strata/worker.h"

static const strata_program_t prog = {
    .name = "strata-worker",
    .summary = "run dispatched tasks with bounded concurrency and report "
               "their outcomes",
    .usage =
        "Usage: strata-worker [options] [--check]\n\n"
        "  --check              validate the configuration, the exec "
        "handlers and the\n"
        "                       topic layout, then exit\n\n"
        "Each task type runs a command: --set 'exec.<type>=<command>'. The "
        "command\n"
        "gets the payload on stdin and STRATA_TASK_ID, STRATA_TASK_TYPE, "
        "STRATA_TIER,\n"
        "STRATA_ATTEMPT, STRATA_IDEMPOTENCY_KEY, STRATA_DEADLINE_MS, "
        "STRATA_HEADER_<KEY>,\n"
        "STRATA_CHECKPOINT_FILE (resume state, when there is one) and "
        "STRATA_CHECKPOINT_OUT\n"
        "in its environment. Exit 0 succeeds, 65 fails without retry, 75 "
        "yields (SIGUSR1\n"
        "asks for that; new state goes to $STRATA_CHECKPOINT_OUT), anything "
        "else fails\n"
        "and may be retried.\n",
    .components = STRATA_CFG_WORKER,
};

static strata_worker_t *g_worker;
static volatile sig_atomic_t g_signals;

static void on_signal(int sig) {
  (void)sig;
  if (g_signals++ > 0)
    _exit(STRATA_EXIT_FAILURE);
  if (g_worker)
    strata_worker_stop(g_worker);
}

static void install_signals(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
}

int main(int argc, char **argv) {
  strata_config_t *cfg;
  strata_layout_t layout = {0};
  strata_mock_t *mock = NULL;
  strata_worker_t *w = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  bool check = false;
  char err[512];
  int rc = STRATA_EXIT_FAILURE;

  argc = strata_program_init(&prog, argc, argv, &cfg);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--check"))
      check = true;
    else
      strata_program_usage_error(&prog, "unknown argument \"%s\"", argv[i]);
  }
  /* Bad input is refused before any Kafka connection. */
  if (strata_layout_build(cfg, &layout, err, sizeof(err)) ||
      strata_worker_check_exec(cfg, err, sizeof(err)))
    strata_program_usage_error(&prog, "%s", err);
  strata_codec_set_max_record_size(
      (size_t)strata_config_get_int(cfg, "codec.max.record.bytes"));
  if (strata_codec_init(err, sizeof(err))) {
    fprintf(stderr, "strata-worker: %s\n", err);
    goto done;
  }
  install_signals();
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err)) ||
      !(conf = strata_kafka_conf_new(cfg, "worker", NULL, err, sizeof(err)))) {
    fprintf(stderr, "strata-worker: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata-worker: %s\n", err);
    goto done;
  }
  if (strata_topics_ensure(rk, &layout, false, 15000, NULL, NULL, err,
                           sizeof(err))) {
    fprintf(stderr,
            "strata-worker: %s; run `strata topics ensure` to see and "
            "create the layout\n",
            err);
    rd_kafka_destroy(rk);
    goto done;
  }
  rd_kafka_destroy(rk);

  if (!(w = strata_worker_new(cfg, err, sizeof(err)))) {
    fprintf(stderr, "strata-worker: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (strata_worker_register_exec(w, cfg, err, sizeof(err))) {
    fprintf(stderr, "strata-worker: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (check) {
    printf("strata-worker: configuration, exec handlers and %d topics ok\n",
           layout.count);
    rc = STRATA_EXIT_OK;
    goto done;
  }
  g_worker = w;
  if (g_signals) /* a signal before the worker existed */
    strata_worker_stop(w);
  if (strata_worker_run(w, err, sizeof(err))) {
    STRATA_ERROR("worker", "stopped on an error: %s", err);
  } else {
    strata_worker_stats_t st;
    strata_worker_stats(w, &st);
    STRATA_INFO(
        "worker",
        "stopped: %llu received, %llu succeeded, %llu failed, %llu "
        "cancelled, %llu timed out, %llu yielded, %llu handed back, %llu "
        "undecodable",
        (unsigned long long)st.received, (unsigned long long)st.succeeded,
        (unsigned long long)st.failed, (unsigned long long)st.cancelled,
        (unsigned long long)st.timed_out, (unsigned long long)st.yielded,
        (unsigned long long)st.handed_back, (unsigned long long)st.undecodable);
    rc = STRATA_EXIT_OK;
  }
  g_worker = NULL;
done:
  strata_worker_destroy(w);
  strata_mock_destroy(mock);
  strata_layout_clear(&layout);
  strata_config_destroy(cfg);
  return rc;
}
