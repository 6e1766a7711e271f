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
/* Gamma(shape, 1) for shape > 0 (Marsaglia-Tsang; shape < 1 by the U^(1/shape) boost). */
double pe_rng_gamma(pe_rng *r, double shape);
/* Beta(a, b) for a, b > 0, as G_a / (G_a + G_b). */
double pe_rng_beta(pe_rng *r, double a, double b);
/* Uniform integer in [0, n). */
uint64_t pe_rng_below(pe_rng *r, uint64_t n);
/* Shuffles a[0..n) in place (Fisher-Yates: i from n-1 down to 1 swaps with
 * pe_rng_below(i + 1)). */
void pe_rng_shuffle(pe_rng *r, long *a, long n);

#endif
