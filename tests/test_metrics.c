/* Metrics against scikit-learn/numpy golden values (scripts/golden_metrics.py), and the
 * bootstrap: multiplicity-based AUROC == AUROC of the explicitly resampled data,
 * reproducibility with a seed, intervals containing the point estimate, speed. */
#include "check.h"
#include "golden_json.h"
#include "eval/metrics.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

#include <cjson/cJSON.h>
#include <time.h>

static double max_err = 0; /* largest |C - reference| over all golden comparisons */

static void track(double a, double b) {
    double d = fabs(a - b);
    if (d > max_err) max_err = d;
}

#define CLOSE_GOLD(a, b)                                                                 \
    do {                                                                                 \
        track((a), (b));                                                                 \
        CHECK_CLOSE((a), (b), 1e-9, 0);                                                  \
    } while (0)

static size_t arr_len(const cJSON *a) { return (size_t)cJSON_GetArraySize(a); }

/* JSON arrays -> freshly malloc'ed C arrays (null -> NAN for doubles). */
static uint8_t *get_u8(const cJSON *a) {
    size_t n = arr_len(a);
    uint8_t *v = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) v[i] = (uint8_t)cJSON_GetArrayItem(a, (int)i)->valuedouble;
    return v;
}
static float *get_f32(const cJSON *a) {
    size_t n = arr_len(a);
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)cJSON_GetArrayItem(a, (int)i)->valuedouble;
    return v;
}
static double *get_f64(const cJSON *a) {
    size_t n = arr_len(a);
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, (int)i);
        v[i] = cJSON_IsNull(x) ? NAN : x->valuedouble;
    }
    return v;
}
static const cJSON *item(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void test_binary(const cJSON *cases) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = item(c, "name")->valuestring;
        size_t n = arr_len(item(c, "y"));
        uint8_t *y = get_u8(item(c, "y"));
        float *s = get_f32(item(c, "scores"));
        const cJSON *ref = item(c, "auc");
        pe_error e = {{0}};
        double auc = 0;
        int def = -1;
        CHECK(pe_auroc(y, s, n, 1, &auc, &def, &e) == 0);
        if (cJSON_IsNull(ref)) {
            CHECK_MSG(def == 0 && isnan(auc), "%s: should be undefined", name);
        } else {
            CHECK_MSG(def == 1, "%s: should be defined", name);
            CLOSE_GOLD(auc, ref->valuedouble);
        }
        free(y);
        free(s);
    }
}

static void test_roc(const cJSON *cases, const cJSON *roc) {
    const char *want = item(roc, "case")->valuestring;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(item(c, "name")->valuestring, want)) continue;
        size_t n = arr_len(item(c, "y"));
        uint8_t *y = get_u8(item(c, "y"));
        float *s = get_f32(item(c, "scores"));
        double *fpr = malloc((n + 1) * sizeof *fpr), *tpr = malloc((n + 1) * sizeof *tpr);
        double *thr = malloc((n + 1) * sizeof *thr);
        double *rf = get_f64(item(roc, "fpr")), *rt = get_f64(item(roc, "tpr"));
        double *rth = get_f64(item(roc, "thresholds_after_first"));
        size_t m = 0;
        pe_error e = {{0}};
        CHECK(pe_roc_curve(y, s, n, 1, fpr, tpr, thr, &m, &e) == 0);
        CHECK(m == arr_len(item(roc, "fpr")));
        CHECK(isinf(thr[0]) && thr[0] > 0);
        for (size_t i = 0; i < m && i < arr_len(item(roc, "fpr")); i++) {
            CLOSE_GOLD(fpr[i], rf[i]);
            CLOSE_GOLD(tpr[i], rt[i]);
            if (i > 0) CLOSE_GOLD(thr[i], rth[i - 1]);
        }
        free(y), free(s), free(fpr), free(tpr), free(thr), free(rf), free(rt), free(rth);
        return;
    }
    CHECK_MSG(0, "roc case %s not found", want);
}

static void test_multi(const cJSON *m) {
    int N = item(m, "N")->valueint, C = item(m, "C")->valueint;
    uint8_t *y = get_u8(item(m, "y"));
    float *s = get_f32(item(m, "scores"));
    double *ref_auc = get_f64(item(m, "auc"));
    double *ref_sup = get_f64(item(m, "support"));
    double *ref_def = get_f64(item(m, "defined"));
    pe_error e = {{0}};

    pe_auroc_report r;
    CHECK(pe_macro_auroc(y, s, (size_t)N, C, &r, &e) == 0);
    int ndef = 0;
    for (int c = 0; c < C; c++) {
        CHECK(r.defined[c] == (uint8_t)ref_def[c]);
        CHECK(r.support[c] == (uint64_t)ref_sup[c]);
        if (ref_def[c]) CLOSE_GOLD(r.auroc[c], ref_auc[c]);
        else CHECK(isnan(r.auroc[c]));
        ndef += ref_def[c] != 0;
    }
    CHECK(r.n_defined == ndef);
    CLOSE_GOLD(r.macro, item(m, "macro_auc")->valuedouble);
    const char *names[6] = {"A", "B", "C", "D", "E", "F"};
    char buf[128];
    CHECK(pe_auroc_undefined_names(&r, names, buf, sizeof buf) == C - ndef);
    CHECK(!strcmp(buf, "C, E"));
    pe_auroc_undefined_names(&r, NULL, buf, sizeof buf);
    CHECK(!strcmp(buf, "class 2, class 4"));
    pe_auroc_undefined_names(&r, names, buf, 3); /* truncation stays terminated */
    CHECK(strlen(buf) == 2);
    pe_auroc_report_free(&r);

    /* F1 at 0.5 and at given thresholds. */
    double *f1 = malloc((size_t)C * sizeof *f1);
    double *ref = get_f64(item(m, "f1_05"));
    double macro = pe_f1(y, s, (size_t)N, C, NULL, f1);
    for (int c = 0; c < C; c++) CLOSE_GOLD(f1[c], ref[c]);
    CLOSE_GOLD(macro, item(m, "f1_05_macro")->valuedouble);
    free(ref);
    double *thr = get_f64(item(m, "thresholds"));
    ref = get_f64(item(m, "f1_thr"));
    macro = pe_f1(y, s, (size_t)N, C, thr, f1);
    for (int c = 0; c < C; c++) CLOSE_GOLD(f1[c], ref[c]);
    CLOSE_GOLD(macro, item(m, "f1_thr_macro")->valuedouble);
    free(ref);

    /* Threshold tuning against the brute-force search. */
    double *rt = get_f64(item(m, "tuned_thresholds")), *rf = get_f64(item(m, "tuned_f1"));
    double *rok = get_f64(item(m, "tuned"));
    double *best = malloc((size_t)C * sizeof *best);
    uint8_t *ok = malloc((size_t)C);
    CHECK(pe_tune_thresholds(y, s, (size_t)N, C, 0.5, thr, best, ok, &e) == 0);
    for (int c = 0; c < C; c++) {
        CHECK(ok[c] == (uint8_t)rok[c]);
        CLOSE_GOLD(thr[c], rt[c]);
        CLOSE_GOLD(best[c], rf[c]);
    }
    /* The tuned thresholds reproduce the best F1 on the validation data. */
    pe_f1(y, s, (size_t)N, C, thr, f1);
    for (int c = 0; c < C; c++) CHECK_CLOSE(f1[c], best[c], 1e-15, 0);

    free(rt), free(rf), free(rok), free(best), free(ok), free(thr), free(f1);
    free(y), free(s), free(ref_auc), free(ref_sup), free(ref_def);
}

static void test_quantile(const cJSON *q) {
    size_t m = arr_len(item(q, "values"));
    double *qs = get_f64(item(q, "q")), *exp = get_f64(item(q, "expected"));
    for (size_t k = 0; k < arr_len(item(q, "q")); k++) {
        double *v = get_f64(item(q, "values"));
        CLOSE_GOLD(pe_quantile(v, m, qs[k]), exp[k]);
        free(v);
    }
    double nan1[2] = {NAN, NAN};
    CHECK(isnan(pe_quantile(nan1, 2, 0.5)));
    free(qs), free(exp);
}

static void test_errors(void) {
    pe_error e = {{0}};
    uint8_t y[3] = {0, 1, 0};
    float s[3] = {0.1f, NAN, 0.3f};
    double auc;
    CHECK(pe_auroc(y, s, 3, 1, &auc, NULL, &e) == -1);
    CHECK_CONTAINS(e.msg, "NaN");
    s[1] = 0.2f;
    y[2] = 2;
    CHECK(pe_auroc(y, s, 3, 1, &auc, NULL, &e) == -1);
    CHECK_CONTAINS(e.msg, "label of record 2");
    y[2] = 0;
    uint8_t y0[3] = {0, 0, 0};
    double f[4], t[4];
    size_t np;
    CHECK(pe_roc_curve(y0, s, 3, 1, f, t, NULL, &np, &e) == -1);
    CHECK_CONTAINS(e.msg, "no positive");
}

/* Synthetic (n, C) data: class c has prevalence prev[c] and a noisy informative score;
 * scores rounded to 2 decimals so that there are ties. */
static void synth(uint8_t *y, float *s, size_t n, int C, const double *prev, uint64_t seed) {
    pe_rng r;
    pe_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            uint8_t yy = pe_rng_uniform(&r) < prev[c];
            double z = 1.2 * (yy - 0.5) + pe_rng_normal(&r);
            y[i * C + c] = yy;
            s[i * C + c] = (float)(round(100.0 / (1.0 + exp(-z))) / 100.0);
        }
}

static void test_bootstrap(void) {
    int quick = getenv("PE_TEST_QUICK") != NULL;
    const size_t n = 2000;
    const int C = 16;
    double prev[16];
    for (int c = 0; c < C; c++) prev[c] = 0.02 + 0.3 * c / C;
    prev[3] = 0.001; /* a handful of positives (4 here): absent from some resamples */
    prev[7] = 0.0;   /* never defined */
    uint8_t *y = malloc(n * C);
    float *s = malloc(n * C * sizeof *s);
    synth(y, s, n, C, prev, 7);
    pe_error e = {{0}};

    /* Multiplicity-based AUROC == AUROC of the explicitly resampled data. */
    pe_sorted_class *cls = calloc(C, sizeof *cls);
    for (int c = 0; c < C; c++) CHECK(pe_sorted_class_init(&cls[c], y + c, s + c, n, C, &e) == 0);
    uint32_t *mult = malloc(n * sizeof *mult);
    uint8_t *y2 = malloc(n * C);
    float *s2 = malloc(n * C * sizeof *s2);
    pe_rng r;
    pe_rng_seed(&r, 99);
    double worst = 0;
    int compared = 0;
    for (int b = 0; b < 5; b++) {
        memset(mult, 0, n * sizeof *mult);
        for (size_t i = 0; i < n; i++) {
            size_t j = pe_rng_below(&r, n);
            mult[j]++;
            memcpy(y2 + i * C, y + j * C, C);
            memcpy(s2 + i * C, s + j * C, C * sizeof *s2);
        }
        for (int c = 0; c < C; c++) {
            int d1 = -1, d2 = -1;
            double a1 = pe_sorted_class_auroc(&cls[c], mult, &d1), a2 = NAN;
            CHECK(pe_auroc(y2 + c, s2 + c, n, C, &a2, &d2, &e) == 0);
            CHECK(d1 == d2);
            if (d1 && d2) {
                CHECK_CLOSE(a1, a2, 1e-12, 0);
                if (fabs(a1 - a2) > worst) worst = fabs(a1 - a2);
                compared++;
            }
        }
    }
    printf("multiplicity vs explicit resample: %d class-resamples, max |diff| = %.3g\n",
           compared, worst);

    /* The bootstrap's first resample equals the macro AUROC of the same explicit
     * resample (the draw order is n calls of pe_rng_below on the seeded rng). */
    pe_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++) {
        size_t j = pe_rng_below(&r, n);
        memcpy(y2 + i * C, y + j * C, C);
        memcpy(s2 + i * C, s + j * C, C * sizeof *s2);
    }
    pe_auroc_report first;
    CHECK(pe_macro_auroc(y2, s2, n, C, &first, &e) == 0);

    int B = quick ? 200 : 1000;
    pe_bootstrap_report b1, b2, b3;
    pe_rng_seed(&r, 5);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(pe_bootstrap_auroc(y, s, n, C, B, 0.95, &r, &b1, &e) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("bootstrap: %d resamples of %zu records x %d classes in %.3f s\n", B, n, C, sec);
    CHECK_CLOSE(b1.macro[0], first.macro, 1e-12, 0);
    pe_auroc_report_free(&first);

    pe_auroc_report full;
    CHECK(pe_macro_auroc(y, s, n, C, &full, &e) == 0);
    printf("macro AUROC %.4f, 95%% CI [%.4f, %.4f], kept %d/%d; class 3 (support %llu) kept %d\n",
           full.macro, b1.lo, b1.hi, b1.n_kept, B, (unsigned long long)full.support[3],
           b1.class_kept[3]);
    CHECK(b1.lo < full.macro && full.macro < b1.hi);
    CHECK(b1.hi - b1.lo < 0.1);
    CHECK(b1.n_kept == B);
    CHECK(b1.class_kept[7] == 0 && isnan(b1.class_lo[7]) && isnan(b1.class_hi[7]));
    CHECK(b1.class_kept[3] > 0 && b1.class_kept[3] < B); /* the rare class is left out */
    for (int c = 0; c < C; c++)
        if (c != 3 && c != 7) {
            CHECK(b1.class_kept[c] == B);
            CHECK(b1.class_lo[c] <= full.auroc[c] && full.auroc[c] <= b1.class_hi[c]);
        }
    pe_auroc_report_free(&full);

    /* Reproducible with the same seed, different with another. */
    pe_rng_seed(&r, 5);
    CHECK(pe_bootstrap_auroc(y, s, n, C, B, 0.95, &r, &b2, &e) == 0);
    CHECK(b1.lo == b2.lo && b1.hi == b2.hi);
    CHECK(!memcmp(b1.macro, b2.macro, (size_t)B * sizeof *b1.macro));
    pe_rng_seed(&r, 6);
    CHECK(pe_bootstrap_auroc(y, s, n, C, B, 0.95, &r, &b3, &e) == 0);
    CHECK(b1.lo != b3.lo || b1.hi != b3.hi);
    pe_bootstrap_report_free(&b1);
    pe_bootstrap_report_free(&b2);
    pe_bootstrap_report_free(&b3);
    CHECK(pe_bootstrap_auroc(y, s, n, C, B, 1.5, &r, &b3, &e) == -1);
    CHECK_CONTAINS(e.msg, "level");
    for (int c = 0; c < C; c++) pe_sorted_class_free(&cls[c]);
    free(cls), free(mult), free(y2), free(s2), free(y), free(s);
}

/* Paired bootstrap of two score sets on the same labels: resample k of both reports holds
 * the same records, so the difference of their resample-0 macro AUROCs equals the
 * difference of the macro AUROCs of one explicit resample; a model against itself gives
 * [0, 0]; for two correlated models the paired interval is narrower than the interval
 * of differences of independently drawn resamples (the shared resampling noise cancels). */
static void test_paired_bootstrap(void) {
    const size_t n = 1500;
    const int C = 8, B = 300;
    double prev[8] = {0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.003, 0.15};
    uint8_t *y = malloc(n * C), *y2 = malloc(n * C);
    float *sa = malloc(n * C * sizeof *sa), *sb = malloc(n * C * sizeof *sb);
    float *a2 = malloc(n * C * sizeof *a2), *b2 = malloc(n * C * sizeof *b2);
    synth(y, sa, n, C, prev, 11);
    pe_rng r;
    pe_rng_seed(&r, 12);
    for (size_t i = 0; i < n * C; i++) sb[i] = sa[i] + 0.05f * (float)pe_rng_normal(&r);
    pe_error e = {{0}};
    pe_bootstrap_report ra, rb, ra2, rs, rb4;
    pe_rng_seed(&r, 3);
    CHECK(pe_bootstrap_auroc(y, sa, n, C, B, 0.95, &r, &ra, &e) == 0);
    pe_rng_seed(&r, 3);
    CHECK(pe_bootstrap_auroc(y, sb, n, C, B, 0.95, &r, &rb, &e) == 0);
    pe_rng_seed(&r, 3);
    CHECK(pe_bootstrap_auroc(y, sa, n, C, B, 0.95, &r, &ra2, &e) == 0);
    pe_rng_seed(&r, 4);
    CHECK(pe_bootstrap_auroc(y, sb, n, C, B, 0.95, &r, &rb4, &e) == 0);

    pe_rng_seed(&r, 3); /* the first resample, drawn explicitly */
    for (size_t i = 0; i < n; i++) {
        size_t j = pe_rng_below(&r, n);
        memcpy(y2 + i * C, y + j * C, C);
        memcpy(a2 + i * C, sa + j * C, C * sizeof *a2);
        memcpy(b2 + i * C, sb + j * C, C * sizeof *b2);
    }
    pe_auroc_report fa, fb, full_a, full_b;
    CHECK(pe_macro_auroc(y2, a2, n, C, &fa, &e) == 0);
    CHECK(pe_macro_auroc(y2, b2, n, C, &fb, &e) == 0);
    CHECK_CLOSE(ra.macro[0] - rb.macro[0], fa.macro - fb.macro, 1e-12, 0);

    double lo, hi;
    int kept = -1;
    CHECK(pe_bootstrap_paired_diff(&ra, &rb, &lo, &hi, &kept, &e) == 0);
    CHECK(pe_macro_auroc(y, sa, n, C, &full_a, &e) == 0);
    CHECK(pe_macro_auroc(y, sb, n, C, &full_b, &e) == 0);
    double d = full_a.macro - full_b.macro;
    double ulo, uhi;
    CHECK(pe_bootstrap_paired_diff(&ra, &rb4, &ulo, &uhi, NULL, &e) == 0);
    printf("paired: A %.4f B %.4f, A - B %.4f, 95%% CI [%.4f, %.4f]; unpaired [%.4f, %.4f]\n",
           full_a.macro, full_b.macro, d, lo, hi, ulo, uhi);
    CHECK(kept == B);
    CHECK(lo < d && d < hi);
    CHECK(hi - lo < 0.7 * (uhi - ulo));
    CHECK(pe_bootstrap_paired_diff(&ra, &ra2, &lo, &hi, NULL, &e) == 0);
    CHECK(lo == 0.0 && hi == 0.0);

    pe_rng_seed(&r, 3);
    CHECK(pe_bootstrap_auroc(y, sa, n, C, B / 2, 0.95, &r, &rs, &e) == 0);
    CHECK(pe_bootstrap_paired_diff(&ra, &rs, &lo, &hi, NULL, &e) == -1);
    CHECK_CONTAINS(e.msg, "same resamples");

    pe_auroc_report_free(&fa), pe_auroc_report_free(&fb);
    pe_auroc_report_free(&full_a), pe_auroc_report_free(&full_b);
    pe_bootstrap_report_free(&ra), pe_bootstrap_report_free(&rb);
    pe_bootstrap_report_free(&ra2), pe_bootstrap_report_free(&rs), pe_bootstrap_report_free(&rb4);
    free(y), free(y2), free(sa), free(sb), free(a2), free(b2);
}

int main(void) {
    cJSON *root = golden_json_load("metrics.json");
    if (!root) TEST_END();
    test_binary(item(root, "binary"));
    test_roc(item(root, "binary"), item(root, "roc"));
    test_multi(item(root, "multi"));
    test_quantile(item(root, "quantile"));
    printf("max |C - sklearn/numpy| over golden values: %.3g\n", max_err);
    cJSON_Delete(root);
    test_errors();
    test_bootstrap();
    test_paired_bootstrap();
    TEST_END();
}
