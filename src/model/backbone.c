/* 1D ResNet-18 backbone forward and backward.
 *
 *   x (B,12,1000) -> conv7/2 + BN + ReLU (B,w,500) -> maxpool3/2 (B,w,250)
 *   -> layer1 (B,w,250) -> layer2 (B,2w,125) -> layer3 (B,4w,63) -> layer4 (B,8w,32)
 *   -> global average pool h (B,8w)
 */
#include "model/backbone.h"

#include <string.h>

#include "util/error.h"

/* ---- conv + BN -------------------------------------------------------------- */

/* in (B,Cin,Lin) -> cb->bn_out (B,Cout,Lout) */
static int convbn_forward(pe_net *net, pe_convbn *cb, const float *in, int B, int training,
                          pe_error *e) {
    pe_conv1d_shape s = cb->shape;
    s.B = B;
    cb->in = in;
    if (net->dnnl) {
        if (pe_dnnl_conv1d_forward(net->dnnl, cb->conv_out, in, net->params + cb->w, &s, e))
            return -1;
    } else {
        pe_conv1d_forward(cb->conv_out, in, net->params + cb->w, &s);
    }
    const float *g = net->params + cb->gamma, *b = net->params + cb->beta;
    float *rm = net->buffers + cb->rmean, *rv = net->buffers + cb->rvar;
    if (training)
        pe_batchnorm_forward_train(cb->bn_out, cb->mean, cb->rstd, cb->conv_out, g, b, rm, rv, B,
                                   s.Cout, s.Lout, PE_BN_MOMENTUM, PE_BN_EPS);
    else
        pe_batchnorm_forward_eval(cb->bn_out, cb->conv_out, g, b, rm, rv, B, s.Cout, s.Lout,
                                  PE_BN_EPS);
    return 0;
}

/* dout (B,Cout,Lout) = d bn_out -> din (B,Cin,Lin) accumulated (may be NULL);
 * tmp holds d conv_out (B*Cout*Lout floats). */
static int convbn_backward(pe_net *net, pe_convbn *cb, float *din, const float *dout, float *tmp,
                           int B, pe_error *e) {
    pe_conv1d_shape s = cb->shape;
    s.B = B;
    size_t n = (size_t)B * s.Cout * s.Lout;
    memset(tmp, 0, n * sizeof(float));
    pe_batchnorm_backward(tmp, net->grads + cb->gamma, net->grads + cb->beta, dout, cb->conv_out,
                          cb->mean, cb->rstd, net->params + cb->gamma, B, s.Cout, s.Lout);
    if (net->dnnl)
        return pe_dnnl_conv1d_backward(net->dnnl, din, net->grads + cb->w, tmp, cb->in,
                                       net->params + cb->w, &s, e);
    pe_conv1d_backward(din, net->grads + cb->w, tmp, cb->in, net->params + cb->w, &s);
    return 0;
}

static size_t act_size(const pe_convbn *cb, int B) {
    return (size_t)B * cb->shape.Cout * cb->shape.Lout;
}

/* ---- BasicBlock ------------------------------------------------------------- */

/* in (B,Cin,Lin) -> blk->out (B,Cout,Lout) */
static int block_forward(pe_net *net, pe_block *blk, const float *in, int B, int training,
                         pe_error *e) {
    size_t n = act_size(&blk->c1, B);
    if (convbn_forward(net, &blk->c1, in, B, training, e)) return -1;
    pe_relu_forward(blk->relu1, blk->c1.bn_out, n);
    if (convbn_forward(net, &blk->c2, blk->relu1, B, training, e)) return -1;
    const float *shortcut = in;
    if (blk->has_down) {
        if (convbn_forward(net, &blk->down, in, B, training, e)) return -1;
        shortcut = blk->down.bn_out;
    }
    pe_add_forward(blk->out, blk->c2.bn_out, shortcut, n);
    pe_relu_forward(blk->out, blk->out, n);
    return 0;
}

/* dout (B,Cout,Lout) -> din (B,Cin,Lin), accumulated; din must be zeroed by the caller.
 * Uses s[0..2] as scratch of the largest activation size. */
static int block_backward(pe_net *net, pe_block *blk, float *din, const float *dout, float **s,
                          int B, pe_error *e) {
    size_t n = act_size(&blk->c1, B);
    float *dsum = s[0], *drelu1 = s[1], *tmp = s[2];
    memset(dsum, 0, n * sizeof(float));
    pe_relu_backward(dsum, dout, blk->out, n);
    memset(drelu1, 0, n * sizeof(float));
    if (convbn_backward(net, &blk->c2, drelu1, dsum, tmp, B, e)) return -1;
    /* drelu1 -> d c1.bn_out, in place: relu backward into tmp then c1 backward */
    memset(tmp, 0, n * sizeof(float));
    pe_relu_backward(tmp, drelu1, blk->relu1, n);
    if (convbn_backward(net, &blk->c1, din, tmp, drelu1, B, e)) return -1;
    if (blk->has_down) {
        if (convbn_backward(net, &blk->down, din, dsum, tmp, B, e)) return -1;
    } else {
        for (size_t i = 0; i < n; i++) din[i] += dsum[i];
    }
    return 0;
}

/* ---- whole backbone --------------------------------------------------------- */

int pe_backbone_forward(pe_net *net, const float *x, int B, int training, pe_error *e) {
    if (net->dnnl) return pe_backbone_nwc_forward(net, x, B, training, e);
    if (convbn_forward(net, &net->stem, x, B, training, e)) return -1;
    size_t n = act_size(&net->stem, B);
    pe_relu_forward(net->stem_relu, net->stem.bn_out, n);
    int C = net->stem.shape.Cout, L = net->stem.shape.Lout;
    pe_maxpool1d_forward(net->pool_out, net->pool_arg, net->stem_relu, B, C, L, 3, 2, 1);
    const float *cur = net->pool_out;
    for (int i = 0; i < 8; i++) {
        if (block_forward(net, &net->blocks[i], cur, B, training, e)) return -1;
        cur = net->blocks[i].out;
    }
    const pe_convbn *last = &net->blocks[7].c2;
    pe_gap_forward(net->h, cur, B, last->shape.Cout, last->shape.Lout);
    if (training) net->num_batches_tracked++;
    return 0;
}

int pe_backbone_backward(pe_net *net, const float *dh, int B, pe_error *e) {
    if (net->dnnl) return pe_backbone_nwc_backward(net, dh, B, e);
    float *g = net->scratch[3], *gnext = net->scratch[4];
    const pe_convbn *last = &net->blocks[7].c2;
    memset(g, 0, act_size(last, B) * sizeof(float));
    pe_gap_backward(g, dh, B, last->shape.Cout, last->shape.Lout);
    for (int i = 7; i >= 0; i--) {
        pe_block *blk = &net->blocks[i];
        size_t nin = (size_t)B * blk->c1.shape.Cin * blk->c1.shape.Lin;
        memset(gnext, 0, nin * sizeof(float));
        if (block_backward(net, blk, gnext, g, net->scratch, B, e)) return -1;
        float *t = g;
        g = gnext;
        gnext = t;
    }
    /* g = d pool_out (B,w,250) -> d stem_relu -> d stem bn_out */
    int C = net->stem.shape.Cout, L = net->stem.shape.Lout;
    size_t n = act_size(&net->stem, B);
    memset(gnext, 0, n * sizeof(float));
    pe_maxpool1d_backward(gnext, g, net->pool_arg, B, C, L, pe_conv1d_out_len(L, 3, 2, 1));
    float *dbn = net->scratch[0];
    memset(dbn, 0, n * sizeof(float));
    pe_relu_backward(dbn, gnext, net->stem_relu, n);
    return convbn_backward(net, &net->stem, NULL, dbn, net->scratch[1], B, e);
}
