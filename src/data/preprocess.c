/* Standardization, class weights and the weighted sampler (spec section 2). */
#include "data/preprocess.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

#define ACC 8 /* independent partial sums (SIMD lanes); the summation order is fixed */

/* Two passes per lead in double: mean, then the mean squared deviation
 * (population variance). A constant lead (or std 0) gets std 1.
 * x (n, leads, samples) -> mean (leads), std (leads). */
void pe_standardize_fit(const float *x, long n, int leads, int samples, float *mean, float *std) {
    pe_standardize_fit_rows(x, NULL, n, leads, samples, mean, std);
}

void pe_standardize_fit_rows(const float *x, const long *rows, long n, int leads, int samples,
                             float *mean, float *std) {
    const long total = n * (long)samples;
    const int body = samples / ACC * ACC;
#pragma omp parallel for schedule(static)
    for (int l = 0; l < leads; l++) {
        double acc[ACC] = {0};
        float lo[ACC], hi[ACC];
        for (int g = 0; g < ACC; g++) lo[g] = INFINITY, hi[g] = -INFINITY;
        for (long r = 0; r < n; r++) {
            const float *v = x + ((rows ? rows[r] : r) * leads + l) * (long)samples;
            for (int t = 0; t < body; t += ACC)
                for (int g = 0; g < ACC; g++) {
                    float u = v[t + g];
                    acc[g] += u;
                    lo[g] = u < lo[g] ? u : lo[g];
                    hi[g] = u > hi[g] ? u : hi[g];
                }
            for (int t = body; t < samples; t++) {
                acc[0] += v[t];
                lo[0] = v[t] < lo[0] ? v[t] : lo[0];
                hi[0] = v[t] > hi[0] ? v[t] : hi[0];
            }
        }
        double s = 0;
        float vmin = INFINITY, vmax = -INFINITY;
        for (int g = 0; g < ACC; g++) {
            s += acc[g];
            vmin = lo[g] < vmin ? lo[g] : vmin;
            vmax = hi[g] > vmax ? hi[g] : vmax;
        }
        const int constant = vmin == vmax;
        double m = total > 0 ? s / (double)total : 0.0;
        for (int g = 0; g < ACC; g++) acc[g] = 0;
        for (long r = 0; r < n; r++) {
            const float *v = x + ((rows ? rows[r] : r) * leads + l) * (long)samples;
            for (int t = 0; t < body; t += ACC)
                for (int g = 0; g < ACC; g++) {
                    double d = v[t + g] - m;
                    acc[g] += d * d;
                }
            for (int t = body; t < samples; t++) acc[0] += (v[t] - m) * (v[t] - m);
        }
        double ss = 0;
        for (int g = 0; g < ACC; g++) ss += acc[g];
        double sd = total > 0 ? sqrt(ss / (double)total) : 0.0;
        if (!(sd > 0) || constant) sd = 1.0;
        mean[l] = (float)m;
        std[l] = (float)sd;
    }
}

/* x (n, leads, samples) <- (x - mean[lead]) / std[lead], computed in double. */
void pe_standardize_apply(float *x, long n, int leads, int samples, const float *mean,
                          const float *std) {
#pragma omp parallel for schedule(static)
    for (long r = 0; r < n; r++) {
        for (int l = 0; l < leads; l++) {
            float *v = x + (r * leads + l) * (long)samples;
            double m = mean[l], inv = 1.0 / (double)std[l];
            for (int t = 0; t < samples; t++) v[t] = (float)((v[t] - m) * inv);
        }
    }
}

/* labels (n, C) -> counts (C), w (C): w_c = (T - n_c)/n_c, 0 if n_c = 0. */
void pe_class_weights(const uint8_t *labels, long n, int C, float *w, long *counts,
                      int *n_empty) {
    long T = 0;
    int empty = 0;
    for (int c = 0; c < C; c++) counts[c] = 0;
    for (long r = 0; r < n; r++)
        for (int c = 0; c < C; c++) counts[c] += labels[r * C + c] != 0;
    for (int c = 0; c < C; c++) T += counts[c];
    for (int c = 0; c < C; c++) {
        if (counts[c] == 0) {
            w[c] = 0.0f;
            empty++;
        } else {
            w[c] = (float)((double)(T - counts[c]) / (double)counts[c]);
        }
    }
    if (n_empty) *n_empty = empty;
}

/* cdf[i] = sum over records j <= i of (sum of w_c over the positive labels of j);
 * all-zero weights fall back to uniform (cdf[i] = i + 1). */
int pe_sampler_init(pe_sampler *s, const uint8_t *labels, long n, int C, const float *w,
                    pe_error *e) {
    s->cdf = NULL;
    s->n = 0;
    if (n <= 0) return pe_fail(e, "sampler: no records to sample from (n = %ld)", n);
    for (int c = 0; c < C; c++)
        if (!(w[c] >= 0) || !isfinite(w[c]))
            return pe_fail(e, "sampler: class %d weight %g is not a finite value >= 0", c,
                           (double)w[c]);
    double *cdf = malloc((size_t)n * sizeof *cdf);
    if (!cdf) return pe_fail(e, "sampler: out of memory for %ld records", n);
    double acc = 0;
    for (long r = 0; r < n; r++) {
        double rw = 0;
        for (int c = 0; c < C; c++)
            if (labels[r * C + c]) rw += w[c];
        acc += rw;
        cdf[r] = acc;
    }
    if (!(acc > 0))
        for (long r = 0; r < n; r++) cdf[r] = (double)(r + 1);
    s->cdf = cdf;
    s->n = n;
    return 0;
}

/* Each draw: u uniform in [0, total), index = first i with cdf[i] > u. */
void pe_sampler_draw(const pe_sampler *s, pe_rng *r, long *out, long count) {
    const double total = s->cdf[s->n - 1];
    const double umax = nextafter(total, 0.0);
    for (long k = 0; k < count; k++) {
        double u = pe_rng_uniform(r) * total;
        if (u > umax) u = umax;
        long lo = 0, hi = s->n - 1;
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            if (s->cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        out[k] = lo;
    }
}

void pe_sampler_free(pe_sampler *s) {
    free(s->cdf);
    s->cdf = NULL;
    s->n = 0;
}
