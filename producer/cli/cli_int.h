/*
 * Internal interface between `strata`'s dispatcher (main.c) and its
 * subcommands. Each subcommand gets the parsed configuration and its own
 * arguments (argv[0] is the subcommand name) and returns an exit code.
 */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

#include <stdbool.h>

#include "strata/config.h"
#include "strata/time.h"
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

int cli_cmd_submit(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv);
int cli_cmd_cancel(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv);
int cli_cmd_tasks(const strata_program_t *prog, strata_config_t *cfg, int argc,
                  char **argv);
int cli_cmd_read(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv);

/* Parses a relative duration ("90s", taken from `now`) or an RFC 3339
 * timestamp into epoch ms. */
bool cli_parse_time(const char *s, strata_epoch_ms_t now,
                    strata_epoch_ms_t *out);

#endif /* STRATA_CLI_INT_H */
