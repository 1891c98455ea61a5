/*
 * The dispatch window: how much of the core's order may sit past the
 * dispatch topic at once.
 *
 * Workers read the dispatch topic in offset order, so whatever waits there
 * is a FIFO: a critical task dispatched behind a backlog waits for the
 * backlog. The scheduler therefore keeps the attempts it dispatched and no
 * worker has reported started ("unstarted": in the dispatch topic, or in a
 * worker's local queue) within a bound, and everything else waits in the
 * core, in order.
 *
 * The bound keeps the fleet busy and no more. A worker that finishes a task
 * starts the next one from what it already holds; what it holds must cover
 * the round trip until the scheduler's next dispatch reaches it: the
 * worker's event to the scheduler, then the scheduler's turn and commit and
 * the worker's fetch. Only the first leg can be measured free of any queue
 * of the scheduler's making: a start's time on the worker (the STARTED
 * event's time_ms) to the moment its event is read here, the event latency.
 * The whole round trip was measured at 3-4 event latencies (a dispatch
 * waits for the scheduler's turn in flight, then its own; an event for one
 * worker turn), so by Little's law keeping the fleet supplied takes
 *
 *     limit = window_min + ceil(1.5 * start_rate * 4 * event_latency)
 *
 * unstarted attempts (a margin of 1.5), clamped to [window_min,
 * window_max]. Because the event latency holds no queue the bound causes,
 * the bound does not feed on the waiting it causes. The start rate is what
 * the fleet sustains: while the window binds, rate = limit / round trip
 * grows by the factor 6 × event latency / round trip (about 1.5-2) each
 * round trip until the workers are the limit. Idle, it decays to
 * window_min. (A design that measured the whole round trip and drained the
 * window now and then to take it without queues, as BBR does, was tried:
 * the pipe is slower under load than in a drain, so it either capped
 * throughput or, with a larger gain, queued more and stalled dispatch in
 * each drain.) A worker that dies stops starting
 * attempts, so it stops widening the window; the attempts it held stay
 * counted until their redelivery is started elsewhere or they end.
 *
 * Priority past the dispatch topic follows: a task dispatched now has at
 * most `limit` attempts ahead of it that no worker has started, which the
 * fleet starts within about 6 event latencies (1.5 round trips) at the
 * rate it sustains.
 */
#include <math.h>

#include "decide_int.h"

#define BUCKET_MS 100
#define LATENCY_CAP_MS 60000

void window_started(decide_t *d, int lane, strata_epoch_ms_t started_ms,
                    strata_epoch_ms_t now) {
  (void)now;
  d->window[lane].starts++;
  if (started_ms > 0) {
    double s = (double)(now - started_ms);
    s = s < 0 ? 0 : s > LATENCY_CAP_MS ? LATENCY_CAP_MS : s;
    /* Smoothed from zero: the first starts of a fresh fleet can be read
     * late (a consumer's first fetch), and one such sample alone must not
     * open the window wide. */
    d->window[lane].latency_ms =
        0.8 *
            (d->window[lane].latency_ms < 0 ? 0 : d->window[lane].latency_ms) +
        0.2 * s;
  }
}

static void resize(decide_t *d, int lane, strata_epoch_ms_t now) {
  window_state_t *w = &d->window[lane];
  double want, lat;
  int64_t span = now - w->since;

  if (!w->since || span < 0) {
    w->since = now;
    w->starts = 0;
  } else if (span >= BUCKET_MS) {
    double r = (double)w->starts * 1000.0 / (double)span;
    w->rate = 0.5 * w->rate + 0.5 * r;
    w->since = now;
    w->starts = 0;
  }
  lat = w->latency_ms < 0 ? 0 : w->latency_ms;
  want = (double)d->cfg.window_min + ceil(1.5 * w->rate * 4.0 * lat / 1000.0);
  if (want > (double)d->cfg.window_max)
    want = (double)d->cfg.window_max;
  w->limit = (uint64_t)want;
}

uint64_t window_room(decide_t *d, int lane, strata_epoch_ms_t now) {
  uint64_t unstarted = running_unstarted_lane(d->running, lane);
  resize(d, lane, now);
  return d->window[lane].limit > unstarted ? d->window[lane].limit - unstarted
                                           : 0;
}

void decide_window(const decide_t *d, int lane, decide_window_t *out) {
  out->on = d->cfg.window;
  out->limit = d->window[lane].limit;
  out->unstarted = running_unstarted_lane(d->running, lane);
  out->start_rate = d->window[lane].rate;
  out->latency_ms = d->window[lane].latency_ms;
}
