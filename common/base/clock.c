/*
 * The two clocks of strata/time.h. Kept in one file so tests and the
 * simulator can see at a glance that nothing else reads the system time.
 */
#include "strata/time.h"

#include <time.h>

strata_mono_us_t strata_mono_now_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (strata_mono_us_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

strata_epoch_ms_t strata_epoch_now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (strata_epoch_ms_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
