/*
 * strata-scheduler: merges the tier topics, orders tasks with the scheduler
 * core and dispatches them (daemon.c). This file is the program around it:
 * options, signals, --check. Both --check and a start validate the whole
 * configuration (settings.c) before any Kafka client exists, so they refuse
 * the same input with exit 2.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sched_int.h"
#include "settings.h"
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

/*
 * Validates everything a start validates before any Kafka client exists:
 * the topic layout (into *layout, which the caller clears), then every
 * scheduler setting and a core built from them. Bad input exits 2.
 */
static void check_config(const strata_config_t *cfg, strata_layout_t *layout) {
  sched_settings_t settings;
  strata_core_t *core;
  char err[512];

  if (strata_layout_build(cfg, layout, err, sizeof(err)))
    strata_program_usage_error(&prog, "%s", err);
  if (sched_settings_load(&settings, cfg, err, sizeof(err)))
    strata_program_usage_error(&prog, "%s", err);
  core = sched_settings_core(&settings, err, sizeof(err));
  sched_settings_clear(&settings);
  if (!core)
    strata_program_usage_error(&prog, "%s", err);
  strata_core_destroy(core);
}

/* Checks that the topic layout exists on the cluster. */
static int check_layout(const strata_config_t *cfg,
                        const strata_layout_t *layout, bool report_ok) {
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  char err[512];
  int rc = STRATA_EXIT_FAILURE;

  if (!(conf = strata_kafka_conf_new(cfg, "scheduler-check", NULL, err,
                                     sizeof(err))))
    strata_program_usage_error(&prog, "%s", err);
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata-scheduler: %s\n", err);
    return rc;
  }
  if (strata_topics_ensure(rk, layout, false, 15000, NULL, NULL, err,
                           sizeof(err)))
    fprintf(stderr,
            "strata-scheduler: %s; run `strata topics ensure` to see and "
            "create the layout\n",
            err);
  else
    rc = STRATA_EXIT_OK;
  if (rc == STRATA_EXIT_OK && report_ok)
    printf("strata-scheduler: configuration and %d topics ok\n", layout->count);
  rd_kafka_destroy(rk);
  return rc;
}

int main(int argc, char **argv) {
  strata_config_t *cfg;
  strata_layout_t layout;
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
  check_config(cfg, &layout);
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    strata_layout_clear(&layout);
    strata_config_destroy(cfg);
    return STRATA_EXIT_USAGE;
  }
  rc = check_layout(cfg, &layout, check);
  strata_layout_clear(&layout);
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
