/* Channels-last kernels of the fused training backbone (see nwc.h).
 *
 * Every kernel runs over rows in parallel with the channel loop innermost
 * (contiguous, vectorized); reductions use fixed row chunks (see chunk_len). */
#include "nn/nwc.h"

#include <math.h>


void pe_nwc_from_ncw(float *y, const float *x, int B, int C, int L) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            float *yr = y + ((size_t)b * L + l) * C;
            const float *xb = x + (size_t)b * C * L + l;
            for (int c = 0; c < C; c++) yr[c] = xb[(size_t)c * L];
        }
}

/* Rows [0, R) are cut into at most PE_NWC_CHUNKS chunks of whole rows, the same for
 * any thread count; reductions sum each chunk into its own row of `work` (parallel over
 * chunks, channels innermost) and then add the chunks up in order. */
static long chunk_len(long R) {
    long c = (R + PE_NWC_CHUNKS - 1) / PE_NWC_CHUNKS;
    return c < 64 ? 64 : c;
}

void pe_nwc_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                     const float *x, long R, int C, float momentum, float eps, double *work) {
    const long len = chunk_len(R);
    const int nch = (int)((R + len - 1) / len);
    double mu[C];
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int k = 0; k < nch; k++) {
            double *s = work + (size_t)k * C;
            for (int c = 0; c < C; c++) s[c] = 0.0;
            const long r1 = (k + 1) * len < R ? (k + 1) * len : R;
            for (long r = k * len; r < r1; r++) {
                const float *xr = x + r * C;
#pragma omp simd
                for (int c = 0; c < C; c++) s[c] += xr[c];
            }
        }
#pragma omp single
        for (int c = 0; c < C; c++) {
            double t = 0.0;
            for (int k = 0; k < nch; k++) t += work[(size_t)k * C + c];
            mu[c] = t / (double)R;
        }
#pragma omp for schedule(static)
        for (int k = 0; k < nch; k++) { /* two-pass variance */
            double *ss = work + (size_t)k * C;
            for (int c = 0; c < C; c++) ss[c] = 0.0;
            const long r1 = (k + 1) * len < R ? (k + 1) * len : R;
            for (long r = k * len; r < r1; r++) {
                const float *xr = x + r * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    const double d = xr[c] - mu[c];
                    ss[c] += d * d;
                }
            }
        }
    }
    for (int c = 0; c < C; c++) {
        double ss = 0.0;
        for (int k = 0; k < nch; k++) ss += work[(size_t)k * C + c];
        const double var = ss / (double)R;
        const double unbiased = R > 1 ? ss / (double)(R - 1) : var;
        mean[c] = (float)mu[c];
        rstd[c] = (float)(1.0 / sqrt(var + eps));
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu[c]);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
}

void pe_nwc_bn_scale_shift(float *scale, float *shift, const float *gamma, const float *beta,
                           const float *mean, const float *rstd, int C) {
    for (int c = 0; c < C; c++) {
        scale[c] = gamma[c] * rstd[c];
        shift[c] = beta[c] - mean[c] * scale[c];
    }
}

void pe_nwc_affine(float *y, const float *x, const float *scale, const float *shift, long R,
                   int C, int relu) {
#pragma omp parallel for schedule(static)
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        if (relu) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float v = xr[c] * scale[c] + shift[c];
                yr[c] = v > 0.0f ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++) yr[c] = xr[c] * scale[c] + shift[c];
        }
    }
}

void pe_nwc_affine_add_relu(float *out, const float *x, const float *scale, const float *shift,
                            const float *xs, const float *sscale, const float *sshift, long R,
                            int C) {
#pragma omp parallel for schedule(static)
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C, *sr = xs + r * C;
        float *o = out + r * C;
        if (sscale) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float v = xr[c] * scale[c] + shift[c] + (sr[c] * sscale[c] + sshift[c]);
                o[c] = v > 0.0f ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float v = xr[c] * scale[c] + shift[c] + sr[c];
                o[c] = v > 0.0f ? v : 0.0f;
            }
        }
    }
}

/* One chunk of pe_nwc_bn_backward_sums, rows [r0, r1): sums into acc (3 rows of C).
 * One function per combination of inputs, so each is a branch-free vectorized loop:
 * G is the incoming gradient expression, X2 whether a second BN is fed. */
#define DEFINE_BWD_SUMS(name, G, X2)                                                          \
    static void name(double *restrict acc, float *restrict gout, const float *restrict ga,  \
                     const float *restrict gb, const float *restrict y,                     \
                     const float *restrict x, const float *mean, const float *rstd,         \
                     const float *restrict x2, const float *mean2, const float *rstd2,      \
                     long r0, long r1, int C) {                                             \
        double *restrict a = acc, *restrict ax = acc + C, *restrict a2x = acc + 2 * (size_t)C; \
        (void)gb, (void)x2, (void)mean2, (void)rstd2;                                        \
        for (int c = 0; c < 3 * C; c++) acc[c] = 0.0;                                        \
        for (long r = r0; r < r1; r++) {                                                     \
            const size_t o = (size_t)r * C;                                                  \
            _Pragma("omp simd") for (int c = 0; c < C; c++) {                                \
                const float v = G;                                                           \
                const float g = y[o + c] > 0.0f ? v : 0.0f * v; /* loads stay unconditional */ \
                gout[o + c] = g;                                                             \
                a[c] += g;                                                                   \
                ax[c] += g * ((x[o + c] - mean[c]) * rstd[c]);                               \
                if (X2) a2x[c] += g * ((x2[o + c] - mean2[c]) * rstd2[c]);                   \
            }                                                                                \
        }                                                                                    \
    }
DEFINE_BWD_SUMS(bwd_sums_ab, ga[o + c] + gb[o + c], 0)
DEFINE_BWD_SUMS(bwd_sums_ab_x2, ga[o + c] + gb[o + c], 1)
DEFINE_BWD_SUMS(bwd_sums_a, ga[o + c], 0)
DEFINE_BWD_SUMS(bwd_sums_a_x2, ga[o + c], 1)

/* Any other combination (NULL gb, y, gout, x2 allowed). */
static void bwd_sums_generic(double *acc, float *gout, const float *ga, const float *gb,
                             const float *y, const float *x, const float *mean,
                             const float *rstd, const float *x2, const float *mean2,
                             const float *rstd2, long r0, long r1, int C) {
    for (int c = 0; c < 3 * C; c++) acc[c] = 0.0;
    for (long r = r0; r < r1; r++)
        for (int c = 0; c < C; c++) {
            const size_t o = (size_t)r * C + c;
            float g = gb ? ga[o] + gb[o] : ga[o];
            if (y && !(y[o] > 0.0f)) g = 0.0f;
            if (gout) gout[o] = g;
            acc[c] += g;
            acc[C + c] += g * ((x[o] - mean[c]) * rstd[c]);
            if (x2) acc[2 * C + c] += g * ((x2[o] - mean2[c]) * rstd2[c]);
        }
}

void pe_nwc_bn_backward_sums(double *sg, double *sgx, double *sg2, double *sgx2, float *gout,
                             const float *ga, const float *gb, const float *y, const float *x,
                             const float *mean, const float *rstd, const float *x2,
                             const float *mean2, const float *rstd2, long R, int C,
                             double *work) {
    const long len = chunk_len(R);
    const int nch = (int)((R + len - 1) / len);
    const int fast = y && gout;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < nch; k++) {
        double *acc = work + (size_t)k * 3 * C;
        const long r0 = k * len, r1 = (k + 1) * len < R ? (k + 1) * len : R;
        if (fast && gb && x2)
            bwd_sums_ab_x2(acc, gout, ga, gb, y, x, mean, rstd, x2, mean2, rstd2, r0, r1, C);
        else if (fast && gb)
            bwd_sums_ab(acc, gout, ga, gb, y, x, mean, rstd, x2, mean2, rstd2, r0, r1, C);
        else if (fast && x2)
            bwd_sums_a_x2(acc, gout, ga, gb, y, x, mean, rstd, x2, mean2, rstd2, r0, r1, C);
        else if (fast)
            bwd_sums_a(acc, gout, ga, gb, y, x, mean, rstd, x2, mean2, rstd2, r0, r1, C);
        else
            bwd_sums_generic(acc, gout, ga, gb, y, x, mean, rstd, x2, mean2, rstd2, r0, r1, C);
    }
    for (int c = 0; c < C; c++) {
        double a = 0, ax = 0, a2x = 0;
        for (int k = 0; k < nch; k++) {
            const double *acc = work + (size_t)k * 3 * C;
            a += acc[c], ax += acc[C + c], a2x += acc[2 * C + c];
        }
        sg[c] = a, sgx[c] = ax;
        if (x2) sg2[c] = a, sgx2[c] = a2x;
    }
}

void pe_nwc_bn_backward_apply(float *dx, const float *g, const float *x, const float *mean,
                              const float *rstd, const float *gamma, const double *sg,
                              const double *sgx, long R, int C) {
    /* per-channel constants: dx = k * (g - mg - (x - mean) * q), q = rstd * mean(g*xhat) */
    float k[C], mg[C], q[C];
    for (int c = 0; c < C; c++) {
        k[c] = gamma[c] * rstd[c];
        mg[c] = (float)(sg[c] / (double)R);
        q[c] = rstd[c] * (float)(sgx[c] / (double)R);
    }
#pragma omp parallel for schedule(static)
    for (long r = 0; r < R; r++) {
        const float *gr = g + r * C, *xr = x + r * C;
        float *d = dx + r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) d[c] = k[c] * (gr[c] - mg[c] - (xr[c] - mean[c]) * q[c]);
    }
}

void pe_nwc_maxpool_forward(float *out, int32_t *argmax, const float *in, int B, int Lin, int C,
                            int K, int stride, int pad) {
    const int Lout = (Lin + 2 * pad - K) / stride + 1;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int lo = 0; lo < Lout; lo++) {
            float *o = out + ((size_t)b * Lout + lo) * C;
            int32_t *am = argmax + ((size_t)b * Lout + lo) * C;
            int first = 1;
            for (int k = 0; k < K; k++) {
                const int li = lo * stride + k - pad;
                if (li < 0 || li >= Lin) continue;
                const float *xr = in + ((size_t)b * Lin + li) * C;
                if (first) {
                    for (int c = 0; c < C; c++) o[c] = xr[c], am[c] = li;
                    first = 0;
                } else {
#pragma omp simd
                    for (int c = 0; c < C; c++) {
                        const int gt = xr[c] > o[c]; /* first maximum wins on ties */
                        o[c] = gt ? xr[c] : o[c];
                        am[c] = gt ? li : am[c];
                    }
                }
            }
            if (first) /* a window entirely in the padding (cannot happen for pad < K) */
                for (int c = 0; c < C; c++) o[c] = -INFINITY, am[c] = 0;
        }
}

void pe_nwc_maxpool_backward(float *din, const float *ga, const float *gb, const int32_t *argmax,
                             int B, int Lin, int Lout, int C) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *d = din + (size_t)b * Lin * C;
        for (size_t i = 0; i < (size_t)Lin * C; i++) d[i] = 0.0f;
        for (int lo = 0; lo < Lout; lo++) {
            const size_t o = ((size_t)b * Lout + lo) * C;
            for (int c = 0; c < C; c++) {
                const float g = gb ? ga[o + c] + gb[o + c] : ga[o + c];
                d[(size_t)argmax[o + c] * C + c] += g;
            }
        }
    }
}

void pe_nwc_gap_forward(float *h, const float *x, int B, int L, int C) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        double s[C];
        for (int c = 0; c < C; c++) s[c] = 0.0;
        for (int l = 0; l < L; l++) {
            const float *xr = x + ((size_t)b * L + l) * C;
#pragma omp simd
            for (int c = 0; c < C; c++) s[c] += xr[c];
        }
        for (int c = 0; c < C; c++) h[(size_t)b * C + c] = (float)(s[c] / L);
    }
}

void pe_nwc_gap_backward(float *g, const float *dh, int B, int L, int C) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            float *gr = g + ((size_t)b * L + l) * C;
            for (int c = 0; c < C; c++) gr[c] = dh[(size_t)b * C + c] / (float)L;
        }
}
