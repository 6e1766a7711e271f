/* Max pool 1d with -inf padding (torch.nn.MaxPool1d).
 *
 *   in (B, C, Lin) -> out (B, C, Lout), Lout = (Lin + 2*pad - K) / stride + 1
 *   out[b][c][l] = max over k of in[b][c][l*stride - pad + k] (positions outside
 *   [0, Lin) are -inf, i.e. ignored); argmax keeps the first maximum's input index. */
#include "nn/nn.h"

#include <math.h>

void pe_maxpool1d_forward(float *out, int32_t *argmax, const float *in, int B, int C, int Lin,
                          int K, int stride, int pad) {
    const int Lout = (Lin + 2 * pad - K) / stride + 1;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = in + (size_t)bc * Lin;
        float *y = out + (size_t)bc * Lout;
        int32_t *am = argmax + (size_t)bc * Lout;
        for (int l = 0; l < Lout; l++) {
            int j0 = l * stride - pad, j1 = j0 + K;
            if (j0 < 0) j0 = 0;
            if (j1 > Lin) j1 = Lin;
            float best = -INFINITY;
            int arg = j0 < Lin ? j0 : Lin - 1; /* a window always has one valid input if pad <= K/2 */
            for (int j = j0; j < j1; j++) {
                if (x[j] > best || isnan(x[j])) { /* strict >: first index on ties; NaN wins (torch) */
                    best = x[j];
                    arg = j;
                }
            }
            y[l] = best;
            am[l] = arg;
        }
    }
}

/* din (B, C, Lin) += dout (B, C, Lout) routed to the argmax positions. */
void pe_maxpool1d_backward(float *din, const float *dout, const int32_t *argmax, int B, int C,
                           int Lin, int Lout) {
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        float *dx = din + (size_t)bc * Lin;
        const float *g = dout + (size_t)bc * Lout;
        const int32_t *am = argmax + (size_t)bc * Lout;
        for (int l = 0; l < Lout; l++) dx[am[l]] += g[l];
    }
}
