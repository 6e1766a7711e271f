/* Seeded, reproducible random numbers (xoshiro256**; no global state). */
#ifndef PE_UTIL_RNG_H
#define PE_UTIL_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} pe_rng;

void pe_rng_seed(pe_rng *r, uint64_t seed);
uint64_t pe_rng_u64(pe_rng *r);
/* Uniform in [0, 1). */
double pe_rng_uniform(pe_rng *r);
/* Standard normal (Box-Muller). */
double pe_rng_normal(pe_rng *r);
/* Uniform integer in [0, n). */
uint64_t pe_rng_below(pe_rng *r, uint64_t n);

#endif
