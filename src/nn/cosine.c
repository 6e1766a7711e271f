/* Cosine similarity of latents to prototypes, as torch F.normalize then a dot product:
 *
 *   z (B, D), protos (P, D) -> s (B, P)
 *   u_b = z_b / zn_b,  zn_b = max(|z_b|, eps);   v_p = pi_p / pn_p,  pn_p = max(|pi_p|, eps)
 *   s[b][p] = <u_b, v_p>,  eps = 1e-12
 *
 * Backward of x -> x / max(|x|, eps) applied to g = dL/du:
 *   |x| >= eps:  (g - u <u, g>) / |x|      (projection off the direction of x)
 *   |x| <  eps:  g / eps                   (the clamp makes the norm a constant)
 * with dL/du_b = sum_p ds[b][p] v_p and <u_b, dL/du_b> = sum_p ds[b][p] s[b][p]. */
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>

#define PE_COSINE_EPS 1e-12

/* max(||x||, eps) of a row of D floats, accumulated in double. */
static float clamped_norm(const float *x, int D) {
    double ss = 0.0;
    for (int d = 0; d < D; d++) ss += (double)x[d] * x[d];
    double nrm = sqrt(ss);
    return (float)(nrm > PE_COSINE_EPS ? nrm : PE_COSINE_EPS);
}

void pe_cosine_forward(float *s, float *znorm, float *pnorm, const float *z, const float *protos,
                       int B, int P, int D) {
    for (int b = 0; b < B; b++) znorm[b] = clamped_norm(z + (size_t)b * D, D);
    for (int p = 0; p < P; p++) pnorm[p] = clamped_norm(protos + (size_t)p * D, D);
    /* s = z @ protos^T, then divide by both norms */
    for (size_t i = 0; i < (size_t)B * P; i++) s[i] = 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, P, D, 1.0f, z, D, protos, D, 1.0f, s,
                P);
    for (int b = 0; b < B; b++)
        for (int p = 0; p < P; p++) s[(size_t)b * P + p] /= znorm[b] * pnorm[p];
}

/* Norm clamped: znorm/pnorm hold exactly eps (rounded to float). */
static int is_clamped(float nrm) { return nrm <= (float)PE_COSINE_EPS; }

/* dz (B, D) and dprotos (P, D) += gradients of s (B, P) given ds (B, P). */
void pe_cosine_backward(float *dz, float *dprotos, const float *ds, const float *s, const float *z,
                        const float *protos, const float *znorm, const float *pnorm, int B, int P,
                        int D) {
    if (dz) {
#pragma omp parallel for schedule(static) if (B * P * D > 100000)
        for (int b = 0; b < B; b++) {
            const float *gs = ds + (size_t)b * P, *sb = s + (size_t)b * P;
            float *dzb = dz + (size_t)b * D;
            const float zn = znorm[b];
            /* dz_b += sum_p ds[b][p] / (zn pn_p) * pi_p */
            for (int p = 0; p < P; p++) {
                const float c = gs[p] / (zn * pnorm[p]);
                const float *pp = protos + (size_t)p * D;
                for (int d = 0; d < D; d++) dzb[d] += c * pp[d];
            }
            if (is_clamped(zn)) continue;
            /* dz_b -= <u_b, dL/du_b> / zn * u_b = (sum_p ds s) / zn^2 * z_b */
            double a = 0.0;
            for (int p = 0; p < P; p++) a += (double)gs[p] * sb[p];
            const float c = (float)(a / ((double)zn * zn));
            const float *zb = z + (size_t)b * D;
            for (int d = 0; d < D; d++) dzb[d] -= c * zb[d];
        }
    }
    if (dprotos) {
#pragma omp parallel for schedule(static) if (B * P * D > 100000)
        for (int p = 0; p < P; p++) {
            float *dpp = dprotos + (size_t)p * D;
            const float pn = pnorm[p];
            double a = 0.0;
            for (int b = 0; b < B; b++) {
                const float g = ds[(size_t)b * P + p];
                const float c = g / (znorm[b] * pn);
                const float *zb = z + (size_t)b * D;
                for (int d = 0; d < D; d++) dpp[d] += c * zb[d];
                a += (double)g * s[(size_t)b * P + p];
            }
            if (is_clamped(pn)) continue;
            const float c = (float)(a / ((double)pn * pn));
            const float *pp = protos + (size_t)p * D;
            for (int d = 0; d < D; d++) dpp[d] -= c * pp[d];
        }
    }
}
