/*
 * The scheduler's settings: every scheduler key of a configuration read and
 * validated once, into plain typed fields, so that `--check` and a start
 * refuse the same input and the daemon loop never looks a key up by string.
 *
 * Invariant: after a successful sched_settings_load() the settings are
 * complete and consistent (one weight and one target wait per tier, pools
 * with distinct names and fields the core accepts), so sched_settings_core()
 * fails only when memory runs out.
 *
 * A sched_settings_t points into itself (core.tiers points at tier[]): keep
 * it where it was loaded; do not copy it by value.
 */
#ifndef STRATA_SCHED_SETTINGS_H
#define STRATA_SCHED_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/config.h"
#include "strata/core.h"

typedef struct {
  char *name;                       /* pool name (owned) */
  strata_core_pool_config_t config; /* as strata_core_pool_add() takes it */
} sched_pool_setting_t;

typedef struct {
  char *tiers[STRATA_CORE_MAX_TIERS]; /* owned */
  int ntiers;
  /* .name borrows tiers[i] */
  strata_core_tier_config_t tier[STRATA_CORE_MAX_TIERS];
  sched_pool_setting_t pools[STRATA_CORE_MAX_POOLS];
  int npools;
  /* strata_core_config_default() + tiers/max_tasks/starvation; .tiers points
   * at tier[] */
  strata_core_config_t core;
  int nparts;                      /* topic.partitions */
  int batch;                       /* scheduler.batch */
  uint64_t max_tasks;              /* scheduler.max.tasks */
  int64_t tick_ms;                 /* scheduler.tick */
  int64_t window_ms;               /* idempotency.window */
  int64_t watch_ms;                /* scheduler.watch.interval */
  int64_t stall_ms;                /* scheduler.health.stall */
  bool preemption;                 /* scheduler.preemption */
  bool window;                     /* scheduler.dispatch.window=auto */
  uint64_t window_min, window_max; /* scheduler.dispatch.window.min/max */
  /* scheduler.instance.id, else the host name, else "default" */
  char instance[256];
  char group[256];  /* scheduler.group.id */
  char prefix[256]; /* topic.prefix */
} sched_settings_t;

/*
 * Reads and validates every scheduler setting of `cfg` once. On error returns
 * STRATA_ERR_CONFIG with a message in err that names the key and the value
 * and says what is allowed (e.g. `pool.gpu: "bogus" is not a pool; allowed:
 * rate:<N>/<duration>[,burst:<M>] or concurrency:<N>`), or STRATA_ERR_NOMEM;
 * `s` is then cleared. `s` is overwritten, not freed: clear a loaded one
 * before loading it again. `cfg` is only read and may be destroyed after the
 * call. The caller owns `s` and frees it with sched_settings_clear().
 */
strata_err_t sched_settings_load(sched_settings_t *s,
                                 const strata_config_t *cfg, char *err,
                                 size_t size);

/*
 * Parses one `pool.<name>=<value>` entry and appends it to `s`: what
 * sched_settings_load() does for each pool.* key, in the order they were
 * set. Refuses (STRATA_ERR_CONFIG, `s` unchanged) a value that is not a pool,
 * a name the core would refuse or one already in `s`, and a pool beyond
 * STRATA_CORE_MAX_POOLS; STRATA_ERR_NOMEM when memory runs out. `name` and
 * `value` are copied as needed.
 */
strata_err_t sched_settings_add_pool(sched_settings_t *s, const char *name,
                                     const char *value, char *err, size_t size);

/* Frees what `s` owns and zeroes it. Idempotent; accepts a zeroed struct. */
void sched_settings_clear(sched_settings_t *s);

/*
 * A new core from the settings, pools added in order (pool ids follow the
 * order of s->pools). NULL with err on failure (a configuration the core
 * refuses: the message names the key; or out of memory). The caller owns the
 * core and destroys it with strata_core_destroy(); `s` may be cleared while
 * the core lives (the core copies names).
 */
strata_core_t *sched_settings_core(const sched_settings_t *s, char *err,
                                   size_t size);

#endif /* STRATA_SCHED_SETTINGS_H */
