/*
 * Internal interface between `strata`'s dispatcher (main.c) and its
 * subcommands. Each subcommand gets the parsed configuration and its own
 * arguments (argv[0] is the subcommand name) and returns an exit code.
 */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>

#include "strata/config.h"
#include "strata/time.h"
#include "strata/program.h"
#include "strata/task.h"

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
int cli_cmd_tier(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv);
int cli_cmd_drain(const strata_program_t *prog, strata_config_t *cfg, int argc,
                  char **argv);

/* GETs `path` from the scheduler's admin endpoint (admin.listen): 0 with
 * the HTTP status and the body (caller frees), or -1 after printing an
 * error that names `what` and the address. */
int cli_admin_get(const strata_config_t *cfg, const char *what,
                  const char *path, long *status, char **body);

int cli_cmd_read(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv);
int cli_cmd_dlq(const strata_program_t *prog, strata_config_t *cfg, int argc,
                char **argv);

/* Called for each record of cli_read_topic(); non-zero stops the reading. */
typedef int (*cli_record_fn)(const rd_kafka_message_t *m, void *opaque);

/*
 * Reads every partition of `topic` from its beginning (read_committed, no
 * commits) and calls `fn` for each record, until every partition has reached
 * its end once — or, with `follow`, until *stop is set (stop may be NULL) —
 * or `fn` asks to stop. Errors are printed as "strata: <who>: ...". Returns
 * STRATA_EXIT_OK, STRATA_EXIT_USAGE (bad kafka.* settings) or
 * STRATA_EXIT_FAILURE.
 */
int cli_read_topic(const strata_config_t *cfg, const char *who,
                   const char *topic, bool follow,
                   const volatile sig_atomic_t *stop, cli_record_fn fn,
                   void *opaque);

/* Parses a relative duration ("90s", taken from `now`) or an RFC 3339
 * timestamp into epoch ms. */
bool cli_parse_time(const char *s, strata_epoch_ms_t now,
                    strata_epoch_ms_t *out);

/* ---- `strata dlq` helpers (cmd_dlq.c); pure, so unit-tested alone ---- */

/* Which dead letters a dlq command acts on; an unset field matches all. */
typedef struct {
  const char *id; /* task id (or original location); NULL: any */
  bool has_reason;
  strata_dlq_reason_t reason;
  bool has_since;
  strata_epoch_ms_t since_ms; /* dead_lettered_ms >= since_ms */
} cli_dlq_filter_t;

/* Where a dead-letter record was read: dlq partition and offset, and the
 * dead_lettered_ms it carries. */
typedef struct {
  int32_t partition;
  int64_t offset;
  strata_epoch_ms_t dead_lettered_ms;
} cli_dlq_pos_t;

/* A reason symbol, case-insensitive, '-' accepted for '_'. */
bool cli_dlq_parse_reason(const char *s, strata_dlq_reason_t *out);

/* "2h" (that long before `now`) or an RFC 3339 time, into epoch ms. */
bool cli_dlq_parse_since(const char *s, strata_epoch_ms_t now,
                         strata_epoch_ms_t *out);

/* Whether dead letter `d`, known as `ident`, passes filter `f`. */
bool cli_dlq_matches(const cli_dlq_filter_t *f, const char *ident,
                     const strata_deadletter_t *d);

/* Whether the record at `cand` supersedes the one at `cur` for one task. */
bool cli_dlq_is_newer(const cli_dlq_pos_t *cand, const cli_dlq_pos_t *cur);

/*
 * The task a replay of `d` submits, in `out` (initialised; cleared first,
 * owned by the caller): the next attempt number, a retry budget of one more
 * attempt (or a fresh one with `reset_attempts`), no not-before time, and no
 * deadline when it had passed at `now` (then *deadline_removed is true).
 * STRATA_ERR_INVALID_ARG when `d` has no task; STRATA_ERR_NOMEM.
 */
strata_err_t cli_dlq_replay_task(const strata_deadletter_t *d,
                                 bool reset_attempts, strata_epoch_ms_t now,
                                 strata_task_t *out, bool *deadline_removed,
                                 char *errstr, size_t size);

/* Epoch ms as RFC 3339 UTC with milliseconds, into buf[32]. */
void cli_format_time(strata_epoch_ms_t ms, char buf[32]);

/* `s` on one line (control characters as spaces), cut to at most `max`
 * bytes on a UTF-8 boundary with "..." when longer, into out[size]. */
void cli_excerpt(const char *s, size_t max, char *out, size_t size);

#endif /* STRATA_CLI_INT_H */
