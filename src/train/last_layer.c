/* The last layer fit full batch by FISTA on fixed similarities (see last_layer.h). */
#include "train/last_layer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/losses.h"
#include "nn/nn.h"

/* Largest eigenvalue of G = S^T S / N (P, P) by power iteration, with a 5% margin so
 * that 1/L stays a safe step when the iteration has not fully converged.
 * G (P, P) and v (2P) are scratch. */
static double gram_lambda_max(const float *S, long N, int P, float *G, double *v) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, P, (int)N, 1.0f / (float)N, S, P, 0.0f,
                G, P);
    for (int i = 0; i < P; i++)
        for (int j = 0; j < i; j++) G[(size_t)i * P + j] = G[(size_t)j * P + i];
    double *u = v + P, lambda = 0.0;
    for (int i = 0; i < P; i++) v[i] = 1.0 + 1e-3 * i;
    for (int it = 0; it < 200; it++) {
        double norm = 0.0, vu = 0.0, vv = 0.0;
        for (int i = 0; i < P; i++) {
            double a = 0.0;
            for (int j = 0; j < P; j++) a += G[(size_t)i * P + j] * v[j];
            u[i] = a;
            vu += v[i] * a, vv += v[i] * v[i], norm += a * a;
        }
        lambda = vv > 0.0 ? vu / vv : 0.0;
        norm = sqrt(norm);
        if (norm == 0.0) break;
        for (int i = 0; i < P; i++) v[i] = u[i] / norm;
    }
    return 1.05 * lambda;
}

int pe_last_layer_fista(float *W, const float *S, const uint8_t *Y, long N, int C, int K,
                        const float *pos_weight, double l1, int nonneg_own, int iters,
                        double *objective, double *bce, double *l1_sum, pe_error *e) {
    const int P = C * K;
    const size_t nw = (size_t)C * P, nl = (size_t)N * C;
    if (N < 1 || N > INT32_MAX) return pe_fail(e, "last layer: %ld training records", N);
    float *buf = malloc((3 * nw + (size_t)P * P + 2 * nl) * sizeof(float));
    double *step = malloc(((size_t)C + 2 * (size_t)P) * sizeof(double)); /* + power iteration */
    if (!buf || !step) {
        free(buf), free(step);
        return pe_fail(e, "out of memory");
    }
    float *V = buf, *Wprev = V + nw, *G = Wprev + nw, *gram = G + nw;
    float *logits = gram + (size_t)P * P, *dlogits = logits + nl;
    double lambda = gram_lambda_max(S, N, P, gram, step + C);
    for (int c = 0; c < C; c++) {
        double w = pos_weight ? pos_weight[c] : 1.0;
        double L = (w > 1.0 ? w : 1.0) / 4.0 * lambda / C;
        step[c] = L > 0.0 ? 1.0 / L : 0.0;
    }
    memcpy(Wprev, W, nw * sizeof(float));
    double t = 1.0;
    for (int it = 0; it < iters && lambda > 0.0; it++) {
        /* V = W + (t - 1) / t' (W - W_prev): the extrapolated point */
        double tn = (1.0 + sqrt(1.0 + 4.0 * t * t)) / 2.0, beta = (t - 1.0) / tn;
        t = tn;
        for (size_t i = 0; i < nw; i++) V[i] = W[i] + (float)(beta * (W[i] - Wprev[i]));
        /* gradient of the BCE at V: dW (C, P) = dlogits^T S */
        pe_linear_forward(logits, S, V, NULL, (int)N, P, C);
        memset(dlogits, 0, nl * sizeof(float));
        pe_loss_bce(dlogits, logits, Y, pos_weight, (int)N, C, 1.0);
        memset(G, 0, nw * sizeof(float));
        pe_linear_backward(NULL, G, NULL, dlogits, S, V, (int)N, P, C);
        /* W_prev = W; W = prox(V - step G): soft threshold on the off-class entries,
         * with nonneg_own max(0, .) on the own-class ones */
        memcpy(Wprev, W, nw * sizeof(float));
        for (int c = 0; c < C; c++) {
            double thr = step[c] * l1;
            for (int p = 0; p < P; p++) {
                size_t i = (size_t)c * P + p;
                double x = V[i] - step[c] * G[i];
                if (p / K != c) x = x > thr ? x - thr : x < -thr ? x + thr : 0.0;
                else if (nonneg_own && x < 0.0) x = 0.0;
                W[i] = (float)x;
            }
        }
    }
    pe_linear_forward(logits, S, W, NULL, (int)N, P, C);
    double b = pe_loss_bce(NULL, logits, Y, pos_weight, (int)N, C, 1.0);
    double a = pe_loss_l1(NULL, W, C, K, 1.0);
    if (objective) *objective = b + l1 * a;
    if (bce) *bce = b;
    if (l1_sum) *l1_sum = a;
    free(buf), free(step);
    return 0;
}
