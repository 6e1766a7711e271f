/* The training losses of the rhythm branch (spec section 4), each with its gradient.
 *
 * Conventions (as in src/nn/nn.h):
 * - float32 row-major inputs, labels uint8 {0,1}; prototype p = c*K + k belongs to
 *   class c (the class identity I (P, C) of the spec, I[p][c] = 1 iff p / K == c),
 *   P = C*K.
 * - Every loss returns its value as a double (accumulated in double) and ACCUMULATES
 *   scale * dL/d(input) into the caller's gradient buffer (grad += scale * dL/dx), so the
 *   training code passes the loss weight as scale. A NULL gradient pointer means
 *   "value only".
 * - No allocation and no global state. The two prototype losses (diversity, contrastive)
 *   need pe_loss_proto_scratch_len(P, D) doubles of caller scratch (about 700 KB for
 *   P = 80, D = 512), reusable between calls and between the two losses.
 * - The reference is PyTorch autograd (scripts/golden_losses.py); the non-smooth points
 *   follow torch: torch.max(dim) sends the gradient to the FIRST maximal index only,
 *   clamp passes the gradient where lo <= x <= hi, |x| has subgradient 0 at 0.
 *   (One deliberate difference: a masked NaN similarity counts as 0 in clustering and
 *   separation, where torch's NaN * 0 would give NaN.)
 */
#ifndef PE_MODEL_LOSSES_H
#define PE_MODEL_LOSSES_H

#include <stddef.h>
#include <stdint.h>

/* Loss weights of the joint / classifier stages (spec section 4). */
typedef struct {
    double clst; /* clustering, 0.004 */
    double sep;  /* separation, 0.0004 */
    double div;  /* diversity, 250 */
    double cnt;  /* contrastive, 300 */
    double l1;   /* L1 on the off-class last-layer weights, 1e-4 */
} pe_loss_weights;

/* The authors' weights: clst 0.004, sep 0.0004, div 250, cnt 300, l1 1e-4. */
pe_loss_weights pe_loss_weights_default(void);

/* ---- BCE with logits and pos_weight ------------------------------------------------
 * x (B, C) logits, y (B, C) targets in {0,1}, pos_weight (C) or NULL (all 1).
 * L = mean over B*C of -[w_c y log sig(x) + (1-y) log(1-sig(x))], computed in the stable
 * form of torch.nn.BCEWithLogitsLoss(pos_weight=w):
 *   l = (1-y) x + (1 + (w-1) y) (log1p(exp(-|x|)) + max(-x, 0)).
 * dx (B, C) += scale * (sig(x)(1-y) - w y (1-sig(x))) / (B*C). */
double pe_loss_bce(float *dx, const float *x, const uint8_t *y, const float *pos_weight, int B,
                   int C, double scale);
/* The same on the first C columns of x and dx with rows of ld >= C floats (y stays
 * (B, C)): one part of a wider head's outputs, read and written in place. */
double pe_loss_bce_ld(float *dx, const float *x, int ld, const uint8_t *y,
                      const float *pos_weight, int B, int C, double scale);

/* ---- clustering --------------------------------------------------------------------
 * s (B, P) similarities, y (B, C) labels, P = C*K.
 * A_bc = max over p of s_bp * I_pc * y_bc (the masked products are 0 and take part in the
 * max, so A_bc >= 0); L = -mean over B*C of A_bc.
 * ds (B, P) += scale * dL/ds: -1/(B*C) at the first maximal p of each (b, c), when that
 * p is unmasked (a masked argmax carries no gradient). */
double pe_loss_clst(float *ds, const float *s, const uint8_t *y, int B, int C, int K,
                    double scale);

/* ---- separation --------------------------------------------------------------------
 * E_bc = max over p of s_bp * (1 - I_pc * y_bc); L = +mean over B*C of E_bc.
 * ds (B, P) += scale * dL/ds: +1/(B*C) at the first maximal unmasked p of each (b, c). */
double pe_loss_sep(float *ds, const float *s, const uint8_t *y, int B, int C, int K,
                   double scale);

/* Number of doubles of scratch that pe_loss_div / pe_loss_cnt need: 2*P*D + P*P + P. */
size_t pe_loss_proto_scratch_len(int P, int D);

/* ---- diversity ---------------------------------------------------------------------
 * protos (P, D) raw prototypes; Q = row-normalized protos (q = x / max(|x|, 1e-12), as
 * torch.nn.functional.normalize); L = |Q Q^T - I_P|_F^2 / P^2.
 * dprotos (P, D) += scale * dL/dprotos (through the normalization). */
double pe_loss_div(float *dprotos, const float *protos, int P, int D, double *scratch,
                   double scale);

/* ---- contrastive -------------------------------------------------------------------
 * protos (P, D), P = C*K; J (C, C) label co-occurrence (see pe_jaccard).
 * S = clamp(Q Q^T, -1+1e-6, 1-1e-6); Pos = I J I^T, i.e. Pos_pq = J[p/K][q/K];
 * Neg = 1 - Pos; Pos_n = Pos / (sum Pos + 1e-6), Neg_n = Neg / (sum Neg + 1e-6);
 * L = -(sum S*Pos_n - sum S*Neg_n) / sqrt(P).
 * dprotos (P, D) += scale * dL/dprotos (zero through clamped entries of S; the diagonal
 * of Q Q^T is 1, hence clamped, for every nonzero prototype). */
double pe_loss_cnt(float *dprotos, const float *protos, const float *J, int C, int K, int D,
                   double *scratch, double scale);

/* ---- L1 on the last layer (classifier stage) ---------------------------------------
 * W (C, P), P = C*K. L = sum over c, p of |W_cp| (1 - I_pc) (own-class weights are free).
 * dW (C, P) += scale * sign(W_cp) (1 - I_pc), sign(0) = 0. */
double pe_loss_l1(float *dW, const float *W, int C, int K, double scale);

/* ---- Jaccard label co-occurrence ----------------------------------------------------
 * labels (N, C) in {0,1} -> J (C, C), J_cd = |c and d| / |c or d| counted over the N
 * records. 0/0 (neither class has a positive) is defined as 0, so the diagonal is 1 for
 * classes with positives and 0 for classes without; J is symmetric. */
void pe_jaccard(float *J, const uint8_t *labels, long N, int C);

#endif
