/* Sigmoid, elementwise over n values: out = 1 / (1 + exp(-in)). */
#include "nn/nn.h"

#include <math.h>

void pe_sigmoid_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

/* din += dout * out * (1 - out), from the forward output. */
void pe_sigmoid_backward(float *din, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}
