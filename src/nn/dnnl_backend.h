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

/* Creates the CPU engine, stream and an empty primitive cache; NULL on failure. */
pe_dnnl *pe_dnnl_create(pe_error *e);
/* Destroys every cached primitive, memory object and scratch buffer (NULL is a no-op). */
void pe_dnnl_destroy(pe_dnnl *ctx);
/* Number of cached (shape, thread count, mode) entries; for tests of the cache. */
int pe_dnnl_cache_size(const pe_dnnl *ctx);

/* How the following calls treat their buffers (part of the cache key; default all 0):
 *   nwc           activations are (B, L, C) channels-last instead of (B, C, L); the
 *                 primitives then use them as they are (no activation reorders)
 *   bf16          mixed precision: src, weights and dout are rounded to bfloat16 for
 *                 the convolution (oneDNN reorders them); out, din and dw stay float32
 *   din_overwrite backward writes din (=) instead of adding to it (dw still adds) */
typedef struct {
    int nwc, bf16, din_overwrite;
} pe_dnnl_mode;
void pe_dnnl_set_mode(pe_dnnl *ctx, pe_dnnl_mode mode);
pe_dnnl_mode pe_dnnl_get_mode(const pe_dnnl *ctx);

/* conv1d as in nn.h: out (B,Cout,Lout) = conv(in (B,Cin,Lin), w (Cout,Cin,K)); overwrites
 * out. The cache key is the shape plus omp_get_max_threads() of the calling thread, so
 * the primitives follow omp_set_num_threads(). s->Lout must match pe_conv1d_out_len. */
int pe_dnnl_conv1d_forward(pe_dnnl *ctx, float *out, const float *in, const float *w,
                           const pe_conv1d_shape *s, pe_error *e);
/* din += dL/din (B,Cin,Lin) (= with din_overwrite), dw += dL/dw (Cout,Cin,K) given
 * dout (B,Cout,Lout); either gradient may be NULL (skipped). */
int pe_dnnl_conv1d_backward(pe_dnnl *ctx, float *din, float *dw, const float *dout,
                            const float *in, const float *w, const pe_conv1d_shape *s,
                            pe_error *e);

#endif
