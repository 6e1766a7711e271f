/* The training losses of spec section 4 with their gradients; see losses.h. */
#include "model/losses.h"

#include <cblas.h>
#include <math.h>

pe_loss_weights pe_loss_weights_default(void) {
    pe_loss_weights w = {.clst = 0.004, .sep = 0.0004, .div = 250.0, .cnt = 300.0, .l1 = 1e-4};
    return w;
}

/* ---- BCE with logits and pos_weight ------------------------------------------------ */

/* sigmoid(x) without overflow for large |x|. */
static double stable_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double ex = exp(x);
    return ex / (1.0 + ex);
}

/* x, dx (B, ld), scored on columns 0..C-1; y (B, C); pos_weight (C) or NULL. */
double pe_loss_bce_ld(float *dx, const float *x, int ld, const uint8_t *y,
                      const float *pos_weight, int B, int C, double scale) {
    const double inv_n = 1.0 / ((double)B * C);
    double sum = 0.0;
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)b * ld + c;
            double xi = x[i];
            double yi = y[(size_t)b * C + c] ? 1.0 : 0.0;
            double w = pos_weight ? pos_weight[c] : 1.0;
            /* log(1 + exp(-x)) = softplus(-x) = log1p(exp(-|x|)) + max(-x, 0) */
            double sp = log1p(exp(-fabs(xi))) + (xi < 0 ? -xi : 0.0);
            double log_weight = 1.0 + (w - 1.0) * yi;
            sum += (1.0 - yi) * xi + log_weight * sp;
            if (dx) {
                /* d/dx = sig(x)(1-y) - w y (1 - sig(x)); 1 - sig(x) = sig(-x) */
                double g = yi != 0.0 ? -w * stable_sigmoid(-xi) : stable_sigmoid(xi);
                dx[i] += (float)(scale * g * inv_n);
            }
        }
    }
    return sum * inv_n;
}

double pe_loss_bce(float *dx, const float *x, const uint8_t *y, const float *pos_weight, int B,
                   int C, double scale) {
    return pe_loss_bce_ld(dx, x, C, y, pos_weight, B, C, scale);
}

/* ---- clustering and separation --------------------------------------------------------
 * Both are a max over p of a masked product s_bp * m_p with m_p in {0,1}. The masked
 * products are 0 and compete in the max. As torch.max(dim), the first maximal index wins
 * (strict >), and a NaN is the maximum (the first NaN). Returns the max, *argmax and
 * whether the argmax is unmasked (only then does it carry a gradient). */
static float masked_max(const float *s, int P, int K, int cls, int invert, int *argmax,
                        int *unmasked) {
    float best = 0.0f;
    int best_p = -1, best_m = 0;
    for (int p = 0; p < P; p++) {
        int in_class = (p / K) == cls;
        int m = invert ? !in_class : in_class; /* mask value, 1 = s_bp passes */
        float v = m ? s[p] : 0.0f;
        if (best_p < 0 || (!isnan(best) && (v > best || isnan(v)))) {
            best = v;
            best_p = p;
            best_m = m;
        }
    }
    *argmax = best_p;
    *unmasked = best_m;
    return best;
}

/* s, ds (B, P), y (B, C), P = C*K. L = -mean_{b,c} max_p s_bp I_pc y_bc. */
double pe_loss_clst(float *ds, const float *s, const uint8_t *y, int B, int C, int K,
                    double scale) {
    const int P = C * K;
    const double inv_n = 1.0 / ((double)B * C);
    double sum = 0.0;
    for (int b = 0; b < B; b++) {
        const float *sb = s + (size_t)b * P;
        for (int c = 0; c < C; c++) {
            /* y_bc = 0 masks every product: A_bc = 0 and no gradient. */
            if (!y[(size_t)b * C + c]) continue;
            int p, unmasked;
            float a = masked_max(sb, P, K, c, 0, &p, &unmasked);
            sum += a;
            if (ds && unmasked) ds[(size_t)b * P + p] += (float)(-scale * inv_n);
        }
    }
    return -sum * inv_n;
}

/* s, ds (B, P), y (B, C), P = C*K. L = +mean_{b,c} max_p s_bp (1 - I_pc y_bc). */
double pe_loss_sep(float *ds, const float *s, const uint8_t *y, int B, int C, int K,
                   double scale) {
    const int P = C * K;
    const double inv_n = 1.0 / ((double)B * C);
    double sum = 0.0;
    for (int b = 0; b < B; b++) {
        const float *sb = s + (size_t)b * P;
        for (int c = 0; c < C; c++) {
            int p, unmasked;
            float e;
            if (y[(size_t)b * C + c]) {
                e = masked_max(sb, P, K, c, 1, &p, &unmasked);
            } else {
                e = masked_max(sb, P, K, -1, 1, &p, &unmasked); /* nothing masked */
            }
            sum += e;
            if (ds && unmasked) ds[(size_t)b * P + p] += (float)(scale * inv_n);
        }
    }
    return sum * inv_n;
}

/* ---- prototype geometry shared by diversity and contrastive -------------------------- */

#define PE_NORM_EPS 1e-12

size_t pe_loss_proto_scratch_len(int P, int D) {
    return 2 * (size_t)P * D + (size_t)P * P + (size_t)P;
}

typedef struct {
    double *Q;    /* (P, D) normalized prototypes */
    double *dQ;   /* (P, D) dL/dQ */
    double *G;    /* (P, P) Q Q^T, exactly symmetric; reused for the gradient coefficients */
    double *norm; /* (P) raw norms |x_p| (unclamped) */
} proto_scratch;

static proto_scratch split_scratch(double *scratch, int P, int D) {
    proto_scratch s;
    s.Q = scratch;
    s.dQ = s.Q + (size_t)P * D;
    s.G = s.dQ + (size_t)P * D;
    s.norm = s.G + (size_t)P * P;
    return s;
}

/* protos (P, D) -> Q (P, D) = x / max(|x|, eps), norm (P), G (P, P) = Q Q^T (BLAS dsyrk on
 * the upper triangle, mirrored, so G is exactly symmetric). */
static void proto_gram_forward(proto_scratch *s, const float *protos, int P, int D) {
    for (int p = 0; p < P; p++) {
        const float *x = protos + (size_t)p * D;
        double ss = 0.0;
        for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
        double n = sqrt(ss);
        s->norm[p] = n;
        double inv = 1.0 / (n > PE_NORM_EPS ? n : PE_NORM_EPS);
        double *q = s->Q + (size_t)p * D;
        for (int d = 0; d < D; d++) q[d] = x[d] * inv;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, P, D, 1.0, s->Q, D, 0.0, s->G, P);
    for (int p = 0; p < P; p++)
        for (int r = p + 1; r < P; r++) s->G[(size_t)r * P + p] = s->G[(size_t)p * P + r];
}

/* Backward of Q Q^T and the normalization. coef (P, P) holds dL/dG + (dL/dG)^T (symmetric),
 * so that dL/dQ = coef Q. Then, with n = |x|:
 *   n >= eps: dx = (dq - q (q . dq)) / n      n < eps: dx = dq / eps (clamp blocks n).
 * dprotos (P, D) += scale * dx. */
static void proto_gram_backward(float *dprotos, const proto_scratch *s, const double *coef,
                                int P, int D, double scale) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, D, P, 1.0, coef, P, s->Q, D, 0.0,
                s->dQ, D);
    for (int p = 0; p < P; p++) {
        const double *q = s->Q + (size_t)p * D, *dq = s->dQ + (size_t)p * D;
        float *dx = dprotos + (size_t)p * D;
        double n = s->norm[p];
        if (n >= PE_NORM_EPS) {
            double qdq = 0.0;
            for (int d = 0; d < D; d++) qdq += q[d] * dq[d];
            for (int d = 0; d < D; d++) dx[d] += (float)(scale * (dq[d] - q[d] * qdq) / n);
        } else {
            for (int d = 0; d < D; d++) dx[d] += (float)(scale * dq[d] / PE_NORM_EPS);
        }
    }
}

/* ---- diversity: protos (P, D), L = |Q Q^T - I|_F^2 / P^2 ------------------------------ */
double pe_loss_div(float *dprotos, const float *protos, int P, int D, double *scratch,
                   double scale) {
    proto_scratch s = split_scratch(scratch, P, D);
    proto_gram_forward(&s, protos, P, D);
    const double inv_p2 = 1.0 / ((double)P * P);
    double sum = 0.0;
    for (int p = 0; p < P; p++) {
        for (int r = 0; r < P; r++) {
            double e = s.G[(size_t)p * P + r] - (p == r ? 1.0 : 0.0);
            sum += e * e;
            /* dL/dG = 2 e / P^2, symmetric: coef = 4 e / P^2 (overwrites G in place) */
            s.G[(size_t)p * P + r] = 4.0 * e * inv_p2;
        }
    }
    if (dprotos) proto_gram_backward(dprotos, &s, s.G, P, D, scale);
    return sum * inv_p2;
}

/* ---- contrastive: protos (P, D), J (C, C), P = C*K ------------------------------------ */
double pe_loss_cnt(float *dprotos, const float *protos, const float *J, int C, int K, int D,
                   double *scratch, double scale) {
    const int P = C * K;
    const double lo = -1.0 + 1e-6, hi = 1.0 - 1e-6;
    proto_scratch s = split_scratch(scratch, P, D);
    proto_gram_forward(&s, protos, P, D);

    /* sum Pos = K^2 sum J; sum Neg = sum (1 - Pos) = P^2 - sum Pos. */
    double sum_j = 0.0;
    for (int i = 0; i < C * C; i++) sum_j += J[i];
    const double sum_pos = (double)K * K * sum_j;
    const double sum_neg = (double)P * P - sum_pos;
    const double pos_den = 1.0 / (sum_pos + 1e-6), neg_den = 1.0 / (sum_neg + 1e-6);
    const double inv_sqrt_p = 1.0 / sqrt((double)P);

    /* L = -sum_pq S_pq (Pos_n - Neg_n)_pq / sqrt(P); dL/dS_pq = -(Pos_n - Neg_n)_pq/sqrt(P) */
    double sum = 0.0;
    for (int p = 0; p < P; p++) {
        for (int r = p; r < P; r++) {
            double g = s.G[(size_t)p * P + r];
            double jpr = J[(p / K) * C + r / K], jrp = J[(r / K) * C + p / K];
            double wpr = jpr * pos_den - (1.0 - jpr) * neg_den;
            double wrp = jrp * pos_den - (1.0 - jrp) * neg_den;
            double sv = g < lo ? lo : (g > hi ? hi : g);
            sum += sv * wpr;
            if (r != p) sum += sv * wrp;
            /* clamp passes the gradient where lo <= g <= hi (as torch) */
            double m = (g >= lo && g <= hi) ? 1.0 : 0.0;
            double coef = -m * (wpr + wrp) * inv_sqrt_p;
            s.G[(size_t)p * P + r] = coef;
            s.G[(size_t)r * P + p] = coef;
        }
    }
    if (dprotos) proto_gram_backward(dprotos, &s, s.G, P, D, scale);
    return -sum * inv_sqrt_p;
}

/* ---- L1 on W (C, P) off the own-class prototypes -------------------------------------- */
double pe_loss_l1(float *dW, const float *W, int C, int K, double scale) {
    const int P = C * K;
    double sum = 0.0;
    for (int c = 0; c < C; c++) {
        for (int p = 0; p < P; p++) {
            if (p / K == c) continue; /* 1 - I_pc = 0 */
            size_t i = (size_t)c * P + p;
            float w = W[i];
            sum += fabs((double)w);
            if (dW && w != 0.0f) dW[i] += (float)(w > 0.0f ? scale : -scale);
        }
    }
    return sum;
}

/* ---- Jaccard co-occurrence: labels (N, C) -> J (C, C) --------------------------------- */
void pe_jaccard(float *J, const uint8_t *labels, long N, int C) {
    for (int c = 0; c < C; c++) {
        for (int d = c; d < C; d++) {
            long inter = 0, uni = 0;
            for (long n = 0; n < N; n++) {
                int a = labels[(size_t)n * C + c] != 0, b = labels[(size_t)n * C + d] != 0;
                inter += a && b;
                uni += a || b;
            }
            float v = uni > 0 ? (float)((double)inter / (double)uni) : 0.0f;
            J[c * C + d] = v;
            J[d * C + c] = v;
        }
    }
}
