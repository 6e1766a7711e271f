#include "util/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void pe_rng_seed(pe_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pe_rng_u64(pe_rng *r) {
    uint64_t *s = r->s;
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

double pe_rng_uniform(pe_rng *r) { return (double)(pe_rng_u64(r) >> 11) * 0x1.0p-53; }

double pe_rng_normal(pe_rng *r) {
    double u1 = pe_rng_uniform(r), u2 = pe_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double pe_rng_gamma(pe_rng *r, double shape) {
    if (shape < 1.0) { /* G(a) = G(a + 1) * U^(1/a) */
        double u = pe_rng_uniform(r);
        return pe_rng_gamma(r, shape + 1.0) * pow(u > 0 ? u : 1e-300, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = pe_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = pe_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (u > 0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double pe_rng_beta(pe_rng *r, double a, double b) {
    double x = pe_rng_gamma(r, a), y = pe_rng_gamma(r, b);
    return x + y > 0 ? x / (x + y) : 0.5;
}

uint64_t pe_rng_below(pe_rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = pe_rng_u64(r);
    while (x >= lim);
    return x % n;
}

void pe_rng_shuffle(pe_rng *r, long *a, long n) {
    for (long i = n - 1; i > 0; i--) {
        long j = (long)pe_rng_below(r, (uint64_t)i + 1), tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}
