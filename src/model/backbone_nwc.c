/* 1D ResNet-18 backbone, fused channels-last path (used when the net has oneDNN).
 *
 * Same function as the reference passes of backbone.c, but every activation is
 * (B, L, C) so the oneDNN convolutions read and write the net's buffers without
 * reorders, and the elementwise work is fused (nn/nwc.h):
 *   forward  conv -> BN statistics -> one pass BN+ReLU (stem, c1) or
 *            BN(c2) + BN(down) or identity + add + ReLU (block output)
 *   backward one pass: ReLU mask of the block output, summed incoming gradients,
 *            BN sums of c2 (and down) -> one pass per BN for d conv_out -> conv
 *            backward (din overwritten, dw accumulated)
 * BN outputs are not stored (backward needs conv_out, mean, rstd and the ReLU
 * outputs only). Eval mode (training = 0) uses the running statistics.
 *
 * Backward keeps gradients in the net's five scratch buffers; the gradient flowing
 * into a block output is the sum of two buffers (the c1 and shortcut paths of the
 * block after it), added where it is read. */
#include "model/backbone.h"

#include <string.h>

#include "nn/nwc.h"
#include "util/error.h"

static void set_mode(pe_net *net) {
    pe_dnnl_mode m = {.nwc = 1, .bf16 = net->precision == PE_PREC_BF16, .din_overwrite = 1};
    pe_dnnl_set_mode(net->dnnl, m);
}

/* in (B, Lin, Cin) -> cb->conv_out (B, Lout, Cout) */
static int conv_forward(pe_net *net, pe_convbn *cb, const float *in, int B, pe_error *e) {
    pe_conv1d_shape s = cb->shape;
    s.B = B;
    cb->in = in;
    return pe_dnnl_conv1d_forward(net->dnnl, cb->conv_out, in, net->params + cb->w, &s, e);
}

/* The affine map of cb's BN: batch statistics (saved in cb->mean/rstd, running
 * statistics updated) in training mode, running statistics in eval mode. */
static void bn_affine(pe_net *net, pe_convbn *cb, int B, int training, float *scale,
                      float *shift) {
    const int C = cb->shape.Cout;
    const float *g = net->params + cb->gamma, *b = net->params + cb->beta;
    float *rm = net->buffers + cb->rmean, *rv = net->buffers + cb->rvar;
    if (training) {
        pe_nwc_bn_stats(cb->mean, cb->rstd, rm, rv, cb->conv_out, (long)B * cb->shape.Lout, C,
                        PE_BN_MOMENTUM, PE_BN_EPS, net->nwc_work);
        pe_nwc_bn_scale_shift(scale, shift, g, b, cb->mean, cb->rstd, C);
    } else {
        pe_batchnorm_eval_affine(scale, shift, g, b, rm, rv, C, PE_BN_EPS);
    }
}

/* in (B, Lin, Cin) -> blk->out (B, Lout, Cout) */
static int block_forward(pe_net *net, pe_block *blk, const float *in, int B, int training,
                         pe_error *e) {
    const int C = blk->c1.shape.Cout;
    const long R = (long)B * blk->c1.shape.Lout;
    float s1[C], t1[C], s2[C], t2[C], sd[C], td[C];
    if (conv_forward(net, &blk->c1, in, B, e)) return -1;
    bn_affine(net, &blk->c1, B, training, s1, t1);
    pe_nwc_affine(blk->relu1, blk->c1.conv_out, s1, t1, R, C, 1);
    if (conv_forward(net, &blk->c2, blk->relu1, B, e)) return -1;
    bn_affine(net, &blk->c2, B, training, s2, t2);
    if (blk->has_down) {
        if (conv_forward(net, &blk->down, in, B, e)) return -1;
        bn_affine(net, &blk->down, B, training, sd, td);
        pe_nwc_affine_add_relu(blk->out, blk->c2.conv_out, s2, t2, blk->down.conv_out, sd, td, R,
                               C);
    } else {
        pe_nwc_affine_add_relu(blk->out, blk->c2.conv_out, s2, t2, in, NULL, NULL, R, C);
    }
    return 0;
}

int pe_backbone_nwc_forward(pe_net *net, const float *x, int B, int training, pe_error *e) {
    set_mode(net);
    pe_convbn *stem = &net->stem;
    pe_nwc_from_ncw(net->x_nwc, x, B, stem->shape.Cin, stem->shape.Lin);
    if (conv_forward(net, stem, net->x_nwc, B, e)) return -1;
    const int C = stem->shape.Cout, L = stem->shape.Lout;
    float s[C], t[C];
    bn_affine(net, stem, B, training, s, t);
    pe_nwc_affine(net->stem_relu, stem->conv_out, s, t, (long)B * L, C, 1);
    pe_nwc_maxpool_forward(net->pool_out, net->pool_arg, net->stem_relu, B, L, C, 3, 2, 1);
    const float *cur = net->pool_out;
    for (int i = 0; i < 8; i++) {
        if (block_forward(net, &net->blocks[i], cur, B, training, e)) return -1;
        cur = net->blocks[i].out;
    }
    const pe_convbn *last = &net->blocks[7].c2;
    pe_nwc_gap_forward(net->h, cur, B, last->shape.Lout, last->shape.Cout);
    if (training) net->num_batches_tracked++;
    return 0;
}

/* ---- backward ------------------------------------------------------------------ */

/* Lowest scratch index not in the bit set `used`. */
static int pick_free(unsigned used) {
    for (int i = 0; i < 5; i++)
        if (!(used & (1u << i))) return i;
    return -1; /* unreachable: at most 4 buffers are live */
}

/* Adds BN parameter gradients from the backward sums. */
static void bn_param_grads(pe_net *net, const pe_convbn *cb, const double *sg, const double *sgx) {
    float *dg = net->grads + cb->gamma, *db = net->grads + cb->beta;
    for (int c = 0; c < cb->shape.Cout; c++) {
        dg[c] += (float)sgx[c];
        db[c] += (float)sg[c];
    }
}

/* conv backward: din (may be NULL) = d in, dw += d weights, from dconv = d conv_out. */
static int conv_backward(pe_net *net, pe_convbn *cb, float *din, const float *dconv, int B,
                         pe_error *e) {
    pe_conv1d_shape s = cb->shape;
    s.B = B;
    return pe_dnnl_conv1d_backward(net->dnnl, din, net->grads + cb->w, dconv, cb->in,
                                   net->params + cb->w, &s, e);
}

/* The gradient of blk->out is S[*ga] + S[*gb] (*gb < 0: none); on return the gradient
 * of the block input is S[*ga] + S[*gb]. */
static int block_backward(pe_net *net, pe_block *blk, int *ga, int *gb, int B, pe_error *e) {
    float **S = net->scratch;
    const int C = blk->c1.shape.Cout;
    const long R = (long)B * blk->c1.shape.Lout;
    double sg2[C], sgx2[C], sgd[C], sgxd[C], sg1[C], sgx1[C];
    pe_convbn *c1 = &blk->c1, *c2 = &blk->c2, *dn = blk->has_down ? &blk->down : NULL;
    /* g = (ga + gb) * [out > 0] in place in S[ga]; BN sums of c2 and down */
    const int g = *ga;
    pe_nwc_bn_backward_sums(sg2, sgx2, sgd, sgxd, S[g], S[g], *gb >= 0 ? S[*gb] : NULL, blk->out,
                            c2->conv_out, c2->mean, c2->rstd, dn ? dn->conv_out : NULL,
                            dn ? dn->mean : NULL, dn ? dn->rstd : NULL, R, C, net->nwc_work);
    bn_param_grads(net, c2, sg2, sgx2);
    unsigned used = 1u << g;
    /* d c2.conv_out and d down.conv_out */
    const int t2 = pick_free(used);
    used |= 1u << t2;
    pe_nwc_bn_backward_apply(S[t2], S[g], c2->conv_out, c2->mean, c2->rstd,
                             net->params + c2->gamma, sg2, sgx2, R, C);
    int td = -1;
    if (dn) {
        bn_param_grads(net, dn, sgd, sgxd);
        td = pick_free(used);
        used |= 1u << td;
        pe_nwc_bn_backward_apply(S[td], S[g], dn->conv_out, dn->mean, dn->rstd,
                                 net->params + dn->gamma, sgd, sgxd, R, C);
        used &= ~(1u << g); /* g is consumed; the identity path would keep it */
    }
    /* c2 backward -> d relu1, then ReLU mask and BN of c1 in place */
    const int t1 = pick_free(used);
    used |= 1u << t1;
    if (conv_backward(net, c2, S[t1], S[t2], B, e)) return -1;
    used &= ~(1u << t2);
    pe_nwc_bn_backward_sums(sg1, sgx1, NULL, NULL, S[t1], S[t1], NULL, blk->relu1, c1->conv_out,
                            c1->mean, c1->rstd, NULL, NULL, NULL, R, C, net->nwc_work);
    bn_param_grads(net, c1, sg1, sgx1);
    pe_nwc_bn_backward_apply(S[t1], S[t1], c1->conv_out, c1->mean, c1->rstd,
                             net->params + c1->gamma, sg1, sgx1, R, C);
    /* c1 backward -> first part of d in; the shortcut gives the second */
    const int oa = pick_free(used);
    used |= 1u << oa;
    if (conv_backward(net, c1, S[oa], S[t1], B, e)) return -1;
    used &= ~(1u << t1);
    int ob = g;
    if (dn) {
        ob = pick_free(used);
        if (conv_backward(net, dn, S[ob], S[td], B, e)) return -1;
    }
    *ga = oa;
    *gb = ob;
    return 0;
}

int pe_backbone_nwc_backward(pe_net *net, const float *dh, int B, pe_error *e) {
    set_mode(net);
    float **S = net->scratch;
    const pe_convbn *last = &net->blocks[7].c2;
    int ga = 0, gb = -1;
    pe_nwc_gap_backward(S[ga], dh, B, last->shape.Lout, last->shape.Cout);
    for (int i = 7; i >= 0; i--)
        if (block_backward(net, &net->blocks[i], &ga, &gb, B, e)) return -1;
    /* maxpool -> d stem_relu -> ReLU mask + stem BN -> d conv_out -> weights only */
    pe_convbn *stem = &net->stem;
    const int C = stem->shape.Cout, L = stem->shape.Lout;
    const long R = (long)B * L;
    const int d = pick_free((1u << ga) | (gb >= 0 ? 1u << gb : 0u));
    pe_nwc_maxpool_backward(S[d], S[ga], gb >= 0 ? S[gb] : NULL, net->pool_arg, B, L, pe_conv1d_out_len(L, 3, 2, 1),
                            C);
    double sg[C], sgx[C];
    pe_nwc_bn_backward_sums(sg, sgx, NULL, NULL, S[d], S[d], NULL, net->stem_relu, stem->conv_out,
                            stem->mean, stem->rstd, NULL, NULL, NULL, R, C, net->nwc_work);
    bn_param_grads(net, stem, sg, sgx);
    pe_nwc_bn_backward_apply(S[d], S[d], stem->conv_out, stem->mean, stem->rstd,
                             net->params + stem->gamma, sg, sgx, R, C);
    return conv_backward(net, stem, NULL, S[d], B, e);
}
