/*
 * The simulation: generates a workload's tasks, hands them as encoded Task
 * records to the scheduler's decision layer (scheduler/decide/, the code
 * strata-scheduler runs) over a core configured for one policy, plays N
 * virtual workers that answer with the events real workers write, and
 * measures what happened to every task.
 *
 * Time is integer milliseconds from 0 (the decision layer sees them shifted
 * by a fixed epoch, SIM_EPOCH). The loop is the usual discrete-event one: at
 * each instant, worker events first (completions, heartbeats, lost
 * workers), then arrivals, then one turn of the decision layer (expiries,
 * dispatches while a worker is free and, every scheduler.watch.interval,
 * the heartbeat check), whose outputs are read the way the readers of their
 * topics would read them before the turn commits. Then time jumps to the
 * earliest of the next worker event, the next arrival, the next heartbeat
 * check while attempts run and, when a worker is free, the core's next
 * wakeup.
 *
 * Invariants that make the comparison fair and the output reproducible:
 *  - Every task (arrival time, run time, estimate, deadline, demands, actual
 *    usage and which attempts lose their worker) is generated before the run
 *    from per-class random streams, so all four policies see exactly the
 *    same tasks, and the only thing a policy changes is how the core is
 *    configured and what each task record tells it (see policy_*() below and
 *    docs/SIMULATOR.md).
 *  - Pools, dependencies, heartbeat timeouts and retries are handed to the
 *    scheduler identically under every policy: they are constraints, not
 *    policy.
 *  - Ties are broken by order: worker events by (time, order of
 *    scheduling), arrivals by (time, class, generation order).
 *  - What happened to a task is learnt from the turn's outputs only, as a
 *    reader of the topics would: DISPATCHED and TIMED_OUT events, and the
 *    reason of each dead letter. Whether a task met its deadline is judged
 *    here, from its completion time, the same way for every policy.
 *  - The simulated transaction always commits, and the scheduler's own
 *    events are not read back: in one instance that never restarts they
 *    change nothing (the ledger takes them at decide_committed()).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "sim.h"
#include "strata/codec.h"
#include "strata/log.h"

/* Virtual time 0 as the decision layer sees it: any fixed epoch works; a
 * realistic one keeps reason strings readable. 2023-11-14T22:13:20Z. */
#define SIM_EPOCH INT64_C(1700000000000)

/* The priority baseline orders by tier rank through the core's priority
 * shift: the core's largest step (2^24 ms) times 1000 priority units per
 * rank makes one rank worth about 194 days of urgency, far more than any
 * simulated span, so rank always wins and arrival order breaks ties. */
#define PRIORITY_RANK_STEP_MS (INT64_C(1) << 24)
#define PRIORITY_PER_RANK 1000

/* The core's largest look-ahead (docs/CORE.md). */
#define BASELINE_LOOKAHEAD_MAX 64

/* strata-scheduler's defaults for the settings the decision layer's caller
 * owns: scheduler.watch.interval, idempotency.window, and how often the
 * daemon prunes the ledger. */
#define WATCH_INTERVAL_MS 100
#define IDEMPOTENCY_WINDOW_MS (INT64_C(24) * 3600 * 1000)
#define PRUNE_INTERVAL_MS 60000

/* Attempts per task (Task.retry.max_attempts; the schema's default). */
#define SIM_MAX_ATTEMPTS 3

#define SIM_WORKER_ID "sim-worker"

enum {
  T_WAITING = 0, /* not arrived yet */
  T_HELD,        /* its record was read (first attempt or a retry) */
  T_RUNNING,     /* an attempt was dispatched and has not ended */
  T_DONE,
  T_EXPIRED,
  T_DEP_FAILED,
  T_FAILED /* dead-lettered: attempts exhausted */
};

typedef struct {
  int64_t arrival;  /* sim ms */
  int64_t deadline; /* sim ms; meaningful when kind != NONE */
  int64_t run_ms;
  int64_t estimate_ms; /* 0 = unknown */
  int64_t ready_from;  /* read at, or its not-before time if later */
  int64_t dispatched_at;
  int64_t finished_at;
  uint32_t cls;
  uint32_t dep_first; /* into sim_t.deps */
  uint32_t ndeps;
  uint32_t dem_first;     /* into sim_t.amount / sim_t.usage */
  uint32_t left;          /* dependencies not yet succeeded */
  int64_t ready_at;       /* when it last became ready (backlog, waits) */
  int32_t worker_attempt; /* the attempt a live worker runs; 0: none */
  uint8_t nlost;          /* attempts 1..nlost lose their worker */
  uint8_t kind;           /* strata_core_deadline_kind_t */
  uint8_t state;
  uint8_t ready;      /* ready and waiting: counted in sim_t.nready */
  uint8_t dispatched; /* some attempt was dispatched */
} task_t;

/* Something a worker does at a time. */
typedef enum { EV_COMPLETE, EV_HEARTBEAT, EV_LOST } ev_kind_t;

typedef struct {
  int64_t at;
  uint64_t seq;
  uint32_t task;
  int32_t attempt;
  ev_kind_t kind;
} sim_ev_t;

/* A record written in a turn and read after it commits. */
typedef struct {
  void *value;
  size_t len;
  int input;
} reread_t;

typedef struct {
  uint32_t task;
  int32_t attempt;
} start_t;

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
  sim_ev_t *heap;
  size_t nheap, heapcap;
  uint64_t seq;
  int priority_of_tier[STRATA_CORE_MAX_TIERS];
  /* Dependents of each task (CSR: dep_of[dep_start[i] .. dep_start[i+1])). */
  uint32_t *dep_start, *dep_of;
  /* wfq: each tier's last virtual-clock tag (ms). */
  double vc_tag[STRATA_CORE_MAX_TIERS];
  /* Per workload tier: ready tasks waiting. */
  uint32_t nready[STRATA_CORE_MAX_TIERS];

  /* The decision layer and the topics it reads and writes. */
  decide_t *d;
  int ntiers; /* the policy's tiers: the workload's, or one */
  char tier_buf[STRATA_CORE_MAX_TIERS][STRATA_SIM_NAME_MAX + 1];
  char topic_buf[STRATA_CORE_MAX_TIERS][STRATA_SIM_NAME_MAX + 16];
  char *tier_names[STRATA_CORE_MAX_TIERS];
  const char *tier_topics[STRATA_CORE_MAX_TIERS];
  int64_t next_offset[STRATA_CORE_MAX_TIERS]; /* per tier topic */
  int64_t events_offset;
  int heartbeats; /* some class has a heartbeat timeout */
  int64_t last_watch, last_prune;

  /* Workers and what a turn leaves for after its commit. */
  uint32_t free_workers;
  uint64_t busy_ms;
  start_t *starts;
  size_t nstarts;
  reread_t *rereads;
  size_t nrereads, rereadcap;

  strata_sim_result_t *res;
  char *errstr;
  size_t errsize;
} sim_t;

/* Encoding only reads a record's members: a borrowed pointer avoids copying
 * strings that outlive the call. The struct is never cleared while it
 * borrows. */
static char *borrow(const char *p) {
  union {
    const char *c;
    char *m;
  } u = {p};
  return u.m;
}

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
         * its steps; the last stage gets the workflow's own deadline.
         * With leaf_only the earlier stages have none: what a caller that
         * leaves the budgeting to the scheduler would submit. */
        if (cl->deadline_leaf_only && st + 1 < cl->nstages)
          t->kind = STRATA_CORE_DEADLINE_NONE;
        else if (kind != STRATA_CORE_DEADLINE_NONE)
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
        /* Which attempts lose their worker, drawn last so that a class
         * without a "lost" object draws exactly what it drew before. */
        if (cl->lost_share > 0)
          while (t->nlost < SIM_MAX_ATTEMPTS &&
                 strata_sim_rng_unit(r) < cl->lost_share)
            t->nlost++;
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

/* The dependents of every task, for readiness (CSR arrays). */
static int build_dependents(sim_t *s) {
  size_t n = s->ntasks;
  uint32_t *pos;

  s->dep_start = calloc(n + 1, sizeof(uint32_t));
  s->dep_of = malloc((s->ndeps ? s->ndeps : 1) * sizeof(uint32_t));
  pos = malloc((n ? n : 1) * sizeof(uint32_t));
  if (!s->dep_start || !s->dep_of || !pos) {
    free(pos);
    return -1;
  }
  for (size_t k = 0; k < s->ndeps; k++)
    s->dep_start[s->deps[k] + 1]++;
  for (size_t i = 0; i < n; i++) {
    s->dep_start[i + 1] += s->dep_start[i];
    pos[i] = s->dep_start[i];
  }
  for (size_t i = 0; i < n; i++) {
    const task_t *t = &s->tasks[i];
    for (uint32_t k = 0; k < t->ndeps; k++)
      s->dep_of[pos[s->deps[t->dep_first + k]]++] = (uint32_t)i;
  }
  free(pos);
  return 0;
}

/* Readiness: a task whose record was read and whose dependencies all
 * succeeded waits for a worker; the backlog shares count those. */
static void set_ready(sim_t *s, size_t i, int ready, int64_t now) {
  task_t *t = &s->tasks[i];
  uint32_t tier = (uint32_t)s->wl->classes[t->cls].tier;

  if (ready == (int)t->ready)
    return;
  t->ready = (uint8_t)ready;
  if (ready) {
    s->nready[tier]++;
    t->ready_at = now;
  } else {
    s->nready[tier]--;
  }
}

/* ------------------------------------------------------------------------ */
/* Worker events: a min-heap by (at, seq)                                   */
/* ------------------------------------------------------------------------ */

static int heap_less(const sim_ev_t *a, const sim_ev_t *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int heap_push(sim_t *s, int64_t at, ev_kind_t kind, uint32_t task,
                     int32_t attempt) {
  size_t i = s->nheap;

  if (grow((void **)&s->heap, &s->heapcap, s->nheap + 1, sizeof(sim_ev_t)))
    return -1;
  s->nheap++;
  s->heap[i] = (sim_ev_t){at, s->seq++, task, attempt, kind};
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&s->heap[i], &s->heap[p]))
      break;
    sim_ev_t tmp = s->heap[p];
    s->heap[p] = s->heap[i];
    s->heap[i] = tmp;
    i = p;
  }
  return 0;
}

static sim_ev_t heap_pop(sim_t *s) {
  sim_ev_t top = s->heap[0];
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
    sim_ev_t tmp = s->heap[m];
    s->heap[m] = s->heap[i];
    s->heap[i] = tmp;
    i = m;
  }
  return top;
}

/* ------------------------------------------------------------------------ */
/* Policies: how each one configures the core and describes a task to it    */
/* ------------------------------------------------------------------------ */

static const char *const policy_names[STRATA_SIM_NPOLICIES] = {
    "fifo",   "priority", "edf", "strata",
    "floors", "wfq",      "llf", "priority-edf"};

int strata_sim_policy_parse(const char *name, strata_sim_policy_t *out) {
  for (int i = 0; i < STRATA_SIM_NPOLICIES; i++)
    if (!strcmp(name, policy_names[i])) {
      *out = (strata_sim_policy_t)i;
      return 0;
    }
  return -1;
}

const char *strata_sim_policy_name(strata_sim_policy_t policy) {
  return (unsigned)policy < STRATA_SIM_NPOLICIES ? policy_names[policy] : "?";
}

/* Whether the policy's core has the workload's tiers (else one tier,
 * "all"). */
static int multi_tier(const sim_t *s) {
  return s->policy == STRATA_SIM_POLICY_STRATA ||
         s->policy == STRATA_SIM_POLICY_FLOORS;
}

/* The decision layer's core factory (decide_core_new_fn): the policy's core
 * configuration and the workload's pools. `opaque` is the sim_t. */
static strata_core_t *policy_core(void *opaque, char *errstr, size_t size) {
  sim_t *s = opaque;
  const strata_sim_workload_t *wl = s->wl;
  strata_core_tier_config_t tiers[STRATA_CORE_MAX_TIERS];
  strata_core_config_t cfg;
  strata_core_t *core;
  uint64_t need = (uint64_t)s->ntasks + 1;

  strata_core_config_default(&cfg);
  if (need > cfg.max_tasks)
    cfg.max_tasks = need;
  if (multi_tier(s)) {
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
    if (s->policy == STRATA_SIM_POLICY_FLOORS) {
      /* Floors: the core's shares give every backlogged tier its weight's
       * share of worker time (charged by estimate); what is left is lent
       * by the smallest key, which policy_record() makes strict tier rank
       * then EDF. No aging, no urgency override, no dependency bonus, no
       * preference for feasible deadlines in lending. */
      cfg.starvation_bound_ms = 0;
      cfg.urgency_horizon_ms = 0;
      cfg.dep_bonus_ms = 0;
      cfg.dep_bonus_max = 0;
      cfg.priority_step_ms = PRIORITY_RANK_STEP_MS;
      cfg.deadlines_first = 0;
    }
  } else {
    /* The baselines: one tier, no aging, no dependency bonus. What orders
     * the tier is the urgency key, set per task in policy_record(). Skipping
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
    cfg.priority_step_ms = s->policy == STRATA_SIM_POLICY_PRIORITY ||
                                   s->policy == STRATA_SIM_POLICY_PRIORITY_EDF
                               ? PRIORITY_RANK_STEP_MS
                               : 0;
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
  return core;
}

/* The tiers the decision layer is configured with, their topics, and the
 * rank of each workload tier for the priority baseline: by weight,
 * heaviest first; the file's order breaks ties. Rank 0 gets the highest
 * priority. */
static void policy_tiers(sim_t *s) {
  const strata_sim_workload_t *wl = s->wl;

  s->ntiers = multi_tier(s) ? (int)wl->ntiers : 1;
  for (int i = 0; i < s->ntiers; i++) {
    snprintf(s->tier_buf[i], sizeof(s->tier_buf[i]), "%s",
             multi_tier(s) ? wl->tiers[i].name : "all");
    snprintf(s->topic_buf[i], sizeof(s->topic_buf[i]), "sim.tasks.%s",
             s->tier_buf[i]);
    s->tier_names[i] = s->tier_buf[i];
    s->tier_topics[i] = s->topic_buf[i];
  }
  for (size_t i = 0; i < wl->ntiers; i++) {
    int rank = 0;
    for (size_t j = 0; j < wl->ntiers; j++)
      if (wl->tiers[j].weight > wl->tiers[i].weight ||
          (wl->tiers[j].weight == wl->tiers[i].weight && j < i))
        rank++;
    s->priority_of_tier[i] = ((int)wl->ntiers - 1 - rank) * PRIORITY_PER_RANK;
  }
}

/* Fills the policy-dependent fields of a task record; returns the input
 * (tier topic) it is written to. */
static int policy_record(sim_t *s, const task_t *t, strata_task_t *rec) {
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  /* The explicit deadline, else the tier's target wait after arrival. */
  const int64_t due = t->kind != STRATA_CORE_DEADLINE_NONE
                          ? t->deadline
                          : t->arrival + s->wl->tiers[cl->tier].target_wait_ms;
  int tier = 0;

  switch (s->policy) {
  case STRATA_SIM_POLICY_FIFO:
    /* No deadline and a target wait of 0: the key is the arrival time. */
    break;
  case STRATA_SIM_POLICY_PRIORITY:
    rec->priority = s->priority_of_tier[cl->tier];
    break;
  case STRATA_SIM_POLICY_EDF:
    /* Every task gets a soft deadline so the core orders but never drops:
     * the explicit one, or its tier's target wait after arrival. No
     * estimate, so the key is the deadline itself (EDF, not least laxity). */
    rec->has_deadline_ms = true;
    rec->deadline_ms = SIM_EPOCH + due;
    break;
  case STRATA_SIM_POLICY_LLF:
    /* As edf, with the estimate: the key is the latest start. */
    rec->has_deadline_ms = true;
    rec->deadline_ms = SIM_EPOCH + due;
    rec->has_estimate_ms = t->estimate_ms > 0;
    rec->estimate_ms = t->estimate_ms;
    break;
  case STRATA_SIM_POLICY_PRIORITY_EDF:
    /* Rank as priority, then the deadline as edf. */
    rec->priority = s->priority_of_tier[cl->tier];
    rec->has_deadline_ms = true;
    rec->deadline_ms = SIM_EPOCH + due;
    break;
  case STRATA_SIM_POLICY_WFQ: {
    /* Virtual Clock (Zhang 1990), the fair-queueing discipline whose tags
     * are known at arrival: a tier's next tag is max(arrival, its last
     * tag) + work x sum of weights / its weight, work the estimate (1 s
     * when unknown); one queue by tag. WFQ proper needs the GPS virtual
     * time, which depends on which tiers are backlogged at each instant:
     * not something a per-task key fixed at submission can carry. */
    double w = (double)s->wl->tiers[cl->tier].weight, sum = 0;
    double work = t->estimate_ms > 0 ? (double)t->estimate_ms : 1000.0;
    double *tag = &s->vc_tag[cl->tier];
    for (size_t k = 0; k < s->wl->ntiers; k++)
      sum += (double)s->wl->tiers[k].weight;
    if (*tag < (double)t->arrival)
      *tag = (double)t->arrival;
    *tag += work * sum / w;
    rec->has_deadline_ms = true;
    rec->deadline_ms = SIM_EPOCH + (int64_t)llround(*tag);
    break;
  }
  case STRATA_SIM_POLICY_FLOORS:
    /* Core tiers with the workload's weights (the floors); strict rank
     * through the priority shift, the same in every task of a tier so it
     * orders only across tiers (lending); EDF inside a tier. The estimate
     * is given so shares are charged by work; the soft deadline carries
     * it back (deadline + estimate), so the key is the deadline itself,
     * not the latest start. */
    tier = cl->tier;
    rec->priority = s->priority_of_tier[cl->tier];
    rec->has_deadline_ms = true;
    rec->deadline_ms = SIM_EPOCH + due + t->estimate_ms;
    rec->has_estimate_ms = t->estimate_ms > 0;
    rec->estimate_ms = t->estimate_ms;
    break;
  case STRATA_SIM_POLICY_STRATA:
  case STRATA_SIM_NPOLICIES:
    tier = cl->tier;
    rec->priority = cl->priority;
    rec->has_deadline_ms = t->kind != STRATA_CORE_DEADLINE_NONE;
    rec->deadline_ms = rec->has_deadline_ms ? SIM_EPOCH + t->deadline : 0;
    rec->deadline_hard = t->kind == STRATA_CORE_DEADLINE_HARD;
    rec->has_estimate_ms = t->estimate_ms > 0;
    rec->estimate_ms = t->estimate_ms;
    break;
  }
  rec->tier = s->tier_names[tier];
  return tier;
}

/* ------------------------------------------------------------------------ */
/* Records in: task records and worker events                               */
/* ------------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static int
sim_fail(sim_t *s, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(s->errstr, s->errsize, fmt, ap);
  va_end(ap);
  return -1;
}

static void task_id(char *buf, size_t size, size_t i) {
  snprintf(buf, size, "t%zu", i);
}

/* The index of a task named by task_id(); -1 when `id` names none. */
static int64_t task_index(const sim_t *s, const char *id) {
  unsigned long long i;
  char *end;

  if (!id || id[0] != 't' || id[1] < '0' || id[1] > '9')
    return -1;
  i = strtoull(id + 1, &end, 10);
  return *end || i >= s->ntasks ? -1 : (int64_t)i;
}

/* The tier topic (input) of a task's records under the policy. */
static int task_input(const sim_t *s, const task_t *t) {
  return multi_tier(s) ? s->wl->classes[t->cls].tier : 0;
}

/* A heartbeat every half timeout keeps a live attempt from being presumed
 * lost. */
static int64_t heartbeat_period(const strata_sim_class_t *cl) {
  return cl->heartbeat_ms >= 2 ? cl->heartbeat_ms / 2 : 1;
}

/* Task i arrives: its first attempt is written to its tier topic and read
 * by the scheduler. */
static int arrive(sim_t *s, size_t i, int64_t now) {
  task_t *t = &s->tasks[i];
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  char id[24], depid[STRATA_SIM_MAX_WIDTH][24], err[256];
  char *deps[STRATA_SIM_MAX_WIDTH];
  strata_kv_long_t dem[STRATA_SIM_MAX_DEMANDS];
  strata_task_t rec;
  void *buf;
  size_t len;
  int input;

  strata_task_init(&rec);
  task_id(id, sizeof(id), i);
  for (uint32_t k = 0; k < t->ndeps; k++) {
    task_id(depid[k], sizeof(depid[k]), s->deps[t->dep_first + k]);
    deps[k] = depid[k];
  }
  for (size_t k = 0; k < cl->ndemands; k++)
    dem[k] = (strata_kv_long_t){borrow(s->wl->pools[cl->demands[k].pool].name),
                                s->amount[t->dem_first + k]};
  rec.id = id;
  rec.created_ms = SIM_EPOCH + now;
  rec.enqueued_ms = SIM_EPOCH + now;
  /* Due from its arrival: what the fifo baseline's key counts from. */
  rec.has_not_before_ms = true;
  rec.not_before_ms = SIM_EPOCH + now;
  rec.demands = dem;
  rec.demands_count = cl->ndemands;
  rec.depends_on = deps;
  rec.depends_on_count = t->ndeps;
  rec.retry.max_attempts = SIM_MAX_ATTEMPTS;
  if (cl->heartbeat_ms > 0) {
    rec.timeouts.has_heartbeat_ms = true;
    rec.timeouts.heartbeat_ms = cl->heartbeat_ms;
  }
  input = policy_record(s, t, &rec);
  /* The record borrowed every pointer: nothing to clear. */
  if (strata_task_encode(&rec, &buf, &len, err, sizeof(err)))
    return sim_fail(s, "encoding task %s of class \"%s\": %s", id, cl->name,
                    err);
  t->state = T_HELD;
  t->ready_from = now;
  t->left = 0;
  for (uint32_t k = 0; k < t->ndeps; k++)
    if (s->tasks[s->deps[t->dep_first + k]].state != T_DONE)
      t->left++;
  if (!t->left)
    set_ready(s, i, 1, now);
  decide_task(s->d,
              &(decide_record_t){input, 0, s->next_offset[input]++, buf, len},
              SIM_EPOCH + now);
  free(buf);
  return 0;
}

/* A worker writes an event about attempt `attempt` of task i; the
 * scheduler reads it from the events topic at once. */
static int worker_writes(sim_t *s, strata_event_kind_t kind, size_t i,
                         int32_t attempt, strata_kv_long_t *usage,
                         size_t nusage, int64_t now) {
  char id[24], err[256];
  strata_event_t e;
  void *buf;
  size_t len;

  task_id(id, sizeof(id), i);
  strata_event_init(&e);
  e.kind = kind;
  e.task_id = id;
  e.routing_key = id;
  e.attempt = attempt;
  e.tier = s->tier_names[task_input(s, &s->tasks[i])];
  e.time_ms = SIM_EPOCH + now;
  e.worker_id = borrow(SIM_WORKER_ID);
  e.retryable = false;
  e.usage = usage;
  e.usage_count = nusage;
  /* The event borrowed every pointer: nothing to clear. */
  if (strata_event_encode(&e, &buf, &len, err, sizeof(err)))
    return sim_fail(s, "encoding a %s event for %s: %s",
                    strata_event_kind_name(kind), id, err);
  decide_event(s->d, 0, s->events_offset++, buf, len, SIM_EPOCH + now);
  free(buf);
  return 0;
}

/* The worker of task t's running attempt stops working on it. */
static void end_work(sim_t *s, task_t *t, int64_t now) {
  s->busy_ms += (uint64_t)(now - t->dispatched_at);
  t->worker_attempt = 0;
  s->free_workers++;
}

/* A worker starts attempt `attempt` of task i, dispatched at `now`. */
static int start_work(sim_t *s, uint32_t i, int32_t attempt, int64_t now) {
  task_t *t = &s->tasks[i];
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  int lost = attempt <= (int32_t)t->nlost;
  int64_t run = lost ? (t->run_ms >= 2 ? t->run_ms / 2 : 1) : t->run_ms;

  t->worker_attempt = attempt;
  if (heap_push(s, now + run, lost ? EV_LOST : EV_COMPLETE, i, attempt))
    return sim_fail(s, "out of memory");
  /* Only a watched attempt needs STARTED and heartbeats: for the others
   * the scheduler does nothing with them. */
  if (cl->heartbeat_ms <= 0)
    return 0;
  if (worker_writes(s, STRATA_EVENT_STARTED, i, attempt, NULL, 0, now))
    return -1;
  if (heap_push(s, now + heartbeat_period(cl), EV_HEARTBEAT, i, attempt))
    return sim_fail(s, "out of memory");
  return 0;
}

/* What a worker does at its time. */
static int on_worker(sim_t *s, sim_ev_t ev, int64_t now) {
  task_t *t = &s->tasks[ev.task];
  const strata_sim_class_t *cl = &s->wl->classes[t->cls];
  strata_kv_long_t use[STRATA_SIM_MAX_DEMANDS];
  size_t nuse = 0;

  if (t->worker_attempt != ev.attempt)
    return 0; /* a heartbeat due after its attempt ended */
  switch (ev.kind) {
  case EV_HEARTBEAT:
    if (worker_writes(s, STRATA_EVENT_HEARTBEAT, ev.task, ev.attempt, NULL, 0,
                      now))
      return -1;
    if (heap_push(s, now + heartbeat_period(cl), EV_HEARTBEAT, ev.task,
                  ev.attempt))
      return sim_fail(s, "out of memory");
    return 0;
  case EV_LOST:
    /* The worker is gone without a word (another takes its place): only
     * the heartbeat timeout can tell the scheduler. */
    end_work(s, t, now);
    return 0;
  case EV_COMPLETE:
    break;
  }
  /* Actual usage is reported for rate pools only; concurrency units are
   * simply returned. */
  for (size_t k = 0; k < cl->ndemands; k++) {
    const strata_sim_pool_t *p = &s->wl->pools[cl->demands[k].pool];
    if (p->cfg.kind != STRATA_CORE_POOL_TOKEN_BUCKET)
      continue;
    use[nuse++] =
        (strata_kv_long_t){borrow(p->name), s->usage[t->dem_first + k]};
  }
  end_work(s, t, now);
  t->state = T_DONE;
  t->finished_at = now;
  for (uint32_t k = s->dep_start[ev.task]; k < s->dep_start[ev.task + 1]; k++) {
    task_t *w = &s->tasks[s->dep_of[k]];
    if (w->state == T_WAITING || !w->left)
      continue;
    if (--w->left == 0 && w->state == T_HELD)
      set_ready(s, s->dep_of[k], 1, now);
  }
  return worker_writes(s, STRATA_EVENT_SUCCEEDED, ev.task, ev.attempt, use,
                       nuse, now);
}

/* ------------------------------------------------------------------------ */
/* Records out: what the turn wrote, read as its topics' readers would      */
/* ------------------------------------------------------------------------ */

static void tier_names(sim_t *s, strata_sim_result_t *res) {
  res->ntiers = s->wl->ntiers;
  for (size_t i = 0; i < s->wl->ntiers; i++) {
    snprintf(res->tiers[i].name, sizeof(res->tiers[i].name), "%s",
             s->wl->tiers[i].name);
    res->tiers[i].weight = s->wl->tiers[i].weight;
  }
  snprintf(res->overall.name, sizeof(res->overall.name), "overall");
}

/* A DISPATCHED event: the wait (from ready: read, past its not-before time
 * and its dependencies) and the unblock latency. */
static int record_dispatch(sim_t *s, size_t i, int64_t now) {
  task_t *t = &s->tasks[i];
  strata_sim_result_t *res = s->res;
  strata_sim_tier_result_t *tr = &res->tiers[s->wl->classes[t->cls].tier];
  int64_t ready = t->ready_from, last = 0;

  /* Shares while backlogged: this dispatch's work is service that every
   * tier with a ready task waiting (this one's included) competed for. */
  for (size_t k = 0; k < s->wl->ntiers; k++)
    if (s->nready[k]) {
      res->tiers[k].backlog_ms += (uint64_t)t->run_ms;
      if ((int)k == s->wl->classes[t->cls].tier)
        res->tiers[k].backlog_run_ms += (uint64_t)t->run_ms;
    }
  set_ready(s, i, 0, now);
  t->state = T_RUNNING;
  t->dispatched_at = now;
  t->dispatched = 1;
  tr->dispatched++;
  res->overall.dispatched++;
  for (uint32_t k = 0; k < t->ndeps; k++) {
    int64_t f = s->tasks[s->deps[t->dep_first + k]].finished_at;
    if (f > last)
      last = f;
  }
  if (t->ndeps && last > ready)
    ready = last;
  if (strata_sim_samples_add(&tr->wait, now - ready) ||
      strata_sim_samples_add(&res->overall.wait, now - ready) ||
      strata_sim_samples_add(&tr->wait_censored, now - ready) ||
      strata_sim_samples_add(&res->overall.wait_censored, now - ready))
    return sim_fail(s, "out of memory");
  if (t->ndeps && (strata_sim_samples_add(&tr->unblock, now - last) ||
                   strata_sim_samples_add(&res->overall.unblock, now - last)))
    return sim_fail(s, "out of memory");
  return 0;
}

static int read_event(sim_t *s, const decide_out_t *o, int64_t now) {
  strata_event_t e;
  char err[256];
  int64_t i;
  int rc = 0;

  strata_event_init(&e);
  if (strata_event_decode(o->value, o->len, &e, err, sizeof(err)))
    return sim_fail(s, "an event the scheduler wrote: %s", err);
  if ((i = task_index(s, e.task_id)) < 0) {
    rc = sim_fail(s, "an event about an unknown task \"%s\"", e.task_id);
  } else if (e.kind == STRATA_EVENT_DISPATCHED) {
    rc = record_dispatch(s, (size_t)i, now);
  } else if (e.kind == STRATA_EVENT_TIMED_OUT && !e.worker_id && e.retryable) {
    /* A lost attempt; the scheduler wrote the next one in this turn. */
    s->tasks[i].state = T_HELD;
    s->res->tiers[s->wl->classes[s->tasks[i].cls].tier].retried++;
    s->res->overall.retried++;
  }
  strata_event_clear(&e);
  return rc;
}

/* A dispatch record: a free worker takes it once the turn commits. */
static int read_dispatch(sim_t *s, const decide_out_t *o) {
  strata_task_t rec;
  char err[256];
  int64_t i;
  int rc = 0;

  strata_task_init(&rec);
  if (strata_task_decode(o->value, o->len, &rec, err, sizeof(err)))
    return sim_fail(s, "a dispatch record: %s", err);
  if ((i = task_index(s, rec.id)) < 0)
    rc = sim_fail(s, "a dispatch of an unknown task \"%s\"", rec.id);
  else if (!s->free_workers)
    rc = sim_fail(s, "task %s dispatched with every worker busy", rec.id);
  else {
    s->free_workers--;
    s->starts[s->nstarts++] = (start_t){(uint32_t)i, rec.attempt};
  }
  strata_task_clear(&rec);
  return rc;
}

/* A task that was ready and never dispatched waited from ready to `end`:
 * its sample of the censored waits. */
static int censor(sim_t *s, const task_t *t, int64_t end) {
  strata_sim_tier_result_t *tr = &s->res->tiers[s->wl->classes[t->cls].tier];

  if (strata_sim_samples_add(&tr->wait_censored, end - t->ready_at) ||
      strata_sim_samples_add(&s->res->overall.wait_censored, end - t->ready_at))
    return sim_fail(s, "out of memory");
  return 0;
}

/* A dead letter ends a task; its reason says how. */
static int read_dead_letter(sim_t *s, const decide_out_t *o, int64_t now) {
  strata_deadletter_t dl;
  char err[256];
  int64_t i;
  int rc = 0;

  strata_deadletter_init(&dl);
  if (strata_deadletter_decode(o->value, o->len, &dl, err, sizeof(err)))
    return sim_fail(s, "a dead letter the scheduler wrote: %s", err);
  if ((i = task_index(s, dl.task_id)) < 0) {
    rc = sim_fail(s, "a dead letter of an unknown task \"%s\": %s",
                  dl.task_id ? dl.task_id : "", dl.detail ? dl.detail : "");
  } else {
    task_t *t = &s->tasks[i];
    switch (dl.reason) {
    case STRATA_DLQ_DEADLINE_EXPIRED:
      t->state = T_EXPIRED;
      break;
    case STRATA_DLQ_DEPENDENCY_FAILED:
      t->state = T_DEP_FAILED;
      break;
    case STRATA_DLQ_EXHAUSTED:
      t->state = T_FAILED;
      break;
    default:
      rc = sim_fail(s, "task %s dead-lettered (%s): %s", dl.task_id,
                    strata_dlq_reason_name(dl.reason),
                    dl.detail ? dl.detail : "");
      break;
    }
    t->finished_at = now;
    if (t->ready && !t->dispatched && censor(s, t, now))
      rc = -1;
    set_ready(s, (size_t)i, 0, now);
  }
  strata_deadletter_clear(&dl);
  return rc;
}

/* The next attempt of a lost one, on its tier topic: read back once the
 * turn commits. */
static int keep_retry(sim_t *s, const decide_out_t *o, int64_t now) {
  strata_task_t rec;
  char err[256];
  int64_t i;
  int input = -1;

  for (int k = 0; k < s->ntiers; k++)
    if (!strcmp(o->topic, s->tier_topics[k]))
      input = k;
  strata_task_init(&rec);
  if (strata_task_decode(o->value, o->len, &rec, err, sizeof(err)))
    return sim_fail(s, "a retry record: %s", err);
  if ((i = task_index(s, rec.id)) < 0 || input < 0) {
    sim_fail(s, "a retry of task \"%s\" on %s", rec.id, o->topic);
    strata_task_clear(&rec);
    return -1;
  }
  set_ready(s, (size_t)i, 1, now);
  s->tasks[i].ready_from =
      rec.has_not_before_ms && rec.not_before_ms - SIM_EPOCH > now
          ? rec.not_before_ms - SIM_EPOCH
          : now;
  strata_task_clear(&rec);
  if (grow((void **)&s->rereads, &s->rereadcap, s->nrereads + 1,
           sizeof(reread_t)))
    return sim_fail(s, "out of memory");
  if (!(s->rereads[s->nrereads].value = malloc(o->len)))
    return sim_fail(s, "out of memory");
  memcpy(s->rereads[s->nrereads].value, o->value, o->len);
  s->rereads[s->nrereads].len = o->len;
  s->rereads[s->nrereads++].input = input;
  return 0;
}

static const char *out_kind_name(decide_out_kind_t kind) {
  return kind == DECIDE_OUT_HOP ? "delay-step hop" : "control";
}

/*
 * One turn of the scheduler at `now`: expiries and dispatches for the free
 * workers, the heartbeat check when its interval has passed, the turn's
 * outputs read, the commit, and then what the commit lets others read:
 * workers start on the dispatches, retries are read from their tier topic.
 */
static int turn(sim_t *s, int64_t now, int may_watch) {
  const strata_epoch_ms_t at = SIM_EPOCH + now;
  const decide_out_t *out;
  size_t n, before_watch = 0;
  int watched = 0;

  decide_turn(s->d, at, (int)s->free_workers);
  if (may_watch && s->heartbeats && now - s->last_watch >= WATCH_INTERVAL_MS) {
    decide_outputs(s->d, &before_watch);
    decide_watch(s->d, at);
    s->last_watch = now;
    watched = 1;
  }
  out = decide_outputs(s->d, &n);
  for (size_t k = 0; k < n; k++) {
    int rc = 0;
    switch (out[k].kind) {
    case DECIDE_OUT_DISPATCH:
      rc = read_dispatch(s, &out[k]);
      break;
    case DECIDE_OUT_EVENT:
      rc = read_event(s, &out[k], now);
      break;
    case DECIDE_OUT_DLQ:
      rc = read_dead_letter(s, &out[k], now);
      break;
    case DECIDE_OUT_RETRY:
      rc = keep_retry(s, &out[k], now);
      break;
    case DECIDE_OUT_HOP:
    case DECIDE_OUT_CONTROL:
      rc = sim_fail(s,
                    "unexpected %s record on %s: the simulation configures "
                    "no delay steps and no preemption",
                    out_kind_name(out[k].kind), out[k].topic);
      break;
    }
    if (rc)
      return -1;
  }
  decide_committed(s->d, at);
  for (size_t k = 0; k < s->nstarts; k++)
    if (start_work(s, s->starts[k].task, s->starts[k].attempt, now))
      return -1;
  s->nstarts = 0;
  for (size_t k = 0; k < s->nrereads; k++) {
    reread_t *r = &s->rereads[k];
    decide_task(s->d,
                &(decide_record_t){r->input, 0, s->next_offset[r->input]++,
                                   r->value, r->len},
                at);
    free(r->value);
    r->value = NULL;
  }
  s->nrereads = 0;
  if (now - s->last_prune >= PRUNE_INTERVAL_MS) {
    decide_prune(s->d, at);
    s->last_prune = now;
  }
  /* What the heartbeat check decided (dependents of an exhausted task
   * fail, a retry may be due at once) is taken up without delay: the
   * daemon starts its next turn at once after a turn with work. */
  if (watched && n > before_watch)
    return turn(s, now, 0);
  return 0;
}

/* Judges every task once the run has stopped at `end`. */
static int account(sim_t *s, strata_sim_result_t *res, int64_t end) {
  strata_core_stats_t st;

  for (size_t i = 0; i < s->ntasks; i++) {
    const task_t *t = &s->tasks[i];
    int tier = s->wl->classes[t->cls].tier;
    strata_sim_tier_result_t *trs[2] = {&res->tiers[tier], &res->overall};
    int missed = 0;

    /* Worker time up to the end of the run; an attempt still running at
     * the end counts only its part inside the run. */
    if (t->worker_attempt)
      s->busy_ms += (uint64_t)(end - t->dispatched_at);
    if (t->ready && !t->dispatched && censor(s, t, end))
      return -1;
    switch (t->state) {
    case T_DONE:
      missed =
          t->kind != STRATA_CORE_DEADLINE_NONE && t->finished_at > t->deadline;
      break;
    case T_EXPIRED:
    case T_DEP_FAILED:
    case T_FAILED:
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
      case T_FAILED:
        tr->failed++;
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
  res->busy_ms = s->busy_ms;
  /* Aged dispatches are the core's count: only the strata policy's core
   * tiers are the workload's (the baselines run without aging). */
  strata_core_stats(decide_core(s->d), SIM_EPOCH + end, &st);
  for (size_t k = 0; k < st.ntiers; k++) {
    if (multi_tier(s)) {
      res->tiers[k].aged = st.tiers[k].aged_dispatches;
      res->tiers[k].lent = st.tiers[k].lent_dispatches;
      res->tiers[k].urgent = st.tiers[k].urgent_dispatches;
    }
    res->overall.aged += st.tiers[k].aged_dispatches;
  }
  for (size_t k = 0; k < res->ntiers; k++)
    res->weighted_misses +=
        (uint64_t)res->tiers[k].weight *
        (res->tiers[k].misses_hard + res->tiers[k].misses_soft);
  return 0;
}

static int run_loop(sim_t *s) {
  const int64_t limit = s->duration_ms + s->wl->drain_ms;
  size_t next_arrival = 0;
  int64_t now = 0;

  for (;;) {
    int64_t next = INT64_MAX;
    strata_epoch_ms_t wake;

    while (s->nheap && s->heap[0].at <= now)
      if (on_worker(s, heap_pop(s), now))
        return -1;
    while (next_arrival < s->ntasks && s->tasks[next_arrival].arrival <= now)
      if (arrive(s, next_arrival++, now))
        return -1;
    if (turn(s, now, 1))
      return -1;

    if (s->nheap)
      next = s->heap[0].at;
    if (next_arrival < s->ntasks && s->tasks[next_arrival].arrival < next)
      next = s->tasks[next_arrival].arrival;
    /* A lost attempt is noticed only by the heartbeat check, which runs
     * every watch interval while attempts run. */
    if (s->heartbeats && decide_running(s->d) > 0) {
      int64_t w = s->last_watch + WATCH_INTERVAL_MS;
      if (w <= now)
        w = now + 1;
      if (w < next)
        next = w;
    }
    /* The core's wakeup matters only when a worker could take what it
     * releases; with every worker busy the next completion comes first, and
     * the core fires any timer that came due in between on that call. */
    wake = strata_core_next_wakeup(decide_core(s->d));
    if (s->free_workers > 0 && wake != STRATA_CORE_NEVER) {
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
  s->res->end_ms = now;
  return 0;
}

/* The decision layer for the policy, owning partition 0 of every topic. */
static decide_t *new_layer(sim_t *s, char *errstr, size_t size) {
  static const char *const queues[] = {"default"};
  static const char *const dispatch[] = {"sim.dispatch"};
  decide_config_t c = {
      .tiers = s->tier_names,
      .ntiers = s->ntiers,
      .nparts = 1,
      .tier_topics = s->tier_topics,
      .nsteps = 0,
      .queues = queues,
      .dispatch_topics = dispatch,
      .nqueues = 1,
      .events_topic = "sim.events",
      .dlq_topic = "sim.dlq",
      .control_topic = "sim.control",
      .instance = "strata-sim",
      .window_ms = IDEMPOTENCY_WINDOW_MS,
      .preemption = false,
      .seed = s->seed,
      .core_new = policy_core,
      .core_opaque = s,
  };
  decide_t *d = decide_new(&c, errstr, size);

  if (d) {
    decide_assign(d, 0, NULL, -1, -1);
    decide_control_ready(d);
  }
  return d;
}

static void sim_free(sim_t *s) {
  decide_destroy(s->d);
  for (size_t k = 0; k < s->nrereads; k++)
    free(s->rereads[k].value);
  free(s->rereads);
  free(s->starts);
  free(s->tasks);
  free(s->deps);
  free(s->amount);
  free(s->usage);
  free(s->heap);
  free(s->dep_start);
  free(s->dep_of);
}

strata_sim_result_t *strata_sim_run(const strata_sim_workload_t *wl,
                                    const strata_sim_options_t *opt,
                                    char *errstr, size_t size) {
  strata_sim_result_t *res = calloc(1, sizeof(*res));
  strata_log_level_t level = strata_log_level_;
  sim_t s;

  memset(&s, 0, sizeof(s));
  if (!res) {
    snprintf(errstr, size, "out of memory");
    return NULL;
  }
  errstr[0] = '\0';
  s.wl = wl;
  s.policy = opt->policy;
  s.seed = opt->has_seed ? opt->seed : wl->seed;
  s.duration_ms = opt->duration_ms > 0 ? opt->duration_ms : wl->duration_ms;
  s.free_workers = wl->workers;
  s.res = res;
  s.errstr = errstr;
  s.errsize = size;
  for (size_t c = 0; c < wl->nclasses; c++)
    if (wl->classes[c].heartbeat_ms > 0)
      s.heartbeats = 1;
  snprintf(res->workload, sizeof(res->workload), "%s", wl->name);
  res->policy = s.policy;
  res->seed = s.seed;
  res->duration_ms = s.duration_ms;
  res->workers = wl->workers;
  res->utilisation = strata_sim_workload_utilisation(wl);
  tier_names(&s, res);
  policy_tiers(&s);
  if (gen_tasks(&s) || build_dependents(&s)) {
    snprintf(errstr, size, "out of memory generating tasks");
    goto fail;
  }
  if (!(s.starts = malloc(((size_t)wl->workers + 1) * sizeof(*s.starts)))) {
    snprintf(errstr, size, "out of memory");
    goto fail;
  }
  /* The decision layer reports every expiry and lost attempt in the log;
   * here the result says it. */
  strata_log_set_level(STRATA_LOG_ERROR);
  if (!(s.d = new_layer(&s, errstr, size)) || run_loop(&s))
    goto fail;
  if (account(&s, res, res->end_ms))
    goto fail;
  strata_log_set_level(level);
  sim_free(&s);
  return res;
fail:
  strata_log_set_level(level);
  sim_free(&s);
  strata_sim_result_destroy(res);
  return NULL;
}

void strata_sim_result_destroy(strata_sim_result_t *res) {
  if (!res)
    return;
  for (size_t i = 0; i < STRATA_CORE_MAX_TIERS; i++) {
    strata_sim_samples_clear(&res->tiers[i].wait);
    strata_sim_samples_clear(&res->tiers[i].unblock);
    strata_sim_samples_clear(&res->tiers[i].wait_censored);
  }
  strata_sim_samples_clear(&res->overall.wait_censored);
  strata_sim_samples_clear(&res->overall.wait);
  strata_sim_samples_clear(&res->overall.unblock);
  free(res);
}
