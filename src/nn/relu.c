/* ReLU, elementwise over n values: out = max(in, 0). */
#include "nn/nn.h"

void pe_relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

/* din += dout where the forward output was positive (the gradient at 0 is 0, as in torch). */
void pe_relu_backward(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}
