/*
 * Internal structures of the scheduler core, shared by its .c files and by
 * nothing else. Indices (uint32_t, CORE_NIL for none) link records instead of
 * pointers: they halve the link size and stay valid when a slab grows.
 *
 * Invariants kept across the core:
 * - A task record is in exactly one state. READY records are in their tier's
 *   FIFO list and have exactly one live entry in the ready queue of their
 *   tier and lane (the one whose seq equals rec->hseq); other entries
 *   pointing at them are stale and counted in that queue's `stale`.
 * - A tier's lane_ready[l] counts its READY tasks of lane l, and bit l of
 *   its `busy` is set iff that count is non-zero; bit l of the core's
 *   lane_open is set iff room[l] is non-zero.
 * - A record has at most one live timer entry, and it has one iff
 *   TF_TIMER is set; a timer entry is live iff its seq equals rec->gen and
 *   TF_TIMER is set. Timer entries that outlive their purpose are stale.
 * - `held` counts READY, BLOCKED, DELAYED, RUNNING and PLACEHOLDER records.
 * - core_set_state() is the only writer of rec->state, so the per-tier depth
 *   gauges, `held` and `placeholders` always match the records.
 * - Time never goes backwards inside the core: every entry point that takes
 *   `now` passes it through core_clamp_now() (c->now is a running max).
 *
 * Functions shared between the core's files carry the prefix of the file
 * that defines them (ids_, state_, deps_, outcome_, and heap_, rq_, slab_,
 * pool_, recent_ for the data structures); the static inline helpers below
 * are core_, task_ and tier_.
 */
#ifndef STRATA_CORE_INT_H
#define STRATA_CORE_INT_H

#include "strata/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CORE_NIL UINT32_MAX
#define CORE_ID_INLINE 23 /* ids up to this length live inside the record */
#define CORE_DEM_INLINE 2 /* demands up to this count live inside it too */
#define CORE_MAX_DEPS 4096
#define CORE_MAX_DEPENDENTS 65535
#define CORE_VT_SHIFT 30                 /* virtual time units per cost ms */
#define CORE_COST_MAX (INT64_C(1) << 24) /* largest charged cost, ms */
#define CORE_LOOKAHEAD_MAX 64
/* Batches are taken in groups of this many: enough loads in flight to
   cover the memory latency, few enough that they are still cached when
   used. */
#define CORE_BATCH_GROUP 32

/* ---- 4-ary min-heap of (key, seq, idx), FIFO on equal keys ------------ */

typedef struct {
  int64_t key;
  uint32_t seq; /* FIFO tie-break, compared with wrap-around */
  uint32_t idx; /* task record index */
} heap_ent_t;

typedef struct {
  heap_ent_t *mem; /* allocation; entries start at mem + 3 (cache alignment) */
  heap_ent_t *a;   /* a[0] is the root */
  uint32_t n, cap;
  uint32_t stale; /* entries known to be stale */
} heap_t;

void heap_init(heap_t *h);
void heap_free(heap_t *h);
int heap_push(heap_t *h, int64_t key, uint32_t seq, uint32_t idx);
void heap_pop(heap_t *h);
void heap_heapify(heap_t *h);
/* Makes room for `cap` entries, so pushes up to that many cannot fail. */
int heap_reserve(heap_t *h, uint32_t cap);

static inline int heap_less(const heap_ent_t *x, const heap_ent_t *y) {
  if (x->key != y->key)
    return x->key < y->key;
  return (int32_t)(x->seq - y->seq) < 0;
}

/* ---- a tier's ready queue: cached insertion heap + sorted runs -------- */

#define RQ_BUF 2048     /* insertion heap size before it becomes a run */
#define RQ_MAX_RUNS 48  /* more runs than this are merged regardless */
#define RQ_MIN_BUF (-1) /* rq_t.min: the smallest entry is the buffer root */
#define RQ_MIN_UNKNOWN (-2)
/* Room kept in the buffer beyond RQ_BUF, for rq_reinsert(). */
#define RQ_SPARE 64
/* How far ahead in a run the records of future heads are prefetched. */
#define RQ_PREFETCH 4

typedef struct {
  heap_ent_t *a; /* sorted; live entries are a[head, n) */
  uint32_t head, n;
} rq_run_t;

typedef struct {
  heap_t buf; /* newest entries; its `stale` is unused */
  rq_run_t runs[RQ_MAX_RUNS];
  uint32_t nruns;
  uint32_t n;     /* entries in buf and runs, stale included */
  uint32_t stale; /* entries known to be stale */
  int32_t min;    /* where the smallest entry is, see readyq.c */
} rq_t;

void rq_init(rq_t *q);
void rq_free(rq_t *q);
int rq_push(rq_t *q, int64_t key, uint32_t seq, uint32_t idx);
/* Puts back an entry just popped. The caller makes room in `buf` first
   (heap_reserve()), so this cannot fail. */
void rq_reinsert(rq_t *q, const heap_ent_t *e);
void rq_pop(rq_t *q);
const heap_ent_t *rq_top_slow(rq_t *q);
/* The entry k places after the smallest in the same run, if it is in a
   run (a likely next head, worth prefetching); NULL otherwise. */
const heap_ent_t *rq_ahead(rq_t *q, uint32_t k);

/* The smallest entry; NULL when empty. */
static inline const heap_ent_t *rq_top(rq_t *q) {
  if (!q->n)
    return NULL;
  if (q->min == RQ_MIN_BUF)
    return &q->buf.a[0];
  if (q->min >= 0)
    return &q->runs[q->min].a[q->runs[q->min].head];
  return rq_top_slow(q);
}

/* ---- slab of fixed-size elements addressed by index ------------------- */

#define SLAB_SHIFT 12
#define SLAB_CHUNK (1u << SLAB_SHIFT)

typedef struct {
  char **chunks;
  uint32_t nchunks, cap_chunks;
  uint32_t elem;     /* element size in bytes */
  uint32_t free;     /* free list head (link stored in the element's
                        first 4 bytes) */
  uint32_t used_end; /* elements [0, used_end) have been handed out once */
  uint32_t live;
} slab_t;

void slab_init(slab_t *s, uint32_t elem);
void slab_free_all(slab_t *s);
uint32_t slab_alloc(slab_t *s); /* CORE_NIL when out of memory */
void slab_release(slab_t *s, uint32_t idx);

static inline void *slab_at(const slab_t *s, uint32_t idx) {
  return s->chunks[idx >> SLAB_SHIFT] +
         (size_t)(idx & (SLAB_CHUNK - 1)) * s->elem;
}

/* ---- task record ------------------------------------------------------ */

enum {
  TS_READY = STRATA_CORE_STATE_READY,
  TS_BLOCKED = STRATA_CORE_STATE_BLOCKED,
  TS_DELAYED = STRATA_CORE_STATE_DELAYED,
  TS_RUNNING = STRATA_CORE_STATE_RUNNING,
  TS_PLACEHOLDER = 4, /* awaited dependency, not submitted yet */
  TS_DONE_OK = 5,     /* finished, about to be freed */
  TS_DONE_FAIL = 6,   /* failed, about to be freed (or kept, see remember()) */
  TS_FREE = 7         /* on the slab's free list */
};

enum {
  TF_HARD = 1u << 0,    /* hard deadline */
  TF_SOFT = 1u << 1,    /* explicit soft deadline */
  TF_TIMER = 1u << 2,   /* has a live timer entry */
  TF_ID_EXT = 1u << 3,  /* id stored out of line */
  TF_DEM_EXT = 1u << 4, /* demands stored out of line */
  TF_VISIT = 1u << 5,   /* scratch: visited by a graph walk */
  TF_TARGET = 1u << 6,  /* scratch: a dependency of the task being added */
  TF_CHARGED = 1u << 7  /* RUNNING by a dispatch of the core (select.c) */
};

typedef struct {
  uint16_t pool;
  uint16_t pad;
  uint32_t amount;
} demand_t;

typedef struct {
  /* The slab keeps its free link in the first 4 bytes; `deadline` is
     meaningless in a free record, `gen` must survive, so it is not first. */
  int64_t deadline; /* effective: explicit or implicit */
  int64_t t_enq;    /* submitted at */
  int64_t since;    /* READY: ready since; RUNNING: dispatched at;
                       BLOCKED/DELAYED: the not-before time */
  uint64_t cookie;
  uint32_t estimate;     /* ms */
  uint32_t hseq;         /* seq of the live ready-heap entry */
  uint32_t gen;          /* bumped on every allocation of the slot */
  uint32_t dnode;        /* dependency node, CORE_NIL if none */
  uint32_t fprev, fnext; /* ready FIFO of the tier */
  int16_t priority;
  uint8_t state, tier, flags, ndemand, idlen;
  uint8_t lane; /* fills what was padding: the record does not grow */
  union {
    demand_t inl[CORE_DEM_INLINE];
    demand_t *ext;
  } dem;
  union {
    char inl[CORE_ID_INLINE + 1];
    char *ext;
  } id;
} task_t;

/* The record size is the main term of bytes per held task (docs/CORE.md). */
_Static_assert(sizeof(task_t) == 104, "task_t grew; update docs/CORE.md");

/* Dependency bookkeeping, allocated only for tasks that take part in the
   graph. `out` lists edges to tasks waiting on this one (doubly linked so a
   leaving dependent unlinks in O(1)); `in` lists this task's own unresolved
   dependencies. */
typedef struct {
  uint32_t task;
  uint32_t out_head;
  uint32_t in_head;
  uint16_t nwait;          /* unresolved dependencies */
  uint16_t ndependents;    /* edges in `out` */
  int64_t unblocked_at;    /* last dependency success; INT64_MIN if none */
  int64_t unblock_latency; /* -1 until the task became ready after deps */
} dnode_t;

typedef struct {
  uint32_t dependent;  /* task index */
  uint32_t dependency; /* task index, CORE_NIL once resolved/detached */
  uint32_t out_next, out_prev;
  uint32_t in_next;
} edge_t;

/* One slot of the id hash. The full 32-bit hash is kept beside the index
   so a probe touches a task record only when the hashes match. */
typedef struct {
  uint32_t idx; /* CORE_NIL when empty */
  uint32_t hash;
} hslot_t;

/* A remembered completion. */
typedef struct {
  uint32_t hash;
  uint8_t ok, len, live;
  char *ext; /* the id when len > CORE_ID_INLINE */
  char inl[CORE_ID_INLINE + 1];
} rem_t;

/* ---- pools ------------------------------------------------------------ */

typedef struct {
  char name[STRATA_CORE_NAME_MAX + 1];
  strata_core_pool_kind_t kind;
  int64_t rate, period, burst, limit;
  int64_t scaled; /* token bucket: tokens * period (fixed point) */
  int64_t last;   /* last refill time; INT64_MIN before first use */
  int64_t in_use; /* concurrency */
  uint64_t reservations;
} pool_t;

void pool_refill(pool_t *p, int64_t now);
/* Non-zero if `amount` fits now; else *until = earliest time it may fit
   (STRATA_CORE_NEVER when only a release can make room). */
int pool_fits(pool_t *p, int64_t amount, int64_t now, int64_t *until);
void pool_take(pool_t *p, int64_t amount);
/* pool_take() without a fit check (an adopted task's units are in use
   already): concurrency may exceed the limit, a bucket goes into debt. */
void pool_take_over(pool_t *p, int64_t amount);
void pool_release(pool_t *p, int64_t reserved, int64_t actual, int has_actual);
int64_t pool_available(const pool_t *p);

/* ---- tiers ------------------------------------------------------------ */

typedef struct {
  char name[STRATA_CORE_NAME_MAX + 1];
  uint32_t weight;
  int64_t target_wait;
  /* Virtual service received: grows by cost * 2^30 / weight per dispatch
     (see charge() in select.c). Behind the core's vtime = owed. */
  uint64_t pass;
  /* How far the urgency override may take the pass ahead of vtime: the
     horizon's worth of this tier's own work (a constant, kept to save a
     division per tier per decision). */
  uint64_t urgent_lead;
  /* deadlines_first defers an owed tier whose head can wait only while it
     is owed at most its target wait of its own work (capped at
     CORE_COST_MAX): target_wait << CORE_VT_SHIFT / weight. */
  uint64_t defer_lag;
  /* 2^CORE_VT_SHIFT / weight, for finish tags without a division per tier
     and decision (select.c, scan_heads()). */
  uint64_t vt_per_ms;
  /* One ready queue per lane (readyq.c), rq[0..nlanes): a lane without
     room then holds back nothing of another lane, however deep its
     backlog. */
  rq_t *rq;
  uint32_t fhead, ftail; /* ready FIFO of all lanes (oldest first) */
  uint32_t nready;       /* all lanes */
  uint32_t busy;         /* bit per lane with READY tasks */
  uint32_t lane_ready[STRATA_CORE_MAX_LANES];
  strata_core_tier_stats_t st; /* counters; gauges filled on demand */
} tier_t;

typedef struct {
  strata_core_outcome_kind_t kind;
  uint32_t tier;
  uint64_t cookie;
  int64_t at;
  char *id;     /* owned */
  char *reason; /* owned */
} outcome_int_t;

struct strata_core_s {
  strata_core_config_t cfg; /* tiers pointer not used after new() */
  tier_t tiers[STRATA_CORE_MAX_TIERS];
  uint32_t ntiers;
  pool_t pools[STRATA_CORE_MAX_POOLS];
  uint32_t npools;

  slab_t tasks, dnodes, edges;
  hslot_t *slots;  /* id hash: open addressing, linear probing */
  uint32_t nslots; /* power of two, at least twice nhashed */
  uint32_t nhashed;

  heap_t timers;
  uint32_t seq;
  uint64_t vtime;      /* virtual time: grows by cost * 2^30 / Σweight */
  uint64_t weight_sum; /* of all tiers */
  uint32_t paused;     /* bit per tier: strata_core_tier_pause() */
  uint32_t nlanes;
  uint32_t lane_open;                   /* bit per lane whose room is not 0 */
  uint64_t room[STRATA_CORE_MAX_LANES]; /* strata_core_lane_room() */
  int64_t age_credit; /* aging cap, in cost ms x 100 (select.c) */
  int64_t age_credit_max;
  /* Pools held for a more urgent task during one decision (bit per pool)
     and the earliest time that task may fit (select.c). */
  uint64_t reserved;
  int64_t reserved_until;
  int64_t now; /* largest time seen */

  uint64_t held, placeholders, remembered, decisions, outcomes_lost;

  /* recently completed ids (recent.c) */
  rem_t *rring;
  hslot_t *rslots; /* index: ring position (idx) and id hash; idx is
                      CORE_NIL when empty */
  uint32_t rcap, rhead, rn, nrslots;

  outcome_int_t *out;
  size_t out_head, out_n, out_cap;

  /* scratch for graph walks */
  uint32_t *scratch, *scratch2;
  size_t scratch_cap;
};

/* ---- shared helpers ----------------------------------------------------- */

/* Mixes 64 bits so every input bit affects every output bit. */
static inline uint64_t core_mix64(uint64_t h) {
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  return h ^ (h >> 32);
}

/* Hash of an id, 32 bits. Eight bytes at a time: ids are hashed several
   times per task (submit, completion, remembering), and a byte-at-a-time
   hash was a visible share of a decision's instructions. The last 1..8
   bytes are read as two overlapping 4-byte words (or, below 4 bytes, as
   first, middle and last byte), so no load leaves the id. */
static inline uint32_t core_id_hash(const char *s, size_t len) {
  uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)len;
  uint64_t w;

  while (len > 8) {
    memcpy(&w, s, 8);
    h = core_mix64(h ^ w);
    s += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + len - 4, 4);
    w = ((uint64_t)a << 32) | b;
  } else if (len > 0) {
    w = ((uint64_t)(unsigned char)s[0] << 16) |
        ((uint64_t)(unsigned char)s[len / 2] << 8) | (unsigned char)s[len - 1];
  } else {
    w = 0;
  }
  return (uint32_t)core_mix64(h ^ w);
}

int recent_init(strata_core_t *c, uint32_t cap);
void recent_free(strata_core_t *c);
/* Ring position of a remembered id, or -1. */
int64_t recent_find(const strata_core_t *c, const char *id, size_t len,
                    uint32_t h);
void recent_add(strata_core_t *c, const char *id, size_t len, uint32_t h,
                int ok);
void recent_remove(strata_core_t *c, uint32_t pos);

/* The element size is a constant here, which makes this the cheapest of
   the slab accessors; it is on every path of a decision. */
static inline task_t *core_task(const strata_core_t *c, uint32_t idx) {
  return (task_t *)c->tasks.chunks[idx >> SLAB_SHIFT] +
         (idx & (SLAB_CHUNK - 1));
}
static inline dnode_t *core_dnode(const strata_core_t *c, uint32_t idx) {
  return (dnode_t *)slab_at(&c->dnodes, idx);
}
static inline edge_t *core_edge(const strata_core_t *c, uint32_t idx) {
  return (edge_t *)slab_at(&c->edges, idx);
}
static inline const char *task_id(const task_t *t) {
  return (t->flags & TF_ID_EXT) ? t->id.ext : t->id.inl;
}
static inline const demand_t *task_demands(const task_t *t) {
  return (t->flags & TF_DEM_EXT) ? t->dem.ext : t->dem.inl;
}

static inline void task_drop_demands(task_t *t) {
  if (t->flags & TF_DEM_EXT)
    free(t->dem.ext);
  t->flags &= (uint8_t)~TF_DEM_EXT;
  t->ndemand = 0;
}

/* First ms at which now + estimate > deadline. */
static inline int64_t task_hard_expiry(const task_t *t) {
  return t->deadline - (int64_t)t->estimate + 1;
}

/* The ready-queue key of a task: smaller runs sooner (docs/CORE.md). */
/* The urgency key (docs/CORE.md). An explicit deadline is least laxity:
   the latest start, deadline - estimate. An implicit deadline (a task
   without one, due its tier's target wait after it was submitted) is no
   promise to anybody, and subtracting the estimate there ran the longest
   task first among equals: it is deadline + estimate instead, so among
   tasks due at the same time the shorter goes first, and a long task
   counts as due later by its own length. */
static inline int64_t core_task_key(const strata_core_t *c, const task_t *t) {
  int64_t k =
      ((t->flags & (TF_HARD | TF_SOFT)) ? t->deadline - (int64_t)t->estimate
                                        : t->deadline + (int64_t)t->estimate) -
      (int64_t)t->priority * c->cfg.priority_step_ms;

  if (t->dnode != CORE_NIL) {
    uint32_t nd = core_dnode(c, t->dnode)->ndependents;
    if (nd > c->cfg.dep_bonus_max)
      nd = c->cfg.dep_bonus_max;
    k -= (int64_t)nd * c->cfg.dep_bonus_ms;
  }
  return k;
}

/* The one writer of t->state (see the invariants above). */
static inline void core_set_state(strata_core_t *c, task_t *t, uint8_t ns) {
  uint8_t os = t->state;

  if (os < STRATA_CORE_STATE__COUNT)
    c->tiers[t->tier].st.depth[os]--;
  if (ns < STRATA_CORE_STATE__COUNT)
    c->tiers[t->tier].st.depth[ns]++;
  c->held +=
      (uint64_t)(ns <= TS_PLACEHOLDER) - (uint64_t)(os <= TS_PLACEHOLDER);
  c->placeholders +=
      (uint64_t)(ns == TS_PLACEHOLDER) - (uint64_t)(os == TS_PLACEHOLDER);
  t->state = ns;
}

static inline int64_t core_clamp_now(strata_core_t *c, int64_t now) {
  if (now > c->now)
    c->now = now;
  return c->now;
}

/* The ready queue a task's entries go to: its tier's queue of its lane. */
static inline rq_t *core_task_rq(const strata_core_t *c, const task_t *t) {
  return &c->tiers[t->tier].rq[t->lane];
}

/* The lanes of a tier that can be dispatched from now: with ready tasks and
   with room. */
static inline uint32_t tier_open_lanes(const strata_core_t *c,
                                       const tier_t *tr) {
  return tr->busy & c->lane_open;
}

/* Whether a ready-queue entry is the live one of a READY task. */
static inline int core_ready_live(const strata_core_t *c, const heap_ent_t *e) {
  const task_t *t = core_task(c, e->idx);
  return t->state == TS_READY && t->hseq == e->seq;
}

/* The task's timer entry, if any, turns stale. */
static inline void core_timer_disarm(strata_core_t *c, task_t *t) {
  if (t->flags & TF_TIMER) {
    t->flags &= (uint8_t)~TF_TIMER;
    c->timers.stale++;
  }
}

static inline void tier_clear_blocked(tier_t *tr) {
  tr->st.head_blocked = 0;
  tr->st.blocked_pool = -1;
  tr->st.blocked_since = 0;
  tr->st.blocked_until = 0;
}

/* Rewrites the queue keeping only entries for which keep() is non-zero
   (order kept; O(n)). */
void rq_filter(rq_t *q, const strata_core_t *ctx,
               int (*keep)(const strata_core_t *ctx, const heap_ent_t *e));

/* ---- ids.c: records and the id table ------------------------------------ */

/* The held record with this id (hash `h`), or CORE_NIL. */
uint32_t ids_find_hashed(const strata_core_t *c, const char *id, size_t len,
                         uint32_t h);
uint32_t ids_find(const strata_core_t *c, const char *id, size_t len);
/* Allocates a record with its id (whose hash is `h`), hashed, in state
   TS_FREE (the caller sets the real state). CORE_NIL when out of memory. */
uint32_t ids_alloc(strata_core_t *c, const char *id, size_t len, uint32_t h);
/* Frees a record completely (ids_release_hashed(): given the hash of its
   id). It must be in no heap, FIFO or graph list. */
void ids_release_hashed(strata_core_t *c, uint32_t idx, uint32_t h);
void ids_release(strata_core_t *c, uint32_t idx);
/* Ends a task's life as a held task: its id goes to the set of recent
   completions (so late dependents resolve) and the record is freed. */
void ids_remember(strata_core_t *c, uint32_t idx, uint8_t state);

/* ---- state.c: ready queues and timers ---------------------------------- */

/* Makes a task READY at `now`: a ready-queue entry and the tail of its
   tier's FIFO. -1 (and nothing changed) when out of memory. */
int state_make_ready(strata_core_t *c, uint32_t idx, int64_t now);
/* Takes a READY task out of its FIFO. `entry_popped` says whether its
   ready-queue entry was already removed; otherwise the entry turns stale. */
void state_leave_ready(strata_core_t *c, uint32_t idx, int entry_popped);
/* A READY task's key changed (dependents came or went). */
void state_rekey(strata_core_t *c, uint32_t idx);
/* Drops the stale entries of a ready queue once they outnumber live ones. */
void state_compact_ready(strata_core_t *c, rq_t *q);
/* Gives the task one live timer at `at`. -1 when out of memory. */
int state_timer_arm(strata_core_t *c, uint32_t idx, int64_t at);
/* Fires every timer due at `now`. */
void state_run_timers(strata_core_t *c, int64_t now);
/* Takes a held task out of whatever structure its state puts it in, so it
   can be dropped, failed or remembered. */
void state_leave(strata_core_t *c, uint32_t idx);
/* A hard-deadline task that can no longer start in time: reported, its
   waiters failed, remembered as failed. */
void state_expire(strata_core_t *c, uint32_t idx, int64_t now);
/* Removes a held task the core can no longer track for lack of memory; the
   caller learns about it as an outcome. */
void state_drop_oom(strata_core_t *c, uint32_t idx, int64_t now);

/* ---- select.c ----------------------------------------------------------- */

/* A task dispatched by the core ends at `now`: if it ran longer than its
   dispatch was charged, its tier pays the overrun. */
void select_settle(strata_core_t *c, task_t *t, int64_t now);

/* ---- outcome.c ---------------------------------------------------------- */

/* Queues an outcome for task `t`, reason formatted from `fmt`. */
void outcome_push(strata_core_t *c, strata_core_outcome_kind_t kind,
                  const task_t *t, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- deps.c: the dependency graph -------------------------------------- */

/* Adds the edge "dependent waits on dependency". -1 when out of memory. */
int deps_add_edge(strata_core_t *c, uint32_t dependent, uint32_t dependency);
/* The task leaves the graph as a dependent: its unresolved edges are
   unlinked from their dependencies and its in-edges freed. */
void deps_detach(strata_core_t *c, uint32_t idx);
/* Frees the in-edges of a task that waits on nothing any more. */
void deps_free_in_edges(strata_core_t *c, dnode_t *d);
/* Counts the unblock latency of a task that became READY at `now` after
   its last dependency succeeded at d->unblocked_at. */
void deps_note_unblocked(strata_core_t *c, const task_t *t, dnode_t *d,
                         int64_t now);
/* Places a task whose dependencies are all satisfied: DELAYED or READY. */
void deps_route_unblocked(strata_core_t *c, uint32_t idx, int64_t now);
/* The task succeeded: its waiters lose one wait each. */
void deps_resolve_success(strata_core_t *c, uint32_t idx, int64_t now);
/* Fails every task that waits, directly or transitively, on `root`. */
void deps_cascade(strata_core_t *c, uint32_t root, int64_t now,
                  const char *what);
/* STRATA_ERR_CYCLE (the cycle spelled into errstr) if placeholder `x`
   is awaited, transitively, by a dependency marked TF_TARGET. */
strata_err_t deps_check_cycle(strata_core_t *c, uint32_t x, char *errstr,
                              size_t size);

#endif /* STRATA_CORE_INT_H */
