/*
 * `strata-bench core`: dispatch decisions per second of the scheduler core
 * through its full policy with a large resident backlog, and bytes per held
 * task as seen by the allocator.
 *
 * Setup: the five default tiers, aging on, look-ahead 8, two resource pools
 * every task draws on (a token bucket "llm.tpm" and a concurrency pool
 * "tool.slots"), a mix of tasks without deadline, with soft deadlines and
 * estimates (least laxity), and with hard deadlines (expiry timers), random
 * priorities. Phase 1 fills the core to --tasks resident tasks and measures
 * the allocator's in-use bytes before and after (mallinfo2: heap plus mmap),
 * divided by the task count. Phase 2 is the steady state: for --seconds,
 * submit one task, make one dispatch decision, complete the dispatched task
 * with its actual token usage. decisions_per_sec counts those loop turns, so
 * it includes the submit and the completion that keep the backlog at size,
 * and are divided by the thread's CPU time (wall time is printed too), so a
 * busy machine does not halve the figure by stealing the CPU.
 *
 * Time is simulated (one millisecond per 1000 decisions) so the run is
 * deterministic apart from the wall-clock measurement itself.
 */
#include "bench.h"

#include "strata/core.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 1024

typedef struct {
  uint64_t tasks;
  double seconds;
  uint64_t seed;
  uint32_t batch;
  uint64_t turns; /* 0: run for `seconds` */
} core_opts_t;

static uint64_t rng_state;

/* splitmix64: small, fast, good enough to shuffle a workload. */
static uint64_t rnd(void) {
  uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static char *fmt_id(char *buf, uint64_t n) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  buf[0] = 't';
  for (int i = 0; i < k; i++)
    buf[1 + i] = tmp[k - 1 - i];
  buf[1 + k] = '\0';
  return buf;
}

/* Tier mix roughly as traffic is shaped in practice: most work in normal. */
static uint32_t pick_tier(void) {
  uint64_t r = rnd() % 100;
  return r < 10 ? 0 : r < 30 ? 1 : r < 70 ? 2 : r < 90 ? 3 : 4;
}

/* Fills `s` with task number `n`; its id is written to `id` (32 bytes). */
static void make_spec(strata_core_task_spec_t *sp, char *id, uint64_t n,
                      int64_t now) {
  static const strata_core_demand_t demands[2] = {{"llm.tpm", 500},
                                                  {"tool.slots", 1}};
  strata_core_task_spec_t s;
  uint64_t r = rnd();

  memset(&s, 0, sizeof(s));
  s.id = fmt_id(id, n);
  s.tier = pick_tier();
  s.priority = (int32_t)(r % 5) - 2;
  switch ((r >> 8) % 3) {
  case 0: /* implicit deadline from the tier */
    break;
  case 1: /* soft deadline with an estimate: least laxity */
    s.deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    s.deadline = now + 1000 + (int64_t)((r >> 16) % 60000);
    s.estimate_ms = (int64_t)((r >> 32) % 2000);
    break;
  default: /* hard deadline far enough out to be met: an expiry timer */
    s.deadline_kind = STRATA_CORE_DEADLINE_HARD;
    s.deadline = now + 3600000 + (int64_t)((r >> 16) % 60000);
    s.estimate_ms = (int64_t)((r >> 32) % 2000);
    break;
  }
  s.demands = demands;
  s.ndemands = 2;
  s.cookie = n;
  *sp = s;
}

static int submit_one(strata_core_t *c, uint64_t n, int64_t now) {
  strata_core_task_spec_t s;
  char id[32], err[256];

  make_spec(&s, id, n, now);
  if (strata_core_submit(c, &s, now, err, sizeof(err)) != STRATA_OK) {
    fprintf(stderr, "strata-bench core: submit %s: %s\n", s.id, err);
    return -1;
  }
  return 0;
}

/* Reports why no task could be dispatched (the bench expects one always). */
static void no_dispatch(strata_core_t *c, uint64_t turns, int64_t now) {
  strata_core_stats_t st;

  fprintf(stderr, "strata-bench core: no dispatch at turn %" PRIu64 "\n",
          turns);
  strata_core_stats(c, now, &st);
  for (size_t i = 0; i < st.ntiers; i++)
    fprintf(stderr, "  tier %zu ready %llu blocked %d pool %d until %lld\n", i,
            (unsigned long long)st.tiers[i].depth[0], st.tiers[i].head_blocked,
            st.tiers[i].blocked_pool, (long long)st.tiers[i].blocked_until);
}

/* Turns in groups of `b` through the batch calls: b submissions in one
   strata_core_submit_batch(), b decisions (strata_core_next()), b
   completions in one strata_core_complete_batch(). Same work per turn as
   b single turns; the core holds up to b more tasks during a group. */
static int group_of_turns(strata_core_t *c, uint32_t b, uint64_t *next_id,
                          uint64_t *turns, int64_t now) {
  static strata_core_task_spec_t specs[BATCH_MAX];
  static char ids[BATCH_MAX][32];
  static strata_core_completion_t done[BATCH_MAX];
  static strata_core_usage_t used[BATCH_MAX];
  strata_core_dispatch_t d;
  char err[256];

  for (uint32_t i = 0; i < b; i++)
    make_spec(&specs[i], ids[i], (*next_id)++, now);
  if (strata_core_submit_batch(c, specs, b, now, NULL, err, sizeof(err)) != b) {
    fprintf(stderr, "strata-bench core: submit: %s\n", err);
    return -1;
  }
  for (uint32_t i = 0; i < b; i++) {
    if (!strata_core_next(c, now, &d)) {
      no_dispatch(c, *turns + i, now);
      return -1;
    }
    used[i].pool = "llm.tpm";
    used[i].amount = 300 + (int64_t)((*turns + i) % 400);
    done[i].handle = d.handle;
    done[i].result = STRATA_CORE_SUCCEEDED;
    done[i].usage = &used[i];
    done[i].nusage = 1;
  }
  if (strata_core_complete_batch(c, done, b, now, err, sizeof(err)) != b) {
    fprintf(stderr, "strata-bench core: complete: %s\n", err);
    return -1;
  }
  *turns += b;
  return 0;
}

static void core_usage(FILE *f) {
  fprintf(f, "usage: strata-bench core [--tasks N] [--seconds S] [--seed X] "
             "[--batch B]\n"
             "  --tasks N    resident tasks (default 1000000)\n"
             "  --seconds S  steady-state duration (default 5)\n"
             "  --seed X     workload seed (default 1)\n"
             "  --batch B    turns per group through the batch calls, 1..1024;"
             "\n"
             "               1 = one call per submit and per completion "
             "(default 32)\n"
             "  --turns T    run exactly T steady-state turns (rounded up to a "
             "multiple of 1024)\n"
             "               instead of --seconds, for instruction-count "
             "profiles\n"
             "Last stdout line: {\"bench\":\"core\",\"resident\":N,"
             "\"decisions_per_sec\":X,\"bytes_per_task\":Y}\n");
}

static int parse_opts(int argc, char **argv, core_opts_t *o) {
  const char *a = "";
  char *end = NULL;

  o->tasks = 1000000;
  o->seconds = 5;
  o->seed = 1;
  o->batch = 32;
  o->turns = 0;
  for (int i = 1; i < argc; i++) {
    a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      core_usage(stdout);
      return 1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "strata-bench core: %s needs a value\n", a);
      return -1;
    }
    if (!strcmp(a, "--tasks")) {
      o->tasks = strtoull(argv[++i], &end, 10);
      if (*end || o->tasks < 1 || o->tasks > 100000000)
        goto bad;
    } else if (!strcmp(a, "--seconds")) {
      o->seconds = strtod(argv[++i], &end);
      if (*end || o->seconds <= 0)
        goto bad;
    } else if (!strcmp(a, "--batch")) {
      unsigned long v = strtoul(argv[++i], &end, 10);
      if (*end || v < 1 || v > BATCH_MAX)
        goto bad;
      o->batch = (uint32_t)v;
    } else if (!strcmp(a, "--turns")) {
      o->turns = strtoull(argv[++i], &end, 10);
      if (*end || o->turns < 1)
        goto bad;
    } else if (!strcmp(a, "--seed")) {
      o->seed = strtoull(argv[++i], &end, 10);
      if (*end)
        goto bad;
    } else {
      fprintf(stderr, "strata-bench core: unknown option %s\n", a);
      core_usage(stderr);
      return -1;
    }
  }
  return 0;
bad:
  fprintf(stderr, "strata-bench core: bad value for %s\n", a);
  return -1;
}

int bench_core_main(int argc, char **argv) {
  strata_core_config_t cfg;
  strata_core_pool_config_t tpm = {STRATA_CORE_POOL_TOKEN_BUCKET,
                                   INT64_C(1000000000), 1000, 1000000000, 0};
  strata_core_pool_config_t slots = {STRATA_CORE_POOL_CONCURRENCY, 0, 0, 0,
                                     1024};
  strata_core_usage_t used[1] = {{"llm.tpm", 0}};
  strata_core_dispatch_t d;
  strata_core_t *c;
  core_opts_t o;
  char err[256];
  size_t before, after;
  double t0, t1, c0, fill_s, elapsed, cpu;
  uint64_t next_id = 0, turns = 0;
  int64_t now = 0;
  int rc = parse_opts(argc, argv, &o);

  if (rc)
    return rc > 0 ? 0 : 2;
  rng_state = o.seed;
  strata_core_config_default(&cfg);
  cfg.max_tasks = o.tasks + o.batch; /* a group holds up to batch more */
  before = heap_in_use();
  c = strata_core_new(&cfg, err, sizeof(err));
  if (!c) {
    fprintf(stderr, "strata-bench core: %s\n", err);
    return 1;
  }
  if (strata_core_pool_add(c, "llm.tpm", &tpm, NULL, err, sizeof(err)) ||
      strata_core_pool_add(c, "tool.slots", &slots, NULL, err, sizeof(err))) {
    fprintf(stderr, "strata-bench core: %s\n", err);
    strata_core_destroy(c);
    return 1;
  }

  t0 = mono_s();
  for (uint64_t i = 0; i < o.tasks; i++)
    if (submit_one(c, next_id++, now)) {
      strata_core_destroy(c);
      return 1;
    }
  t1 = mono_s();
  fill_s = t1 - t0;
  after = heap_in_use();

  t0 = mono_s();
  c0 = cpu_s();
  for (;;) {
    for (int k = 0; k < 1024 && o.batch > 1; k += (int)o.batch) {
      now = (int64_t)(turns / 1000);
      if (group_of_turns(c, o.batch, &next_id, &turns, now))
        goto out;
    }
    for (int k = 0; k < 1024 && o.batch == 1; k++) {
      now = (int64_t)(turns / 1000);
      if (submit_one(c, next_id++, now))
        goto out;
      if (!strata_core_next(c, now, &d)) {
        no_dispatch(c, turns, now);
        goto out;
      }
      /* Actual token usage differs from the estimate: reconcile. */
      used[0].amount = 300 + (int64_t)(turns % 400);
      if (strata_core_complete_handle(c, d.handle, STRATA_CORE_SUCCEEDED, used,
                                      1, now, err, sizeof(err))) {
        fprintf(stderr, "strata-bench core: complete: %s\n", err);
        goto out;
      }
      turns++;
    }
    t1 = mono_s();
    if (o.turns ? turns >= o.turns : t1 - t0 >= o.seconds)
      break;
  }
out:
  elapsed = mono_s() - t0;
  cpu = cpu_s() - c0;
  {
    strata_core_stats_t st;
    strata_core_stats(c, now, &st);
    printf("core: filled %" PRIu64 " tasks in %.3f s (%.0f submits/s)\n",
           o.tasks, fill_s, (double)o.tasks / fill_s);
    printf("core: allocator bytes in use: %zu before, %zu after fill\n", before,
           after);
    printf("core: steady state %" PRIu64 " turns (submit+decide+complete) "
           "in %.3f s wall, %.3f s CPU, %" PRIu64 " held at end, "
           "groups of %u turn(s)\n",
           turns, elapsed, cpu, st.held, (unsigned)o.batch);
    printf("core: allocator bytes in use at end: %zu (%.1f per held task)\n",
           heap_in_use(),
           (double)(heap_in_use() - before) / (double)(st.held ? st.held : 1));
    printf("core: %.0f decisions per wall second, %.0f per CPU second\n",
           (double)turns / elapsed, (double)turns / cpu);
    for (size_t i = 0; i < st.ntiers; i++)
      printf("core:   tier %-10s dispatched %10" PRIu64 "  aged %8" PRIu64
             "  soft misses %8" PRIu64 "  longest wait %lld ms\n",
             st.tiers[i].name, st.tiers[i].dispatched,
             st.tiers[i].aged_dispatches, st.tiers[i].soft_misses,
             (long long)st.tiers[i].longest_wait_ms);
    printf("{\"bench\":\"core\",\"resident\":%" PRIu64
           ",\"decisions_per_sec\":%.0f,\"bytes_per_task\":%.1f}\n",
           o.tasks, (double)turns / cpu,
           (double)(after - before) / (double)o.tasks);
  }
  strata_core_destroy(c);
  return 0;
}
