/*
 * `strata`: the command-line tool. Each subcommand lives in its own file
 * (cmd_*.c) and is listed in the table below, which also drives the
 * subcommand part of --help.
 */
#include <stdio.h>
#include <string.h>

#include "cli_int.h"
#include "strata/program.h"

static const cli_command_t commands[] = {
    {"submit", "submit [flags] | --jsonl F",
     "submit tasks; prints each id once Kafka has it (see submit --help)",
     cli_cmd_submit},
    {"cancel", "cancel ID [--reason R]", "ask the scheduler to cancel a task",
     cli_cmd_cancel},
    {"tier", "tier pause|resume T|--all",
     "hold a tier's tasks (never dispatched) or release them", cli_cmd_tier},
    {"drain", "drain [--wait D]",
     "pause every tier and let running tasks finish; --wait polls "
     "admin.listen until drained",
     cli_cmd_drain},
    {"read", "read TOPIC [--max N] [--follow]",
     "print a topic's records as JSON lines (tier:T, dispatch, events, ...)",
     cli_cmd_read},
    {"dlq", "dlq list|show ID|replay ...",
     "list, show and replay dead letters; `strata dlq` prints its usage",
     cli_cmd_dlq},
    {"tasks", "tasks [--tier T] [--state S]",
     "the scheduler's pending tasks in dispatch order (via admin.listen)",
     cli_cmd_tasks},
    {"topics", "topics ensure [--check]",
     "create the topic layout (or only check it) and report drift",
     cli_cmd_topics},
    {"dev-broker", "dev-broker",
     "run the embedded mock Kafka cluster with the topic layout until "
     "interrupted; prints its bootstrap address last",
     cli_cmd_dev_broker},
    {"config", "config docs|check",
     "print docs/CONFIG.md, or validate the configuration", cli_cmd_config},
    {NULL, NULL, NULL, NULL},
};

static char usage[2048];

static const strata_program_t prog = {
    .name = "strata",
    .summary = "submit and inspect tasks, manage Strata's topics",
    .usage = usage,
    .components = STRATA_CFG_CLI,
};

int main(int argc, char **argv) {
  strata_config_t *cfg;
  size_t len;
  int rc;

  len = (size_t)snprintf(usage, sizeof(usage),
                         "Usage: strata [options] COMMAND [ARGS]\n\n"
                         "Commands:\n");
  for (int i = 0; commands[i].name && len < sizeof(usage); i++)
    len += (size_t)snprintf(usage + len, sizeof(usage) - len, "  %-28s %s\n",
                            commands[i].synopsis, commands[i].summary);

  argc = strata_program_init(&prog, argc, argv, &cfg);
  if (argc < 2) {
    strata_config_destroy(cfg);
    strata_program_usage_error(&prog, "missing COMMAND");
  }
  for (int i = 0; commands[i].name; i++) {
    if (!strcmp(commands[i].name, argv[1])) {
      rc = commands[i].run(&prog, cfg, argc - 1, argv + 1);
      strata_config_destroy(cfg);
      return rc;
    }
  }
  strata_config_destroy(cfg);
  strata_program_usage_error(&prog, "unknown command \"%s\"", argv[1]);
}
