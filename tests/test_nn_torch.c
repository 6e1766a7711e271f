/* Every layer of nn/nn.h against PyTorch on small random shapes. The golden values
 * (tests/golden/nn_layers.safetensors) come from scripts/golden_nn.py: inputs, params,
 * R, torch's output and the gradients of sum(out * R), so backward gets dout = R.
 * Tolerances: forward 1e-5, gradients 1e-4, relative to max(|ref|, largest |ref| in
 * the same row) so that near-zero entries are judged on the row's scale. */
#include "check.h"
#include "golden_io.h"
#include "nn/nn.h"

static const char *golden_path = PE_SOURCE_DIR "/tests/golden/nn_layers.safetensors";

/* Loads <c>.<name> and checks it has n values (n == 0: any count, stored in *got_n). */
static float *ld_n(const char *c, const char *name, size_t n, size_t *got_n) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c, name);
    size_t got = 0;
    float *a = golden_load(golden_path, key, &got);
    CHECK_MSG(a != NULL, "missing golden tensor %s", key);
    if (a && n) CHECK_MSG(got == n, "%s: %zu values, expected %zu", key, got, n);
    if (!a || (n && got != n)) {
        free(a);
        exit(1); /* cannot continue with a broken golden file */
    }
    if (got_n) *got_n = got;
    return a;
}
#define ld(c, name, n) ld_n(c, name, n, NULL)

/* Compares n values of got with ref (rows of `row` values). Set NN_VERBOSE to print
 * the worst relative error of every comparison. */
static void compare(const char *c, const char *what, const float *got, const float *ref, size_t n,
                    size_t row, double rtol) {
    int bad = 0;
    double worst = 0.0;
    for (size_t r0 = 0; r0 < n; r0 += row) {
        double rmax = 0.0;
        for (size_t i = r0; i < r0 + row && i < n; i++) rmax = fmax(rmax, fabs(ref[i]));
        for (size_t i = r0; i < r0 + row && i < n; i++) {
            double scale = fmax(fabs(ref[i]), rmax);
            double err = fabs((double)got[i] - ref[i]) / (scale > 0 ? scale : 1.0);
            if (!(err <= rtol)) {
                if (bad < 3)
                    fprintf(stderr, "%s %s[%zu]: got %.9g, torch %.9g\n", c, what, i, got[i],
                            ref[i]);
                bad++;
            }
            if (err > worst) worst = err;
        }
    }
    CHECK_MSG(bad == 0, "%s %s: %d of %zu values off (worst rel err %.3g)", c, what, bad, n,
              worst);
    if (getenv("NN_VERBOSE")) printf("%-8s %-13s worst rel err %.2e\n", c, what, worst);
}

#define FWD_TOL 1e-5
#define GRAD_TOL 1e-4

static void test_conv(const char *c) {
    float *cfg = ld(c, "cfg", 7);
    pe_conv1d_shape s = pe_conv1d_make_shape((int)cfg[0], (int)cfg[1], (int)cfg[2], (int)cfg[3],
                                             (int)cfg[4], (int)cfg[5], (int)cfg[6]);
    size_t nin = (size_t)s.B * s.Cin * s.Lin, nw = (size_t)s.Cout * s.Cin * s.K;
    size_t nout = (size_t)s.B * s.Cout * s.Lout;
    float *in = ld(c, "input", nin), *w = ld(c, "w", nw), *R = ld(c, "R", nout);
    float *out_ref = ld(c, "out", nout), *din_ref = ld(c, "din", nin), *dw_ref = ld(c, "dw", nw);
    float *out = malloc(nout * sizeof(float)), *din = calloc(nin, sizeof(float)),
          *dw = calloc(nw, sizeof(float));
    pe_conv1d_forward(out, in, w, &s);
    pe_conv1d_backward(din, dw, R, in, w, &s);
    compare(c, "out", out, out_ref, nout, s.Lout, FWD_TOL);
    compare(c, "din", din, din_ref, nin, s.Lin, GRAD_TOL);
    compare(c, "dw", dw, dw_ref, nw, s.K, GRAD_TOL);
    free(cfg), free(in), free(w), free(R), free(out_ref), free(din_ref), free(dw_ref);
    free(out), free(din), free(dw);
}

static void test_bn(const char *c) {
    float *cfg = ld(c, "cfg", 3);
    int B = (int)cfg[0], C = (int)cfg[1], L = (int)cfg[2];
    size_t n = (size_t)B * C * L;
    float *in = ld(c, "input", n), *gamma = ld(c, "gamma", C), *beta = ld(c, "beta", C);
    float *rm = ld(c, "rm0", C), *rv = ld(c, "rv0", C), *R = ld(c, "R", n);
    float *out_ref = ld(c, "out", n), *mean_ref = ld(c, "mean", C), *rstd_ref = ld(c, "rstd", C);
    float *din_ref = ld(c, "din", n), *dg_ref = ld(c, "dgamma", C), *db_ref = ld(c, "dbeta", C);
    float *rm_ref = ld(c, "rm1", C), *rv_ref = ld(c, "rv1", C), *ev_ref = ld(c, "eval_out", n);
    float *out = malloc(n * sizeof(float)), *mean = malloc(C * sizeof(float)),
          *rstd = malloc(C * sizeof(float)), *din = calloc(n, sizeof(float)),
          *dg = calloc(C, sizeof(float)), *db = calloc(C, sizeof(float)),
          *ev = malloc(n * sizeof(float));
    pe_batchnorm_forward_train(out, mean, rstd, in, gamma, beta, rm, rv, B, C, L, 0.1f, 1e-5f);
    pe_batchnorm_backward(din, dg, db, R, in, mean, rstd, gamma, B, C, L);
    pe_batchnorm_forward_eval(ev, in, gamma, beta, rm, rv, B, C, L, 1e-5f);
    compare(c, "out", out, out_ref, n, (size_t)C * L, FWD_TOL);
    compare(c, "mean", mean, mean_ref, C, 1, FWD_TOL);
    compare(c, "rstd", rstd, rstd_ref, C, 1, FWD_TOL);
    compare(c, "running_mean", rm, rm_ref, C, 1, FWD_TOL);
    compare(c, "running_var", rv, rv_ref, C, 1, FWD_TOL);
    compare(c, "eval out", ev, ev_ref, n, (size_t)C * L, FWD_TOL);
    compare(c, "din", din, din_ref, n, (size_t)C * L, GRAD_TOL);
    compare(c, "dgamma", dg, dg_ref, C, 1, GRAD_TOL);
    compare(c, "dbeta", db, db_ref, C, 1, GRAD_TOL);
    free(cfg), free(in), free(gamma), free(beta), free(rm), free(rv), free(R), free(out_ref);
    free(mean_ref), free(rstd_ref), free(din_ref), free(dg_ref), free(db_ref), free(rm_ref);
    free(rv_ref), free(ev_ref), free(out), free(mean), free(rstd), free(din), free(dg), free(db);
    free(ev);
}

static void test_maxpool(const char *c) {
    float *cfg = ld(c, "cfg", 6);
    int B = (int)cfg[0], C = (int)cfg[1], L = (int)cfg[2], K = (int)cfg[3], st = (int)cfg[4],
        pad = (int)cfg[5];
    int Lout = (L + 2 * pad - K) / st + 1;
    size_t nin = (size_t)B * C * L, nout = (size_t)B * C * Lout;
    float *in = ld(c, "input", nin), *R = ld(c, "R", nout), *out_ref = ld(c, "out", nout);
    float *am_ref = ld(c, "argmax", nout), *din_ref = ld(c, "din", nin);
    float *out = malloc(nout * sizeof(float)), *din = calloc(nin, sizeof(float));
    int32_t *am = malloc(nout * sizeof(int32_t));
    pe_maxpool1d_forward(out, am, in, B, C, L, K, st, pad);
    pe_maxpool1d_backward(din, R, am, B, C, L, Lout);
    compare(c, "out", out, out_ref, nout, Lout, 0.0);
    int bad = 0;
    for (size_t i = 0; i < nout; i++) bad += am[i] != (int32_t)am_ref[i];
    CHECK_MSG(bad == 0, "%s argmax: %d of %zu differ from torch's indices", c, bad, nout);
    compare(c, "din", din, din_ref, nin, L, GRAD_TOL);
    free(cfg), free(in), free(R), free(out_ref), free(am_ref), free(din_ref), free(out);
    free(din), free(am);
}

/* relu, sigmoid, gap, add */
static void test_simple(const char *c) {
    size_t ncfg = 0;
    float *cfg = ld_n(c, "cfg", 0, &ncfg); /* the tensor shape */
    size_t n = 1;
    for (size_t i = 0; i < ncfg; i++) n *= (size_t)cfg[i];
    if (!strcmp(c, "add")) {
        float *a = ld(c, "a", n), *b = ld(c, "b", n), *ref = ld(c, "out", n);
        float *out = malloc(n * sizeof(float)), *da = calloc(n, sizeof(float));
        pe_add_forward(out, a, b, n);
        compare(c, "out", out, ref, n, 1, FWD_TOL);
        pe_add_backward(da, NULL, a, n); /* identity: da = dout */
        compare(c, "da", da, a, n, 1, 0.0);
        free(a), free(b), free(ref), free(out), free(da), free(cfg);
        return;
    }
    size_t nout = !strcmp(c, "gap") ? n / (size_t)cfg[ncfg - 1] : n;
    size_t row = (size_t)cfg[ncfg - 1];
    float *in = ld(c, "input", n), *R = ld(c, "R", nout), *out_ref = ld(c, "out", nout);
    float *din_ref = ld(c, "din", n);
    float *out = malloc(nout * sizeof(float)), *din = calloc(n, sizeof(float));
    if (!strcmp(c, "relu")) {
        pe_relu_forward(out, in, n);
        pe_relu_backward(din, R, out, n);
    } else if (!strcmp(c, "sigmoid")) {
        pe_sigmoid_forward(out, in, n);
        pe_sigmoid_backward(din, R, out, n);
    } else {
        pe_gap_forward(out, in, (int)cfg[0], (int)cfg[1], (int)cfg[2]);
        pe_gap_backward(din, R, (int)cfg[0], (int)cfg[1], (int)cfg[2]);
    }
    compare(c, "out", out, out_ref, nout, !strcmp(c, "gap") ? 1 : row, FWD_TOL);
    compare(c, "din", din, din_ref, n, row, GRAD_TOL);
    free(cfg), free(in), free(R), free(out_ref), free(din_ref), free(out), free(din);
}

static void test_linear(const char *c) {
    float *cfg = ld(c, "cfg", 4);
    int B = (int)cfg[0], In = (int)cfg[1], Out = (int)cfg[2], bias = (int)cfg[3];
    size_t nin = (size_t)B * In, nw = (size_t)Out * In, nout = (size_t)B * Out;
    float *in = ld(c, "input", nin), *w = ld(c, "w", nw), *b = ld(c, "b", Out),
          *R = ld(c, "R", nout);
    float *out_ref = ld(c, "out", nout), *din_ref = ld(c, "din", nin), *dw_ref = ld(c, "dw", nw),
          *db_ref = ld(c, "db", Out);
    float *out = malloc(nout * sizeof(float)), *din = calloc(nin, sizeof(float)),
          *dw = calloc(nw, sizeof(float)), *db = calloc(Out, sizeof(float));
    pe_linear_forward(out, in, w, bias ? b : NULL, B, In, Out);
    pe_linear_backward(din, dw, bias ? db : NULL, R, in, w, B, In, Out);
    compare(c, "out", out, out_ref, nout, Out, FWD_TOL);
    compare(c, "din", din, din_ref, nin, In, GRAD_TOL);
    compare(c, "dw", dw, dw_ref, nw, In, GRAD_TOL);
    compare(c, "db", db, db_ref, Out, 1, GRAD_TOL);
    free(cfg), free(in), free(w), free(b), free(R), free(out_ref), free(din_ref), free(dw_ref);
    free(db_ref), free(out), free(din), free(dw), free(db);
}

static void test_cosine(const char *c) {
    float *cfg = ld(c, "cfg", 3);
    int B = (int)cfg[0], P = (int)cfg[1], D = (int)cfg[2];
    size_t nz = (size_t)B * D, np = (size_t)P * D, ns = (size_t)B * P;
    float *z = ld(c, "z", nz), *pr = ld(c, "protos", np), *R = ld(c, "R", ns);
    float *s_ref = ld(c, "s", ns), *zn_ref = ld(c, "znorm", B), *pn_ref = ld(c, "pnorm", P);
    float *dz_ref = ld(c, "dz", nz), *dp_ref = ld(c, "dprotos", np);
    float *s = malloc(ns * sizeof(float)), *zn = malloc(B * sizeof(float)),
          *pn = malloc(P * sizeof(float)), *dz = calloc(nz, sizeof(float)),
          *dp = calloc(np, sizeof(float));
    pe_cosine_forward(s, zn, pn, z, pr, B, P, D);
    pe_cosine_backward(dz, dp, R, s, z, pr, zn, pn, B, P, D);
    compare(c, "s", s, s_ref, ns, P, FWD_TOL);
    compare(c, "znorm", zn, zn_ref, B, 1, FWD_TOL);
    compare(c, "pnorm", pn, pn_ref, P, 1, FWD_TOL);
    compare(c, "dz", dz, dz_ref, nz, D, GRAD_TOL);
    compare(c, "dprotos", dp, dp_ref, np, D, GRAD_TOL);
    free(cfg), free(z), free(pr), free(R), free(s_ref), free(zn_ref), free(pn_ref), free(dz_ref);
    free(dp_ref), free(s), free(zn), free(pn), free(dz), free(dp);
}

int main(void) {
    char name[16];
    for (int i = 0; i < 6; i++) snprintf(name, sizeof name, "conv%d", i), test_conv(name);
    for (int i = 0; i < 3; i++) snprintf(name, sizeof name, "bn%d", i), test_bn(name);
    for (int i = 0; i < 5; i++) snprintf(name, sizeof name, "mp%d", i), test_maxpool(name);
    test_simple("relu");
    test_simple("sigmoid");
    test_simple("gap");
    test_simple("add");
    for (int i = 0; i < 3; i++) snprintf(name, sizeof name, "lin%d", i), test_linear(name);
    for (int i = 0; i < 3; i++) snprintf(name, sizeof name, "cos%d", i), test_cosine(name);

    /* the reader reports a missing tensor and a missing file */
    size_t n = 0;
    CHECK(golden_load(golden_path, "no.such.tensor", &n) == NULL);
    CHECK(golden_load(PE_SOURCE_DIR "/tests/golden/no_such_file.safetensors", "x", &n) == NULL);
    TEST_END();
}
