/* Residual add: out = a + b over n values; the backward is the identity to both inputs. */
#include "nn/nn.h"

void pe_add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* da += dout, db += dout (NULL skipped). */
void pe_add_backward(float *da, float *db, const float *dout, size_t n) {
    if (da) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
    }
}
