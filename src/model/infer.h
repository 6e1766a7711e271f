/* Fused eval-mode backbone on oneDNN: the inference engine behind pe_net_infer.
 *
 * Eval-mode batch norm is an affine map per channel, so it is folded into the
 * convolution before it (w' = w * s, bias = beta - running_mean * s with
 * s = gamma / sqrt(running_var + eps)); every conv + BN + ReLU is then one oneDNN
 * convolution with a bias and a ReLU post-op, and the second conv of a residual
 * block also adds the shortcut (a "sum" post-op into the buffer that holds it)
 * before its ReLU. Activations stay in oneDNN's blocked layout (nCw16c on
 * AVX-512) from the first convolution to the global average pool; the input
 * is reordered once (when the stem wants another layout or bf16) and the pool
 * reads the blocked layout directly.
 *
 *   x (B,12,1000) -[reorder]-> stem conv+bias+ReLU (B,w,500) -> maxpool (B,w,250)
 *   -> 8 x [c1+bias+ReLU -> (down conv+bias) -> c2+bias+sum+ReLU] -> GAP -> h (B,8w)
 *
 * A plan holds the primitives for one (batch, thread count, precision). The folded
 * weights (in the primitives' layout), the activation buffers (three ping-pong
 * buffers plus the input reorder, sized for the largest batch seen) and the
 * scratchpad are shared by all plans; a plan whose convolution wants another weights
 * layout keeps its own copy. Nothing of the training path (saved activations,
 * gradients) is touched.
 *
 * The weights are folded when a plan is built and again after pe_infer_invalidate
 * (the net's parameters or BN statistics changed).
 *
 * int8 (net->precision PE_PREC_INT8, needs net->int8 from pe_net_calibrate_int8): the
 * stem conv and max pool stay f32, a reorder quantizes the pooled tensor to u8, and
 * every block convolution is u8 src x s8 weights (per output channel) -> u8 (c1, c2) or
 * s8 (downsample) with the bias in accumulator units and per-channel output scales; c2's
 * sum post-op reads the shortcut as u8 (identity) or s8 (downsample) with its own
 * scale. The pool reads the last u8 output times its step. The scales are fixed in the
 * primitives, so after pe_infer_invalidate an int8 plan is rebuilt, not only refolded. */
#ifndef PE_MODEL_INFER_H
#define PE_MODEL_INFER_H

#include "model/net.h"

/* Creates an empty inference engine (plans are built on first use); NULL on failure. */
pe_infer *pe_infer_create(pe_error *e);
/* Destroys every plan and buffer (NULL is a no-op). */
void pe_infer_destroy(pe_infer *inf);
/* Marks every plan's folded weights stale: they are refolded from the net on the
 * next pe_infer_backbone call. */
void pe_infer_invalidate(pe_infer *inf);
/* Number of cached plans, and of convolutions (over all plans) with weights of their
 * own instead of the shared ones; for tests. */
int pe_infer_plan_count(const pe_infer *inf);
int pe_infer_private_weight_count(const pe_infer *inf);

/* x (B, leads, len) float32 -> h (B, F) float32, eval mode, 1 <= B. The plan for
 * (B, omp_get_max_threads(), net->precision) is built on first use. */
int pe_infer_backbone(pe_infer *inf, const pe_net *net, const float *x, int B, float *h,
                      pe_error *e);

#endif
