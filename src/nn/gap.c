/* Global average pooling over time: in (B, C, L) -> out (B, C), out = mean over L. */
#include "nn/nn.h"

void pe_gap_forward(float *out, const float *in, int B, int C, int L) {
#pragma omp parallel for schedule(static) if (B * C > 1024)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = in + (size_t)bc * L;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int l = 0; l < L; l++) sum += x[l];
        out[bc] = (float)(sum / L);
    }
}

/* din (B, C, L) += dout (B, C) / L, spread evenly over time. */
void pe_gap_backward(float *din, const float *dout, int B, int C, int L) {
#pragma omp parallel for schedule(static) if (B * C > 1024)
    for (int bc = 0; bc < B * C; bc++) {
        float *dx = din + (size_t)bc * L;
        const float g = dout[bc] / (float)L;
        for (int l = 0; l < L; l++) dx[l] += g;
    }
}
