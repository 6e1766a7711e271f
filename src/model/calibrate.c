/* Post-training calibration of the int8 inference path (pe_net_calibrate_int8, net.h).
 *
 * The fp32 eval-mode backbone (pe_net_forward, training = 0) runs over the calibration
 * records in batches; after each batch every activation tensor of the fused int8 plan
 * (stem output, each block's conv1 output, downsample output, block output) is read
 * from the net's saved activations. Pass 1 finds max |x| per tensor; for a percentile
 * below 100, pass 2 builds a histogram of |x| over [0, max] per tensor and takes the
 * bin edge where the percentile is reached. Max pool does not change the range, so the
 * stem's ReLU output stands for the pooled tensor too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/backbone.h"
#include "model/infer.h"
#include "model/net.h"
#include "util/error.h"

#define N_TENSORS 25 /* stem + 8 x (c1, down, out) */
#define N_BINS 8192

/* One pass's state over all tensors. */
typedef struct {
    double max[N_TENSORS];
    int64_t *hist;      /* N_TENSORS x N_BINS, pass 2 only */
    int64_t count[N_TENSORS];
} calib_stats;

/* Adds the n values v (with affine map scale/shift per channel when scale != NULL;
 * channel of element i: (i / inner) % C) to tensor t's statistics. */
static void add_values(calib_stats *st, int t, const float *v, size_t n, const float *scale,
                       const float *shift, int C, size_t inner) {
    double m = st->max[t];
    int64_t *h = st->hist ? st->hist + (size_t)t * N_BINS : NULL;
    double to_bin = h && m > 0 ? N_BINS / m : 0;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (scale) {
            int c = (int)((i / inner) % (size_t)C);
            x = x * scale[c] + shift[c];
        }
        double a = fabs((double)x);
        if (h) {
            int b = (int)(a * to_bin);
            h[b >= N_BINS ? N_BINS - 1 : b]++;
        } else if (a > m) {
            m = a;
        }
    }
    st->max[t] = m;
    st->count[t] += (int64_t)n;
}

/* Reads every tensor of the last forward (batch B) into st. */
static void collect(const pe_net *net, int B, calib_stats *st) {
    const pe_convbn *stem = &net->stem;
    add_values(st, 0, net->stem_relu, (size_t)B * stem->shape.Cout * stem->shape.Lout, NULL,
               NULL, 0, 1);
    for (int i = 0; i < 8; i++) {
        const pe_block *b = &net->blocks[i];
        const int C = b->c1.shape.Cout, L = b->c1.shape.Lout;
        const size_t n = (size_t)B * C * L;
        add_values(st, 1 + 3 * i, b->relu1, n, NULL, NULL, 0, 1);
        if (b->has_down) {
            if (b->down.bn_out) { /* reference path: BN output kept, (B, C, L) */
                add_values(st, 2 + 3 * i, b->down.bn_out, n, NULL, NULL, 0, 1);
            } else { /* oneDNN path: conv output (B, L, C), BN applied here */
                const float *g = net->params + b->down.gamma, *be = net->params + b->down.beta;
                const float *rm = net->buffers + b->down.rmean, *rv = net->buffers + b->down.rvar;
                float s[C], t[C];
                pe_batchnorm_eval_affine(s, t, g, be, rm, rv, C, PE_BN_EPS);
                add_values(st, 2 + 3 * i, b->down.conv_out, n, s, t, C, 1);
            }
        }
        add_values(st, 3 + 3 * i, b->out, n, NULL, NULL, 0, 1);
    }
}

/* One pass of eval-mode forwards over the n records. */
static int pass(pe_net *net, const float *x, int n, calib_stats *st, pe_error *e) {
    const size_t rec = (size_t)net->cfg.in_leads * net->cfg.in_len;
    for (int i = 0; i < n; i += net->max_batch) {
        int B = n - i < net->max_batch ? n - i : net->max_batch;
        if (pe_net_forward(net, x + (size_t)i * rec, B, 0, e)) return -1;
        collect(net, B, st);
    }
    return 0;
}

int pe_net_calibrate_int8(pe_net *net, const float *x, int n, double percentile, pe_error *e) {
    if (n < 1) return pe_fail(e, "int8 calibration needs at least one record");
    if (!(percentile > 0 && percentile <= 100))
        return pe_fail(e, "int8 calibration: percentile %g is not in (0, 100]", percentile);
    calib_stats st;
    memset(&st, 0, sizeof st);
    if (pass(net, x, n, &st, e)) return -1;
    double range[N_TENSORS];
    memcpy(range, st.max, sizeof range);
    if (percentile < 100) {
        st.hist = calloc((size_t)N_TENSORS * N_BINS, sizeof *st.hist);
        if (!st.hist) return pe_fail(e, "int8 calibration: out of memory");
        memset(st.count, 0, sizeof st.count);
        int rc = pass(net, x, n, &st, e);
        for (int t = 0; rc == 0 && t < N_TENSORS; t++) {
            if (st.max[t] <= 0) continue;
            const int64_t *h = st.hist + (size_t)t * N_BINS;
            double want = st.count[t] * percentile / 100.0, cum = 0;
            int b = 0;
            while (b < N_BINS - 1 && (cum += (double)h[b]) < want) b++;
            range[t] = st.max[t] * (b + 1) / N_BINS;
        }
        free(st.hist);
        if (rc) return -1;
    }
    pe_int8_calib *c = &net->int8;
    memset(c, 0, sizeof *c);
    /* a tensor that is 0 everywhere gets range 1 (any positive scale represents it) */
#define RANGE(t) (float)(range[t] > 0 ? range[t] : 1.0)
    c->stem = RANGE(0);
    for (int i = 0; i < 8; i++) {
        c->c1[i] = RANGE(1 + 3 * i);
        c->down[i] = net->blocks[i].has_down ? RANGE(2 + 3 * i) : 0.0f;
        c->out[i] = RANGE(3 + 3 * i);
    }
#undef RANGE
    c->n_records = n;
    c->percentile = percentile;
    c->valid = 1;
    pe_net_weights_changed(net);
    return 0;
}
