/*
 * Control commands: cancel a task, pause or resume tiers, drain.
 *
 * Cancellation, every case in one place:
 *  - the task is held here and not running: it leaves the core, gets its
 *    CANCELLED event now, and every later arrival of it is skipped
 *    (PEND_CANCELLED, applied once the turn commits);
 *  - anything else (not read yet, on the ladder, owned by another instance,
 *    or running): the ledger remembers the cancel, so an arrival that comes
 *    later gets one CANCELLED event and never runs (intake.c); a running
 *    attempt is cancelled by its worker, which reads the same command, and
 *    its CANCELLED event releases it here (events.c).
 * The whole control history is read at start-up before any decision, so a
 * cancel is never overtaken by a dispatch of the same task.
 */
#include <inttypes.h>
#include <string.h>

#include "decide_int.h"
#include "strata/log.h"

#define COMP "scheduler"

static uint32_t all_tiers(const decide_t *d) {
  return d->cfg.ntiers >= 32 ? UINT32_MAX : (1u << d->cfg.ntiers) - 1;
}

static void cancel(decide_t *d, const strata_control_t *c,
                   strata_epoch_ms_t now) {
  strata_core_task_info_t info;
  if (strata_core_lookup(d->core, c->task_id, &info) == STRATA_OK &&
      info.state != STRATA_CORE_STATE_RUNNING &&
      strata_core_cancel(d->core, c->task_id, now) == STRATA_OK) {
    subject_t who = held_subject(d, info.cookie, c->task_id);
    decide_emit_event(d, STRATA_EVENT_CANCELLED, &who, c->reason, false, NULL,
                      0, now);
    decide_pend(d, c->task_id, who.attempt)->kind = PEND_CANCELLED;
    held_finish(d, info.cookie);
    return;
  }
  /* Not held here (yet): remember, so a later arrival never runs. The
   * ledger forgets a cancel one idempotency window after it was issued. */
  decide_must(ledger_cancelled(
      d->ledger, c->task_id,
      c->issued_ms > 0 && c->issued_ms < now ? c->issued_ms : now));
}

/* PAUSE_TIER / RESUME_TIER: `tier` names one tier or "*" (every tier). */
static void pause_tier(decide_t *d, const strata_control_t *c) {
  bool pause = c->kind == STRATA_CONTROL_PAUSE_TIER;
  uint32_t bits;
  int t;

  if (!strcmp(c->tier, "*")) {
    bits = all_tiers(d);
  } else if ((t = decide_tier_index(d, c->tier)) >= 0) {
    bits = 1u << t;
  } else {
    STRATA_WARN(COMP,
                "control: %s for tier \"%s\" ignored: not a configured tier",
                strata_control_kind_name(c->kind), c->tier);
    return;
  }
  if (pause) {
    d->paused_tiers |= bits;
  } else {
    d->paused_tiers &= ~bits;
    d->draining = false; /* a resumed tier ends a drain */
  }
  STRATA_INFO(COMP, "tier %s %s (control record by %s%s%s)", c->tier,
              pause ? "paused" : "resumed",
              c->issued_by ? c->issued_by : "unknown", c->reason ? ": " : "",
              c->reason ? c->reason : "");
  decide_apply_pauses(d);
}

void decide_control(decide_t *d, int64_t offset, const void *value, size_t len,
                    strata_epoch_ms_t now) {
  strata_control_t c;
  char err[256];

  strata_control_init(&c);
  if (strata_control_decode(value, len, &c, err, sizeof(err))) {
    STRATA_WARN(COMP, "%s@%" PRId64 ": undecodable control record ignored: %s",
                d->cfg.control_topic, offset, err);
    return;
  }
  switch (c.kind) {
  case STRATA_CONTROL_CANCEL:
    if (c.task_id)
      cancel(d, &c, now);
    break;
  case STRATA_CONTROL_PAUSE_TIER:
  case STRATA_CONTROL_RESUME_TIER:
    if (c.tier)
      pause_tier(d, &c);
    break;
  case STRATA_CONTROL_DRAIN:
    d->paused_tiers = all_tiers(d);
    d->draining = true;
    STRATA_INFO(COMP,
                "draining (control record by %s): every tier paused; "
                "running tasks finish",
                c.issued_by ? c.issued_by : "unknown");
    decide_apply_pauses(d);
    break;
  case STRATA_CONTROL_PREEMPT:
    break; /* for the workers (this scheduler may have written it) */
  }
  strata_control_clear(&c);
}
