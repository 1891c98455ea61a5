/*
 * The simulation: generates a workload's tasks, feeds them to a scheduler
 * core configured for one policy, runs N virtual workers in virtual time and
 * measures what happened to every task.
 *
 * Time is integer milliseconds from 0 (the core sees them shifted by a fixed
 * epoch, SIM_EPOCH). The loop is the usual discrete-event one: at each
 * instant, completions first, then arrivals, then dispatch decisions while a
 * worker is free; then jump to the earliest of the next completion, the
 * next arrival and, when a worker is free, the core's next wakeup.
 *
 * Invariants that make the comparison fair and the output reproducible:
 *  - Every task (arrival time, run time, estimate, deadline, demands and
 *    actual usage) is generated before the run from per-class random
 *    streams, so all four policies see exactly the same tasks, and the only
 *    thing a policy changes is how the core is configured and what each
 *    submission tells it (see policy_*() below and docs/SIMULATOR.md).
 *  - Pools and dependencies are handed to the core identically under every
 *    policy: they are constraints, not policy.
 *  - Ties are broken by order: completions by (time, dispatch order),
 *    arrivals by (time, class, generation order).
 *  - Whether a task met its deadline is judged here, from its completion
 *    time, the same way for every policy; the core's own soft-miss flag is
 *    not used for that.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Virtual time 0 as the core sees it: any fixed epoch works; a realistic one
 * keeps reason strings readable. 2023-11-14T22:13:20Z. */
#define SIM_EPOCH INT64_C(1700000000000)

/* The priority baseline orders by tier rank through the core's priority
 * shift: the core's largest step (2^24 ms) times 1000 priority units per
 * rank makes one rank worth about 194 days of urgency, far more than any
 * simulated span, so rank always wins and arrival order breaks ties. */
#define PRIORITY_RANK_STEP_MS (INT64_C(1) << 24)
#define PRIORITY_PER_RANK 1000

/* The core's largest look-ahead (docs/CORE.md). */
#define BASELINE_LOOKAHEAD_MAX 64

enum { T_WAITING = 0, T_HELD, T_RUNNING, T_DONE, T_EXPIRED, T_DEP_FAILED };

typedef struct {
  int64_t arrival;  /* sim ms */
  int64_t deadline; /* sim ms; meaningful when kind != NONE */
  int64_t run_ms;
  int64_t estimate_ms; /* 0 = unknown */
  int64_t dispatched_at;
  int64_t finished_at;
  uint32_t cls;
  uint32_t dep_first; /* into sim_t.deps */
  uint32_t ndeps;
  uint32_t dem_first; /* into sim_t.amount / sim_t.usage */
  uint8_t kind;       /* strata_core_deadline_kind_t */
  uint8_t state;
} task_t;

typedef struct {
  int64_t at;
  uint64_t seq;
  uint32_t task;
} completion_t;

typedef struct {
  const strata_sim_workload_t *wl;
  strata_sim_policy_t policy;
  uint64_t seed;
  int64_t duration_ms;
  task_t *tasks;
  size_t ntasks, cap;
  uint32_t *deps;
  size_t ndeps, depcap;
  int64_t *amount, *usage;
  size_t ndem, demcap, usecap;
  completion_t *heap;
  size_t nheap;
  uint64_t seq;
  strata_core_t *core;
  int priority_of_tier[STRATA_CORE_MAX_TIERS];
} sim_t;

/* ------------------------------------------------------------------------ */
/* Task generation                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
  int64_t at;
  uint32_t cls;
  uint32_t seq;
} flow_t;

static int cmp_flow(const void *a, const void *b) {
  const flow_t *x = a, *y = b;
  if (x->at != y->at)
    return x->at < y->at ? -1 : 1;
  if (x->cls != y->cls)
    return x->cls < y->cls ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

static int flows_push(flow_t **v, size_t *n, size_t *cap, flow_t f) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 1024;
    flow_t *nv = realloc(*v, nc * sizeof(*nv));
    if (!nv)
      return -1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = f;
  return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  size_t nc;
  void *np;

  if (need <= *cap)
    return 0;
  nc = *cap ? *cap : 1024;
  while (nc < need)
    nc *= 2;
  np = realloc(*p, nc * elem);
  if (!np)
    return -1;
  *p = np;
  *cap = nc;
  return 0;
}

/* Arrival times of workflows, per class from its own stream, then merged. */
static int gen_flows(sim_t *s, flow_t **out, size_t *nout) {
  const strata_sim_workload_t *wl = s->wl;
  flow_t *v = NULL;
  size_t n = 0, cap = 0;

  for (uint32_t c = 0; c < wl->nclasses; c++) {
    const strata_sim_class_t *cl = &wl->classes[c];
    strata_sim_rng_t rng;
    uint32_t seq = 0;

    strata_sim_rng_seed(&rng, s->seed, 2 * (uint64_t)c + 1);
    if (cl->rate_per_s > 0) {
      strata_sim_dist_t gap = {STRATA_SIM_DIST_EXPONENTIAL,
                               1000.0 / cl->rate_per_s, 0};
      double t = 0;
      for (;;) {
        t += strata_sim_dist_sample(&gap, &rng);
        if (t >= (double)s->duration_ms)
          break;
        if (flows_push(&v, &n, &cap, (flow_t){(int64_t)t, c, seq++}))
          goto oom;
      }
    }
    if (cl->burst_every_ms > 0)
      for (int64_t t = cl->burst_start_ms; t < s->duration_ms;
           t += cl->burst_every_ms)
        for (uint32_t k = 0; k < cl->burst_size; k++)
          if (flows_push(&v, &n, &cap, (flow_t){t, c, seq++}))
            goto oom;
  }
  if (n)
    qsort(v, n, sizeof(*v), cmp_flow);
  *out = v;
  *nout = n;
  return 0;
oom:
  free(v);
  return -1;
}

static int64_t round_at_least(double x, int64_t lo) {
  int64_t r = (int64_t)llround(x);
  return r < lo ? lo : r;
}

/*
 * Expands each workflow into its tasks, in arrival order. Attributes come
 * from a second stream per class, drawn in that class's arrival order, so
 * they do not depend on the other classes.
 */
static int gen_tasks(sim_t *s) {
  const strata_sim_workload_t *wl = s->wl;
  strata_sim_rng_t rng[STRATA_SIM_MAX_CLASSES];
  flow_t *flows = NULL;
  size_t nflows = 0;

  for (uint32_t c = 0; c < wl->nclasses; c++)
    strata_sim_rng_seed(&rng[c], s->seed, 2 * (uint64_t)c + 2);
  if (gen_flows(s, &flows, &nflows))
    return -1;
  for (size_t f = 0; f < nflows; f++) {
    const strata_sim_class_t *cl = &wl->classes[flows[f].cls];
    strata_sim_rng_t *r = &rng[flows[f].cls];
    uint8_t kind = STRATA_CORE_DEADLINE_NONE;
    double rel = 0;
    size_t prev_first = 0, prev_n = 0;

    if (cl->has_deadline) {
      rel = strata_sim_dist_sample(&cl->deadline_ms, r);
      kind = strata_sim_rng_unit(r) < cl->hard_share
                 ? STRATA_CORE_DEADLINE_HARD
                 : STRATA_CORE_DEADLINE_SOFT;
    }
    for (size_t st = 0; st < cl->nstages; st++) {
      size_t first = s->ntasks;
      for (uint32_t k = 0; k < cl->stages[st]; k++) {
        task_t *t;
        double run;

        if (grow((void **)&s->tasks, &s->cap, s->ntasks + 1, sizeof(task_t)) ||
            grow((void **)&s->deps, &s->depcap, s->ndeps + prev_n,
                 sizeof(uint32_t)) ||
            grow((void **)&s->amount, &s->demcap, s->ndem + cl->ndemands,
                 sizeof(int64_t)) ||
            grow((void **)&s->usage, &s->usecap, s->ndem + cl->ndemands,
                 sizeof(int64_t)))
          goto oom;
        t = &s->tasks[s->ntasks++];
        memset(t, 0, sizeof(*t));
        t->arrival = flows[f].at;
        t->cls = flows[f].cls;
        t->kind = kind;
        /* The end-to-end deadline is split evenly over the stages, the way
         * a caller that knows only the workflow's deadline would budget
         * its steps; the last stage gets the workflow's own deadline. */
        if (kind != STRATA_CORE_DEADLINE_NONE)
          t->deadline =
              t->arrival +
              round_at_least(rel * (double)(st + 1) / (double)cl->nstages, 1);
        run = strata_sim_dist_sample(&cl->run_ms, r);
        t->run_ms = round_at_least(run, 1);
        t->estimate_ms = round_at_least(
            (double)t->run_ms * strata_sim_dist_sample(&cl->estimate_factor, r),
            0);
        t->dep_first = (uint32_t)s->ndeps;
        t->ndeps = (uint32_t)prev_n;
        for (size_t d = 0; d < prev_n; d++)
          s->deps[s->ndeps++] = (uint32_t)(prev_first + d);
        t->dem_first = (uint32_t)s->ndem;
        for (size_t d = 0; d < cl->ndemands; d++) {
          const strata_core_pool_config_t *pc =
              &wl->pools[cl->demands[d].pool].cfg;
          int64_t cap =
              pc->kind == STRATA_CORE_POOL_TOKEN_BUCKET ? pc->burst : pc->limit;
          int64_t a = round_at_least(
              strata_sim_dist_sample(&cl->demands[d].amount, r), 1);
          if (a > cap)
            a = cap;
          s->amount[s->ndem] = a;
          s->usage[s->ndem] = round_at_least(
              (double)a * strata_sim_dist_sample(&cl->demands[d].usage, r), 0);
          s->ndem++;
        }
      }
      prev_first = first;
      prev_n = cl->stages[st];
    }
  }
  free(flows);
  return 0;
oom:
  free(flows);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Completion heap: min by (at, seq)                                        */
/* ------------------------------------------------------------------------ */

static int heap_less(const completion_t *a, const completion_t *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim_t *s, completion_t c) {
  size_t i = s->nheap++;

  s->heap[i] = c;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&s->heap[i], &s->heap[p]))
      break;
    completion_t tmp = s->heap[p];
    s->heap[p] = s->heap[i];
    s->heap[i] = tmp;
    i = p;
  }
}

static completion_t heap_pop(sim_t *s) {
  completion_t top = s->heap[0];
  size_t i = 0;

  s->heap[0] = s->heap[--s->nheap];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->nheap && heap_less(&s->heap[l], &s->heap[m]))
      m = l;
    if (r < s->nheap && heap_less(&s->heap[r], &s->heap[m]))
      m = r;
    if (m == i)
      break;
    completion_t tmp = s->heap[m];
    s->heap[m] = s->heap[i];
    s->heap[i] = tmp;
    i = m;
  }
  return top;
}

/* ------------------------------------------------------------------------ */
/* Policies: how each one configures the core and describes a task to it    */
/* ------------------------------------------------------------------------ */

int strata_sim_policy_parse(const char *name, strata_sim_policy_t *out) {
  static const char *const names[] = {"fifo", "priority", "edf", "strata"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) {
      *out = (strata_sim_policy_t)i;
      return 0;
    }
  return -1;
}

const char *strata_sim_policy_name(strata_sim_policy_t policy) {
  switch (policy) {
  case STRATA_SIM_POLICY_FIFO:
    return "fifo";
  case STRATA_SIM_POLICY_PRIORITY:
    return "priority";
  case STRATA_SIM_POLICY_EDF:
    return "edf";
  case STRATA_SIM_POLICY_STRATA:
    return "strata";
  }
  return "?";
}

static strata_core_t *policy_core(sim_t *s, char *errstr, size_t size) {
  const strata_sim_workload_t *wl = s->wl;
  strata_core_tier_config_t tiers[STRATA_CORE_MAX_TIERS];
  strata_core_config_t cfg;
  strata_core_t *core;
  uint64_t need = (uint64_t)s->ntasks + 1;

  strata_core_config_default(&cfg);
  if (need > cfg.max_tasks)
    cfg.max_tasks = need;
  if (s->policy == STRATA_SIM_POLICY_STRATA) {
    for (size_t i = 0; i < wl->ntiers; i++) {
      tiers[i].name = wl->tiers[i].name;
      tiers[i].weight = wl->tiers[i].weight;
      tiers[i].target_wait_ms = wl->tiers[i].target_wait_ms;
    }
    cfg.tiers = tiers;
    cfg.ntiers = wl->ntiers;
    if (wl->starvation_bound_ms >= 0)
      cfg.starvation_bound_ms = wl->starvation_bound_ms;
    if (wl->lookahead >= 0)
      cfg.lookahead = (uint32_t)wl->lookahead;
    if (wl->dep_bonus_ms >= 0)
      cfg.dep_bonus_ms = wl->dep_bonus_ms;
    if (wl->dep_bonus_max >= 0)
      cfg.dep_bonus_max = (uint32_t)wl->dep_bonus_max;
    if (wl->priority_step_ms >= 0)
      cfg.priority_step_ms = wl->priority_step_ms;
  } else {
    /* The baselines: one tier, no aging, no dependency bonus. What orders
     * the tier is the urgency key, set per task in policy_spec(). Skipping
     * a resource-blocked head is admission control, which every policy
     * gets in equal measure: strata examines up to K tasks in each of its
     * tiers per decision, so the one baseline queue may examine K x tiers
     * (capped at the core's limit, BASELINE_LOOKAHEAD_MAX). */
    tiers[0].name = "all";
    tiers[0].weight = 1;
    tiers[0].target_wait_ms = 0;
    cfg.tiers = tiers;
    cfg.ntiers = 1;
    cfg.starvation_bound_ms = 0;
    cfg.dep_bonus_ms = 0;
    cfg.dep_bonus_max = 0;
    cfg.priority_step_ms =
        s->policy == STRATA_SIM_POLICY_PRIORITY ? PRIORITY_RANK_STEP_MS : 0;
    {
      uint64_t k = wl->lookahead >= 0 ? (uint64_t)wl->lookahead
                                      : (uint64_t)cfg.lookahead;
      k *= wl->ntiers;
      cfg.lookahead =
          (uint32_t)(k > BASELINE_LOOKAHEAD_MAX ? BASELINE_LOOKAHEAD_MAX : k);
    }
  }
  core = strata_core_new(&cfg, errstr, size);
  if (!core)
    return NULL;
  for (size_t i = 0; i < wl->npools; i++) {
    char e[256];
    if (strata_core_pool_add(core, wl->pools[i].name, &wl->pools[i].cfg, NULL,
                             e, sizeof(e))) {
      snprintf(errstr, size, "pool \"%s\": %s", wl->pools[i].name, e);
      strata_core_destroy(core);
      return NULL;
    }
  }
  /* Rank for the priority baseline: by weight, heaviest first; the file's
   * order breaks ties. Rank 0 gets the highest priority. */
  for (size_t i = 0; i < wl->ntiers; i++) {
    int rank = 0;
    for (size_t j = 0; j < wl->ntiers; j++)
      if (wl->tiers[j].weight > wl->tiers[i].weight ||
          (wl->tiers[j].weight == wl->tiers[i].weight && j < i))
        rank++;
    s->priority_of_tier[i] = ((int)wl->ntiers - 1 - rank) * PRIORITY_PER_RANK;
  }
  return core;
}

/* Fills the policy-dependent fields of a submission. */
static void policy_spec(const sim_t *s, const task_t *t,
                        strata_core_task_spec_t *spec) {
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];

  spec->tier = 0;
  spec->priority = 0;
  spec->deadline_kind = STRATA_CORE_DEADLINE_NONE;
  spec->deadline = 0;
  spec->estimate_ms = 0;
  switch (s->policy) {
  case STRATA_SIM_POLICY_FIFO:
    /* No deadline and a target wait of 0: the key is the arrival time. */
    break;
  case STRATA_SIM_POLICY_PRIORITY:
    spec->priority = s->priority_of_tier[cl->tier];
    break;
  case STRATA_SIM_POLICY_EDF:
    /* Every task gets a soft deadline so the core orders but never drops:
     * the explicit one, or its tier's target wait after arrival. No
     * estimate, so the key is the deadline itself (EDF, not least laxity). */
    spec->deadline_kind = STRATA_CORE_DEADLINE_SOFT;
    spec->deadline =
        SIM_EPOCH + (t->kind != STRATA_CORE_DEADLINE_NONE
                         ? t->deadline
                         : t->arrival + s->wl->tiers[cl->tier].target_wait_ms);
    break;
  case STRATA_SIM_POLICY_STRATA:
    spec->tier = (uint32_t)cl->tier;
    spec->priority = cl->priority;
    spec->deadline_kind = (strata_core_deadline_kind_t)t->kind;
    spec->deadline =
        t->kind != STRATA_CORE_DEADLINE_NONE ? SIM_EPOCH + t->deadline : 0;
    spec->estimate_ms = t->estimate_ms;
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* The event loop                                                           */
/* ------------------------------------------------------------------------ */

static void task_id(char *buf, size_t size, size_t i) {
  snprintf(buf, size, "t%zu", i);
}

static int submit(sim_t *s, size_t i, int64_t now, char *errstr, size_t size) {
  const task_t *t = &s->tasks[i];
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  char id[24], depid[STRATA_SIM_MAX_WIDTH][24], e[256];
  const char *deps[STRATA_SIM_MAX_WIDTH];
  strata_core_demand_t dem[STRATA_SIM_MAX_DEMANDS];
  strata_core_task_spec_t spec;
  strata_err_t err;

  memset(&spec, 0, sizeof(spec));
  task_id(id, sizeof(id), i);
  for (uint32_t d = 0; d < t->ndeps; d++) {
    task_id(depid[d], sizeof(depid[d]), s->deps[t->dep_first + d]);
    deps[d] = depid[d];
  }
  for (size_t d = 0; d < cl->ndemands; d++) {
    dem[d].pool = s->wl->pools[cl->demands[d].pool].name;
    dem[d].amount = s->amount[t->dem_first + d];
  }
  spec.id = id;
  spec.not_before = SIM_EPOCH + now;
  spec.demands = dem;
  spec.ndemands = cl->ndemands;
  spec.deps = deps;
  spec.ndeps = t->ndeps;
  spec.cookie = i;
  policy_spec(s, t, &spec);
  err = strata_core_submit(s->core, &spec, SIM_EPOCH + now, e, sizeof(e));
  if (err) {
    snprintf(errstr, size, "core rejected task %s of class \"%s\": %s (%s)", id,
             cl->name, e, strata_err2str(err));
    return -1;
  }
  s->tasks[i].state = T_HELD;
  return 0;
}

static int complete(sim_t *s, size_t i, int64_t now, char *errstr,
                    size_t size) {
  task_t *t = &s->tasks[i];
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  strata_core_usage_t use[STRATA_SIM_MAX_DEMANDS];
  size_t nuse = 0;
  char id[24], e[256];
  strata_err_t err;

  /* Actual usage is reported for rate pools only; concurrency units are
   * simply returned. */
  for (size_t d = 0; d < cl->ndemands; d++) {
    const strata_sim_pool_t *p = &s->wl->pools[cl->demands[d].pool];
    if (p->cfg.kind != STRATA_CORE_POOL_TOKEN_BUCKET)
      continue;
    use[nuse].pool = p->name;
    use[nuse].amount = s->usage[t->dem_first + d];
    nuse++;
  }
  task_id(id, sizeof(id), i);
  err = strata_core_complete(s->core, id, STRATA_CORE_SUCCEEDED, use, nuse,
                             SIM_EPOCH + now, e, sizeof(e));
  if (err) {
    snprintf(errstr, size, "core refused completion of %s: %s (%s)", id, e,
             strata_err2str(err));
    return -1;
  }
  t->state = T_DONE;
  t->finished_at = now;
  return 0;
}

static void drain_outcomes(sim_t *s, int64_t now) {
  strata_core_outcome_t out[32];
  size_t n;

  while ((n = strata_core_poll_outcomes(s->core, SIM_EPOCH + now, out, 32))) {
    for (size_t k = 0; k < n; k++) {
      task_t *t = &s->tasks[out[k].cookie];
      t->state =
          out[k].kind == STRATA_CORE_OUTCOME_EXPIRED ? T_EXPIRED : T_DEP_FAILED;
      t->finished_at = now;
    }
  }
}

static void tier_names(sim_t *s, strata_sim_result_t *res) {
  res->ntiers = s->wl->ntiers;
  for (size_t i = 0; i < s->wl->ntiers; i++) {
    snprintf(res->tiers[i].name, sizeof(res->tiers[i].name), "%s",
             s->wl->tiers[i].name);
    res->tiers[i].weight = s->wl->tiers[i].weight;
  }
  snprintf(res->overall.name, sizeof(res->overall.name), "overall");
}

static int record_dispatch(sim_t *s, strata_sim_result_t *res,
                           const strata_core_dispatch_t *d, int64_t now) {
  size_t i = (size_t)d->cookie;
  task_t *t = &s->tasks[i];
  int tier = s->wl->classes[t->cls].tier;
  strata_sim_tier_result_t *tr = &res->tiers[tier];

  t->state = T_RUNNING;
  t->dispatched_at = now;
  tr->dispatched++;
  res->overall.dispatched++;
  if (d->aged) {
    tr->aged++;
    res->overall.aged++;
  }
  if (strata_sim_samples_add(&tr->wait, d->wait_ms) ||
      strata_sim_samples_add(&res->overall.wait, d->wait_ms))
    return -1;
  if (t->ndeps) {
    int64_t last = 0;
    for (uint32_t k = 0; k < t->ndeps; k++) {
      int64_t f = s->tasks[s->deps[t->dep_first + k]].finished_at;
      if (f > last)
        last = f;
    }
    if (strata_sim_samples_add(&tr->unblock, now - last) ||
        strata_sim_samples_add(&res->overall.unblock, now - last))
      return -1;
  }
  heap_push(s, (completion_t){now + t->run_ms, s->seq++, (uint32_t)i});
  return 0;
}

/* Judges every task once the run has stopped at `end`. */
static void account(sim_t *s, strata_sim_result_t *res, int64_t end) {
  for (size_t i = 0; i < s->ntasks; i++) {
    const task_t *t = &s->tasks[i];
    int tier = s->wl->classes[t->cls].tier;
    strata_sim_tier_result_t *trs[2] = {&res->tiers[tier], &res->overall};
    int missed = 0;

    /* Worker time up to the end of the run; a task still running at the
     * end counts only its part inside the run. */
    if (t->state == T_DONE || t->state == T_RUNNING)
      res->busy_ms += (uint64_t)((t->state == T_DONE ? t->finished_at : end) -
                                 t->dispatched_at);
    switch (t->state) {
    case T_DONE:
      missed =
          t->kind != STRATA_CORE_DEADLINE_NONE && t->finished_at > t->deadline;
      break;
    case T_EXPIRED:
    case T_DEP_FAILED:
      missed = t->kind != STRATA_CORE_DEADLINE_NONE;
      break;
    default:
      missed = t->kind != STRATA_CORE_DEADLINE_NONE && t->deadline < end;
      break;
    }
    for (int k = 0; k < 2; k++) {
      strata_sim_tier_result_t *tr = trs[k];
      tr->submitted++;
      if (t->kind != STRATA_CORE_DEADLINE_NONE)
        tr->with_deadline++;
      switch (t->state) {
      case T_DONE:
        tr->completed++;
        if (missed)
          tr->late++;
        break;
      case T_EXPIRED:
        tr->expired++;
        break;
      case T_DEP_FAILED:
        tr->dep_failed++;
        break;
      default:
        tr->pending++;
        break;
      }
      if (missed) {
        if (t->kind == STRATA_CORE_DEADLINE_HARD)
          tr->misses_hard++;
        else
          tr->misses_soft++;
      }
    }
  }
  for (size_t k = 0; k < res->ntiers; k++)
    res->weighted_misses +=
        (uint64_t)res->tiers[k].weight *
        (res->tiers[k].misses_hard + res->tiers[k].misses_soft);
}

static int run_loop(sim_t *s, strata_sim_result_t *res, char *errstr,
                    size_t size) {
  const int64_t limit = s->duration_ms + s->wl->drain_ms;
  uint32_t free_workers = s->wl->workers;
  size_t next_arrival = 0;
  int64_t now = 0;

  for (;;) {
    strata_core_dispatch_t d;
    int64_t next = INT64_MAX;
    strata_epoch_ms_t wake;

    while (s->nheap && s->heap[0].at <= now) {
      completion_t c = heap_pop(s);
      if (complete(s, c.task, now, errstr, size))
        return -1;
      free_workers++;
    }
    while (next_arrival < s->ntasks && s->tasks[next_arrival].arrival <= now)
      if (submit(s, next_arrival++, now, errstr, size))
        return -1;
    drain_outcomes(s, now);
    while (free_workers > 0 && strata_core_next(s->core, SIM_EPOCH + now, &d)) {
      if (record_dispatch(s, res, &d, now)) {
        snprintf(errstr, size, "out of memory");
        return -1;
      }
      free_workers--;
    }
    drain_outcomes(s, now);

    if (s->nheap)
      next = s->heap[0].at;
    if (next_arrival < s->ntasks && s->tasks[next_arrival].arrival < next)
      next = s->tasks[next_arrival].arrival;
    /* The core's wakeup matters only when a worker could take what it
     * releases; with every worker busy the next completion comes first, and
     * the core fires any timer that came due in between on that call. */
    wake = strata_core_next_wakeup(s->core);
    if (free_workers > 0 && wake != STRATA_CORE_NEVER) {
      int64_t w = wake - SIM_EPOCH;
      if (w <= now)
        w = now + 1;
      if (w < next)
        next = w;
    }
    if (next == INT64_MAX)
      break;
    if (next > limit) {
      now = limit;
      break;
    }
    now = next;
  }
  res->end_ms = now;
  return 0;
}

strata_sim_result_t *strata_sim_run(const strata_sim_workload_t *wl,
                                    const strata_sim_options_t *opt,
                                    char *errstr, size_t size) {
  strata_sim_result_t *res = calloc(1, sizeof(*res));
  sim_t s;

  memset(&s, 0, sizeof(s));
  if (!res) {
    snprintf(errstr, size, "out of memory");
    return NULL;
  }
  s.wl = wl;
  s.policy = opt->policy;
  s.seed = opt->has_seed ? opt->seed : wl->seed;
  s.duration_ms = opt->duration_ms > 0 ? opt->duration_ms : wl->duration_ms;
  snprintf(res->workload, sizeof(res->workload), "%s", wl->name);
  res->policy = s.policy;
  res->seed = s.seed;
  res->duration_ms = s.duration_ms;
  res->workers = wl->workers;
  res->utilisation = strata_sim_workload_utilisation(wl);
  tier_names(&s, res);
  if (gen_tasks(&s)) {
    snprintf(errstr, size, "out of memory generating tasks");
    goto fail;
  }
  s.heap = malloc(((size_t)wl->workers + 1) * sizeof(*s.heap));
  if (!s.heap) {
    snprintf(errstr, size, "out of memory");
    goto fail;
  }
  s.core = policy_core(&s, errstr, size);
  if (!s.core || run_loop(&s, res, errstr, size))
    goto fail;
  account(&s, res, res->end_ms);
  strata_core_destroy(s.core);
  free(s.tasks);
  free(s.deps);
  free(s.amount);
  free(s.usage);
  free(s.heap);
  return res;
fail:
  strata_core_destroy(s.core);
  free(s.tasks);
  free(s.deps);
  free(s.amount);
  free(s.usage);
  free(s.heap);
  strata_sim_result_destroy(res);
  return NULL;
}

void strata_sim_result_destroy(strata_sim_result_t *res) {
  if (!res)
    return;
  for (size_t i = 0; i < STRATA_CORE_MAX_TIERS; i++) {
    strata_sim_samples_clear(&res->tiers[i].wait);
    strata_sim_samples_clear(&res->tiers[i].unblock);
  }
  strata_sim_samples_clear(&res->overall.wait);
  strata_sim_samples_clear(&res->overall.unblock);
  free(res);
}
