/*
 * Administrative subcommands: `topics ensure`, `dev-broker` and `config`.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "strata/kafka.h"
#include "strata/log.h"

static void report_topic(const strata_topic_spec_t *spec,
                         strata_topic_status_t status, int actual,
                         const char *detail, void *opaque) {
  (void)opaque;
  printf("%-8s %-32s partitions=%d%s%s\n", strata_topic_status_str(status),
         spec->name, actual < 0 ? 0 : actual, *detail ? "  " : "", detail);
}

int cli_cmd_topics(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv) {
  strata_layout_t layout;
  strata_mock_t *mock = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  bool create = true;
  char err[512];
  int rc = STRATA_EXIT_FAILURE;
  strata_err_t serr;

  if (argc < 2 || strcmp(argv[1], "ensure"))
    strata_program_usage_error(prog, "usage: strata topics ensure [--check]");
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--check"))
      create = false;
    else
      strata_program_usage_error(prog, "topics ensure: unknown option \"%s\"",
                                 argv[i]);
  }
  if (strata_layout_build(cfg, &layout, err, sizeof(err)))
    strata_program_usage_error(prog, "%s", err);
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err)) ||
      !(conf = strata_kafka_conf_new(cfg, "admin", NULL, err, sizeof(err)))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata: %s\n", err);
    goto done;
  }
  serr = strata_topics_ensure(rk, &layout, create, 15000, report_topic, NULL,
                              err, sizeof(err));
  if (serr) {
    fprintf(stderr, "strata: topics ensure: %s\n", err);
    goto done;
  }
  printf("topic layout ok: %d topics on %s\n", layout.count,
         strata_config_get_str(cfg, "bootstrap.servers"));
  rc = STRATA_EXIT_OK;
done:
  if (rk)
    rd_kafka_destroy(rk);
  strata_mock_destroy(mock);
  strata_layout_clear(&layout);
  return rc;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

int cli_cmd_dev_broker(const strata_program_t *prog, strata_config_t *cfg,
                       int argc, char **argv) {
  struct sigaction sa;
  strata_mock_t *mock;
  char err[512];

  (void)argv;
  if (argc > 1)
    strata_program_usage_error(prog, "dev-broker takes no arguments");
  if (!(mock = strata_mock_new(cfg, err, sizeof(err)))) {
    fprintf(stderr, "strata: dev-broker: %s\n", err);
    return STRATA_EXIT_FAILURE;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  STRATA_WARN("dev-broker",
              "embedded MOCK Kafka cluster for development: no real "
              "transactions, data lives only in this process");
  printf("%s\n", strata_mock_bootstraps(mock));
  fflush(stdout);
  /* The mock cluster runs on librdkafka's threads; this thread only waits
   * for a signal. pause() returns when one arrives. */
  while (!stop_requested)
    pause();
  STRATA_INFO("dev-broker", "stopping");
  strata_mock_destroy(mock);
  return STRATA_EXIT_OK;
}

int cli_cmd_config(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv) {
  strata_layout_t layout;
  char err[512];

  if (argc == 2 && !strcmp(argv[1], "docs")) {
    strata_config_write_markdown(stdout);
    return STRATA_EXIT_OK;
  }
  if (argc == 2 && !strcmp(argv[1], "check")) {
    if (strata_layout_build(cfg, &layout, err, sizeof(err)))
      strata_program_usage_error(prog, "%s", err);
    strata_layout_clear(&layout);
    printf("configuration ok\n");
    return STRATA_EXIT_OK;
  }
  strata_program_usage_error(prog, "usage: strata config docs|check");
}
