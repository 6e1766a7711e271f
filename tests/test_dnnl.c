/* oneDNN conv1d backend (src/nn/dnnl_backend.c) against a straightforward
 * triple-loop convolution in double written here (independent of nn/conv1d.c):
 * forward, backward data and weights on every ResNet-18 conv shape at a small batch
 * and on random odd shapes; accumulation (+=) and NULL gradients; cache reuse per
 * shape and per thread count; invalid shapes are rejected with a message.
 * PE_TEST_QUICK=1 (sanitizer run) keeps the batch at 1 and fewer random shapes. */
#include "check.h"
#include "nn/dnnl_backend.h"
#include "util/rng.h"

#include <omp.h>

static pe_conv1d_shape shape(int B, int Cin, int Cout, int Lin, int K, int stride, int pad) {
    pe_conv1d_shape s = {B, Cin, Cout, Lin, (Lin + 2 * pad - K) / stride + 1, K, stride, pad};
    return s;
}

/* out[b][o][t] = sum_{c,k} in[b][c][t*stride + k - pad] * w[o][c][k] (zero padding) */
static void ref_forward(double *out, const float *in, const float *w, const pe_conv1d_shape *s) {
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->Cout; o++)
            for (int t = 0; t < s->Lout; t++) {
                double acc = 0;
                for (int c = 0; c < s->Cin; c++)
                    for (int k = 0; k < s->K; k++) {
                        int i = t * s->stride + k - s->pad;
                        if (i >= 0 && i < s->Lin)
                            acc += (double)in[((size_t)b * s->Cin + c) * s->Lin + i] *
                                   w[((size_t)o * s->Cin + c) * s->K + k];
                    }
                out[((size_t)b * s->Cout + o) * s->Lout + t] = acc;
            }
}

/* din = d out / d in, dw = d out / d w, for the loss sum(out * dout). */
static void ref_backward(double *din, double *dw, const float *dout, const float *in,
                         const float *w, const pe_conv1d_shape *s) {
    memset(din, 0, sizeof(double) * s->B * s->Cin * s->Lin);
    memset(dw, 0, sizeof(double) * s->Cout * s->Cin * s->K);
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->Cout; o++)
            for (int t = 0; t < s->Lout; t++) {
                double g = dout[((size_t)b * s->Cout + o) * s->Lout + t];
                for (int c = 0; c < s->Cin; c++)
                    for (int k = 0; k < s->K; k++) {
                        int i = t * s->stride + k - s->pad;
                        if (i < 0 || i >= s->Lin) continue;
                        size_t ii = ((size_t)b * s->Cin + c) * s->Lin + i;
                        size_t wi = ((size_t)o * s->Cin + c) * s->K + k;
                        din[ii] += g * w[wi];
                        dw[wi] += g * in[ii];
                    }
            }
}

static float *randn(pe_rng *r, size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)pe_rng_normal(r);
    return p;
}

/* Checks got[i] == base[i] + ref[i] (base NULL: 0) within 1e-4 relative, where the
 * absolute part is scaled by the RMS of ref. Reports the worst element once. */
static void compare(const char *what, const pe_conv1d_shape *s, const float *got,
                    const float *base, const double *ref, size_t n) {
    double rms = 0;
    for (size_t i = 0; i < n; i++) rms += ref[i] * ref[i];
    rms = sqrt(rms / (double)n) + 1e-30;
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double want = ref[i] + (base ? base[i] : 0.0);
        double err = fabs(got[i] - want) / (1e-4 * rms + 1e-4 * fabs(want));
        if (!(err <= worst)) { /* also catches NaN */
            worst = isnan(err) ? INFINITY : err;
            wi = i;
        }
    }
    CHECK_MSG(worst <= 1.0,
              "%s B=%d Cin=%d Cout=%d Lin=%d K=%d s=%d p=%d: element %zu got %.8g want %.8g "
              "(error %.2f x tolerance)",
              what, s->B, s->Cin, s->Cout, s->Lin, s->K, s->stride, s->pad, wi, got[wi],
              ref[wi] + (base ? base[wi] : 0.0), worst);
}

/* Runs forward + backward (twice, to exercise the warm path) and compares. */
static void check_shape(pe_dnnl *ctx, pe_rng *r, const pe_conv1d_shape *s) {
    pe_error e = {{0}};
    size_t nin = (size_t)s->B * s->Cin * s->Lin, nw = (size_t)s->Cout * s->Cin * s->K;
    size_t nout = (size_t)s->B * s->Cout * s->Lout;
    float *in = randn(r, nin), *w = randn(r, nw), *dout = randn(r, nout);
    float *out = malloc(nout * sizeof *out);
    float *din = randn(r, nin), *dw = randn(r, nw); /* nonzero: backward must add */
    float *din0 = malloc(nin * sizeof *din0), *dw0 = malloc(nw * sizeof *dw0);
    memcpy(din0, din, nin * sizeof *din);
    memcpy(dw0, dw, nw * sizeof *dw);
    double *rout = malloc(nout * sizeof *rout), *rdin = malloc(nin * sizeof *rdin);
    double *rdw = malloc(nw * sizeof *rdw);
    ref_forward(rout, in, w, s);
    ref_backward(rdin, rdw, dout, in, w, s);

    int n0 = pe_dnnl_cache_size(ctx);
    for (int rep = 0; rep < 2; rep++) {
        for (size_t i = 0; i < nout; i++) out[i] = NAN; /* forward must overwrite */
        CHECK_MSG(pe_dnnl_conv1d_forward(ctx, out, in, w, s, &e) == 0, "%s", e.msg);
        compare("forward", s, out, NULL, rout, nout);
        memcpy(din, din0, nin * sizeof *din);
        memcpy(dw, dw0, nw * sizeof *dw);
        CHECK_MSG(pe_dnnl_conv1d_backward(ctx, din, dw, dout, in, w, s, &e) == 0, "%s", e.msg);
        compare("backward din", s, din, din0, rdin, nin);
        compare("backward dw", s, dw, dw0, rdw, nw);
    }
    /* One gradient at a time (NULL = not needed), accumulating onto the previous result. */
    memcpy(din0, din, nin * sizeof *din);
    memcpy(dw0, dw, nw * sizeof *dw);
    CHECK(pe_dnnl_conv1d_backward(ctx, din, NULL, dout, in, w, s, &e) == 0);
    CHECK(pe_dnnl_conv1d_backward(ctx, NULL, dw, dout, in, w, s, &e) == 0);
    compare("backward din only", s, din, din0, rdin, nin);
    compare("backward dw only", s, dw, dw0, rdw, nw);
    CHECK_MSG(pe_dnnl_cache_size(ctx) <= n0 + 1, "cache grew by %d for one shape",
              pe_dnnl_cache_size(ctx) - n0);

    free(in), free(w), free(dout), free(out), free(din), free(dw), free(din0), free(dw0);
    free(rout), free(rdin), free(rdw);
}

int main(void) {
    int quick = getenv("PE_TEST_QUICK") && atoi(getenv("PE_TEST_QUICK"));
    pe_error e = {{0}};
    pe_rng r;
    pe_rng_seed(&r, 1234);
    pe_dnnl *ctx = pe_dnnl_create(&e);
    CHECK_MSG(ctx != NULL, "%s", e.msg);
    if (!ctx) TEST_END();

    /* Every conv of the 1D ResNet-18 (lengths 1000 -> 500 -> maxpool 250 -> 125 -> 63 -> 32). */
    int B = quick ? 1 : 2;
    pe_conv1d_shape resnet[] = {
        shape(B, 12, 64, 1000, 7, 2, 3),                              /* stem */
        shape(B, 64, 64, 250, 3, 1, 1),                               /* layer1 */
        shape(B, 64, 128, 250, 3, 2, 1), shape(B, 128, 128, 125, 3, 1, 1),
        shape(B, 64, 128, 250, 1, 2, 0),                              /* layer2 + shortcut */
        shape(B, 128, 256, 125, 3, 2, 1), shape(B, 256, 256, 63, 3, 1, 1),
        shape(B, 128, 256, 125, 1, 2, 0),                             /* layer3 + shortcut */
        shape(B, 256, 512, 63, 3, 2, 1), shape(B, 512, 512, 32, 3, 1, 1),
        shape(B, 256, 512, 63, 1, 2, 0),                              /* layer4 + shortcut */
    };
    int nres = (int)(sizeof resnet / sizeof *resnet), nres_skipped = 0;
    for (int i = 0; i < nres; i++) {
        const pe_conv1d_shape *s = &resnet[i];
        double macs = (double)s->B * s->Cout * s->Cin * s->K * s->Lout;
        if (quick && macs > 5e6) { /* the -O0 reference is the bottleneck under ASan */
            nres_skipped++;
            continue;
        }
        check_shape(ctx, &r, s);
    }
    int ncached = nres - nres_skipped;
    CHECK_MSG(pe_dnnl_cache_size(ctx) == ncached, "cache size %d, want %d (one per shape)",
              pe_dnnl_cache_size(ctx), ncached);

    /* Same shapes again: nothing new is created. */
    for (int i = 0; i < 5; i += 2) check_shape(ctx, &r, &resnet[i]);
    CHECK(pe_dnnl_cache_size(ctx) == ncached);

    /* Odd random shapes, including pad_r < 0 (trailing input samples unused), K = Lin + 2p,
     * stride > K, and more padding than kernel. */
    pe_conv1d_shape odd[] = {
        shape(3, 5, 7, 17, 4, 3, 2), shape(1, 1, 1, 1, 1, 1, 0), shape(2, 3, 2, 10, 2, 3, 0),
        shape(2, 3, 4, 5, 9, 1, 2),  shape(1, 2, 3, 9, 1, 4, 0), shape(2, 4, 3, 6, 2, 2, 3),
    };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) check_shape(ctx, &r, &odd[i]);
    int nrand = quick ? 4 : 20;
    for (int i = 0; i < nrand; i++) {
        int K = 1 + (int)pe_rng_below(&r, 7), stride = 1 + (int)pe_rng_below(&r, 3);
        int pad = (int)pe_rng_below(&r, (uint64_t)K);
        int Lin = K + (int)pe_rng_below(&r, 60);
        pe_conv1d_shape s = shape(1 + (int)pe_rng_below(&r, 3), 1 + (int)pe_rng_below(&r, 40),
                                  1 + (int)pe_rng_below(&r, 40), Lin, K, stride, pad);
        check_shape(ctx, &r, &s);
    }

    /* The thread count is part of the key: another count means another entry. */
    int n = pe_dnnl_cache_size(ctx), nthr = omp_get_max_threads();
    omp_set_num_threads(nthr == 1 ? 2 : 1);
    check_shape(ctx, &r, &resnet[1]);
    CHECK(pe_dnnl_cache_size(ctx) == n + 1);
    omp_set_num_threads(nthr);
    check_shape(ctx, &r, &resnet[1]);
    CHECK(pe_dnnl_cache_size(ctx) == n + 1);

    /* Invalid shapes are rejected with a message naming the shape. */
    float x[64] = {0};
    pe_conv1d_shape bad = shape(1, 2, 2, 4, 3, 1, 0);
    bad.Lout = 5;
    CHECK(pe_dnnl_conv1d_forward(ctx, x, x, x, &bad, &e) == -1);
    CHECK_CONTAINS(e.msg, "invalid conv1d shape");
    CHECK_CONTAINS(e.msg, "Lout=5");
    bad = shape(1, 2, 2, 2, 5, 1, 0); /* kernel longer than the padded input */
    CHECK(pe_dnnl_conv1d_backward(ctx, x, x, x, x, x, &bad, &e) == -1);
    CHECK_CONTAINS(e.msg, "K=5");
    CHECK(pe_dnnl_conv1d_forward(NULL, x, x, x, &resnet[0], &e) == -1);

    pe_dnnl_destroy(ctx);
    pe_dnnl_destroy(NULL);
    TEST_END();
}
