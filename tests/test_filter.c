/* Butterworth high-pass design and filtfilt against scipy (tests/golden/preprocess.json,
 * made by scripts/golden_preprocess.py). */
#include <cjson/cJSON.h>

#include "check.h"
#include "golden_json.h"
#include "data/filter.h"
#include "util/fileio.h"

static double json_num(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key)->valuedouble;
}

/* pe_iir from the golden b, a of obj. */
static pe_iir golden_iir(const cJSON *obj) {
    pe_iir f;
    memset(&f, 0, sizeof f);
    int nb, na;
    double *b = json_doubles(obj, "b", &nb), *a = json_doubles(obj, "a", &na);
    f.order = nb - 1;
    for (int j = 0; j < nb && j <= PE_FILTER_MAX_ORDER; j++) f.b[j] = b[j];
    for (int j = 0; j < na && j <= PE_FILTER_MAX_ORDER; j++) f.a[j] = a[j];
    free(b);
    free(a);
    return f;
}

static double rel_err(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* b, a and zi of every butter setting vs scipy. */
static void test_butter(const cJSON *g) {
    pe_error e = {{0}};
    double worst_ba = 0, worst_zi = 0, worst_zx = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(g, "butter")) {
        int order = (int)json_num(it, "order"), nb, na, nz;
        double cutoff = json_num(it, "cutoff"), fs = json_num(it, "fs");
        double *b = json_doubles(it, "b", &nb), *a = json_doubles(it, "a", &na);
        double *zi = json_doubles(it, "zi", &nz), *zx = json_doubles(it, "zi_exact", &nz);
        pe_iir f;
        CHECK(pe_butter_highpass(order, cutoff, fs, &f, &e) == 0);
        CHECK(f.order == order && nb == order + 1 && na == order + 1 && nz == order);
        for (int j = 0; j <= order && j < nb; j++) {
            CHECK_CLOSE(f.b[j], b[j], 1e-14, 1e-10);
            CHECK_CLOSE(f.a[j], a[j], 1e-14, 1e-10);
            worst_ba = fmax(worst_ba, fmax(rel_err(f.b[j], b[j]), rel_err(f.a[j], a[j])));
        }
        /* zi from scipy's b, a: the system is so ill-conditioned at high orders that
         * our 1-ulp coefficient differences would move zi. */
        pe_iir fg = golden_iir(it);
        double z[PE_FILTER_MAX_ORDER];
        CHECK(pe_lfilter_zi(&fg, z, &e) == 0);
        /* vs the exact solution always; vs scipy's LAPACK solve where that one is
         * accurate (its own error vs the exact solution below 1e-12). */
        double scipy_err = 0;
        for (int j = 0; j < order && j < nz; j++)
            scipy_err = fmax(scipy_err, rel_err(zi[j], zx[j]));
        for (int j = 0; j < order && j < nz; j++) {
            CHECK_CLOSE(z[j], zx[j], 0, 1e-13);
            worst_zx = fmax(worst_zx, rel_err(z[j], zx[j]));
            if (scipy_err < 1e-12) {
                CHECK_CLOSE(z[j], zi[j], 0, 1e-10);
                worst_zi = fmax(worst_zi, rel_err(z[j], zi[j]));
            }
        }
        free(zx);
        free(b);
        free(a);
        free(zi);
    }
    printf("butter: max relative error b/a %.3g, zi vs exact %.3g, zi vs scipy (where "
           "accurate) %.3g\n", worst_ba, worst_zx, worst_zi);

    /* The spec's closed form for order 1, fs 100, 0.5 Hz. */
    pe_iir f;
    CHECK(pe_butter_highpass(1, 0.5, 100, &f, &e) == 0);
    double k = tan(M_PI * 0.01 / 2);
    CHECK_CLOSE(f.b[0], 1 / (1 + k), 0, 1e-14);
    CHECK_CLOSE(f.b[1], -1 / (1 + k), 0, 1e-14);
    CHECK_CLOSE(f.a[0], 1.0, 0, 0);
    CHECK_CLOSE(f.a[1], (k - 1) / (1 + k), 0, 1e-14);

    /* Invalid designs. */
    CHECK(pe_butter_highpass(0, 0.5, 100, &f, &e) == -1);
    CHECK_CONTAINS(e.msg, "order 0");
    CHECK(pe_butter_highpass(9, 0.5, 100, &f, &e) == -1);
    CHECK_CONTAINS(e.msg, "order 9");
    CHECK(pe_butter_highpass(1, 50, 100, &f, &e) == -1);
    CHECK_CONTAINS(e.msg, "cutoff 50");
    CHECK(pe_butter_highpass(1, 0, 100, &f, &e) == -1);
    CHECK(pe_butter_highpass(1, 0.5, 0, &f, &e) == -1);
    CHECK(pe_butter_highpass(1, 0.5, NAN, &f, &e) == -1);
}

/* filtfilt in double vs scipy to 1e-9; float API, aliasing and the row version.
 * `key` "filtfilt": scipy.signal.filtfilt; "filtfilt_exact_zi": scipy's steps with the
 * exact zi (high orders). */
static void test_filtfilt(const cJSON *g, const char *key) {
    pe_error e = {{0}};
    double worst = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(g, key)) {
        int order = (int)json_num(it, "order"), n, ny;
        double *x = json_doubles(it, "x", &n), *y = json_doubles(it, "y", &ny);
        /* scipy's coefficients (the design is tested above; at high orders 1-ulp
         * differences in b, a change the output visibly). */
        pe_iir f = golden_iir(it);
        CHECK(f.order == order);
        CHECK(n == ny);
        double *work = malloc(pe_filtfilt_work_len(&f, n) * sizeof *work);
        double *out = malloc((size_t)n * sizeof *out);
        CHECK(pe_filtfilt_f64(&f, x, out, n, work, &e) == 0);
        double amax = 0;
        for (int i = 0; i < n; i++) amax = fmax(amax, fabs(y[i]));
        for (int i = 0; i < n; i++) {
            CHECK_CLOSE(out[i], y[i], 1e-9, 1e-9);
            worst = fmax(worst, fabs(out[i] - y[i]) / amax);
        }
        /* In place (x aliases y). */
        memcpy(out, x, (size_t)n * sizeof *out);
        CHECK(pe_filtfilt_f64(&f, out, out, n, work, &e) == 0);
        for (int i = 0; i < n; i++) CHECK_CLOSE(out[i], y[i], 1e-9, 1e-9);

        /* Float API (x is float32-representable; output rounded to float). */
        float *xf = malloc((size_t)n * sizeof *xf), *yf = malloc((size_t)n * sizeof *yf);
        for (int i = 0; i < n; i++) xf[i] = (float)x[i];
        CHECK(pe_filtfilt(&f, xf, yf, n, &e) == 0);
        for (int i = 0; i < n; i++) CHECK_CLOSE(yf[i], y[i], 1e-6 * amax, 1e-6);
        /* Rows (19 = two full SIMD groups of 8 + a partial one), distinct signals, in
         * place and out of place: each must equal pe_filtfilt on that row bit for bit. */
        const int R = 19;
        float *rows = malloc((size_t)R * n * sizeof *rows);
        float *outr = malloc((size_t)R * n * sizeof *outr), *one = malloc((size_t)n * sizeof *one);
        for (int r = 0; r < R; r++)
            for (int i = 0; i < n; i++) rows[r * n + i] = xf[i] * (float)(r + 1) - (float)r;
        CHECK(pe_filtfilt_rows(&f, rows, outr, R, n, &e) == 0);
        CHECK(memcmp(outr, yf, (size_t)n * sizeof *yf) == 0);
        for (int r = 0; r < R; r++) {
            CHECK(pe_filtfilt(&f, rows + r * n, one, n, &e) == 0);
            CHECK_MSG(memcmp(outr + r * n, one, (size_t)n * sizeof *one) == 0, "row %d", r);
        }
        CHECK(pe_filtfilt_rows(&f, rows, rows, R, n, &e) == 0);
        CHECK(memcmp(rows, outr, (size_t)R * n * sizeof *rows) == 0);
        CHECK(pe_filtfilt_rows(&f, rows, rows, 0, n, &e) == 0);
        free(rows);
        free(outr);
        free(one);
        free(xf);
        free(yf);
        free(work);
        free(out);
        free(x);
        free(y);
    }
    printf("%s: max |error| / max|y| = %.3g\n", key, worst);
}

static void test_filtfilt_errors(void) {
    pe_error e = {{0}};

    /* Too short: n must exceed padlen = 3*(order+1). */
    pe_iir f;
    CHECK(pe_butter_highpass(1, 0.5, 100, &f, &e) == 0);
    CHECK(pe_filtfilt_padlen(&f) == 6);
    float x[64] = {0}, y[64];
    CHECK(pe_filtfilt(&f, x, y, 6, &e) == -1);
    CHECK_CONTAINS(e.msg, "length 6");
    CHECK_CONTAINS(e.msg, "padlen 6");
    CHECK(pe_filtfilt(&f, x, y, 7, &e) == 0);
    CHECK(pe_filtfilt_rows(&f, x, y, 1, 0, &e) == -1);
    CHECK_CONTAINS(e.msg, "length 0");
    CHECK(pe_butter_highpass(4, 0.5, 100, &f, &e) == 0);
    CHECK(pe_filtfilt(&f, x, y, 15, &e) == -1);
    CHECK_CONTAINS(e.msg, "padlen 15");
    CHECK(pe_filtfilt(&f, x, y, 16, &e) == 0);
    pe_iir bad = f;
    bad.order = 0;
    CHECK(pe_filtfilt(&bad, x, y, 64, &e) == -1);
    CHECK_CONTAINS(e.msg, "order 0");

    /* A high-pass removes a constant: filtfilt of a constant is (near) zero. */
    CHECK(pe_butter_highpass(1, 0.5, 100, &f, &e) == 0);
    for (int i = 0; i < 64; i++) x[i] = 3.0f;
    CHECK(pe_filtfilt(&f, x, y, 64, &e) == 0);
    for (int i = 0; i < 64; i++) CHECK_CLOSE(y[i], 0.0, 1e-6, 0);
}

int main(void) {
    cJSON *g = golden_json_load("preprocess.json");
    if (!g) TEST_END();
    test_butter(g);
    test_filtfilt(g, "filtfilt");
    test_filtfilt(g, "filtfilt_exact_zi");
    test_filtfilt_errors();
    cJSON_Delete(g);
    TEST_END();
}
