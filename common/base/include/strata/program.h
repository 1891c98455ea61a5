/*
 * What every Strata program does first: parse the common options
 * (--help, --version, --config FILE, --set key=value, --log-level L), build the
 * configuration from the key table, and report bad input the same way
 * everywhere: a message naming the key, the value and what is allowed, and
 * exit code 2.
 */
#ifndef STRATA_PROGRAM_H
#define STRATA_PROGRAM_H

#include <stdio.h>

#include "strata/config.h"

/* Exit codes shared by all programs. */
enum {
  STRATA_EXIT_OK = 0,
  STRATA_EXIT_FAILURE = 1, /* runtime failure: broker, I/O, ... */
  STRATA_EXIT_USAGE = 2,   /* bad option, config key or value */
};

typedef struct {
  const char *name;    /* "strata-scheduler" */
  const char *summary; /* one line */
  const char *usage;   /* program-specific usage lines, may be NULL */
  unsigned components; /* STRATA_CFG_* rows shown by --help */
} strata_program_t;

/*
 * Parses and removes the common options from argv, leaving the program's own
 * arguments in argv[1..return-1] (argv[0] kept). --help and --version print
 * and exit 0; a bad option or configuration prints to stderr and exits 2.
 * The configuration is returned in *cfg_out (caller destroys it). The log
 * level is applied from `log.level`.
 */
int strata_program_init(const strata_program_t *prog, int argc, char **argv,
                        strata_config_t **cfg_out);

/* Prints the full --help text of `prog` to `out`. */
void strata_program_help(const strata_program_t *prog, FILE *out);

/* Prints "<prog>: <message>" to stderr and exits with STRATA_EXIT_USAGE. */
void strata_program_usage_error(const strata_program_t *prog, const char *fmt,
                                ...) __attribute__((format(printf, 2, 3)))
__attribute__((noreturn));

/*
 * The one out-of-memory policy of the programs: "<prog>: out of memory" on
 * stderr, then abort() (exit status 134 under a shell; a supervisor restarts
 * the process). Called where an allocation a decision depends on fails:
 * nothing of the turn in flight was committed, so a restart resumes from
 * Kafka. Libraries never call it: they return STRATA_ERR_NOMEM.
 */
void strata_program_oom(void) __attribute__((noreturn));

#endif /* STRATA_PROGRAM_H */
