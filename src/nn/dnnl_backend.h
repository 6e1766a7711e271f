/* oneDNN-backed versions of the heavy layers (convolution; batch norm and max
 * pooling where faster), with the same semantics and buffers as nn.h.
 * Primitives and memory descriptors are created once per shape and cached in
 * the context; the model owns one context. Backward functions ACCUMULATE like
 * nn.h (oneDNN results go through a scratch buffer owned by the context). */
#ifndef PE_NN_DNNL_BACKEND_H
#define PE_NN_DNNL_BACKEND_H

#include "nn/nn.h"
#include "protoecg.h"

typedef struct pe_dnnl pe_dnnl;

pe_dnnl *pe_dnnl_create(pe_error *e);
void pe_dnnl_destroy(pe_dnnl *ctx);
/* Number of cached (shape, thread count) entries; for tests of the cache. */
int pe_dnnl_cache_size(const pe_dnnl *ctx);

int pe_dnnl_conv1d_forward(pe_dnnl *ctx, float *out, const float *in, const float *w,
                           const pe_conv1d_shape *s, pe_error *e);
int pe_dnnl_conv1d_backward(pe_dnnl *ctx, float *din, float *dw, const float *dout,
                            const float *in, const float *w, const pe_conv1d_shape *s,
                            pe_error *e);

#endif
