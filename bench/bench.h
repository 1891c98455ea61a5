/*
 * strata-bench subcommands. Each one is a function with main()'s signature
 * (argv[0] is the subcommand name) listed in the table in main.c; it prints
 * what it measured and ends stdout with one JSON line.
 */
#ifndef STRATA_BENCH_H
#define STRATA_BENCH_H

int bench_core_main(int argc, char **argv);
int bench_e2e_main(int argc, char **argv);
int bench_txn_main(int argc, char **argv);

#endif /* STRATA_BENCH_H */
