/* The last layer fit on fixed similarities, full batch: the classifier stage's objective
 *   F(W) = BCE(S W^T, Y; pos_weight)  (mean over N*C, as pe_loss_bce)
 *        + l1 * sum over c, p of |W_cp| (1 - I_pc)   (off-class weights only, pe_loss_l1)
 * is convex in W (C, P), the similarities S (N, P) being fixed once the prototypes are.
 * pe_last_layer_fista takes `iters` steps of FISTA (accelerated proximal gradient, Beck &
 * Teboulle 2009) from W: a gradient step on the BCE with a step 1/L_c per class row
 * (L_c = max(w_c, 1) / 4 * lambda_max(S^T S / N) / C bounds the curvature of row c's BCE),
 * then the L1 term's proximal map, a soft threshold of the off-class entries by
 * l1 / L_c. With nonneg_own, the own-class weights are kept >= 0 (their proximal map
 * is max(0, x)): a prototype can then only raise its own class's score, as an
 * explanation "this ECG looks like that prototype of class c" implies; without it the
 * solver gives correlated prototypes of one class weights of both signs. The momentum
 * starts anew at every call, so a call is a function of W alone (what a checkpoint
 * holds). Minibatch Adam on the same objective (the authors' way) moves slowly once the
 * rare classes' weights are large and stops far from the minimum; FISTA converges to it
 * (O(1/k^2) in the objective). */
#ifndef PE_TRAIN_LAST_LAYER_H
#define PE_TRAIN_LAST_LAYER_H

#include <stdint.h>

#include "util/error.h"

/* S (N, P), Y (N, C), pos_weight (C) or NULL, P = C*K; W (C, P) in/out (with nonneg_own,
 * negative own-class entries of the starting W are set to 0 by the first step).
 * *objective = F(W) at the returned W (BCE and L1 sum in *bce, *l1_sum; each optional). */
int pe_last_layer_fista(float *W, const float *S, const uint8_t *Y, long N, int C, int K,
                        const float *pos_weight, double l1, int nonneg_own, int iters,
                        double *objective, double *bce, double *l1_sum, pe_error *e);

#endif
