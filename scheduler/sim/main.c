/*
 * strata-sim: runs one workload under one policy in the discrete-event
 * simulator and prints a table, then the result as one JSON object on the
 * last line of stdout. Exit codes follow the other Strata programs: 0 ok,
 * 1 the run failed, 2 a bad option or workload file (the message names the
 * file, the JSON path and what was expected).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: strata-sim --workload FILE --policy P [--seed N] [--duration D]\n"
    "       strata-sim --generate FAMILY --policy P [--seed N] [--duration D]\n"
    "       strata-sim tournament [--workloads N] [--families a,b]\n"
    "                  [--duration D] [--seed N]\n"
    "\n"
    "Simulates the scheduler (its decision layer and core) on a synthetic\n"
    "workload in virtual time and reports per-tier deadline misses, waits\n"
    "and dispatch shares. The last line of stdout is the result as one JSON\n"
    "object.\n"
    "\n"
    "  --workload FILE   workload description (JSON, see docs/SIMULATOR.md)\n"
    "  --generate F      a generated workload of family F (flash, overload,\n"
    "                    estimate, backlog, llm) from --seed (default 1)\n"
    "  --policy P        fifo: one queue by arrival; priority: strict tier\n"
    "                    rank, FIFO within a tier; edf: global earliest\n"
    "                    deadline first; strata: the core's full policy;\n"
    "                    floors: each backlogged tier's floor, then strict\n"
    "                    rank, EDF inside a tier; wfq: fair queueing by tier\n"
    "                    weight (Virtual Clock); llf: global least laxity;\n"
    "                    priority-edf: strict rank, EDF inside a tier\n"
    "  --seed N          random seed (default: the workload's \"seed\")\n"
    "  --duration D      arrival period, overriding \"duration_s\"; a number\n"
    "                    with an optional unit ms, s (default), m or h\n"
    "\n"
    "tournament: every policy on N generated workloads per family (default\n"
    "10, seeds from --seed, default 1; families default all; --duration\n"
    "default 120 s), wins/losses/ties of strata against the best other\n"
    "policy per metric; the last line of stdout is JSON.\n"
    "  --help            print this text\n"
    "  --version         print the version\n";

__attribute__((format(printf, 1, 2), noreturn)) static void
usage_error(const char *fmt, ...) {
  va_list ap;

  fputs("strata-sim: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'strata-sim --help'.\n", stderr);
  exit(EXIT_USAGE);
}

/* "90", "90s", "1500ms", "10m", "1h" -> ms; -1 if malformed or not > 0. */
static int64_t parse_duration(const char *s) {
  char *end;
  double v, mult = 1000.0;

  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || !(v > 0))
    return -1;
  if (!strcmp(end, "ms"))
    mult = 1.0;
  else if (!strcmp(end, "s") || !*end)
    mult = 1000.0;
  else if (!strcmp(end, "m"))
    mult = 60000.0;
  else if (!strcmp(end, "h"))
    mult = 3600000.0;
  else
    return -1;
  if (v * mult < 1 || v * mult > 1e12)
    return -1;
  return (int64_t)(v * mult + 0.5);
}

static const char *need_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc)
    usage_error("option %s needs a value", argv[*i]);
  return argv[++*i];
}

static int tournament(int argc, char **argv) {
  strata_sim_tournament_opts_t o = {10, (1u << STRATA_SIM_NFAMILIES) - 1,
                                    120000, 1};
  char err[1024];

  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--workloads")) {
      const char *v = need_value(argc, argv, &i);
      char *end;
      errno = 0;
      o.workloads = strtoull(v, &end, 10);
      if (errno || end == v || *end || *v == '-' || !o.workloads)
        usage_error("--workloads: expected a positive integer, got \"%s\"", v);
    } else if (!strcmp(a, "--seed")) {
      const char *v = need_value(argc, argv, &i);
      char *end;
      errno = 0;
      o.first_seed = strtoull(v, &end, 10);
      if (errno || end == v || *end || *v == '-')
        usage_error("--seed: expected a non-negative integer, got \"%s\"", v);
    } else if (!strcmp(a, "--duration")) {
      const char *v = need_value(argc, argv, &i);
      if ((o.duration_ms = parse_duration(v)) <= 0)
        usage_error("--duration: expected a positive duration, got \"%s\"", v);
    } else if (!strcmp(a, "--families")) {
      char buf[256], *tok, *save = NULL;
      snprintf(buf, sizeof(buf), "%s", need_value(argc, argv, &i));
      o.families = 0;
      for (tok = strtok_r(buf, ",", &save); tok;
           tok = strtok_r(NULL, ",", &save)) {
        strata_sim_family_t f;
        if (strata_sim_family_parse(tok, &f))
          usage_error("--families: unknown family \"%s\" (flash, overload, "
                      "estimate, backlog, llm)",
                      tok);
        o.families |= 1u << f;
      }
      if (!o.families)
        usage_error("--families: expected a comma-separated list");
    } else {
      usage_error("tournament: unknown argument \"%s\"", a);
    }
  }
  if (strata_sim_tournament(&o, stdout, err, sizeof(err))) {
    fprintf(stderr, "strata-sim: %s\n", err);
    return 1;
  }
  return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *workload = NULL, *policy = NULL, *family = NULL;
  strata_sim_options_t opt = {0};
  strata_sim_workload_t *wl;
  strata_sim_result_t *res;
  char err[1024];
  char *json;

  if (argc > 1 && !strcmp(argv[1], "tournament"))
    return tournament(argc, argv);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("strata-sim %s\n", STRATA_VERSION);
      return 0;
    } else if (!strcmp(a, "--workload")) {
      workload = need_value(argc, argv, &i);
    } else if (!strcmp(a, "--generate")) {
      family = need_value(argc, argv, &i);
    } else if (!strcmp(a, "--policy")) {
      policy = need_value(argc, argv, &i);
    } else if (!strcmp(a, "--seed")) {
      const char *v = need_value(argc, argv, &i);
      char *end;
      errno = 0;
      opt.seed = strtoull(v, &end, 10);
      if (errno || end == v || *end || *v == '-')
        usage_error("--seed: expected a non-negative integer, got \"%s\"", v);
      opt.has_seed = 1;
    } else if (!strcmp(a, "--duration")) {
      const char *v = need_value(argc, argv, &i);
      opt.duration_ms = parse_duration(v);
      if (opt.duration_ms <= 0)
        usage_error("--duration: expected a positive duration such as 600, "
                    "90s, 1500ms, 10m or 1h, got \"%s\"",
                    v);
    } else {
      usage_error("unknown argument \"%s\"", a);
    }
  }
  if (!workload == !family)
    usage_error("one of --workload FILE or --generate FAMILY is required");
  if (!policy)
    usage_error("--policy is required (fifo, priority, edf, strata, floors, "
                "wfq, llf or priority-edf)");
  if (strata_sim_policy_parse(policy, &opt.policy))
    usage_error("--policy: expected fifo, priority, edf, strata, floors, wfq, "
                "llf or priority-edf, got \"%s\"",
                policy);

  if (family) {
    strata_sim_family_t f;
    if (strata_sim_family_parse(family, &f))
      usage_error("--generate: expected flash, overload, estimate, backlog or "
                  "llm, got \"%s\"",
                  family);
    wl = strata_sim_workload_generate(
        f, opt.has_seed ? opt.seed : 1,
        opt.duration_ms > 0 ? opt.duration_ms : 120000, err, sizeof(err));
  } else {
    wl = strata_sim_workload_load(workload, err, sizeof(err));
  }
  if (!wl) {
    fprintf(stderr, "strata-sim: %s\n", err);
    return EXIT_USAGE;
  }
  res = strata_sim_run(wl, &opt, err, sizeof(err));
  strata_sim_workload_destroy(wl);
  if (!res) {
    fprintf(stderr, "strata-sim: %s\n", err);
    return 1;
  }
  strata_sim_result_print(res, stdout);
  json = strata_sim_result_json(res);
  strata_sim_result_destroy(res);
  if (!json) {
    fprintf(stderr, "strata-sim: out of memory\n");
    return 1;
  }
  printf("%s\n", json);
  free(json);
  return fflush(stdout) ? 1 : 0;
}
