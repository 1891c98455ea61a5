/*
 * strata-sim: a discrete-event simulator that drives the scheduler's decision
 * layer (scheduler/decide/) and the core under it with a synthetic workload
 * in virtual time and measures what each scheduling policy does with it. This
 * header is the simulator's library interface (static library strata_sim); the
 * strata-sim program and the unit tests are its two users.
 *
 * Determinism: nothing here reads a clock or an unseeded random source. The
 * same workload, policy and seed always give byte-identical results.
 */
#ifndef STRATA_SIM_H
#define STRATA_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Random numbers and distributions                                         */
/* ------------------------------------------------------------------------ */

/** xoshiro256** state; seed it with strata_sim_rng_seed(). */
typedef struct {
  uint64_t s[4];
} strata_sim_rng_t;

/** Seeds `rng` from one 64-bit value (expanded with splitmix64). `stream`
 *  selects an independent sequence for the same seed. */
void strata_sim_rng_seed(strata_sim_rng_t *rng, uint64_t seed, uint64_t stream);

/** Next 64 random bits. */
uint64_t strata_sim_rng_next(strata_sim_rng_t *rng);

/** Uniform double in [0, 1) with 53 random bits. */
double strata_sim_rng_unit(strata_sim_rng_t *rng);

typedef enum {
  STRATA_SIM_DIST_CONSTANT = 0, /**< a = value */
  STRATA_SIM_DIST_UNIFORM,      /**< a = min, b = max */
  STRATA_SIM_DIST_EXPONENTIAL,  /**< a = mean */
  STRATA_SIM_DIST_LOGNORMAL     /**< a = mean, b = sigma of ln(X) */
} strata_sim_dist_kind_t;

typedef struct {
  strata_sim_dist_kind_t kind;
  double a;
  double b;
} strata_sim_dist_t;

/** One sample of `d`. */
double strata_sim_dist_sample(const strata_sim_dist_t *d,
                              strata_sim_rng_t *rng);

/** The distribution's mean (exact, not estimated). */
double strata_sim_dist_mean(const strata_sim_dist_t *d);

/* ------------------------------------------------------------------------ */
/* Workload                                                                 */
/* ------------------------------------------------------------------------ */

#define STRATA_SIM_MAX_CLASSES 64
#define STRATA_SIM_MAX_DEMANDS 8
#define STRATA_SIM_MAX_STAGES 16
#define STRATA_SIM_MAX_WIDTH 64
#define STRATA_SIM_NAME_MAX 63

typedef struct {
  char name[STRATA_SIM_NAME_MAX + 1];
  uint32_t weight;
  int64_t target_wait_ms;
} strata_sim_tier_t;

typedef struct {
  char name[STRATA_SIM_NAME_MAX + 1];
  strata_core_pool_config_t cfg;
} strata_sim_pool_t;

typedef struct {
  int pool;                 /**< Index into the workload's pools. */
  strata_sim_dist_t amount; /**< Reserved amount per task (rounded, >= 1). */
  strata_sim_dist_t usage;  /**< Actual use = amount x usage factor. */
} strata_sim_demand_t;

/** A task class: one arrival process and the shape of what arrives. */
typedef struct {
  char name[STRATA_SIM_NAME_MAX + 1];
  int tier;
  int32_t priority;
  double rate_per_s;        /**< Poisson arrivals of workflows; 0 = none. */
  int64_t burst_every_ms;   /**< Periodic bursts; 0 = none. */
  int64_t burst_start_ms;   /**< First burst. */
  uint32_t burst_size;      /**< Workflows per burst. */
  strata_sim_dist_t run_ms; /**< Actual run time. */
  strata_sim_dist_t estimate_factor; /**< estimate = actual x factor. */
  int has_deadline;
  strata_sim_dist_t deadline_ms; /**< Relative to arrival (end-to-end). */
  double hard_share;             /**< Share of workflows with hard deadlines. */
  /** 1: only the last stage carries the workflow's deadline (the earlier
   *  stages have none); 0: the deadline is split evenly over the stages. */
  int deadline_leaf_only;
  strata_sim_demand_t demands[STRATA_SIM_MAX_DEMANDS];
  size_t ndemands;
  /** Workflow shape: stage widths; each task of stage k depends on every
   *  task of stage k-1. {1} is a lone task. */
  uint32_t stages[STRATA_SIM_MAX_STAGES];
  size_t nstages;
  /** Share of attempts whose worker is lost mid-run (0 = none), and the
   *  heartbeat timeout (Task.timeouts.heartbeat_ms) that detects it; 0 when
   *  the class has no "lost" object. */
  double lost_share;
  int64_t heartbeat_ms;
} strata_sim_class_t;

typedef struct {
  char name[128];
  uint64_t seed;
  int64_t duration_ms; /**< Arrivals happen in [0, duration). */
  int64_t drain_ms;    /**< Extra time to let queued work finish. */
  uint32_t workers;
  strata_sim_tier_t tiers[STRATA_CORE_MAX_TIERS];
  size_t ntiers;
  strata_sim_pool_t pools[STRATA_CORE_MAX_POOLS];
  size_t npools;
  strata_sim_class_t classes[STRATA_SIM_MAX_CLASSES];
  size_t nclasses;
  /** Core knobs for the strata policy; -1 = the core's default. */
  int64_t starvation_bound_ms;
  int64_t lookahead;
  int64_t dep_bonus_ms;
  int64_t dep_bonus_max;
  int64_t priority_step_ms;
} strata_sim_workload_t;

/**
 * Parses a workload from JSON text. `source` names it in error messages
 * (usually the file name). Returns a new workload (caller owns it, free with
 * strata_sim_workload_destroy()) or NULL with a message in `errstr` of the
 * form "SOURCE: $.json.path: what was expected".
 */
strata_sim_workload_t *strata_sim_workload_parse(const char *text,
                                                 const char *source,
                                                 char *errstr, size_t size);

/** Same as strata_sim_workload_parse() for the file at `path`. */
strata_sim_workload_t *strata_sim_workload_load(const char *path, char *errstr,
                                                size_t size);

/** Frees a workload. Accepts NULL. */
void strata_sim_workload_destroy(strata_sim_workload_t *wl);

/** Offered utilisation: sum over classes of task arrival rate x mean run
 *  time, divided by the number of workers. */
double strata_sim_workload_utilisation(const strata_sim_workload_t *wl);

/* ------------------------------------------------------------------------ */
/* Generated workloads (gen.c)                                              */
/* ------------------------------------------------------------------------ */

typedef enum {
  STRATA_SIM_FAMILY_FLASH = 0, /**< steady mix plus one flash crowd */
  STRATA_SIM_FAMILY_OVERLOAD,  /**< sustained overload 90-160 % */
  STRATA_SIM_FAMILY_ESTIMATE,  /**< a class at 3x its estimate, heavy tails */
  STRATA_SIM_FAMILY_BACKLOG,   /**< deep deadline-less backlog, then traffic */
  STRATA_SIM_FAMILY_LLM,       /**< token quota squeeze, DAGs, leaf deadline */
  STRATA_SIM_NFAMILIES
} strata_sim_family_t;

/** Parses a family name ("flash", "overload", "estimate", "backlog",
 *  "llm"). Returns -1 if unknown. */
int strata_sim_family_parse(const char *name, strata_sim_family_t *out);

/** The family's name as strata_sim_family_parse() accepts it. */
const char *strata_sim_family_name(strata_sim_family_t family);

/** The range [lo, hi] of the offered utilisation of a generated workload's
 *  steady classes (strata_sim_workload_steady_utilisation()). */
void strata_sim_family_load_range(strata_sim_family_t family, double *lo,
                                  double *hi);

/**
 * Generates a workload of `family` from `seed` with arrivals over
 * `duration_ms`: same arguments, same workload. Returns a new workload
 * (caller owns it, free with strata_sim_workload_destroy()) or NULL with a
 * message in `errstr`.
 */
strata_sim_workload_t *strata_sim_workload_generate(strata_sim_family_t family,
                                                    uint64_t seed,
                                                    int64_t duration_ms,
                                                    char *errstr, size_t size);

/** Offered utilisation of every class except one named "backlog" (the
 *  backlog family's burst at 0, whose load depends on the duration). */
double strata_sim_workload_steady_utilisation(const strata_sim_workload_t *wl);

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

/** A growable array of integer samples with exact percentiles. */
typedef struct {
  int64_t *v;
  size_t n;
  size_t cap;
  int sorted;
} strata_sim_samples_t;

/** Appends `x`. Returns -1 on out of memory. */
int strata_sim_samples_add(strata_sim_samples_t *s, int64_t x);

/** Nearest-rank percentile (p in (0, 100]): the smallest sample such that at
 *  least p % of the samples are <= it. 0 when empty. Sorts in place. */
int64_t strata_sim_samples_pct(strata_sim_samples_t *s, double p);

/** Frees the samples' storage and empties it. */
void strata_sim_samples_clear(strata_sim_samples_t *s);

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum {
  STRATA_SIM_POLICY_FIFO = 0,
  STRATA_SIM_POLICY_PRIORITY,
  STRATA_SIM_POLICY_EDF,
  STRATA_SIM_POLICY_STRATA,
  STRATA_SIM_POLICY_FLOORS,       /**< floors, then strict rank; EDF inside */
  STRATA_SIM_POLICY_WFQ,          /**< fair queueing by tier weight */
  STRATA_SIM_POLICY_LLF,          /**< global least laxity */
  STRATA_SIM_POLICY_PRIORITY_EDF, /**< strict tier rank, EDF inside a tier */
  STRATA_SIM_NPOLICIES
} strata_sim_policy_t;

/** Parses "fifo", "priority", "edf", "strata", "floors", "wfq", "llf" or
 *  "priority-edf". Returns -1 if unknown. */
int strata_sim_policy_parse(const char *name, strata_sim_policy_t *out);

/** The policy's name as strata_sim_policy_parse() accepts it. */
const char *strata_sim_policy_name(strata_sim_policy_t policy);

typedef struct {
  strata_sim_policy_t policy;
  int has_seed; /**< Use `seed` instead of the workload's. */
  uint64_t seed;
  int64_t duration_ms; /**< > 0 overrides the workload's duration. */
} strata_sim_options_t;

/** Counters for one tier (or for all tiers together). */
typedef struct {
  char name[STRATA_SIM_NAME_MAX + 1];
  uint32_t weight;
  uint64_t submitted;
  uint64_t with_deadline; /**< Submitted with an explicit deadline. */
  uint64_t dispatched;
  uint64_t completed;
  uint64_t late;        /**< Completed after their explicit deadline. */
  uint64_t misses_hard; /**< Hard-deadline tasks not done by the deadline. */
  uint64_t misses_soft; /**< Soft-deadline tasks not done by the deadline. */
  uint64_t expired;     /**< Given up by the core (hard deadline). */
  uint64_t dep_failed;  /**< Given up because a dependency was. */
  uint64_t failed;      /**< Dead-lettered: every attempt was lost. */
  uint64_t pending;     /**< Still held when the simulation ended. */
  uint64_t aged;        /**< Dispatched by the starvation bound. */
  uint64_t lent;        /**< Dispatched by lending (core count, strata). */
  uint64_t urgent;      /**< Dispatched by the urgency override (same). */
  uint64_t retried;     /**< Attempts presumed lost and retried. */
  strata_sim_samples_t wait;    /**< ms from ready to dispatch. */
  strata_sim_samples_t unblock; /**< ms from last dependency done to
                                     dispatch, tasks with dependencies. */
  /** Waits including tasks never dispatched: a task that became ready and
   *  was never dispatched counts its time from ready to its end (expiry,
   *  failure) or to the end of the run. First attempts only. */
  strata_sim_samples_t wait_censored;
  /** Work (ms of run time) dispatched while the tier had a ready task
   *  waiting, and the part of it that was the tier's own: their ratio is
   *  the tier's share while backlogged. */
  uint64_t backlog_ms;
  uint64_t backlog_run_ms;
} strata_sim_tier_result_t;

/** Everything a run measured. Owned by the caller; free with
 *  strata_sim_result_destroy(). */
typedef struct {
  char workload[128];
  strata_sim_policy_t policy;
  uint64_t seed;
  int64_t duration_ms;
  int64_t end_ms; /**< Virtual time at which the run stopped. */
  uint32_t workers;
  double utilisation;
  uint64_t busy_ms; /**< Worker time spent running tasks. */
  size_t ntiers;
  strata_sim_tier_result_t tiers[STRATA_CORE_MAX_TIERS];
  strata_sim_tier_result_t overall;
  /** Sum over tiers of tier weight x (hard + soft misses). */
  uint64_t weighted_misses;
} strata_sim_result_t;

/**
 * Runs the simulation. Returns a new result (caller owns it) or NULL with a
 * message in `errstr` (a decision that should not happen with a valid
 * workload, such as a task record refused, or out of memory). Raises the
 * process-wide log level (strata/log.h) to errors for the run and restores
 * it afterwards: the decision layer logs each expiry and lost attempt.
 */
strata_sim_result_t *strata_sim_run(const strata_sim_workload_t *wl,
                                    const strata_sim_options_t *opt,
                                    char *errstr, size_t size);

/** Frees a result. Accepts NULL. */
void strata_sim_result_destroy(strata_sim_result_t *res);

/** The result as one line of JSON (no newline). Caller frees with free().
 *  NULL on out of memory. */
char *strata_sim_result_json(strata_sim_result_t *res);

/** Writes the human table. */
void strata_sim_result_print(strata_sim_result_t *res, FILE *fp);

/* ------------------------------------------------------------------------ */
/* Tournament (tournament.c)                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
  size_t workloads;    /**< Generated workloads per family. */
  uint32_t families;   /**< Bit (1 << strata_sim_family_t) per family. */
  int64_t duration_ms; /**< Arrival period of each workload. */
  uint64_t first_seed; /**< Workload k has seed first_seed + k. */
} strata_sim_tournament_opts_t;

/**
 * Runs every policy on `workloads` generated workloads of each selected
 * family, one run at a time, and writes to `fp` one line per workload, a
 * table per family (wins, losses and ties of strata against the best other
 * policy on each workload, per metric) and as the last line one JSON
 * object. Returns 0, or -1 with a message in `errstr`.
 */
int strata_sim_tournament(const strata_sim_tournament_opts_t *opt, FILE *fp,
                          char *errstr, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_SIM_H */
