/* Standardization, class weights and the weighted sampler against numpy / sklearn
 * (tests/golden/preprocess.json, made by scripts/golden_preprocess.py), and the whole
 * filter + standardize chain on real PTB-XL records. */
#include <cjson/cJSON.h>

#include "check.h"
#include "golden_json.h"
#include "data/filter.h"
#include "data/preprocess.h"
#include "util/fileio.h"
#include "util/rng.h"

static int json_int(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key)->valueint;
}

/* Synthetic (3, 4, 50) array with a constant lead vs numpy mean / population std. */
static void test_standardize(const cJSON *g) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "standardize");
    int n = json_int(s, "n"), leads = json_int(s, "leads"), samples = json_int(s, "samples");
    int nx, nm, ns, ny;
    double *x = json_doubles(s, "x", &nx), *m = json_doubles(s, "mean", &nm);
    double *sd = json_doubles(s, "std", &ns), *y = json_doubles(s, "y", &ny);
    CHECK(nx == n * leads * samples && ny == nx && nm == leads && ns == leads);
    float *xf = malloc((size_t)nx * sizeof *xf), mean[8], std[8];
    for (int i = 0; i < nx; i++) xf[i] = (float)x[i];
    pe_standardize_fit(xf, n, leads, samples, mean, std);
    for (int l = 0; l < leads; l++) {
        CHECK_CLOSE(mean[l], m[l], 1e-7, 1e-6);
        CHECK_CLOSE(std[l], sd[l], 0, 1e-6);
    }
    CHECK(std[2] == 1.0f); /* the constant lead */
    pe_standardize_apply(xf, n, leads, samples, mean, std);
    for (int i = 0; i < nx; i++) CHECK_CLOSE(xf[i], y[i], 1e-5, 1e-5);
    free(xf);
    free(x);
    free(m);
    free(sd);
    free(y);
}

/* Synthetic labels (class 3 never positive) vs numpy counts and weights. */
static void test_class_weights(const cJSON *g) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "class_weights");
    int n = json_int(s, "n"), C = json_int(s, "C"), nl, nc, nw;
    double *lab = json_doubles(s, "labels", &nl), *cnt = json_doubles(s, "counts", &nc);
    double *wt = json_doubles(s, "weights", &nw);
    CHECK(nl == n * C && nc == C && nw == C && C <= 16);
    uint8_t *labels = malloc((size_t)nl);
    for (int i = 0; i < nl; i++) labels[i] = (uint8_t)lab[i];
    float w[16];
    long counts[16];
    int empty = -1;
    pe_class_weights(labels, n, C, w, &counts[0], &empty);
    for (int c = 0; c < C; c++) {
        CHECK(counts[c] == (long)cnt[c]);
        CHECK_CLOSE(w[c], wt[c], 0, 1e-6);
        CHECK(isfinite(w[c]));
    }
    CHECK(empty == json_int(s, "n_empty") && empty == 1);
    CHECK(w[3] == 0.0f);
    pe_class_weights(labels, n, C, w, counts, NULL); /* n_empty may be NULL */

    /* Sampler on these labels: frequencies proportional to the record weights. */
    pe_error e = {{0}};
    pe_sampler sp;
    CHECK(pe_sampler_init(&sp, labels, n, C, w, &e) == 0);
    double *rw = calloc((size_t)n, sizeof *rw), total = 0;
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < C; c++)
            if (labels[r * C + c]) rw[r] += w[c];
        total += rw[r];
    }
    const long draws = getenv("PE_TEST_QUICK") ? 100000 : 400000;
    long *idx = malloc((size_t)draws * sizeof *idx), *hist = calloc((size_t)n, sizeof *hist);
    pe_rng rng;
    pe_rng_seed(&rng, 7);
    pe_sampler_draw(&sp, &rng, idx, draws);
    int bad_idx = 0;
    for (long k = 0; k < draws; k++) {
        if (idx[k] < 0 || idx[k] >= n) bad_idx++;
        else hist[idx[k]]++;
    }
    CHECK(bad_idx == 0);
    double chi2 = 0;
    int df = -1, zero_drawn = 0;
    for (int r = 0; r < n; r++) {
        if (rw[r] == 0) {
            zero_drawn += hist[r] != 0;
            continue;
        }
        double expct = draws * rw[r] / total;
        chi2 += (hist[r] - expct) * (hist[r] - expct) / expct;
        df++;
    }
    CHECK(zero_drawn == 0);
    /* chi-square with df degrees of freedom: mean df, sd sqrt(2 df); allow 5 sd. */
    CHECK_MSG(chi2 < df + 5 * sqrt(2.0 * df), "chi2 %.1f with %d dof", chi2, df);
    printf("sampler: chi2 = %.1f with %d dof over %ld draws\n", chi2, df, draws);

    /* Same seed -> same draws; another seed -> different draws. */
    long a[256], b[256];
    pe_rng r1, r2;
    pe_rng_seed(&r1, 99);
    pe_rng_seed(&r2, 99);
    pe_sampler_draw(&sp, &r1, a, 256);
    pe_sampler_draw(&sp, &r2, b, 256);
    CHECK(memcmp(a, b, sizeof a) == 0);
    pe_rng_seed(&r2, 100);
    pe_sampler_draw(&sp, &r2, b, 256);
    CHECK(memcmp(a, b, sizeof a) != 0);
    pe_sampler_free(&sp);
    pe_sampler_free(&sp); /* idempotent */

    /* All-zero weights -> uniform over all records. */
    float w0[16] = {0};
    CHECK(pe_sampler_init(&sp, labels, n, C, w0, &e) == 0);
    memset(hist, 0, (size_t)n * sizeof *hist);
    pe_sampler_draw(&sp, &rng, idx, draws);
    for (long k = 0; k < draws; k++) hist[idx[k]]++;
    chi2 = 0;
    for (int r = 0; r < n; r++) {
        double expct = (double)draws / n;
        chi2 += (hist[r] - expct) * (hist[r] - expct) / expct;
    }
    CHECK_MSG(chi2 < (n - 1) + 5 * sqrt(2.0 * (n - 1)), "uniform chi2 %.1f", chi2);
    pe_sampler_free(&sp);

    /* A single positive record gets every draw. */
    uint8_t one[3 * 2] = {0, 0, 0, 1, 0, 0};
    float w1[2] = {2.0f, 0.5f};
    CHECK(pe_sampler_init(&sp, one, 3, 2, w1, &e) == 0);
    pe_sampler_draw(&sp, &rng, idx, 1000);
    int all1 = 1;
    for (int k = 0; k < 1000; k++) all1 &= idx[k] == 1;
    CHECK(all1);
    pe_sampler_free(&sp);

    /* Errors. */
    CHECK(pe_sampler_init(&sp, labels, 0, C, w, &e) == -1);
    CHECK_CONTAINS(e.msg, "n = 0");
    CHECK(sp.cdf == NULL);
    float wneg[2] = {1.0f, -1.0f};
    CHECK(pe_sampler_init(&sp, one, 3, 2, wneg, &e) == -1);
    CHECK_CONTAINS(e.msg, "class 1");
    float wnan[2] = {1.0f, NAN};
    CHECK(pe_sampler_init(&sp, one, 3, 2, wnan, &e) == -1);

    /* No positives at all: every weight 0, all counted empty. */
    uint8_t none[4] = {0};
    pe_class_weights(none, 2, 2, w, counts, &empty);
    CHECK(empty == 2 && w[0] == 0 && w[1] == 0 && counts[0] == 0);

    free(idx);
    free(hist);
    free(rw);
    free(labels);
    free(lab);
    free(cnt);
    free(wt);
}

/* Reads records100/.../NNNNN_lr.dat (int16 LE, 1000 x 12 interleaved) into
 * out (12, 1000) in mV, as float32 like numpy's int16 / float32(1000). */
static int read_dat(const char *dir, int ecg_id, float *out) {
    char path[4400];
    snprintf(path, sizeof path, "%s/records100/%05d/%05d_lr.dat", dir, (ecg_id / 1000) * 1000,
             ecg_id);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    unsigned char buf[12 * 1000 * 2];
    size_t got = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    if (got != sizeof buf) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, got, sizeof buf);
        return -1;
    }
    for (int t = 0; t < 1000; t++)
        for (int l = 0; l < 12; l++) {
            const unsigned char *p = buf + 2 * (t * 12 + l);
            int16_t v = (int16_t)(uint16_t)(p[0] | (p[1] << 8));
            out[l * 1000 + t] = (float)v / 1000.0f;
        }
    return 0;
}

/* Filter (order 1, 0.5 Hz) + standardization fitted on 50 training records vs
 * scipy.filtfilt + sklearn StandardScaler. */
static void test_real(const cJSON *g, const char *dir) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "real");
    pe_error e = {{0}};
    pe_iir f;
    CHECK(pe_butter_highpass(json_int(s, "order"),
                             cJSON_GetObjectItemCaseSensitive(s, "cutoff")->valuedouble,
                             cJSON_GetObjectItemCaseSensitive(s, "fs")->valuedouble, &f, &e) == 0);
    int nt, nm, ns;
    double *tid = json_doubles(s, "train_ids", &nt), *gm = json_doubles(s, "mean", &nm);
    double *gs = json_doubles(s, "std", &ns);
    CHECK(nt == 50 && nm == 12 && ns == 12);
    float *train = malloc((size_t)nt * 12000 * sizeof *train);
    int ok = 1;
    for (int i = 0; i < nt && ok; i++) ok = read_dat(dir, (int)tid[i], train + i * 12000) == 0;
    CHECK(ok);
    CHECK(pe_filtfilt_rows(&f, train, train, (long)nt * 12, 1000, &e) == 0);
    float mean[12], std[12];
    pe_standardize_fit(train, nt, 12, 1000, mean, std);
    for (int l = 0; l < 12; l++) {
        CHECK_CLOSE(mean[l], gm[l], 1e-7, 1e-5);
        CHECK_CLOSE(std[l], gs[l], 0, 1e-6);
    }
    double worst = 0;
    int nrec = 0;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(s, "records")) {
        float x[12000];
        int id = json_int(rec, "ecg_id"), stride = json_int(rec, "stride"), ny;
        double *y = json_doubles(rec, "y", &ny);
        int per = (1000 + stride - 1) / stride;
        CHECK(ny == 12 * per);
        if (read_dat(dir, id, x) == 0 && ny == 12 * per) {
            for (int l = 0; l < 12; l++)
                CHECK(pe_filtfilt(&f, x + l * 1000, x + l * 1000, 1000, &e) == 0);
            pe_standardize_apply(x, 1, 12, 1000, mean, std);
            for (int l = 0; l < 12; l++)
                for (int k = 0; k < per; k++) {
                    double c = x[l * 1000 + k * stride], r = y[l * per + k];
                    CHECK_CLOSE(c, r, 1e-5, 1e-5);
                    worst = fmax(worst, fabs(c - r));
                }
            nrec++;
        } else {
            CHECK(0);
        }
        free(y);
    }
    CHECK(nrec == 5);
    printf("real: %d records, max |C - sklearn| = %.3g (standardized units)\n", nrec, worst);
    free(train);
    free(tid);
    free(gm);
    free(gs);
}

int main(void) {
    cJSON *g = golden_json_load("preprocess.json");
    if (!g) TEST_END();
    test_standardize(g);
    test_class_weights(g);
    if (check_failures) {
        cJSON_Delete(g);
        TEST_END();
    }
    if (!pe_test_data_dir()) cJSON_Delete(g); /* REQUIRE_DATA returns (skip) below */
    REQUIRE_DATA(data);
    test_real(g, data);
    cJSON_Delete(g);
    TEST_END();
}
