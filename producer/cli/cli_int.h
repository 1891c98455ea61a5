/*
 * Internal interface between `strata`'s dispatcher (main.c) and its
 * subcommands. Each subcommand gets the parsed configuration and its own
 * arguments (argv[0] is the subcommand name) and returns an exit code.
 */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

#include "strata/config.h"
#include "strata/program.h"

typedef int (*cli_run_fn)(const strata_program_t *prog, strata_config_t *cfg,
                          int argc, char **argv);

typedef struct {
  const char *name;
  const char *synopsis;
  const char *summary;
  cli_run_fn run;
} cli_command_t;

int cli_cmd_topics(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv);
int cli_cmd_dev_broker(const strata_program_t *prog, strata_config_t *cfg,
                       int argc, char **argv);
int cli_cmd_config(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv);

#endif /* STRATA_CLI_INT_H */
