/* Channels-last kernels of the fused training backbone (see nwc.h).
 *
 * Elementwise kernels run over rows in parallel with the channel loop innermost
 * (contiguous, vectorized). Reductions run over channel blocks of CB = 16 in
 * parallel, each thread walking all rows of its block with double accumulators. */
#include "nn/nwc.h"

#include <math.h>

#define CB 16

void pe_nwc_from_ncw(float *y, const float *x, int B, int C, int L) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            float *yr = y + ((size_t)b * L + l) * C;
            const float *xb = x + (size_t)b * C * L + l;
            for (int c = 0; c < C; c++) yr[c] = xb[(size_t)c * L];
        }
}

void pe_nwc_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                     const float *x, long R, int C, float momentum, float eps) {
    const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * CB, n = C - c0 < CB ? C - c0 : CB;
        double s[CB] = {0}, ss[CB] = {0}, mu[CB];
        for (long r = 0; r < R; r++) {
            const float *xr = x + r * C + c0;
#pragma omp simd
            for (int j = 0; j < n; j++) s[j] += xr[j];
        }
        for (int j = 0; j < n; j++) mu[j] = s[j] / (double)R;
        for (long r = 0; r < R; r++) { /* two-pass variance */
            const float *xr = x + r * C + c0;
#pragma omp simd
            for (int j = 0; j < n; j++) {
                double d = xr[j] - mu[j];
                ss[j] += d * d;
            }
        }
        for (int j = 0; j < n; j++) {
            const int c = c0 + j;
            const double var = ss[j] / (double)R;
            const double unbiased = R > 1 ? ss[j] / (double)(R - 1) : var;
            mean[c] = (float)mu[j];
            rstd[c] = (float)(1.0 / sqrt(var + eps));
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu[j]);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
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

void pe_nwc_bn_backward_sums(double *sg, double *sgx, double *sg2, double *sgx2, float *gout,
                             const float *ga, const float *gb, const float *y, const float *x,
                             const float *mean, const float *rstd, const float *x2,
                             const float *mean2, const float *rstd2, long R, int C) {
    const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * CB, n = C - c0 < CB ? C - c0 : CB;
        double a[CB] = {0}, ax[CB] = {0}, a2x[CB] = {0};
        float m[CB], rs[CB], m2[CB], rs2[CB];
        for (int j = 0; j < n; j++) {
            m[j] = mean[c0 + j], rs[j] = rstd[c0 + j];
            m2[j] = x2 ? mean2[c0 + j] : 0.0f, rs2[j] = x2 ? rstd2[c0 + j] : 0.0f;
        }
        for (long r = 0; r < R; r++) {
            const size_t o = (size_t)r * C + c0;
            float g[CB];
#pragma omp simd
            for (int j = 0; j < n; j++) {
                float v = gb ? ga[o + j] + gb[o + j] : ga[o + j];
                g[j] = (!y || y[o + j] > 0.0f) ? v : 0.0f;
            }
            if (gout)
                for (int j = 0; j < n; j++) gout[o + j] = g[j];
#pragma omp simd
            for (int j = 0; j < n; j++) {
                a[j] += g[j];
                ax[j] += (double)g[j] * ((x[o + j] - m[j]) * rs[j]);
            }
            if (x2) {
#pragma omp simd
                for (int j = 0; j < n; j++) a2x[j] += (double)g[j] * ((x2[o + j] - m2[j]) * rs2[j]);
            }
        }
        for (int j = 0; j < n; j++) {
            sg[c0 + j] = a[j];
            sgx[c0 + j] = ax[j];
            if (x2) {
                sg2[c0 + j] = a[j];
                sgx2[c0 + j] = a2x[j];
            }
        }
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
