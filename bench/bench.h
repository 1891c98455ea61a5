/*
 * strata-bench subcommands. Each one is a function with main()'s signature
 * (argv[0] is the subcommand name) listed in the table in main.c; it prints
 * what it measured and ends stdout with one JSON line.
 */
#ifndef STRATA_BENCH_H
#define STRATA_BENCH_H

#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/config.h"
#include "strata/time.h"

int bench_core_main(int argc, char **argv);
int bench_e2e_main(int argc, char **argv);
int bench_priority_main(int argc, char **argv);
int bench_txn_main(int argc, char **argv);

/* Latency samples, µs (bench/samples.c). */
typedef struct {
  int64_t *v;
  size_t n, cap;
} bench_samples_t;

/* Appends a sample; under OOM it is dropped (n shows the count kept). */
void bench_samples_push(bench_samples_t *s, int64_t v);
void bench_samples_sort(bench_samples_t *s);
/* Nearest-rank percentile (q in 0..1) of sorted samples, in ms; -1 without
 * samples. */
double bench_samples_pct_ms(const bench_samples_t *s, double q);
void bench_samples_free(bench_samples_t *s);

/* Deletes the named topics, reporting failures (other than a topic that is
 * already gone) on stderr under `who`. */
void bench_delete_topics(rd_kafka_t *rk, const char *const *names, size_t n,
                         const char *who);

/* ---- bench/child.c: what the real-broker benchmarks share --------------*/

void bench_sleep_us(int64_t us);
/* Sleeps until the monotonic time `t_us` (absolute, so pacing never drifts:
 * strata_mono_now_us() reads CLOCK_MONOTONIC too), or until *stop. */
void bench_sleep_until_us(strata_mono_us_t t_us, volatile sig_atomic_t *stop);

/* Creates (create) or deletes the topics of cfg's layout; `who` names the
 * benchmark in messages. -1 with err on failure. */
int bench_topics(const strata_config_t *cfg, bool create, const char *who,
                 char *err, size_t size);

/* A strata-scheduler child process. */
typedef struct {
  pid_t pid; /* 0: not running */
  char log[PATH_MAX];
} bench_sched_t;

/* Starts bindir/strata-scheduler with the run's settings (bootstrap, prefix,
 * partitions, group and instance named from the prefix, admin on an
 * ephemeral loopback port, log.level=info), then each of `sets` (key=value)
 * as a --set. Its output goes to /tmp/<prefix>scheduler.log. */
int bench_sched_spawn(bench_sched_t *s, const char *bindir,
                      const char *bootstrap, const char *prefix, int partitions,
                      char *const *sets, int nsets, char *err, size_t size);
/* True while it runs; reaps it (and says so under `who`) once it exited. */
bool bench_sched_alive(bench_sched_t *s, const char *who);
/* SIGTERM, up to 15 s for a clean exit, then SIGKILL. */
void bench_sched_stop(bench_sched_t *s);

#endif /* STRATA_BENCH_H */
