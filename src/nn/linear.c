/* Linear layer with OpenBLAS: in (B, In), w (Out, In), b (Out) or NULL -> out (B, Out).
 *   out = in @ w^T + b */
#include "nn/nn.h"

#include <cblas.h>

void pe_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int In,
                       int Out) {
    /* out starts as the bias (or 0) and the product is added with beta = 1, so any
     * stale values (even NaN) in out never leak through */
    for (int i = 0; i < B; i++)
        for (int o = 0; o < Out; o++) out[(size_t)i * Out + o] = b ? b[o] : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, Out, In, 1.0f, in, In, w, In, 1.0f,
                out, Out);
}

/* Given dout (B, Out):
 *   din (B, In)   += dout @ w
 *   dw  (Out, In) += dout^T @ in
 *   db  (Out)     += sum over the batch of dout */
void pe_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int In, int Out) {
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, In, Out, 1.0f, dout, Out, w, In,
                    1.0f, din, In);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Out, In, B, 1.0f, dout, Out, in, In,
                    1.0f, dw, In);
    if (db)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < Out; o++) db[o] += dout[(size_t)i * Out + o];
}
