/*
 * The dispatch decision, strata_core_next(): which ready task runs next.
 * The first rule that applies decides: aging across tiers (capped), the
 * urgency override for hard deadlines about to be lost, shares (the owed
 * tier furthest behind), lending (the most urgent task of any tier).
 * Within a tier each lane's ready queue gives EDF / least-laxity order, the
 * tier's candidate is the most urgent head among its lanes with room, and
 * look-ahead passes over tasks whose pools do not fit. A dispatch reserves
 * in all of the task's pools or none, takes one of its lane's room, and is
 * charged to its tier's pass and the core's virtual time. docs/CORE.md
 * states the policy.
 *
 * Invariants (besides those in core_int.h):
 * - vtime and every pass stay below 2^62: they are rebased together.
 * - Aging takes a tier's pass at most CORE_COST_MAX of its own work ahead of
 *   vtime, and age_credit never exceeds age_credit_max.
 * - Look-ahead puts the entries it passes over back with their keys and
 *   sequence numbers, so a decision never reorders a ready queue.
 * - A paused tier is never tried.
 * - A task whose lane has no room is never dispatched; wherever a rule
 *   looks at a tier's most urgent task, it is the most urgent among the
 *   tier's lanes with room.
 */
#include "core_int.h"

#define VT_RENORM (UINT64_C(1) << 62) /* rebase virtual times past this */

_Static_assert(CORE_LOOKAHEAD_MAX <= RQ_SPARE,
               "pick_in_tier() should find room for K without growing");

/* Whether all of the task's demands fit now. On failure reports the first
   pool that does not fit and the earliest time all of them may fit. */
static int task_fits(strata_core_t *c, const task_t *t, int64_t now, int *pool,
                     int64_t *until) {
  const demand_t *d = task_demands(t);
  int ok = 1;

  *until = now;
  for (uint32_t i = 0; i < t->ndemand; i++) {
    int64_t u = now; /* pool_fits() sets it only when it does not fit */
    int fits = pool_fits(&c->pools[d[i].pool], d[i].amount, now, &u);
    if ((c->reserved >> d[i].pool) & 1) {
      fits = 0;
      if (u < c->reserved_until)
        u = c->reserved_until;
    }
    if (!fits) {
      if (ok)
        *pool = d[i].pool;
      ok = 0;
      if (u > *until)
        *until = u;
    }
  }
  return ok;
}

/* How a decision was taken; decides how it is charged (charge()). */
enum {
  PICK_SHARE, /* the tier was owed its share */
  PICK_LENT,  /* nobody was owed: the most urgent task got the decision */
  PICK_AGED,  /* the starvation bound, ahead of the shares, within the cap */
  PICK_URGENT /* a hard deadline about to be lost, ahead of the shares */
};

static int64_t task_cost(const strata_core_t *c, const task_t *t) {
  if (c->cfg.charge_by_estimate && t->estimate > 0)
    return t->estimate < CORE_COST_MAX ? (int64_t)t->estimate : CORE_COST_MAX;
  return c->cfg.unknown_estimate_ms;
}

/* Rebases every virtual time when vtime grows large, so passes never
   overflow. Tiers far behind (idle) are clamped at 0: they restart at
   vtime when they become backlogged anyway. */
static void vt_rebase(strata_core_t *c) {
  uint64_t off = c->vtime - (VT_RENORM >> 1);

  c->vtime -= off;
  for (uint32_t i = 0; i < c->ntiers; i++)
    c->tiers[i].pass = c->tiers[i].pass > off ? c->tiers[i].pass - off : 0;
}

/* Charges a dispatch of `cost` ms to its tier and advances virtual time.
   A tier's pass grows by cost / weight, vtime by cost / Σweight, so a tier
   whose pass keeps up with vtime has had exactly weight / Σweight of the
   dispatched cost, and a tier behind vtime is owed.
   - Lent decisions are beyond the share and are not held against the tier
     later: its pass restarts from vtime (no debt), else a tier that was lent
     a quiet system's capacity would be refused its share when the others
     come back.
   - Aged decisions are held against the tier's share (debt), bounded by
     CORE_COST_MAX of its own work so the debt cannot grow without limit. */
static void charge(strata_core_t *c, tier_t *tr, int64_t cost, int how) {
  uint64_t ch = ((uint64_t)cost << CORE_VT_SHIFT) / tr->weight;

  if (how == PICK_LENT && tr->pass > c->vtime)
    tr->pass = c->vtime;
  tr->pass += ch;
  if (how == PICK_AGED) {
    uint64_t cap =
        c->vtime + ((uint64_t)CORE_COST_MAX << CORE_VT_SHIFT) / tr->weight;
    if (tr->pass > cap)
      tr->pass = cap;
    c->age_credit -= cost * 100;
  }
  c->vtime += ((uint64_t)cost << CORE_VT_SHIFT) / c->weight_sum;
  c->age_credit += cost * (int64_t)c->cfg.aging_max_share_pct;
  if (c->age_credit > c->age_credit_max)
    c->age_credit = c->age_credit_max;
  if (c->vtime > VT_RENORM)
    vt_rebase(c);
}

/* Settles a dispatch at its end: a task that ran longer than its dispatch
   was charged (its estimate) costs its tier the difference, on its pass
   and on vtime, so shares are shares of the worker time actually taken.
   Case: a class running 3x its estimate took 3x the worker time its tier
   was charged for and the other tiers' floors paid for it (low 7 % and
   background 3 % against floors of 10 and 5 %). Only overruns: refunding
   shorter runs gave heavy-tailed classes, whose estimate is the mean and
   whose typical run is far shorter, credit they then spent ahead of
   everyone. Not done for shares of dispatches (charge_by_estimate 0). */
void select_settle(strata_core_t *c, task_t *t, int64_t now) {
  tier_t *tr = &c->tiers[t->tier];
  int64_t over = now - t->since;

  t->flags &= (uint8_t)~TF_CHARGED;
  if (!c->cfg.charge_by_estimate)
    return;
  if (over > CORE_COST_MAX)
    over = CORE_COST_MAX;
  over -= task_cost(c, t);
  if (over <= 0)
    return;
  tr->pass += ((uint64_t)over << CORE_VT_SHIFT) / tr->weight;
  c->vtime += ((uint64_t)over << CORE_VT_SHIFT) / c->weight_sum;
  if (c->vtime > VT_RENORM)
    vt_rebase(c);
}

/* `popped`: the task's heap entry was already removed (else it turns
   stale). */
static void dispatch(strata_core_t *c, uint32_t idx, int64_t now, int how,
                     int aged, int popped, strata_core_dispatch_t *out) {
  task_t *t = core_task(c, idx);
  tier_t *tr = &c->tiers[t->tier];
  const demand_t *d = task_demands(t);

  for (uint32_t i = 0; i < t->ndemand; i++)
    pool_take(&c->pools[d[i].pool], d[i].amount);
  if (c->room[t->lane] != STRATA_CORE_UNLIMITED && --c->room[t->lane] == 0)
    c->lane_open &= ~(1u << t->lane);
  state_leave_ready(c, idx, popped);
  core_timer_disarm(c, t);
  /* A new generation per dispatch makes the handle name this dispatch
     only; a timer entry of the task is already stale (disarmed above). */
  t->gen++;
  out->handle = ((uint64_t)t->gen << 32) | idx;
  out->id = task_id(t);
  out->cookie = t->cookie;
  out->tier = t->tier;
  out->lane = t->lane;
  out->priority = t->priority;
  out->deadline_kind = (t->flags & TF_HARD)   ? STRATA_CORE_DEADLINE_HARD
                       : (t->flags & TF_SOFT) ? STRATA_CORE_DEADLINE_SOFT
                                              : STRATA_CORE_DEADLINE_NONE;
  out->deadline = t->deadline;
  out->estimate_ms = t->estimate;
  out->submitted_at = t->t_enq;
  out->ready_at = t->since;
  out->wait_ms = now - t->since;
  out->unblock_latency_ms =
      t->dnode != CORE_NIL ? core_dnode(c, t->dnode)->unblock_latency : -1;
  out->soft_missed =
      (t->flags & TF_SOFT) && now + (int64_t)t->estimate > t->deadline;
  out->aged = aged;
  out->lent = how == PICK_LENT;
  out->urgent = how == PICK_URGENT;
  if (out->soft_missed)
    tr->st.soft_misses++;
  if (aged)
    tr->st.aged_dispatches++;
  if (how == PICK_LENT)
    tr->st.lent_dispatches++;
  if (how == PICK_URGENT)
    tr->st.urgent_dispatches++;
  tr->st.dispatched++;
  charge(c, tr, task_cost(c, t), how);
  t->flags |= TF_CHARGED;
  core_set_state(c, t, TS_RUNNING);
  t->since = now;
  c->decisions++;
}

static int overdue(const strata_core_t *c, const task_t *t, int64_t now) {
  return c->cfg.starvation_bound_ms > 0 &&
         now - t->since >= c->cfg.starvation_bound_ms;
}

/* Whether a ready task may be dispatched now: its lane has room and its
   demands fit. */
static int task_admissible(strata_core_t *c, const task_t *t, int64_t now) {
  int pool;
  int64_t until;

  return (c->lane_open & (1u << t->lane)) &&
         task_fits(c, t, now, &pool, &until);
}

/* The starvation rule across tiers: among ready tasks that have waited at
   least the bound, the oldest admissible one (looking at up to K per tier;
   a task whose lane has no room counts as one that does not fit) goes
   first. Only called while the aging cap has credit. */
static uint32_t pick_aged(strata_core_t *c, int64_t now) {
  int64_t best_since = 0;
  uint32_t best = CORE_NIL;

  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    uint32_t i = c->tiers[ti].fhead;
    if ((c->paused & (1u << ti)) || !tier_open_lanes(c, &c->tiers[ti]))
      continue;
    for (uint32_t k = 0; k < c->cfg.lookahead && i != CORE_NIL; k++) {
      task_t *t = core_task(c, i);
      if (!overdue(c, t, now))
        break;
      if (best != CORE_NIL && t->since >= best_since)
        break;
      if (task_admissible(c, t, now)) {
        best = i;
        best_since = t->since;
        break;
      }
      i = t->fnext;
    }
  }
  return best;
}

/* Drops stale entries from the top of one lane's ready queue; returns the
   entry of its most urgent ready task, or NULL. */
static inline const heap_ent_t *lane_head(strata_core_t *c, rq_t *q) {
  const heap_ent_t *e;

  while ((e = rq_top(q)) && !core_ready_live(c, e)) {
    rq_pop(q);
    if (q->stale)
      q->stale--;
  }
  return e;
}

/* tier_head() over two or more lanes `m`: the smallest of their heads. */
static const heap_ent_t *tier_head_of(strata_core_t *c, tier_t *tr,
                                      uint32_t m) {
  const heap_ent_t *best = NULL;

  for (; m; m &= m - 1) {
    const heap_ent_t *e = lane_head(c, &tr->rq[__builtin_ctz(m)]);
    if (e && (!best || heap_less(e, best)))
      best = e;
  }
  return best;
}

/* The entry of the tier's most urgent ready task among its lanes with
   room, or NULL. O(lanes with ready tasks and room). The rules call it for
   every tier at every decision, so one open lane (always so with lanes =
   1) takes the short way, which costs what a single queue cost. */
static inline const heap_ent_t *tier_head(strata_core_t *c, tier_t *tr) {
  uint32_t m = tier_open_lanes(c, tr);

  if (!(m & (m - 1)))
    return m ? lane_head(c, &tr->rq[__builtin_ctz(m)]) : NULL;
  return tier_head_of(c, tr, m);
}

/* Looks at up to K most urgent tasks of one lane of a tier and takes the
   first that fits its pools; the others go back unchanged (same key, same
   seq). `first`: this lane holds the tier's most urgent task, so the
   tier's head-blocked report is kept current from it. */
static uint32_t pick_in_lane(strata_core_t *c, tier_t *tr, rq_t *q, int64_t now,
                             int first) {
  heap_ent_t skipped[CORE_LOOKAHEAD_MAX];
  uint32_t j = 0, chosen = CORE_NIL, kmax = c->cfg.lookahead;

  /* Skipped entries go back into the queue's insertion heap: make room
     first, so putting them back cannot fail. Out of memory, look at the
     head only (it need not leave the queue, see below). */
  if (heap_reserve(&q->buf, q->buf.n + kmax))
    kmax = 1;
  while (j < kmax && q->n) {
    heap_ent_t e = *rq_top(q);
    int pool = -1;
    int64_t until;
    if (!core_ready_live(c, &e)) {
      rq_pop(q);
      if (q->stale)
        q->stale--;
      continue;
    }
    if (task_fits(c, core_task(c, e.idx), now, &pool, &until)) {
      const heap_ent_t *next;
      chosen = e.idx;
      rq_pop(q);
      /* The next heads are likely the next decisions here: start their
         cache misses now so they overlap with other work. */
      if ((next = rq_top(q)) != NULL)
        __builtin_prefetch(core_task(c, next->idx));
      if ((next = rq_ahead(q, RQ_PREFETCH)) != NULL)
        __builtin_prefetch(core_task(c, next->idx));
      break;
    }
    if (j == 0 && first) {
      if (!tr->st.head_blocked || tr->st.blocked_pool != pool)
        tr->st.blocked_since = now;
      tr->st.head_blocked = 1;
      tr->st.blocked_pool = pool;
      tr->st.blocked_until = until;
    }
    if (j + 1 == kmax)
      break; /* the last one examined: no need to look past it */
    skipped[j++] = e;
    rq_pop(q);
  }
  if (chosen != CORE_NIL && j == 0 && first)
    tier_clear_blocked(tr);
  for (uint32_t k = 0; k < j; k++)
    rq_reinsert(q, &skipped[k]);
  return chosen;
}

/* pick_in_tier() over two or more lanes `m`: they are tried in the order
   of their heads (key, then FIFO), each with look-ahead. */
static uint32_t pick_in_lanes(strata_core_t *c, tier_t *tr, uint32_t m,
                              int64_t now) {
  heap_ent_t head[STRATA_CORE_MAX_LANES];
  uint32_t lane[STRATA_CORE_MAX_LANES], n = 0;

  for (; m; m &= m - 1) {
    uint32_t l = (uint32_t)__builtin_ctz(m), k;
    const heap_ent_t *e = lane_head(c, &tr->rq[l]);
    if (!e)
      continue;
    /* Insertion by head: at most STRATA_CORE_MAX_LANES entries. */
    for (k = n; k > 0 && heap_less(e, &head[k - 1]); k--) {
      head[k] = head[k - 1];
      lane[k] = lane[k - 1];
    }
    head[k] = *e;
    lane[k] = l;
    n++;
  }
  for (uint32_t k = 0; k < n; k++) {
    uint32_t idx = pick_in_lane(c, tr, &tr->rq[lane[k]], now, k == 0);
    if (idx != CORE_NIL)
      return idx;
  }
  return CORE_NIL;
}

/* The tier's most urgent task that can go now, from its lanes with room: a
   lane whose look-ahead finds only tasks that do not fit their pools yields
   to the next lane before the tier gives up. */
static inline uint32_t pick_in_tier(strata_core_t *c, tier_t *tr, int64_t now) {
  uint32_t m = tier_open_lanes(c, tr);

  if (!(m & (m - 1)))
    return m ? pick_in_lane(c, tr, &tr->rq[__builtin_ctz(m)], now, 1)
             : CORE_NIL;
  return pick_in_lanes(c, tr, m, now);
}

/* A tier chosen by a rule with something at stake (the urgency override, a
   due share, a feasible deadline) found nothing that fits: the pool its
   head waits on is held for it for the rest of the decision, so a less
   urgent task cannot take what the head is waiting to accumulate. Case: a
   critical chat turn needing 6 000 tokens waited while background
   evaluation tasks of 1 000-3 000 took every refill, and it missed. */
static void reserve_blocked(strata_core_t *c, const tier_t *tr) {
  if (!tr->st.head_blocked || tr->st.blocked_pool < 0)
    return;
  if (!c->reserved || tr->st.blocked_until < c->reserved_until)
    c->reserved_until = tr->st.blocked_until;
  c->reserved |= UINT64_C(1) << tr->st.blocked_pool;
}

/* Serves tier `ti`, chosen by `how`: its oldest task first if that one is
   overdue and fits (aging inside the share), else its most urgent task that
   fits. Returns 0 when nothing of the tier fits now. */
static int serve_tier(strata_core_t *c, uint32_t ti, int64_t now, int how,
                      strata_core_dispatch_t *out) {
  tier_t *tr = &c->tiers[ti];
  uint32_t idx;

  if (how == PICK_SHARE && tr->fhead != CORE_NIL) {
    uint32_t oldest = tr->fhead;
    task_t *t = core_task(c, oldest);
    if (overdue(c, t, now) && task_admissible(c, t, now)) {
      dispatch(c, oldest, now, how, 1, 0, out);
      state_compact_ready(c, core_task_rq(c, t));
      return 1;
    }
  }
  idx = pick_in_tier(c, tr, now);
  if (idx == CORE_NIL)
    return 0;
  dispatch(c, idx, now, how, 0, 1, out);
  state_compact_ready(c, core_task_rq(c, core_task(c, idx)));
  return 1;
}

/* The most urgent ready task of each tier among its lanes with room, found
   once per decision: every rule below reads the heads, and a decision ends
   at its first dispatch, so they do not change in between (a failed pick
   leaves its tier's queue in the same order and the tier is not looked at
   again). NULL task: no such task (or a paused tier). */
typedef struct {
  const task_t *t;
  int64_t key;
  /* Owed tiers only (owed_tier()): the finish tag, and whether the head is
     due (see owed_tier()). */
  uint64_t fin;
  int owed, due;
} head_t;

/* The first candidates of rules 1 and 3, found in the same pass as the
   heads. `urgent`, the urgency override: a tier whose most urgent task has
   a hard deadline it is about to lose goes ahead of the shares, charged to
   its own pass, while that pass is less than the horizon's worth of its
   own work ahead of virtual time (so the override cannot take the others'
   shares for long); the most urgent such head of all tiers. `owed`: the
   tier owed_tier() would choose with nothing tried but the paused tiers,
   which stays its choice while that tier is untried. */
typedef struct {
  uint32_t urgent, owed;
} first_t;

static void scan_heads(strata_core_t *c, head_t *h, int64_t now,
                       first_t *first) {
  int64_t bk = INT64_MAX;
  uint64_t bf = UINT64_MAX;

  first->urgent = first->owed = CORE_NIL;
  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    tier_t *tr = &c->tiers[ti];
    const heap_ent_t *e = NULL;
    const task_t *t;
    if (!(c->paused & (1u << ti)))
      e = tier_head(c, tr);
    h[ti].t = t = e ? core_task(c, e->idx) : NULL;
    h[ti].key = e ? e->key : INT64_MAX;
    if (t && (t->flags & TF_HARD) && h[ti].key < bk &&
        h[ti].key <= now + c->cfg.urgency_horizon_ms &&
        tr->pass < c->vtime + tr->urgent_lead) {
      first->urgent = ti;
      bk = h[ti].key;
    }
    h[ti].owed = t && tr->pass <= c->vtime;
    if (!h[ti].owed)
      continue;
    h[ti].fin = tr->pass + (uint64_t)task_cost(c, t) * tr->vt_per_ms;
    h[ti].due = !(t->flags & (TF_HARD | TF_SOFT)) ||
                tr->target_wait <= c->cfg.urgency_horizon_ms ||
                e->key <= now + c->cfg.urgency_horizon_ms ||
                c->vtime - tr->pass > tr->defer_lag;
    if ((h[ti].due || !c->cfg.deadlines_first) &&
        (first->owed == CORE_NIL || h[ti].fin < bf)) {
      first->owed = ti;
      bf = h[ti].fin;
    }
  }
}

/* Whether the task has an explicit deadline it can still make if it
   starts now. */
static inline int task_feasible(const task_t *t, int64_t now) {
  return (t->flags & (TF_HARD | TF_SOFT)) &&
         now + (int64_t)t->estimate <= t->deadline;
}

/* Shares: a backlogged tier behind virtual time (or at it: WF2Q's
   eligibility, start tag <= virtual time) is owed. Among the untried owed
   tiers with ready tasks in a lane with room, the one whose head would
   finish first in virtual time, pass + cost(head) / weight (WFQ's finish
   tag), or CORE_NIL. Ordering by the pass alone (the start tag) held a tier
   of short tasks behind one of long tasks: a critical 80 ms task, owed
   since one decision, waited for a low tier's 2 s task because the low
   tier's pass was further behind in virtual time, which is what its long
   tasks do to it. With `due_only` (deadlines_first), only tiers whose head
   is due: it has no explicit deadline, or its key is within the urgency
   horizon, or the tier is owed more than its target wait of its own work
   (so deferring a floor is bounded: floors hold within that lag), or its
   target wait is within the horizon (its tasks are meant to start at once:
   deferring them gained the others little, critical's demand being far
   below its floor, and cost critical its floor while backlogged and its
   wait). A tier whose
   ready tasks are all in lanes without room is passed over, as one whose heads
   wait on pools (its pass restarts from vtime when a lane opens:
   strata_core_lane_room()). */
static inline uint32_t owed_tier(const strata_core_t *c, const head_t *h,
                                 uint32_t tried, int due_only) {
  uint32_t bi = CORE_NIL;
  uint64_t bf = UINT64_MAX;

  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    if (!h[ti].owed || (tried & (1u << ti)) || (due_only && !h[ti].due))
      continue;
    if (bi == CORE_NIL || h[ti].fin < bf) {
      bi = ti;
      bf = h[ti].fin;
    }
  }
  return bi;
}

/* Deadlines before floors that can wait: the untried tier whose head has
   an explicit deadline it can still make, smallest key first (ties to the
   smaller pass, then the lower tier), or CORE_NIL. An owed tier whose
   head's deadline is further out than the horizon loses nothing by
   waiting; a flash crowd of critical tasks due in 2-10 s loses everything
   if the others' floors go first. */
static uint32_t deadline_tier(const strata_core_t *c, const head_t *h,
                              uint32_t tried, int64_t now) {
  uint32_t bi = CORE_NIL;
  int64_t bk = INT64_MAX;

  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    int64_t k = h[ti].key;
    if (!h[ti].t || (tried & (1u << ti)) || !task_feasible(h[ti].t, now))
      continue;
    if (bi == CORE_NIL || k < bk ||
        (k == bk && c->tiers[ti].pass < c->tiers[bi].pass)) {
      bi = ti;
      bk = k;
    }
  }
  return bi;
}

/* Lending: the untried tier with the most urgent ready task in a lane with
   room (smallest key; ties to the smaller pass, then the lower tier), or
   CORE_NIL. */
static uint32_t lending_tier(const strata_core_t *c, const head_t *h,
                             uint32_t tried) {
  uint32_t bi = CORE_NIL;
  int64_t bk = INT64_MAX;

  for (uint32_t ti = 0; ti < c->ntiers; ti++) {
    const tier_t *tr = &c->tiers[ti];
    int64_t k = h[ti].key;
    if (!h[ti].t || (tried & (1u << ti)))
      continue;
    if (bi == CORE_NIL || k < bk || (k == bk && tr->pass < c->tiers[bi].pass)) {
      bi = ti;
      bk = k;
    }
  }
  return bi;
}

int strata_core_next(strata_core_t *c, strata_epoch_ms_t now,
                     strata_core_dispatch_t *out) {
  head_t heads[STRATA_CORE_MAX_TIERS];
  first_t first;
  uint32_t tried, bi;

  if (!c || !out)
    return 0;
  tried = c->paused; /* a paused tier is never tried */
  c->reserved = 0;
  now = core_clamp_now(c, now);
  state_run_timers(c, now);
  scan_heads(c, heads, now, &first);

  /* 1. Urgency override: a hard deadline about to be lost goes before
     aging, so the starvation bound never spends a worker that a deadline
     that can still be met needs (docs/CORE.md, "Aging"). */
  if (c->cfg.urgency_horizon_ms > 0 && (bi = first.urgent) != CORE_NIL) {
    tried |= 1u << bi;
    if (serve_tier(c, bi, now, PICK_URGENT, out))
      return 1;
    reserve_blocked(c, &c->tiers[bi]);
  }

  /* 2. Aging across tiers, within its cap. */
  if (c->cfg.starvation_bound_ms > 0 && c->age_credit >= 0) {
    uint32_t idx = pick_aged(c, now);
    if (idx != CORE_NIL) {
      dispatch(c, idx, now, PICK_AGED, 1, 0, out);
      state_compact_ready(c, core_task_rq(c, core_task(c, idx)));
      return 1;
    }
  }

  /* 3. Shares, the owed tier with the earliest finish tag first; with
     deadlines_first only the owed tiers whose head is due. A tier whose
     candidates all wait on pools yields to the next. */
  bi = first.owed;
  if (bi != CORE_NIL && (tried & (1u << bi)))
    bi = owed_tier(c, heads, tried, c->cfg.deadlines_first);
  for (; bi != CORE_NIL;
       bi = owed_tier(c, heads, tried, c->cfg.deadlines_first)) {
    tried |= 1u << bi;
    if (serve_tier(c, bi, now, PICK_SHARE, out))
      return 1;
    if (c->cfg.deadlines_first)
      reserve_blocked(c, &c->tiers[bi]);
  }

  if (c->cfg.deadlines_first) {
    /* 4. Deadlines that can still be made, before the floors that can
       wait: charged as lent (beyond the share, no debt). */
    while ((bi = deadline_tier(c, heads, tried, now)) != CORE_NIL) {
      tried |= 1u << bi;
      if (serve_tier(c, bi, now, PICK_LENT, out))
        return 1;
      reserve_blocked(c, &c->tiers[bi]);
    }
    /* 5. The owed tiers whose heads could wait. */
    while ((bi = owed_tier(c, heads, tried, 0)) != CORE_NIL) {
      tried |= 1u << bi;
      if (serve_tier(c, bi, now, PICK_SHARE, out))
        return 1;
    }
  }

  /* 6. Lending: nobody is owed, so the decision goes to the most urgent
     ready task of any tier. */
  while ((bi = lending_tier(c, heads, tried)) != CORE_NIL) {
    tried |= 1u << bi;
    if (serve_tier(c, bi, now, PICK_LENT, out))
      return 1;
  }
  return 0;
}
