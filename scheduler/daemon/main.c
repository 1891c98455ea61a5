/*
 * strata-scheduler: merges the tier topics, orders tasks with the scheduler
 * core and dispatches them (daemon.c). This file is the program around it:
 * options, signals, --check.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sched_int.h"
#include "strata/kafka.h"
#include "strata/program.h"

static const strata_program_t prog = {
    .name = "strata-scheduler",
    .summary = "merge the tier topics, order tasks by deadline urgency, "
               "dispatch them",
    .usage = "Usage: strata-scheduler [options] [--check]\n\n"
             "  --check              validate the configuration and the "
             "topic layout, then exit\n",
    .components = STRATA_CFG_SCHEDULER,
};

static volatile int stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* Validates the configuration and that the topic layout exists. */
static int check_layout(strata_config_t *cfg, bool report_ok) {
  strata_layout_t layout;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  char err[512];
  int rc = STRATA_EXIT_FAILURE;

  if (strata_layout_build(cfg, &layout, err, sizeof(err)))
    strata_program_usage_error(&prog, "%s", err);
  if (!(conf = strata_kafka_conf_new(cfg, "scheduler-check", NULL, err,
                                     sizeof(err)))) {
    strata_layout_clear(&layout);
    strata_program_usage_error(&prog, "%s", err);
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata-scheduler: %s\n", err);
  } else {
    if (strata_topics_ensure(rk, &layout, false, 15000, NULL, NULL, err,
                             sizeof(err)))
      fprintf(stderr,
              "strata-scheduler: %s; run `strata topics ensure` to see and "
              "create the layout\n",
              err);
    else
      rc = STRATA_EXIT_OK;
    if (rc == STRATA_EXIT_OK && report_ok)
      printf("strata-scheduler: configuration and %d topics ok\n",
             layout.count);
    rd_kafka_destroy(rk);
  }
  strata_layout_clear(&layout);
  return rc;
}

int main(int argc, char **argv) {
  strata_config_t *cfg;
  strata_mock_t *mock = NULL;
  struct sigaction sa;
  bool check = false;
  char err[512];
  int rc;

  argc = strata_program_init(&prog, argc, argv, &cfg);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--check"))
      check = true;
    else
      strata_program_usage_error(&prog, "unknown argument \"%s\"", argv[i]);
  }
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    strata_config_destroy(cfg);
    return STRATA_EXIT_USAGE;
  }
  rc = check_layout(cfg, check);
  if (rc == STRATA_EXIT_OK && !check) {
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = sched_run(cfg, &stop_requested);
  }
  strata_mock_destroy(mock);
  strata_config_destroy(cfg);
  return rc;
}
