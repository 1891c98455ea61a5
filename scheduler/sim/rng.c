/*
 * The simulator's own random numbers: xoshiro256** seeded through
 * splitmix64, and the few distributions a workload can name. Nothing here
 * touches rand() or a clock, so a seed fixes every sample on every platform
 * whose libm rounds log/exp/sqrt/cos the same way (glibc does, for a given
 * build). Each stream is an independent sequence for the same seed, which
 * lets every task class draw from its own stream: adding a class to a
 * workload does not change what the other classes generate.
 */
#include <math.h>

#include "sim.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void strata_sim_rng_seed(strata_sim_rng_t *rng, uint64_t seed,
                         uint64_t stream) {
  /* Mixing the stream through splitmix first keeps seeds (s, k) and
   * (s + 1, k - 1) from sharing state. */
  uint64_t x = seed;
  uint64_t y = stream;
  x ^= splitmix64(&y);
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t strata_sim_rng_next(strata_sim_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double strata_sim_rng_unit(strata_sim_rng_t *rng) {
  return (double)(strata_sim_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller. The second value of the pair is dropped:
 * keeping it would make a sample depend on whether the previous call was
 * odd or even, which complicates reasoning about streams for no gain. */
static double std_normal(strata_sim_rng_t *rng) {
  double u1 = 1.0 - strata_sim_rng_unit(rng); /* (0, 1]: log is finite */
  double u2 = strata_sim_rng_unit(rng);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double strata_sim_dist_sample(const strata_sim_dist_t *d,
                              strata_sim_rng_t *rng) {
  switch (d->kind) {
  case STRATA_SIM_DIST_CONSTANT:
    return d->a;
  case STRATA_SIM_DIST_UNIFORM:
    return d->a + (d->b - d->a) * strata_sim_rng_unit(rng);
  case STRATA_SIM_DIST_EXPONENTIAL:
    return -d->a * log(1.0 - strata_sim_rng_unit(rng));
  case STRATA_SIM_DIST_LOGNORMAL: {
    /* Parameterised by its mean so workloads read naturally: E[X] =
     * exp(mu + sigma^2 / 2), hence mu = ln(mean) - sigma^2 / 2. */
    double mu = log(d->a) - d->b * d->b / 2.0;
    return exp(mu + d->b * std_normal(rng));
  }
  }
  return d->a;
}

double strata_sim_dist_mean(const strata_sim_dist_t *d) {
  switch (d->kind) {
  case STRATA_SIM_DIST_UNIFORM:
    return (d->a + d->b) / 2.0;
  case STRATA_SIM_DIST_CONSTANT:
  case STRATA_SIM_DIST_EXPONENTIAL:
  case STRATA_SIM_DIST_LOGNORMAL:
    return d->a;
  }
  return d->a;
}
