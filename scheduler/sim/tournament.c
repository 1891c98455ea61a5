/*
 * The tournament: every policy on N generated workloads per family (gen.c),
 * one run at a time, and per family the wins, losses and ties of `strata`
 * against the best of the other policies on that workload, metric by
 * metric. Prints one line per workload, a table per family and, as the last
 * line, the whole result as one JSON object.
 *
 * Invariants:
 *  - Workload k of a family is generated from seed first_seed + k, so a
 *    tournament is reproducible and its workloads can be rerun one by one
 *    (the per-workload lines name family and seed).
 *  - "Best other" is chosen per workload and per metric: strata must beat
 *    the best baseline on each figure, not one baseline on all.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim.h"

enum { M_CRIT, M_WEIGHTED, M_P99, M_FLOOR, M_N };

static const char *const metric_names[M_N] = {
    "critical_hard_misses", "weighted_misses", "critical_wait_p99_ms",
    "floor_ratio"};

/* Floor ratios closer than this are a tie; at or above 1 - FLOOR_SLACK
 * both kept their floors (the done-when allows 2 %). */
#define FLOOR_EPS 0.01
#define FLOOR_SLACK 0.02

typedef struct {
  uint32_t win[M_N], loss[M_N], tie[M_N];
  double *strata[M_N], *best[M_N]; /* per workload */
  size_t n;
  size_t crit_ok;     /* strata's critical hard misses <= best other */
  size_t weighted_ok; /* strata's weighted misses <= best other */
  size_t weighted_11; /* <= 1.1 x best other */
  size_t floor_ok;    /* strata's floor ratio >= 1 - FLOOR_SLACK */
} fam_t;

/* The smallest share/floor over the tiers that were backlogged for at least
 * 1 % of the worker time, capped at 1: 1 means every backlogged tier got at
 * least its weight's share of the work dispatched while it waited. */
static double floor_ratio(const strata_sim_result_t *r) {
  double sum = 0, worst = 1;

  for (size_t k = 0; k < r->ntiers; k++)
    sum += r->tiers[k].weight;
  for (size_t k = 0; k < r->ntiers; k++) {
    const strata_sim_tier_result_t *t = &r->tiers[k];
    double share, fl = t->weight / sum;
    if (!t->backlog_ms || (double)t->backlog_ms < 0.01 * (double)r->busy_ms)
      continue;
    share = (double)t->backlog_run_ms / (double)t->backlog_ms;
    if (share / fl < worst)
      worst = share / fl;
  }
  return worst;
}

static void metrics(strata_sim_result_t *r, double m[M_N]) {
  m[M_CRIT] = (double)r->tiers[0].misses_hard;
  m[M_WEIGHTED] = (double)r->weighted_misses;
  m[M_P99] = (double)strata_sim_samples_pct(&r->tiers[0].wait_censored, 99);
  m[M_FLOOR] = floor_ratio(r);
}

/* -1 strata loses, 0 tie, 1 strata wins. */
static int compare(int m, double s, double b) {
  if (m == M_FLOOR) {
    if ((s >= 1 - FLOOR_SLACK && b >= 1 - FLOOR_SLACK) ||
        (s - b < FLOOR_EPS && b - s < FLOOR_EPS))
      return 0;
    return s > b ? 1 : -1;
  }
  return s < b ? 1 : s > b ? -1 : 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const double *v, size_t n) {
  double *c;
  double m;

  if (!n || !(c = malloc(n * sizeof(*c))))
    return 0;
  memcpy(c, v, n * sizeof(*c));
  qsort(c, n, sizeof(*c), cmp_double);
  m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return m;
}

/* Runs every policy on one workload; fills m[policy][metric]. */
static int run_all(const strata_sim_workload_t *wl,
                   double m[STRATA_SIM_NPOLICIES][M_N], char *errstr,
                   size_t size) {
  for (int p = 0; p < STRATA_SIM_NPOLICIES; p++) {
    strata_sim_options_t opt = {.policy = (strata_sim_policy_t)p};
    strata_sim_result_t *r = strata_sim_run(wl, &opt, errstr, size);
    if (!r)
      return -1;
    metrics(r, m[p]);
    strata_sim_result_destroy(r);
  }
  return 0;
}

static void fam_free(fam_t *f) {
  for (int k = 0; k < M_N; k++) {
    free(f->strata[k]);
    free(f->best[k]);
  }
}

static json_t *fam_json(const fam_t *f, const char *name) {
  json_t *o = json_object(), *ms = json_object();

  json_object_set_new(o, "family", json_string(name));
  json_object_set_new(o, "workloads", json_integer((json_int_t)f->n));
  for (int k = 0; k < M_N; k++)
    json_object_set_new(
        ms, metric_names[k],
        json_pack("{sisisisfsf}", "wins", (int)f->win[k], "losses",
                  (int)f->loss[k], "ties", (int)f->tie[k], "strata_median",
                  median(f->strata[k], f->n), "best_other_median",
                  median(f->best[k], f->n)));
  json_object_set_new(o, "metrics", ms);
  json_object_set_new(o, "critical_not_worse",
                      json_integer((json_int_t)f->crit_ok));
  json_object_set_new(o, "weighted_not_worse",
                      json_integer((json_int_t)f->weighted_ok));
  json_object_set_new(o, "weighted_within_1_1x",
                      json_integer((json_int_t)f->weighted_11));
  json_object_set_new(o, "floors_kept", json_integer((json_int_t)f->floor_ok));
  return o;
}

static void fam_print(FILE *fp, const fam_t *f, const char *name) {
  fprintf(fp,
          "\nfamily %s: %zu workloads, strata vs the best other policy on "
          "each\n",
          name, f->n);
  fprintf(fp, "  %-22s %5s %5s %5s %14s %14s\n", "metric", "wins", "loss",
          "ties", "strata med", "best-other med");
  for (int k = 0; k < M_N; k++)
    fprintf(fp, "  %-22s %5u %5u %5u %14.4g %14.4g\n", metric_names[k],
            f->win[k], f->loss[k], f->tie[k], median(f->strata[k], f->n),
            median(f->best[k], f->n));
  fprintf(fp,
          "  critical <= best: %zu/%zu; weighted <= best: %zu/%zu, <= 1.1x "
          "best: %zu/%zu; floors kept (>= 0.98): %zu/%zu\n",
          f->crit_ok, f->n, f->weighted_ok, f->n, f->weighted_11, f->n,
          f->floor_ok, f->n);
}

int strata_sim_tournament(const strata_sim_tournament_opts_t *o, FILE *fp,
                          char *errstr, size_t size) {
  json_t *root = json_object(), *fams = json_array();
  char *line;
  int rc = -1;

  if (!root || !fams) {
    snprintf(errstr, size, "out of memory");
    goto done;
  }
  for (int fi = 0; fi < STRATA_SIM_NFAMILIES; fi++) {
    const char *fname = strata_sim_family_name((strata_sim_family_t)fi);
    fam_t f;

    if (!(o->families & (1u << fi)))
      continue;
    memset(&f, 0, sizeof(f));
    for (int k = 0; k < M_N; k++) {
      f.strata[k] = calloc(o->workloads ? o->workloads : 1, sizeof(double));
      f.best[k] = calloc(o->workloads ? o->workloads : 1, sizeof(double));
      if (!f.strata[k] || !f.best[k]) {
        fam_free(&f);
        snprintf(errstr, size, "out of memory");
        goto done;
      }
    }
    for (size_t w = 0; w < o->workloads; w++) {
      double m[STRATA_SIM_NPOLICIES][M_N];
      uint64_t seed = o->first_seed + w;
      strata_sim_workload_t *wl = strata_sim_workload_generate(
          (strata_sim_family_t)fi, seed, o->duration_ms, errstr, size);
      const double *s = m[STRATA_SIM_POLICY_STRATA];

      if (!wl || run_all(wl, m, errstr, size)) {
        strata_sim_workload_destroy(wl);
        fam_free(&f);
        goto done;
      }
      fprintf(fp, "%s seed %llu (load %.2f):", fname, (unsigned long long)seed,
              strata_sim_workload_steady_utilisation(wl));
      strata_sim_workload_destroy(wl);
      for (int k = 0; k < M_N; k++) {
        int bp = -1;
        for (int p = 0; p < STRATA_SIM_NPOLICIES; p++) {
          if (p == STRATA_SIM_POLICY_STRATA)
            continue;
          if (bp < 0 ||
              (k == M_FLOOR ? m[p][k] > m[bp][k] : m[p][k] < m[bp][k]))
            bp = p;
        }
        switch (compare(k, s[k], m[bp][k])) {
        case 1:
          f.win[k]++;
          break;
        case -1:
          f.loss[k]++;
          break;
        default:
          f.tie[k]++;
          break;
        }
        f.strata[k][f.n] = s[k];
        f.best[k][f.n] = m[bp][k];
        fprintf(fp, " %s %.4g vs %.4g (%s)", metric_names[k], s[k], m[bp][k],
                strata_sim_policy_name((strata_sim_policy_t)bp));
        if (k == M_CRIT && s[k] <= m[bp][k])
          f.crit_ok++;
        if (k == M_WEIGHTED && s[k] <= m[bp][k])
          f.weighted_ok++;
        if (k == M_WEIGHTED && s[k] <= 1.1 * m[bp][k])
          f.weighted_11++;
        if (k == M_FLOOR && s[k] >= 1 - FLOOR_SLACK)
          f.floor_ok++;
      }
      fputc('\n', fp);
      f.n++;
    }
    fam_print(fp, &f, fname);
    json_array_append_new(fams, fam_json(&f, fname));
    fam_free(&f);
  }
  json_object_set_new(root, "tournament", json_string("strata"));
  json_object_set_new(root, "workloads_per_family",
                      json_integer((json_int_t)o->workloads));
  json_object_set_new(root, "duration_ms",
                      json_integer((json_int_t)o->duration_ms));
  json_object_set_new(root, "first_seed",
                      json_integer((json_int_t)o->first_seed));
  json_object_set_new(root, "families", fams);
  fams = NULL;
  line = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
                              JSON_REAL_PRECISION(4));
  if (!line) {
    snprintf(errstr, size, "out of memory");
    goto done;
  }
  fprintf(fp, "%s\n", line);
  free(line);
  rc = 0;
done:
  json_decref(fams);
  json_decref(root);
  return rc;
}
