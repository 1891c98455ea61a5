/*
 * The outcome queue: what the core decided on its own (hard-deadline
 * expiries, dependency failures, tasks dropped for lack of memory), held
 * until the caller polls it. A reason is formatted when its outcome is
 * queued, with the time of the decision.
 *
 * Invariants (besides those in core_int.h):
 * - Outcomes leave in the order they were queued: c->out[out_head,
 *   out_head + out_n) are the queued ones, each owning its id and reason.
 * - An outcome that cannot be stored for lack of memory is counted in
 *   outcomes_lost, never stored in part.
 */
#include "core_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void outcome_push(strata_core_t *c, strata_core_outcome_kind_t kind,
                  const task_t *t, int64_t now, const char *fmt, ...) {
  outcome_int_t *o;
  char buf[sizeof(((strata_core_outcome_t *)0)->reason)];
  va_list ap;

  if (c->out_head + c->out_n == c->out_cap) {
    if (c->out_head > 0) {
      memmove(c->out, c->out + c->out_head, c->out_n * sizeof(*c->out));
      c->out_head = 0;
    }
    if (c->out_n == c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap * 2 : 64;
      outcome_int_t *n = realloc(c->out, cap * sizeof(*n));
      if (!n) {
        c->outcomes_lost++;
        return;
      }
      c->out = n;
      c->out_cap = cap;
    }
  }
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  o = &c->out[c->out_head + c->out_n];
  o->kind = kind;
  o->tier = t->tier;
  o->cookie = t->cookie;
  o->at = now;
  o->id = strdup(task_id(t));
  o->reason = strdup(buf);
  if (!o->id || !o->reason) {
    free(o->id);
    free(o->reason);
    c->outcomes_lost++;
    return;
  }
  c->out_n++;
}

size_t strata_core_poll_outcomes(strata_core_t *c, strata_epoch_ms_t now,
                                 strata_core_outcome_t *out, size_t max) {
  size_t n = 0;

  if (!c)
    return 0;
  state_run_timers(c, core_clamp_now(c, now));
  while (n < max && c->out_n) {
    outcome_int_t *o = &c->out[c->out_head];
    strata_core_outcome_t *r = &out[n++];
    r->kind = o->kind;
    snprintf(r->id, sizeof(r->id), "%s", o->id);
    snprintf(r->reason, sizeof(r->reason), "%s", o->reason);
    r->cookie = o->cookie;
    r->tier = o->tier;
    r->at = o->at;
    free(o->id);
    free(o->reason);
    c->out_head++;
    c->out_n--;
  }
  if (!c->out_n)
    c->out_head = 0;
  return n;
}
