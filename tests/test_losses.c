/* The losses of spec section 4 against PyTorch autograd (tests/golden/losses.safetensors,
 * from scripts/golden_losses.py) and against finite differences on a tiny case.
 *
 * Values must match to 1e-6 relative. Gradients to 1e-5 relative, measured per row
 * (max |g - ref| over the row / max |ref| over the row; a row whose reference is all
 * zero must be all zero): rows of the prototype gradients differ in scale by 1e12 when a
 * prototype's norm is below eps, so a single tensor-wide scale would hide errors.
 * pe_loss_bce_ld (a block of columns of wider rows, as the pretraining's head with
 * auxiliary outputs uses it) must give exactly pe_loss_bce's value and gradient on a copy
 * of that block, and leave the other columns of dx untouched. */
#include "check.h"
#include "model/losses.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

#include <stdint.h>

#define GC 16
#define GK 5
#define GP (GC * GK)

/* ---- golden tensors, read with the library's safetensors reader (checked against
 * files written by Python in tests/test_safetensors.c) -------------------------------- */

/* First two dimensions of t (1 when absent). */
static void dims2(const pe_st_tensor *t, int shape[2]) {
    shape[0] = t->ndim > 0 ? (int)t->shape[0] : 1;
    shape[1] = t->ndim > 1 ? (int)t->shape[1] : 1;
}

/* malloc'd float copy of tensor `name`; *count = number of elements, shape = its first
 * two dimensions. NULL (with a message) when missing or malformed. */
static float *get_f32(const pe_st_file *f, const char *name, size_t *count, int shape[2]) {
    pe_error e = {{0}};
    const pe_st_tensor *t = pe_st_find(f, name);
    float *out = t ? malloc((size_t)t->numel * sizeof *out + 1) : NULL;
    if (!t || !out || pe_st_read_f32(f, name, out, NULL, 0, &e)) {
        fprintf(stderr, "golden: %s\n", t ? e.msg : name);
        free(out);
        return NULL;
    }
    if (count) *count = (size_t)t->numel;
    if (shape) dims2(t, shape);
    return out;
}

/* Same for a U8 (label) tensor. */
static uint8_t *get_u8(const pe_st_file *f, const char *name, size_t *count, int shape[2]) {
    pe_error e = {{0}};
    const pe_st_tensor *t = pe_st_find(f, name);
    int64_t *wide = t ? malloc((size_t)t->numel * sizeof *wide + 1) : NULL;
    uint8_t *out = t ? malloc((size_t)t->numel + 1) : NULL;
    if (!t || !wide || !out || pe_st_read_i64(f, name, wide, NULL, 0, &e)) {
        fprintf(stderr, "golden: %s\n", t ? e.msg : name);
        free(wide), free(out);
        return NULL;
    }
    for (int64_t i = 0; i < t->numel; i++) out[i] = (uint8_t)wide[i];
    free(wide);
    if (count) *count = (size_t)t->numel;
    if (shape) dims2(t, shape);
    return out;
}

/* A scalar (a loss value, stored as F64; read as float, 6e-8 relative). */
static double get_value(const pe_st_file *f, const char *name) {
    float *v = get_f32(f, name, NULL, NULL);
    double r = v ? v[0] : NAN;
    free(v);
    return r;
}

/* ---- error measures --------------------------------------------------------------- */
static double value_err(double v, double ref) {
    double d = fabs(v - ref);
    return ref != 0.0 ? d / fabs(ref) : d;
}

/* max over rows of max|g - ref| / max|ref| (see the file comment). */
static double grad_err(const float *g, const float *ref, int rows, int cols) {
    double worst = 0.0;
    for (int r = 0; r < rows; r++) {
        double scale = 0.0, diff = 0.0;
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            scale = fmax(scale, fabs(ref[i]));
            diff = fmax(diff, fabs((double)g[i] - ref[i]));
            if (isnan(g[i])) diff = INFINITY;
        }
        double e = scale > 0.0 ? diff / scale : (diff > 0.0 ? INFINITY : 0.0);
        worst = fmax(worst, e);
    }
    return worst;
}

typedef struct {
    const char *name;
    double value, grad; /* worst relative errors seen */
    int cases;
} err_log;

static void log_case(err_log *l, double ve, double ge) {
    l->value = fmax(l->value, ve);
    l->grad = fmax(l->grad, ge);
    l->cases++;
    CHECK_MSG(ve <= 1e-6, "%s: value relative error %.3g", l->name, ve);
    CHECK_MSG(ge <= 1e-5, "%s: gradient relative error %.3g", l->name, ge);
}

/* The second call accumulates 0.5 * grad into the same buffer: must give 1.5 * grad. And
 * the value with a NULL gradient is the same. */
static void check_accumulate(const char *name, const float *g1, const float *g2, size_t n,
                             double v1, double v_null) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = 1.5 * g1[i];
        worst = fmax(worst, fabs(g2[i] - want) / fmax(fabs(want), 1e-30));
    }
    CHECK_MSG(worst <= 1e-6, "%s: accumulation error %.3g", name, worst);
    CHECK_MSG(v1 == v_null, "%s: value with NULL gradient differs", name);
}

/* ---- golden comparisons ----------------------------------------------------------- */
static void test_golden(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/losses.safetensors", PE_SOURCE_DIR);
    pe_error e = {{0}};
    pe_st_file *f = pe_st_open(path, &e);
    if (!f) {
        CHECK_MSG(0, "cannot read %s (run scripts/golden_losses.py)", path);
        return;
    }
    char nm[128];
    err_log lb = {"bce", 0, 0, 0}, lc = {"clst", 0, 0, 0}, ls = {"sep", 0, 0, 0};
    err_log ld = {"div", 0, 0, 0}, ln = {"cnt", 0, 0, 0}, l1 = {"l1", 0, 0, 0};

    for (int i = 0; i < 2; i++) { /* BCE */
        int sh[2];
        size_t n;
        snprintf(nm, sizeof nm, "bce.%d.x", i);
        float *x = get_f32(f, nm, &n, sh);
        snprintf(nm, sizeof nm, "bce.%d.y", i);
        uint8_t *y = get_u8(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "bce.%d.w", i);
        float *w = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "bce.%d.grad", i);
        float *gref = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "bce.%d.loss", i);
        double vref = get_value(f, nm);
        if (x && y && w && gref) {
            float *g = calloc(n, sizeof *g);
            double v = pe_loss_bce(g, x, y, w, sh[0], sh[1], 1.0);
            log_case(&lb, value_err(v, vref), grad_err(g, gref, sh[0], sh[1]));
            float *g2 = malloc(n * sizeof *g2);
            memcpy(g2, g, n * sizeof *g);
            pe_loss_bce(g2, x, y, w, sh[0], sh[1], 0.5);
            check_accumulate("bce", g, g2, n, v, pe_loss_bce(NULL, x, y, w, sh[0], sh[1], 1.0));
            free(g);
            free(g2);
        }
        free(x), free(y), free(w), free(gref);
    }

    for (int which = 0; which < 2; which++) { /* clustering, separation */
        const char *name = which ? "sep" : "clst";
        err_log *l = which ? &ls : &lc;
        for (int i = 0; i < 3; i++) {
            int sh[2];
            size_t n;
            snprintf(nm, sizeof nm, "%s.%d.s", name, i);
            float *s = get_f32(f, nm, &n, sh);
            snprintf(nm, sizeof nm, "%s.%d.y", name, i);
            uint8_t *y = get_u8(f, nm, NULL, NULL);
            snprintf(nm, sizeof nm, "%s.%d.grad", name, i);
            float *gref = get_f32(f, nm, NULL, NULL);
            snprintf(nm, sizeof nm, "%s.%d.loss", name, i);
            double vref = get_value(f, nm);
            if (s && y && gref && sh[1] == GP) {
                float *g = calloc(n, sizeof *g), *g2 = malloc(n * sizeof *g2);
                double (*fn)(float *, const float *, const uint8_t *, int, int, int, double) =
                    which ? pe_loss_sep : pe_loss_clst;
                double v = fn(g, s, y, sh[0], GC, GK, 1.0);
                log_case(l, value_err(v, vref), grad_err(g, gref, sh[0], GP));
                memcpy(g2, g, n * sizeof *g);
                fn(g2, s, y, sh[0], GC, GK, 0.5);
                check_accumulate(name, g, g2, n, v, fn(NULL, s, y, sh[0], GC, GK, 1.0));
                free(g);
                free(g2);
            } else {
                CHECK_MSG(0, "%s.%d: golden tensors missing or wrong shape", name, i);
            }
            free(s), free(y), free(gref);
        }
    }

    for (int i = 0; i < 4; i++) { /* diversity, contrastive */
        int sh[2];
        size_t n;
        snprintf(nm, sizeof nm, "proto.%d.x", i);
        float *x = get_f32(f, nm, &n, sh);
        snprintf(nm, sizeof nm, "cnt.%d.J", i);
        float *J = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "div.%d.grad", i);
        float *gdiv = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "cnt.%d.grad", i);
        float *gcnt = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "div.%d.loss", i);
        double vdiv = get_value(f, nm);
        snprintf(nm, sizeof nm, "cnt.%d.loss", i);
        double vcnt = get_value(f, nm);
        if (x && J && gdiv && gcnt && sh[0] == GP) {
            int D = sh[1];
            double *scratch = malloc(pe_loss_proto_scratch_len(GP, D) * sizeof *scratch);
            float *g = calloc(n, sizeof *g), *g2 = malloc(n * sizeof *g2);

            double v = pe_loss_div(g, x, GP, D, scratch, 1.0);
            log_case(&ld, value_err(v, vdiv), grad_err(g, gdiv, GP, D));
            memcpy(g2, g, n * sizeof *g);
            pe_loss_div(g2, x, GP, D, scratch, 0.5);
            check_accumulate("div", g, g2, n, v, pe_loss_div(NULL, x, GP, D, scratch, 1.0));

            memset(g, 0, n * sizeof *g);
            v = pe_loss_cnt(g, x, J, GC, GK, D, scratch, 1.0);
            log_case(&ln, value_err(v, vcnt), grad_err(g, gcnt, GP, D));
            memcpy(g2, g, n * sizeof *g);
            pe_loss_cnt(g2, x, J, GC, GK, D, scratch, 0.5);
            check_accumulate("cnt", g, g2, n, v,
                             pe_loss_cnt(NULL, x, J, GC, GK, D, scratch, 1.0));
            free(scratch);
            free(g);
            free(g2);
        } else {
            CHECK_MSG(0, "proto case %d: golden tensors missing or wrong shape", i);
        }
        free(x), free(J), free(gdiv), free(gcnt);
    }

    for (int i = 0; i < 2; i++) { /* L1 */
        size_t n;
        snprintf(nm, sizeof nm, "l1.%d.W", i);
        float *W = get_f32(f, nm, &n, NULL);
        snprintf(nm, sizeof nm, "l1.%d.grad", i);
        float *gref = get_f32(f, nm, NULL, NULL);
        snprintf(nm, sizeof nm, "l1.%d.loss", i);
        double vref = get_value(f, nm);
        if (W && gref && n == (size_t)GC * GP) {
            float *g = calloc(n, sizeof *g), *g2 = malloc(n * sizeof *g2);
            double v = pe_loss_l1(g, W, GC, GK, 1.0);
            log_case(&l1, value_err(v, vref), grad_err(g, gref, GC, GP));
            memcpy(g2, g, n * sizeof *g);
            pe_loss_l1(g2, W, GC, GK, 0.5);
            check_accumulate("l1", g, g2, n, v, pe_loss_l1(NULL, W, GC, GK, 1.0));
            free(g);
            free(g2);
        }
        free(W), free(gref);
    }

    { /* Jaccard */
        size_t n;
        int sh[2];
        uint8_t *lab = get_u8(f, "jaccard.labels", &n, sh);
        float *Jref = get_f32(f, "jaccard.J", NULL, NULL);
        if (lab && Jref && sh[1] == GC) {
            float J[GC * GC];
            pe_jaccard(J, lab, sh[0], GC);
            double worst = 0.0;
            for (int i = 0; i < GC * GC; i++) worst = fmax(worst, fabs(J[i] - Jref[i]));
            CHECK_MSG(worst <= 1e-7, "jaccard: max abs error %.3g", worst);
            CHECK(J[3 * GC + 3] == 0.0f && J[0] == 1.0f); /* class 3 has no positives */
            printf("jaccard: max abs error %.3g\n", worst);
        } else {
            CHECK_MSG(0, "jaccard: golden tensors missing");
        }
        free(lab), free(Jref);
    }

    const err_log *all[] = {&lb, &lc, &ls, &ld, &ln, &l1};
    const int want_cases[] = {2, 3, 3, 4, 4, 2};
    for (int i = 0; i < 6; i++) {
        printf("%-4s vs torch: %d cases, max value rel err %.3g, max grad rel err %.3g\n",
               all[i]->name, all[i]->cases, all[i]->value, all[i]->grad);
        CHECK_MSG(all[i]->cases == want_cases[i], "%s: only %d golden cases ran", all[i]->name,
                  all[i]->cases);
    }
    pe_st_close(f);
}

/* ---- finite differences on a tiny case -------------------------------------------- */
enum { FC = 3, FK = 2, FP = FC * FK, FD = 5, FB = 3 };

typedef struct {
    int kind; /* 0 bce, 1 clst, 2 sep, 3 div, 4 cnt, 5 l1 */
    const uint8_t *y;
    const float *w, *J;
    double *scratch;
} fd_ctx;

static double fd_eval(const fd_ctx *c, float *grad, const float *in) {
    switch (c->kind) {
    case 0: return pe_loss_bce(grad, in, c->y, c->w, FB, FC, 1.0);
    case 1: return pe_loss_clst(grad, in, c->y, FB, FC, FK, 1.0);
    case 2: return pe_loss_sep(grad, in, c->y, FB, FC, FK, 1.0);
    case 3: return pe_loss_div(grad, in, FP, FD, c->scratch, 1.0);
    case 4: return pe_loss_cnt(grad, in, c->J, FC, FK, FD, c->scratch, 1.0);
    default: return pe_loss_l1(grad, in, FC, FK, 1.0);
    }
}

/* Central differences over every input element; returns max |fd - g| / max |g|. */
static double fd_check(const fd_ctx *c, float *in, int n, float h) {
    float g[FP * FD] = {0};
    fd_eval(c, g, in);
    double scale = 0.0, diff = 0.0;
    for (int i = 0; i < n; i++) {
        float x0 = in[i];
        float xp = x0 + h, xm = x0 - h;
        in[i] = xp;
        double lp = fd_eval(c, NULL, in);
        in[i] = xm;
        double lm = fd_eval(c, NULL, in);
        in[i] = x0;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        scale = fmax(scale, fabs(g[i]));
        diff = fmax(diff, fabs(fd - g[i]));
    }
    CHECK_MSG(scale > 0.0, "kind %d: gradient is all zero", c->kind);
    return scale > 0.0 ? diff / scale : INFINITY;
}

static void test_finite_differences(void) {
    pe_rng r;
    pe_rng_seed(&r, 7);
    float x[FP * FD];
    uint8_t y[FB * FC] = {1, 0, 1, 0, 0, 0, 0, 1, 1}; /* a row with no positive label */
    float w[FC] = {2.5f, 0.0f, 7.0f};
    uint8_t lab[6 * FC] = {1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0};
    float J[FC * FC];
    pe_jaccard(J, lab, 6, FC);
    double scratch[2 * FP * FD + FP * FP + FP];
    CHECK(pe_loss_proto_scratch_len(FP, FD) == sizeof scratch / sizeof scratch[0]);
    const char *names[] = {"bce", "clst", "sep", "div", "cnt", "l1"};
    for (int kind = 0; kind < 6; kind++) {
        fd_ctx c = {kind, y, w, J, scratch};
        int n;
        float h;
        if (kind == 0) {
            n = FB * FC, h = 1e-3f;
            for (int i = 0; i < n; i++) x[i] = (float)(2.0 * pe_rng_normal(&r));
        } else if (kind <= 2) { /* piecewise linear: small step, no ties */
            n = FB * FP, h = 1e-4f;
            for (int i = 0; i < n; i++) x[i] = (float)(2.0 * pe_rng_uniform(&r) - 1.0);
        } else if (kind <= 4) {
            n = FP * FD, h = 1e-3f;
            for (int i = 0; i < n; i++) x[i] = (float)pe_rng_normal(&r);
        } else {
            n = FC * FP, h = 1e-3f;
            for (int i = 0; i < n; i++) x[i] = (float)pe_rng_normal(&r);
        }
        double err = fd_check(&c, x, n, h);
        printf("%-4s vs finite differences: max rel err %.3g\n", names[kind], err);
        CHECK_MSG(err <= 1e-4, "%s: finite-difference error %.3g", names[kind], err);
    }
}

static void test_bce_ld(void) {
    enum { B = 5, LD = 11, C0 = 4, C = 6 }; /* columns C0 .. C0+C-1 of rows of LD */
    float x[B * LD], dx[B * LD], xc[B * C], dxc[B * C] = {0}, w[C];
    uint8_t y[B * C];
    pe_rng r;
    pe_rng_seed(&r, 3);
    for (int i = 0; i < B * LD; i++) x[i] = (float)(3.0 * pe_rng_normal(&r)), dx[i] = 0.25f;
    for (int c = 0; c < C; c++) w[c] = (float)(0.5 + 4.0 * pe_rng_uniform(&r));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            y[b * C + c] = pe_rng_uniform(&r) < 0.4;
            xc[b * C + c] = x[b * LD + C0 + c];
        }
    double v = pe_loss_bce_ld(dx + C0, x + C0, LD, y, w, B, C, 0.7);
    double vc = pe_loss_bce(dxc, xc, y, w, B, C, 0.7);
    CHECK_MSG(v == vc, "bce_ld %.17g, bce on the copy %.17g", v, vc);
    int same = 1, untouched = 1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < LD; j++) {
            float g = dx[b * LD + j];
            if (j >= C0 && j < C0 + C) same &= g == 0.25f + dxc[b * C + j - C0];
            else untouched &= g == 0.25f;
        }
    CHECK_MSG(same, "bce_ld's gradient differs from bce's on the copy");
    CHECK_MSG(untouched, "bce_ld wrote outside its columns");
}

int main(void) {
    pe_loss_weights lw = pe_loss_weights_default(); /* spec section 4 */
    CHECK(lw.clst == 0.004 && lw.sep == 0.0004 && lw.div == 250.0 && lw.cnt == 300.0 &&
          lw.l1 == 1e-4);
    test_golden();
    test_finite_differences();
    test_bce_ld();
    TEST_END();
}
