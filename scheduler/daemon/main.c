/*
 * strata-scheduler: the daemon that merges the tier topics, orders tasks with
 * the scheduler core and dispatches them. In this version it validates its
 * configuration and the topic layout (--check); the dispatch loop is not
 * part of this version yet, and the program says so instead of pretending.
 */
#include <stdio.h>
#include <string.h>

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

int main(int argc, char **argv) {
  strata_config_t *cfg;
  strata_layout_t layout;
  strata_mock_t *mock = NULL;
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
  if (strata_layout_build(cfg, &layout, err, sizeof(err)))
    strata_program_usage_error(&prog, "%s", err);
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err)) ||
      !(conf =
            strata_kafka_conf_new(cfg, "scheduler", NULL, err, sizeof(err)))) {
    fprintf(stderr, "strata-scheduler: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata-scheduler: %s\n", err);
    goto done;
  }
  if (strata_topics_ensure(rk, &layout, false, 15000, NULL, NULL, err,
                           sizeof(err))) {
    fprintf(stderr,
            "strata-scheduler: %s; run `strata topics ensure` to see and "
            "create the layout\n",
            err);
  } else if (check) {
    printf("strata-scheduler: configuration and %d topics ok\n", layout.count);
    rc = STRATA_EXIT_OK;
  } else {
    fprintf(stderr, "strata-scheduler: the dispatch loop is not available "
                    "in this version; only --check is\n");
  }
  rd_kafka_destroy(rk);
done:
  strata_mock_destroy(mock);
  strata_layout_clear(&layout);
  strata_config_destroy(cfg);
  return rc;
}
