/*
 * strata-bench subcommands. Each one is a function with main()'s signature
 * (argv[0] is the subcommand name) listed in the table in main.c; it prints
 * what it measured and ends stdout with one JSON line.
 */
#ifndef STRATA_BENCH_H
#define STRATA_BENCH_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

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

#endif /* STRATA_BENCH_H */
