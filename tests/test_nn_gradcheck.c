/* Finite-difference gradient checks of every layer in nn/nn.h.
 *
 * For a layer y = f(x, params) and a fixed random R, the scalar loss is
 * L = sum(y * R) (accumulated in double), so dL/dy = R is what backward receives.
 * Each input and parameter gradient is compared with the central difference
 * (L(x + h) - L(x - h)) / 2h; an element counts as wrong only when both its
 * absolute and its relative error exceed the tolerances. Also checked: backward
 * accumulates (two calls give twice the gradient) and NULL gradients are skipped.
 * Finally the reference conv1d is timed on two representative ResNet layers. */
#include "check.h"
#include "nn/nn.h"
#include "util/rng.h"

#include <omp.h>

#define ATOL 2e-3
#define RTOL 1e-2

static pe_rng rng;

static float *fill_normal(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * pe_rng_normal(&rng));
    return x;
}
static float *fill_uniform(size_t n) { /* U(-1, 1) */
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * pe_rng_uniform(&rng) - 1.0);
    return x;
}
static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Compares the analytic gradient g of loss() w.r.t. x (n values) with central
 * differences of step h on every element. Returns the number of bad elements. */
typedef double (*loss_fn)(void *ctx);
static int gradcheck(const char *what, loss_fn loss, void *ctx, float *x, const float *g,
                     size_t n, float h) {
    int bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float x0 = x[i];
        x[i] = x0 + h;
        const double lp = loss(ctx);
        x[i] = x0 - h;
        const double lm = loss(ctx);
        x[i] = x0;
        const double num = (lp - lm) / (2.0 * (double)h);
        const double aerr = fabs(num - g[i]);
        const double rerr = aerr / fmax(fabs(num), fabs(g[i]));
        if (aerr > ATOL && rerr > RTOL) {
            if (bad < 5)
                fprintf(stderr, "%s[%zu]: analytic %.7g numeric %.7g\n", what, i, g[i], num);
            bad++;
        }
        if (aerr > ATOL && rerr > worst) worst = rerr;
    }
    CHECK_MSG(bad == 0, "%s: %d of %zu gradient elements wrong", what, bad, n);
    return bad;
}

/* Backward accumulates: g2 (after a second backward call) must be 2 * g1. */
static void check_doubled(const char *what, const float *g1, const float *g2, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(g2[i] - 2.0f * g1[i]) > 1e-5f * (1.0f + fabsf(2.0f * g1[i]))) bad++;
    CHECK_MSG(bad == 0, "%s: backward does not accumulate (%d of %zu elements)", what, bad, n);
}

static int same(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* ---- conv1d ---------------------------------------------------------------- */
typedef struct {
    pe_conv1d_shape s;
    float *in, *w, *out, *R;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    pe_conv1d_forward(c->out, c->in, c->w, &c->s);
    return dot(c->out, c->R, (size_t)c->s.B * c->s.Cout * c->s.Lout);
}

static void test_conv(int B, int Cin, int Cout, int Lin, int K, int stride, int pad) {
    conv_ctx c = {pe_conv1d_make_shape(B, Cin, Cout, Lin, K, stride, pad), 0, 0, 0, 0};
    const pe_conv1d_shape *s = &c.s;
    CHECK(s->Lout == (Lin + 2 * pad - K) / stride + 1 && s->K == K && s->pad == pad);
    size_t nin = (size_t)B * Cin * Lin, nw = (size_t)Cout * Cin * K,
           nout = (size_t)B * Cout * s->Lout;
    c.in = fill_normal(nin, 1.0f);
    c.w = fill_normal(nw, 0.5f);
    c.out = fill_normal(nout, 100.0f); /* garbage: forward must overwrite */
    c.R = fill_uniform(nout);
    float *din = zeros(nin), *dw = zeros(nw);
    conv_loss(&c);
    pe_conv1d_backward(din, dw, c.R, c.in, c.w, s);
    char name[128];
    snprintf(name, sizeof name, "conv1d(B%d Cin%d Cout%d L%d K%d s%d p%d) din", B, Cin, Cout, Lin,
             K, stride, pad);
    gradcheck(name, conv_loss, &c, c.in, din, nin, 1e-2f);
    snprintf(name, sizeof name, "conv1d(B%d Cin%d Cout%d L%d K%d s%d p%d) dw", B, Cin, Cout, Lin,
             K, stride, pad);
    gradcheck(name, conv_loss, &c, c.w, dw, nw, 1e-2f);

    /* accumulation and NULL gradients */
    float *din2 = zeros(nin), *dw2 = zeros(nw);
    pe_conv1d_backward(din2, dw2, c.R, c.in, c.w, s);
    pe_conv1d_backward(din2, dw2, c.R, c.in, c.w, s);
    check_doubled("conv1d din", din, din2, nin);
    check_doubled("conv1d dw", dw, dw2, nw);
    memset(din2, 0, nin * sizeof(float));
    memset(dw2, 0, nw * sizeof(float));
    pe_conv1d_backward(din2, NULL, c.R, c.in, c.w, s);
    pe_conv1d_backward(NULL, dw2, c.R, c.in, c.w, s);
    CHECK(same(din, din2, nin) && same(dw, dw2, nw));
    free(c.in), free(c.w), free(c.out), free(c.R), free(din), free(dw), free(din2), free(dw2);
}

/* ---- batch norm (training mode) ---------------------------------------------- */
typedef struct {
    int B, C, L;
    float *in, *gamma, *beta, *out, *R, *mean, *rstd, *rm, *rv;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    pe_batchnorm_forward_train(c->out, c->mean, c->rstd, c->in, c->gamma, c->beta, c->rm, c->rv,
                               c->B, c->C, c->L, 0.1f, 1e-5f);
    return dot(c->out, c->R, (size_t)c->B * c->C * c->L);
}

static void test_bn(int B, int C, int L) {
    bn_ctx c = {B, C, L, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t n = (size_t)B * C * L;
    c.in = fill_normal(n, 2.0f);
    for (size_t i = 0; i < n; i++) c.in[i] += 0.5f; /* non-zero mean */
    c.gamma = fill_normal(C, 1.0f);
    c.beta = fill_normal(C, 1.0f);
    c.out = zeros(n);
    c.R = fill_uniform(n);
    c.mean = zeros(C), c.rstd = zeros(C), c.rm = zeros(C), c.rv = zeros(C);
    float *din = zeros(n), *dg = zeros(C), *db = zeros(C);
    bn_loss(&c);
    /* forward sanity, independent of the backward: per-channel mean/var of xhat */
    for (int ch = 0; ch < C; ch++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                double xh = (c.out[((size_t)b * C + ch) * L + l] - c.beta[ch]) / c.gamma[ch];
                s1 += xh, s2 += xh * xh;
            }
        double m = s1 / (B * L), v = s2 / (B * L) - m * m;
        CHECK_CLOSE(m, 0.0, 1e-4, 0);
        CHECK_CLOSE(v, 1.0, 2e-3, 0); /* var/(var+eps) */
    }
    pe_batchnorm_backward(din, dg, db, c.R, c.in, c.mean, c.rstd, c.gamma, B, C, L);
    char name[96];
    snprintf(name, sizeof name, "batchnorm(B%d C%d L%d) din", B, C, L);
    gradcheck(name, bn_loss, &c, c.in, din, n, 1e-2f);
    snprintf(name, sizeof name, "batchnorm(B%d C%d L%d) dgamma", B, C, L);
    gradcheck(name, bn_loss, &c, c.gamma, dg, C, 1e-2f);
    snprintf(name, sizeof name, "batchnorm(B%d C%d L%d) dbeta", B, C, L);
    gradcheck(name, bn_loss, &c, c.beta, db, C, 1e-2f);

    bn_loss(&c); /* restore mean/rstd of the unperturbed input */
    float *din2 = zeros(n), *dg2 = zeros(C), *db2 = zeros(C);
    pe_batchnorm_backward(din2, dg2, db2, c.R, c.in, c.mean, c.rstd, c.gamma, B, C, L);
    pe_batchnorm_backward(din2, dg2, db2, c.R, c.in, c.mean, c.rstd, c.gamma, B, C, L);
    check_doubled("batchnorm din", din, din2, n);
    check_doubled("batchnorm dgamma", dg, dg2, C);
    check_doubled("batchnorm dbeta", db, db2, C);
    memset(din2, 0, n * sizeof(float));
    memset(dg2, 0, C * sizeof(float));
    memset(db2, 0, C * sizeof(float));
    pe_batchnorm_backward(din2, NULL, NULL, c.R, c.in, c.mean, c.rstd, c.gamma, B, C, L);
    pe_batchnorm_backward(NULL, dg2, db2, c.R, c.in, c.mean, c.rstd, c.gamma, B, C, L);
    CHECK(same(din, din2, n) && same(dg, dg2, C) && same(db, db2, C));

    /* running statistics after exactly one forward from (rm, rv) = (0, 1) */
    for (int ch = 0; ch < C; ch++) c.rm[ch] = 0.0f, c.rv[ch] = 1.0f;
    bn_loss(&c);
    for (int ch = 0; ch < C; ch++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) s1 += c.in[((size_t)b * C + ch) * L + l];
        double m = s1 / (B * L);
        for (int b = 0; b < B; b++)
            for (int l = 0; l < L; l++) {
                double d = c.in[((size_t)b * C + ch) * L + l] - m;
                s2 += d * d;
            }
        CHECK_CLOSE(c.rm[ch], 0.1 * m, 1e-6, 1e-5);
        CHECK_CLOSE(c.rv[ch], 0.9 + 0.1 * s2 / (B * L - 1), 1e-6, 1e-5);
        CHECK_CLOSE(c.mean[ch], m, 1e-6, 1e-5);
        CHECK_CLOSE(c.rstd[ch], 1.0 / sqrt(s2 / (B * L) + 1e-5), 1e-6, 1e-5);
    }
    /* eval mode with running stats equal to the batch stats equals training mode */
    for (int ch = 0; ch < C; ch++) c.rm[ch] = c.mean[ch];
    for (int ch = 0; ch < C; ch++)
        c.rv[ch] = 1.0f / (c.rstd[ch] * c.rstd[ch]) - 1e-5f;
    float *ev = zeros(n);
    pe_batchnorm_forward_eval(ev, c.in, c.gamma, c.beta, c.rm, c.rv, B, C, L, 1e-5f);
    for (size_t i = 0; i < n; i++) CHECK_CLOSE(ev[i], c.out[i], 1e-4, 1e-4);
    free(ev);
    free(c.in), free(c.gamma), free(c.beta), free(c.out), free(c.R), free(c.mean), free(c.rstd);
    free(c.rm), free(c.rv), free(din), free(dg), free(db), free(din2), free(dg2), free(db2);
}

/* ---- relu, sigmoid, add, gap (single-input layers) ---------------------------- */
typedef struct {
    int kind; /* 0 relu, 1 sigmoid, 2 gap, 3 add (second input b fixed) */
    int B, C, L;
    size_t n, nout;
    float *in, *b, *out, *R;
} ew_ctx;

static double ew_loss(void *p) {
    ew_ctx *c = p;
    switch (c->kind) {
    case 0: pe_relu_forward(c->out, c->in, c->n); break;
    case 1: pe_sigmoid_forward(c->out, c->in, c->n); break;
    case 2: pe_gap_forward(c->out, c->in, c->B, c->C, c->L); break;
    default: pe_add_forward(c->out, c->in, c->b, c->n); break;
    }
    return dot(c->out, c->R, c->nout);
}

static void ew_backward(ew_ctx *c, float *din, float *db) {
    switch (c->kind) {
    case 0: pe_relu_backward(din, c->R, c->out, c->n); break;
    case 1: pe_sigmoid_backward(din, c->R, c->out, c->n); break;
    case 2: pe_gap_backward(din, c->R, c->B, c->C, c->L); break;
    default: pe_add_backward(din, db, c->R, c->n); break;
    }
}

static void test_elementwise(int kind, int B, int C, int L) {
    static const char *names[] = {"relu", "sigmoid", "gap", "add"};
    ew_ctx c = {kind, B, C, L, (size_t)B * C * L, kind == 2 ? (size_t)B * C : (size_t)B * C * L,
                0, 0, 0, 0};
    c.in = fill_normal(c.n, 2.0f);
    if (kind == 0) /* keep relu inputs away from the kink at 0 */
        for (size_t i = 0; i < c.n; i++) c.in[i] += c.in[i] >= 0 ? 0.05f : -0.05f;
    c.b = fill_normal(c.n, 1.0f);
    c.out = zeros(c.nout);
    c.R = fill_uniform(c.nout);
    float *din = zeros(c.n), *db = zeros(c.n), *din2 = zeros(c.n), *db2 = zeros(c.n);
    ew_loss(&c);
    ew_backward(&c, din, db);
    char name[96];
    snprintf(name, sizeof name, "%s(B%d C%d L%d) din", names[kind], B, C, L);
    gradcheck(name, ew_loss, &c, c.in, din, c.n, 1e-2f);
    if (kind == 3) {
        snprintf(name, sizeof name, "add(B%d C%d L%d) db", B, C, L);
        gradcheck(name, ew_loss, &c, c.b, db, c.n, 1e-2f);
    }
    ew_loss(&c);
    ew_backward(&c, din2, db2);
    ew_backward(&c, din2, db2);
    check_doubled(names[kind], din, din2, c.n);
    if (kind == 3) {
        check_doubled("add db", db, db2, c.n);
        memset(din2, 0, c.n * sizeof(float));
        pe_add_backward(din2, NULL, c.R, c.n);
        pe_add_backward(NULL, NULL, c.R, c.n);
        CHECK(same(din, din2, c.n));
    }
    free(c.in), free(c.b), free(c.out), free(c.R), free(din), free(db), free(din2), free(db2);
}

/* ---- max pool ---------------------------------------------------------------------- */
typedef struct {
    int B, C, Lin, K, stride, pad, Lout;
    float *in, *out, *R;
    int32_t *am;
} mp_ctx;

static double mp_loss(void *p) {
    mp_ctx *c = p;
    pe_maxpool1d_forward(c->out, c->am, c->in, c->B, c->C, c->Lin, c->K, c->stride, c->pad);
    return dot(c->out, c->R, (size_t)c->B * c->C * c->Lout);
}

static void test_maxpool(int B, int C, int Lin, int K, int stride, int pad) {
    mp_ctx c = {B, C, Lin, K, stride, pad, (Lin + 2 * pad - K) / stride + 1, 0, 0, 0, 0};
    size_t nin = (size_t)B * C * Lin, nout = (size_t)B * C * c.Lout;
    /* distinct values 0.1 apart (a shuffled ramp) so a step of 1e-2 never changes the argmax */
    c.in = malloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++) c.in[i] = 0.1f * (float)i - 3.0f;
    for (size_t i = nin; i > 1; i--) {
        size_t j = pe_rng_below(&rng, i);
        float t = c.in[i - 1];
        c.in[i - 1] = c.in[j], c.in[j] = t;
    }
    c.out = zeros(nout);
    c.R = fill_uniform(nout);
    c.am = malloc(nout * sizeof(int32_t));
    mp_loss(&c);
    /* forward against a direct definition of the window maximum */
    for (size_t bc = 0; bc < (size_t)B * C; bc++)
        for (int l = 0; l < c.Lout; l++) {
            float m = -INFINITY;
            for (int k = 0; k < K; k++) {
                int j = l * stride - pad + k;
                if (j >= 0 && j < Lin && c.in[bc * Lin + j] > m) m = c.in[bc * Lin + j];
            }
            int32_t a = c.am[bc * c.Lout + l];
            CHECK(c.out[bc * c.Lout + l] == m && a >= 0 && a < Lin && c.in[bc * Lin + a] == m);
        }
    float *din = zeros(nin), *din2 = zeros(nin);
    pe_maxpool1d_backward(din, c.R, c.am, B, C, Lin, c.Lout);
    char name[96];
    snprintf(name, sizeof name, "maxpool(B%d C%d L%d K%d s%d p%d) din", B, C, Lin, K, stride, pad);
    gradcheck(name, mp_loss, &c, c.in, din, nin, 1e-2f);
    mp_loss(&c);
    pe_maxpool1d_backward(din2, c.R, c.am, B, C, Lin, c.Lout);
    pe_maxpool1d_backward(din2, c.R, c.am, B, C, Lin, c.Lout);
    check_doubled("maxpool din", din, din2, nin);
    free(c.in), free(c.out), free(c.R), free(c.am), free(din), free(din2);
}

/* Ties take the first index, padding never wins (-inf), as torch. */
static void test_maxpool_ties(void) {
    const float in[6] = {1, 1, -5, 2, 2, -7};
    float out[3];
    int32_t am[3];
    pe_maxpool1d_forward(out, am, in, 1, 1, 6, 3, 2, 1); /* windows [-1..1] [1..3] [3..5] */
    CHECK(out[0] == 1 && am[0] == 0);
    CHECK(out[1] == 2 && am[1] == 3);
    CHECK(out[2] == 2 && am[2] == 3);
    const float neg[4] = {-3, -1, -2, -4}; /* all negative: padding must not give 0 */
    pe_maxpool1d_forward(out, am, neg, 1, 1, 4, 3, 2, 1);
    CHECK(out[0] == -1 && am[0] == 1);
    CHECK(out[1] == -1 && am[1] == 1);
}

/* ---- linear ------------------------------------------------------------------------ */
typedef struct {
    int B, In, Out;
    float *in, *w, *b, *out, *R;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    pe_linear_forward(c->out, c->in, c->w, c->b, c->B, c->In, c->Out);
    return dot(c->out, c->R, (size_t)c->B * c->Out);
}

static void test_linear(int B, int In, int Out, int bias) {
    lin_ctx c = {B, In, Out, 0, 0, 0, 0, 0};
    size_t nin = (size_t)B * In, nw = (size_t)Out * In, nout = (size_t)B * Out;
    c.in = fill_normal(nin, 1.0f);
    c.w = fill_normal(nw, 0.5f);
    c.b = bias ? fill_normal(Out, 1.0f) : NULL;
    c.out = fill_normal(nout, 1e3f); /* forward must overwrite */
    c.out[0] = NAN;
    c.R = fill_uniform(nout);
    float *din = zeros(nin), *dw = zeros(nw), *db = zeros(Out);
    lin_loss(&c);
    pe_linear_backward(din, dw, bias ? db : NULL, c.R, c.in, c.w, B, In, Out);
    char name[96];
    snprintf(name, sizeof name, "linear(B%d In%d Out%d bias%d) din", B, In, Out, bias);
    gradcheck(name, lin_loss, &c, c.in, din, nin, 1e-2f);
    snprintf(name, sizeof name, "linear(B%d In%d Out%d bias%d) dw", B, In, Out, bias);
    gradcheck(name, lin_loss, &c, c.w, dw, nw, 1e-2f);
    if (bias) {
        snprintf(name, sizeof name, "linear(B%d In%d Out%d) db", B, In, Out);
        gradcheck(name, lin_loss, &c, c.b, db, Out, 1e-2f);
    }
    float *din2 = zeros(nin), *dw2 = zeros(nw), *db2 = zeros(Out);
    pe_linear_backward(din2, dw2, db2, c.R, c.in, c.w, B, In, Out);
    pe_linear_backward(din2, dw2, db2, c.R, c.in, c.w, B, In, Out);
    check_doubled("linear din", din, din2, nin);
    check_doubled("linear dw", dw, dw2, nw);
    if (bias) check_doubled("linear db", db, db2, Out);
    memset(din2, 0, nin * sizeof(float));
    memset(dw2, 0, nw * sizeof(float));
    pe_linear_backward(din2, NULL, NULL, c.R, c.in, c.w, B, In, Out);
    pe_linear_backward(NULL, dw2, NULL, c.R, c.in, c.w, B, In, Out);
    CHECK(same(din, din2, nin) && same(dw, dw2, nw));
    free(c.in), free(c.w), free(c.b), free(c.out), free(c.R), free(din), free(dw), free(db);
    free(din2), free(dw2), free(db2);
}

/* ---- cosine similarity ----------------------------------------------------------- */
typedef struct {
    int B, P, D;
    float *z, *pr, *s, *zn, *pn, *R;
} cos_ctx;

static double cos_loss(void *p) {
    cos_ctx *c = p;
    pe_cosine_forward(c->s, c->zn, c->pn, c->z, c->pr, c->B, c->P, c->D);
    return dot(c->s, c->R, (size_t)c->B * c->P);
}

/* tiny != 0: every z row has a norm below eps = 1e-12 (the clamped branch); then
 * s is linear in z and the step is scaled down with it. */
static void test_cosine(int B, int P, int D, int tiny) {
    cos_ctx c = {B, P, D, 0, 0, 0, 0, 0, 0};
    size_t nz = (size_t)B * D, np = (size_t)P * D, ns = (size_t)B * P;
    c.z = fill_normal(nz, tiny ? 1e-14f : 1.0f);
    c.pr = fill_normal(np, 1.0f);
    c.s = zeros(ns), c.zn = zeros(B), c.pn = zeros(P);
    c.R = fill_uniform(ns);
    float *dz = zeros(nz), *dp = zeros(np);
    cos_loss(&c);
    for (int b = 0; b < B; b++) {
        double nrm = sqrt(dot(c.z + (size_t)b * D, c.z + (size_t)b * D, D));
        CHECK_CLOSE(c.zn[b], fmax(nrm, 1e-12), 0, 1e-6);
        for (int p = 0; p < P; p++) {
            double pn = sqrt(dot(c.pr + (size_t)p * D, c.pr + (size_t)p * D, D));
            double ref = dot(c.z + (size_t)b * D, c.pr + (size_t)p * D, D) / fmax(nrm, 1e-12) / pn;
            CHECK_CLOSE(c.s[(size_t)b * P + p], ref, 1e-6, 1e-5);
        }
    }
    pe_cosine_backward(dz, dp, c.R, c.s, c.z, c.pr, c.zn, c.pn, B, P, D);
    char name[96];
    snprintf(name, sizeof name, "cosine(B%d P%d D%d%s) dz", B, P, D, tiny ? " clamped" : "");
    gradcheck(name, cos_loss, &c, c.z, dz, nz, tiny ? 1e-15f : 1e-2f);
    snprintf(name, sizeof name, "cosine(B%d P%d D%d%s) dprotos", B, P, D, tiny ? " clamped" : "");
    gradcheck(name, cos_loss, &c, c.pr, dp, np, 1e-2f);
    cos_loss(&c);
    float *dz2 = zeros(nz), *dp2 = zeros(np);
    pe_cosine_backward(dz2, dp2, c.R, c.s, c.z, c.pr, c.zn, c.pn, B, P, D);
    pe_cosine_backward(dz2, dp2, c.R, c.s, c.z, c.pr, c.zn, c.pn, B, P, D);
    check_doubled("cosine dz", dz, dz2, nz);
    check_doubled("cosine dprotos", dp, dp2, np);
    memset(dz2, 0, nz * sizeof(float));
    memset(dp2, 0, np * sizeof(float));
    pe_cosine_backward(dz2, NULL, c.R, c.s, c.z, c.pr, c.zn, c.pn, B, P, D);
    pe_cosine_backward(NULL, dp2, c.R, c.s, c.z, c.pr, c.zn, c.pn, B, P, D);
    CHECK(same(dz, dz2, nz) && same(dp, dp2, np));
    free(c.z), free(c.pr), free(c.s), free(c.zn), free(c.pn), free(c.R), free(dz), free(dp);
    free(dz2), free(dp2);
}

/* ---- timing of the reference conv1d on representative ResNet layers -------------- */
static void time_conv(int Cin, int Cout, int Lin, int stride) {
    pe_conv1d_shape s = pe_conv1d_make_shape(32, Cin, Cout, Lin, 3, stride, 1);
    size_t nin = (size_t)32 * Cin * Lin, nw = (size_t)Cout * Cin * 3,
           nout = (size_t)32 * Cout * s.Lout;
    float *in = fill_normal(nin, 1.0f), *w = fill_normal(nw, 0.1f), *out = zeros(nout);
    float *din = zeros(nin), *dw = zeros(nw);
    pe_conv1d_forward(out, in, w, &s); /* warm up */
    const int reps = 3;
    double t0 = omp_get_wtime();
    for (int r = 0; r < reps; r++) pe_conv1d_forward(out, in, w, &s);
    double t1 = omp_get_wtime();
    for (int r = 0; r < reps; r++) pe_conv1d_backward(din, dw, out, in, w, &s);
    double t2 = omp_get_wtime();
    printf("reference conv1d B32 Cin%d Cout%d L%d K3 s%d (%d threads): forward %.1f ms, "
           "backward (din+dw) %.1f ms per call (wall clock)\n",
           Cin, Cout, Lin, stride, omp_get_max_threads(), 1e3 * (t1 - t0) / reps,
           1e3 * (t2 - t1) / reps);
    free(in), free(w), free(out), free(din), free(dw);
}

int main(void) {
    pe_rng_seed(&rng, 1234);
    CHECK(pe_conv1d_out_len(1000, 7, 2, 3) == 500);
    CHECK(pe_conv1d_out_len(125, 3, 2, 1) == 63);
    CHECK(pe_conv1d_out_len(63, 1, 2, 0) == 32);

    /* B, Cin, Cout, Lin, K, stride, pad */
    test_conv(2, 3, 4, 11, 3, 1, 1);
    test_conv(2, 3, 2, 13, 7, 2, 3);
    test_conv(3, 4, 5, 8, 1, 1, 0);
    test_conv(1, 5, 3, 9, 1, 2, 0);
    test_conv(2, 2, 3, 17, 5, 3, 2);
    test_conv(2, 3, 2, 6, 7, 1, 3); /* kernel longer than the input */
    test_conv(1, 2, 2, 7, 3, 2, 0);
    test_conv(2, 3, 3, 10, 3, 2, 1);

    test_bn(2, 3, 5);
    test_bn(4, 2, 1); /* L = 1 (statistics over the batch only) */
    test_bn(3, 5, 7);

    for (int kind = 0; kind < 4; kind++) {
        test_elementwise(kind, 2, 3, 7);
        test_elementwise(kind, 3, 2, 1);
    }

    /* B, C, Lin, K, stride, pad */
    test_maxpool(2, 3, 11, 3, 2, 1);
    test_maxpool(1, 2, 10, 2, 2, 0);
    test_maxpool(2, 2, 9, 3, 1, 1);
    test_maxpool(1, 3, 8, 5, 3, 2);
    test_maxpool_ties();

    test_linear(3, 5, 4, 1);
    test_linear(1, 7, 3, 0);
    test_linear(4, 2, 6, 1);

    test_cosine(3, 4, 6, 0);
    test_cosine(2, 5, 3, 0);
    test_cosine(2, 3, 4, 1);

    if (!getenv("PE_TEST_QUICK")) {
        time_conv(64, 64, 250, 1);
        time_conv(64, 128, 250, 2);
    }
    TEST_END();
}
