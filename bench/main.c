/*
 * strata-bench: the benchmark driver. It only dispatches to a subcommand;
 * each subcommand owns its options and output. Adding one is a row in
 * `commands` and a function declared in bench.h.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} bench_command_t;

static const bench_command_t commands[] = {
    {"core", "scheduler core decisions per second with 1M tasks resident",
     bench_core_main},
    {"e2e", "submit -> dispatch on a real broker, against a bare relay",
     bench_e2e_main},
    {"priority", "critical tasks behind a backlog: dispatch and start latency",
     bench_priority_main},
    {"txn", "serial Kafka transactions: the floor under every dispatch",
     bench_txn_main},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f) {
  fprintf(f, "usage: strata-bench <command> [options]\n"
             "       strata-bench <command> --help\n"
             "       strata-bench --version\n\ncommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("strata-bench %s\n", STRATA_VERSION);
    return 0;
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "strata-bench: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return 2;
}
