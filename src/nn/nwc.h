/* Channels-last ("nwc") kernels of the fused training backbone (model/backbone_nwc.c).
 *
 * Activations are (B, L, C) row-major: R = B*L rows of C contiguous channels, the
 * layout the oneDNN convolutions use directly, so no reorder sits between layers.
 * Batch norm is split into statistics, an affine map (fused with the ReLU and the
 * residual add of a block) and a backward in two passes (per-channel sums, then
 * the input gradient, with the ReLU mask folded into the first). Per-channel
 * reductions sum fixed chunks of rows in parallel (in double, into a caller's
 * workspace of pe_nwc_work_len(C) doubles) and add the chunks in order, so the
 * results do not depend on the thread count.
 *
 * Unlike nn.h, every function here OVERWRITES its outputs (the backbone plans its
 * buffers); parameter gradients are returned as sums for the caller to add. */
#ifndef PE_NN_NWC_H
#define PE_NN_NWC_H

#include <stddef.h>
#include <stdint.h>

/* Row chunks of the reductions, and their workspace (doubles) for C channels. */
#define PE_NWC_CHUNKS 32
#define pe_nwc_work_len(C) ((size_t)PE_NWC_CHUNKS * 3 * (size_t)(C))

/* x (B, C, L) -> y (B, L, C). */
void pe_nwc_from_ncw(float *y, const float *x, int B, int C, int L);

/* Batch statistics of x (R, C): mean and rstd = 1/sqrt(var + eps) per channel (biased
 * variance, two passes in double); running_mean/var updated with momentum and the
 * unbiased variance (R/(R-1)), as torch.nn.BatchNorm1d in training mode. */
void pe_nwc_bn_stats(float *mean, float *rstd, float *running_mean, float *running_var,
                     const float *x, long R, int C, float momentum, float eps, double *work);

/* Per-channel affine map of batch norm: scale = gamma * rstd, shift = beta - mean * scale. */
void pe_nwc_bn_scale_shift(float *scale, float *shift, const float *gamma, const float *beta,
                           const float *mean, const float *rstd, int C);

/* y (R, C) = x * scale + shift, then max(0, .) if relu. y may alias x. */
void pe_nwc_affine(float *y, const float *x, const float *scale, const float *shift, long R,
                   int C, int relu);

/* Residual block output: out = max(0, x*scale + shift + s), where the shortcut is
 * s = xs*sscale + sshift (downsample branch) or s = xs (identity, sscale NULL). */
void pe_nwc_affine_add_relu(float *out, const float *x, const float *scale, const float *shift,
                            const float *xs, const float *sscale, const float *sshift, long R,
                            int C);

/* First pass of batch-norm backward: g = (ga + gb) masked by y > 0 (y = the ReLU output
 * after this BN; NULL: no ReLU), gb may be NULL; writes g to gout if not NULL (may
 * alias ga) and returns per channel sg = sum g and sgx = sum g * (x - mean) * rstd.
 * A second BN fed by the same g (the downsample branch of a block) gets its sums in
 * sg2/sgx2 from x2/mean2/rstd2 (NULL: none). */
void pe_nwc_bn_backward_sums(double *sg, double *sgx, double *sg2, double *sgx2, float *gout,
                             const float *ga, const float *gb, const float *y, const float *x,
                             const float *mean, const float *rstd, const float *x2,
                             const float *mean2, const float *rstd2, long R, int C,
                             double *work);

/* Second pass: dx = gamma*rstd * (g - sg/R - (x - mean)*rstd * sgx/R). dx may alias g. */
void pe_nwc_bn_backward_apply(float *dx, const float *g, const float *x, const float *mean,
                              const float *rstd, const float *gamma, const double *sg,
                              const double *sgx, long R, int C);

/* Max pool over L with -inf padding: in (B, Lin, C) -> out (B, Lout, C), argmax (B, Lout, C)
 * = input position of each maximum (first on ties). */
void pe_nwc_maxpool_forward(float *out, int32_t *argmax, const float *in, int B, int Lin, int C,
                            int K, int stride, int pad);
/* din (B, Lin, C) = scatter of (ga + gb) (B, Lout, C) to the argmax positions; gb may be NULL. */
void pe_nwc_maxpool_backward(float *din, const float *ga, const float *gb, const int32_t *argmax,
                             int B, int Lin, int Lout, int C);

/* Global average pool: x (B, L, C) -> h (B, C); backward g (B, L, C) = dh / L. */
void pe_nwc_gap_forward(float *h, const float *x, int B, int L, int C);
void pe_nwc_gap_backward(float *g, const float *dh, int B, int L, int C);

#endif
