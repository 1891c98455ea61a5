/*
 * Two clocks, never mixed. Monotonic microseconds (strata_mono_us_t) for waits,
 * timeouts and latency measurement inside one process. Wall-clock epoch
 * milliseconds (strata_epoch_ms_t) for anything stored in a record: deadlines,
 * not-before times, timestamps. Read "now" once per loop turn and pass it down;
 * the scheduler core never reads a clock itself.
 */
#ifndef STRATA_TIME_H
#define STRATA_TIME_H

#include <stdint.h>

typedef int64_t strata_mono_us_t;
typedef int64_t strata_epoch_ms_t;

/* CLOCK_MONOTONIC in microseconds. */
strata_mono_us_t strata_mono_now_us(void);

/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
strata_epoch_ms_t strata_epoch_now_ms(void);

#endif /* STRATA_TIME_H */
