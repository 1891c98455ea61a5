/*
 * A registry of Prometheus metric families (counters, gauges, histograms)
 * rendered in the text exposition format 0.0.4.
 *
 * A family has a name, help text and a fixed list of label names. Each set of
 * label values is a child, found by strata_metrics_child() and kept for the
 * registry's lifetime, so a caller looks a child up once, keeps the pointer,
 * and the hot path is one atomic operation on it:
 *
 *   strata_metrics_family_t *misses = strata_metrics_counter(
 *       reg, "strata_deadline_misses_total", "Tasks that missed a deadline.",
 *       2, (const char *[]){"tier", "kind"}, errstr, sizeof(errstr));
 *   strata_metrics_child_t *crit_hard =
 *       strata_metrics_child(misses, "critical", "hard");
 *   ...
 *   strata_metrics_counter_add(crit_hard, 1);
 *
 * Ownership: the registry owns its families and their children; every handle
 * stays valid until strata_metrics_destroy(). Strings passed in are copied.
 *
 * Thread safety: every function except strata_metrics_destroy() may be called
 * from any thread at any time. Counters and gauges are lock-free atomics;
 * histogram observations take a mutex of their own child; child lookup and
 * family creation take a mutex; renders are serialized with each other.
 */
#ifndef STRATA_METRICS_H
#define STRATA_METRICS_H

#include <stddef.h>

#include "strata/err.h"

typedef struct strata_metrics_s strata_metrics_t;
typedef struct strata_metrics_family_s strata_metrics_family_t;
typedef struct strata_metrics_child_s strata_metrics_child_t;

/* The most label names a family may have. */
#define STRATA_METRICS_MAX_LABELS 16

/* An empty registry, or NULL when memory runs out. */
strata_metrics_t *strata_metrics_new(void);

/* Frees the registry, its families and children; accepts NULL. No other
 * thread may be using the registry or any handle from it. */
void strata_metrics_destroy(strata_metrics_t *reg);

/*
 * Called by strata_metrics_render() before it reads any value, so that a
 * program can set gauges whose value is cheap to read but pointless to keep
 * up to date (queue depth, heap size). It runs on the rendering thread, never
 * concurrently with another render or collect call of the same registry, and
 * may use any function of this header on `reg` except render and destroy.
 * Passing fn == NULL removes the callback.
 */
typedef void (*strata_metrics_collect_fn)(strata_metrics_t *reg, void *opaque);
void strata_metrics_set_collect(strata_metrics_t *reg,
                                strata_metrics_collect_fn fn, void *opaque);

/*
 * Family constructors. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; a counter
 * whose name lacks the "_total" suffix gets it appended. Each of the
 * `nlabels` (at most STRATA_METRICS_MAX_LABELS) label names must match
 * [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__", must be distinct, and a
 * histogram may not use "le". `help` may be NULL or empty (then no HELP line
 * is written).
 *
 * On failure returns NULL and fills errstr with a message naming the bad
 * name: STRATA_ERR_INVALID_ARG for a malformed name, STRATA_ERR_EXISTS when a
 * family of that (final) name is already registered. The registry owns the
 * returned family.
 */
strata_metrics_family_t *strata_metrics_counter(
    strata_metrics_t *reg, const char *name, const char *help, size_t nlabels,
    const char *const *label_names, char *errstr, size_t size);

strata_metrics_family_t *strata_metrics_gauge(strata_metrics_t *reg,
                                              const char *name,
                                              const char *help, size_t nlabels,
                                              const char *const *label_names,
                                              char *errstr, size_t size);

/*
 * A histogram with `nbounds` finite, strictly increasing upper bucket bounds
 * (copied). The +Inf bucket is implicit; a trailing +Inf in `bounds` is
 * accepted and ignored. An observation v lands in the first bucket whose
 * bound is >= v (Prometheus "le" semantics).
 */
strata_metrics_family_t *
strata_metrics_histogram(strata_metrics_t *reg, const char *name,
                         const char *help, size_t nlabels,
                         const char *const *label_names, size_t nbounds,
                         const double *bounds, char *errstr, size_t size);

/* The family's final name (with "_total" for counters); owned by the family.
 */
const char *strata_metrics_family_name(const strata_metrics_family_t *fam);

/*
 * The child for one set of label values, created on first use with value 0.
 * Pass exactly as many `const char *` values as the family has label names,
 * in the same order (none for a family without labels). Values are copied and
 * must be UTF-8; any content is allowed, escaping happens on render.
 * Returns NULL when memory runs out or a value is NULL.
 *
 * Lookup costs a mutex and a scan of the family's children: keep the pointer.
 */
strata_metrics_child_t *strata_metrics_child(strata_metrics_family_t *fam, ...);

/* The same with the values in an array of the family's label count. */
strata_metrics_child_t *strata_metrics_childv(strata_metrics_family_t *fam,
                                              const char *const *values);

/* Adds v to a counter child. Counters only go up: a negative or NaN v is
 * ignored. Calling it on a child of another type is a programming error. */
void strata_metrics_counter_add(strata_metrics_child_t *c, double v);

/* Sets or adds to a gauge child. */
void strata_metrics_gauge_set(strata_metrics_child_t *c, double v);
void strata_metrics_gauge_add(strata_metrics_child_t *c, double v);

/* Records one observation in a histogram child. */
void strata_metrics_histogram_observe(strata_metrics_child_t *c, double v);

/* A counter's or gauge's current value; a histogram's observation count. */
double strata_metrics_value(strata_metrics_child_t *c);

/*
 * Runs the collect callback, then writes every family, in registration order
 * and each family's children in creation order, in the text exposition format
 * 0.0.4. On success *out is a NUL-terminated malloc'd buffer the caller frees
 * and *len its length without the NUL. Returns STRATA_ERR_NOMEM (with *out
 * NULL) when memory runs out.
 */
strata_err_t strata_metrics_render(strata_metrics_t *reg, char **out,
                                   size_t *len);

#endif /* STRATA_METRICS_H */
