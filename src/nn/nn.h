/* Layers with explicit forward and backward passes (the plain-C reference path).
 *
 * Conventions (as in llm.c):
 * - float32, row-major, PyTorch layouts: activations (B, C, L), conv weight
 *   (Cout, Cin, K), linear weight (Out, In), vectors (B, D).
 * - Forward functions overwrite their outputs.
 * - Backward functions ACCUMULATE (+=) into every gradient they write, inputs and
 *   parameters alike; the caller zeroes gradient buffers before a backward pass.
 *   A NULL gradient pointer means "not needed" and is skipped.
 * - No allocation, no global state; buffers belong to the caller (the model).
 */
#ifndef PE_NN_NN_H
#define PE_NN_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- conv1d, no bias -------------------------------------------------------
 * in (B, Cin, Lin), w (Cout, Cin, K) -> out (B, Cout, Lout),
 * Lout = (Lin + 2*pad - K) / stride + 1, zero padding. */
typedef struct {
    int B, Cin, Cout, Lin, Lout, K, stride, pad;
} pe_conv1d_shape;

int pe_conv1d_out_len(int Lin, int K, int stride, int pad);
/* Fills every field of s, computing Lout. */
pe_conv1d_shape pe_conv1d_make_shape(int B, int Cin, int Cout, int Lin, int K, int stride, int pad);
void pe_conv1d_forward(float *out, const float *in, const float *w, const pe_conv1d_shape *s);
void pe_conv1d_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        const pe_conv1d_shape *s);

/* ---- batch norm 1d over (B, L) for each channel -----------------------------
 * in/out (B, C, L); gamma, beta, running_mean, running_var (C).
 * Training mode: batch mean and biased variance normalize; saves mean and
 * rstd = 1/sqrt(var + eps) (C each) for backward; running stats updated with
 * momentum and the UNBIASED batch variance (n = B*L), as torch does. */
void pe_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean,
                                float *running_var, int B, int C, int L, float momentum, float eps);
void pe_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, int B, int C,
                               int L, float eps);
/* The eval-mode BN as a per-channel affine map, out = in * scale + shift (C each):
 * scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale. Every
 * eval-mode path (the layer above, the NWC backbone, BN folding, int8 calibration)
 * uses it, so all compute the same floats. */
void pe_batchnorm_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                              const float *running_mean, const float *running_var, int C,
                              float eps);
/* Backward of the training-mode forward. */
void pe_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, int B, int C, int L);

/* ---- ReLU (elementwise, n values); backward uses the forward output. */
void pe_relu_forward(float *out, const float *in, size_t n);
void pe_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- max pool 1d, -inf padding ----------------------------------------------
 * in (B, C, Lin) -> out (B, C, Lout); argmax (B, C, Lout) holds the input index
 * (0..Lin-1) of each maximum (first one on ties), used by backward. */
void pe_maxpool1d_forward(float *out, int32_t *argmax, const float *in, int B, int C, int Lin,
                          int K, int stride, int pad);
void pe_maxpool1d_backward(float *din, const float *dout, const int32_t *argmax, int B, int C,
                           int Lin, int Lout);

/* ---- global average pool over time: in (B, C, L) -> out (B, C). */
void pe_gap_forward(float *out, const float *in, int B, int C, int L);
void pe_gap_backward(float *din, const float *dout, int B, int C, int L);

/* ---- linear: in (B, In), w (Out, In), b (Out) or NULL -> out (B, Out). */
void pe_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int In,
                       int Out);
void pe_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int In, int Out);

/* ---- sigmoid (elementwise); backward uses the forward output. */
void pe_sigmoid_forward(float *out, const float *in, size_t n);
void pe_sigmoid_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- cosine similarity to prototypes ----------------------------------------
 * z (B, D), protos (P, D) -> s (B, P), s[b][p] = <z_b/max(|z_b|,eps), pi_p/max(|pi_p|,eps)>
 * with eps = 1e-12 (torch.nn.functional.normalize). Saves znorm (B) and pnorm (P),
 * the clamped norms, for backward. */
void pe_cosine_forward(float *s, float *znorm, float *pnorm, const float *z, const float *protos,
                       int B, int P, int D);
void pe_cosine_backward(float *dz, float *dprotos, const float *ds, const float *s, const float *z,
                        const float *protos, const float *znorm, const float *pnorm, int B, int P,
                        int D);

/* ---- residual add: out = a + b (n values); backward is the identity to both. */
void pe_add_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout and db += dout (either may be NULL). */
void pe_add_backward(float *da, float *db, const float *dout, size_t n);

#endif
