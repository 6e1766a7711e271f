/* Batch norm over (B, L) for each channel (torch.nn.BatchNorm1d on (B, C, L)).
 *
 *   training: xhat = (x - mean_c) * rstd_c,  rstd_c = 1/sqrt(var_c + eps)   (biased var)
 *             out  = gamma_c * xhat + beta_c
 *             running_mean = (1-m)*running_mean + m*mean
 *             running_var  = (1-m)*running_var  + m*var*n/(n-1),  n = B*L
 *   eval:     out = gamma_c * (x - running_mean_c) / sqrt(running_var_c + eps) + beta_c
 *
 * Statistics are accumulated in double; channels run in parallel. */
#include "nn/nn.h"

#include <math.h>

/* out, in (B, C, L); gamma, beta, running_mean, running_var, mean, rstd (C). */
void pe_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean,
                                float *running_var, int B, int C, int L, float momentum, float eps) {
    const double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)b * C + c) * L;
#pragma omp simd reduction(+ : sum)
            for (int l = 0; l < L; l++) sum += x[l];
        }
        const double mu = sum / n;
        double ss = 0.0; /* two-pass variance */
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)b * C + c) * L;
#pragma omp simd reduction(+ : ss)
            for (int l = 0; l < L; l++) {
                double d = x[l] - mu;
                ss += d * d;
            }
        }
        const double var = ss / n;
        const float rs = (float)(1.0 / sqrt(var + eps));
        const float m = (float)mu;
        mean[c] = m;
        rstd[c] = rs;
        const float scale = gamma[c] * rs, shift = beta[c] - m * scale;
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            for (int l = 0; l < L; l++) y[l] = x[l] * scale + shift;
        }
        const double unbiased = n > 1.0 ? ss / (n - 1.0) : var;
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
}

void pe_batchnorm_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var, int C,
                              float eps) {
    for (int c = 0; c < C; c++) {
        scale[c] = (float)(gamma[c] / sqrt((double)running_var[c] + eps));
        shift[c] = beta[c] - running_mean[c] * scale[c];
    }
}

/* out, in (B, C, L); parameters and running statistics (C). */
void pe_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, int B, int C,
                               int L, float eps) {
    float scale[C], shift[C];
    pe_batchnorm_eval_affine(scale, shift, gamma, beta, running_mean, running_var, C, eps);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            const float *x = in + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            for (int l = 0; l < L; l++) y[l] = x[l] * scale[c] + shift[c];
        }
    }
}

/* Backward of the training forward, dout, in (B, C, L); mean, rstd saved by it.
 *   dbeta_c  += sum dout
 *   dgamma_c += sum dout * xhat
 *   din      += gamma_c * rstd_c * (dout - sum(dout)/n - xhat * sum(dout*xhat)/n) */
void pe_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, int B, int C, int L) {
    const double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], rs = rstd[c];
        double sg = 0.0, sgx = 0.0; /* sum(dout), sum(dout * xhat) */
        for (int b = 0; b < B; b++) {
            const float *g = dout + ((size_t)b * C + c) * L;
            const float *x = in + ((size_t)b * C + c) * L;
#pragma omp simd reduction(+ : sg, sgx)
            for (int l = 0; l < L; l++) {
                sg += g[l];
                sgx += (double)g[l] * ((x[l] - m) * rs);
            }
        }
        if (dbeta) dbeta[c] += (float)sg;
        if (dgamma) dgamma[c] += (float)sgx;
        if (!din) continue;
        const float k = gamma[c] * rs;
        const float mg = (float)(sg / n), mgx = (float)(sgx / n);
        for (int b = 0; b < B; b++) {
            const float *g = dout + ((size_t)b * C + c) * L;
            const float *x = in + ((size_t)b * C + c) * L;
            float *dx = din + ((size_t)b * C + c) * L;
            for (int l = 0; l < L; l++) dx[l] += k * (g[l] - mg - (x[l] - m) * rs * mgx);
        }
    }
}
