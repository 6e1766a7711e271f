/* Records longer than 10 s, read in 10-s windows: the window starts cover every sample
 * (checked against a brute-force enumeration over many lengths, rates and strides); a
 * record made of three real 10-s records one after the other scores, window by window,
 * exactly like those records on their own (and like copies of any window in between),
 * its record-level probabilities are the per-class maxima, a window's explanation is that
 * of the 10-s record; a 500 Hz window is resampled like the 10-s record it is copied
 * into; a window with a NaN sample is skipped (a record whose every window has one
 * fails); and short records, bad strides and windows outside the record are refused with
 * a clear message. */
#include "check.h"
#include "nets.h"
#include "protoecg.h"


#define N10 (PE_NUM_LEADS * PE_NUM_SAMPLES)

/* The window starts by brute force: every start s = 0, step, 2 step, ... whose window
 * fits, then the end-aligned window if some sample is still in no window. */
static long brute_starts(long n, long len, long step, long *out) {
    long m = 0;
    for (long s = 0; s + len <= n; s += step) out[m++] = s;
    if (m > 0) {
        long covered = out[m - 1] + len;
        if (covered < n) out[m++] = n - len;
    }
    return m;
}

/* Copies the window of (12, n) that starts at `start` and lasts len samples into (12, len). */
static void copy_window(const float *sig, long n, long start, long len, float *out) {
    for (int l = 0; l < PE_NUM_LEADS; l++)
        memcpy(out + (size_t)l * len, sig + (size_t)l * n + start, (size_t)len * sizeof(float));
}

static void check_starts(void) {
    pe_error e;
    long got[4096], want[4096], n = 0;
    int fss[] = {100, 250, 257, 500};
    double strides[] = {0.5, 1, 2.5, 3.3, 5, 7, 10};
    for (int f = 0; f < 4; f++)
        for (int si = 0; si < 7; si++)
            for (long len = 10L * fss[f]; len < 10L * fss[f] + 4000; len += 37) {
                long step = lround(strides[si] * fss[f]);
                long m = brute_starts(len, 10L * fss[f], step, want);
                int rc = pe_window_starts(len, fss[f], strides[si], &n, got, &e);
                CHECK_MSG(rc == 0 && n == m, "fs %d stride %g len %ld: %ld windows, want %ld",
                          fss[f], strides[si], len, n, m);
                for (long w = 0; rc == 0 && w < n && w < m; w++) CHECK(got[w] == want[w]);
            }
    /* hand cases: 25 s at 100 Hz */
    CHECK(pe_window_starts(2500, 100, 10, &n, got, &e) == 0 && n == 3);
    CHECK(got[0] == 0 && got[1] == 1000 && got[2] == 1500);
    CHECK(pe_window_starts(1000, 100, 5, &n, got, &e) == 0 && n == 1 && got[0] == 0);
    CHECK(pe_window_starts(999, 100, 5, &n, NULL, &e) != 0);
    CHECK_CONTAINS(e.msg, "at least 10 s");
    CHECK(pe_window_starts(5000, 100, 0, &n, NULL, &e) != 0);
    CHECK_CONTAINS(e.msg, "stride");
    CHECK(pe_window_starts(5000, 100, 10.5, &n, NULL, &e) != 0);
    CHECK(pe_window_starts(5000, 100, NAN, &n, NULL, &e) != 0);
    CHECK(pe_window_starts(5000, 250.5, 5, &n, NULL, &e) != 0);
    CHECK_CONTAINS(e.msg, "250.5 Hz");
}

int main(void) {
    check_starts();
    REQUIRE_DATA(dir);
    pe_error e = {{0}};
    pe_model m;
    test_tiny_proto_model(&m, 2, 7);
    char path[256];
    pe_classifier *c = test_save_and_load(&m, "windows", path, sizeof path);
    if (!c) return 1;

    /* three real records one after the other: (12, 3000) at 100 Hz */
    const long n = 3 * PE_NUM_SAMPLES;
    float *sig = malloc(sizeof(float) * PE_NUM_LEADS * n), alone[3][PE_NUM_CLASSES];
    const int ids[3] = {1, 452, 2045};
    for (int r = 0; r < 3; r++) {
        char rec[4400];
        snprintf(rec, sizeof rec, "%s/records100/%05d/%05d_lr", dir, ids[r] / 1000 * 1000, ids[r]);
        float *s = NULL;
        int nl;
        long ns;
        double fs;
        CHECK_MSG(pe_record_read(rec, &s, &nl, &ns, &fs, &e) == 0, "%s", e.msg);
        CHECK(nl == PE_NUM_LEADS && ns == PE_NUM_SAMPLES && fs == 100);
        CHECK(pe_classify(c, s, nl, ns, fs, alone[r], &e) == 0);
        for (int l = 0; l < PE_NUM_LEADS; l++)
            memcpy(sig + (size_t)l * n + (size_t)r * PE_NUM_SAMPLES, s + (size_t)l * PE_NUM_SAMPLES,
                   PE_NUM_SAMPLES * sizeof(float));
        free(s);
    }

    /* stride 10: the windows are the three records */
    float probs[PE_NUM_CLASSES], p1[PE_NUM_CLASSES];
    pe_window *w = NULL;
    long nw = 0;
    CHECK(pe_classify_windows(c, sig, 12, n, 100, 10, probs, &w, &nw, &e) == 0);
    CHECK(nw == 3);
    for (long i = 0; w && i < nw && i < 3; i++) {
        CHECK(w[i].start == i * PE_NUM_SAMPLES && w[i].start_s == 10.0 * (double)i);
        for (int k = 0; k < PE_NUM_CLASSES; k++) CHECK(w[i].probs[k] == alone[i][k]);
    }
    for (int k = 0; k < PE_NUM_CLASSES; k++) {
        float mx = fmaxf(alone[0][k], fmaxf(alone[1][k], alone[2][k]));
        CHECK(probs[k] == mx);
    }
    free(w);

    /* stride 5: the windows in between score like copies of them */
    CHECK(pe_classify_windows(c, sig, 12, n, 100, 5, probs, &w, &nw, &e) == 0);
    CHECK(nw == 5);
    float win[N10];
    for (long i = 0; w && i < nw; i++) {
        CHECK(w[i].start == i * 500);
        copy_window(sig, n, w[i].start, PE_NUM_SAMPLES, win);
        CHECK(pe_classify(c, win, 12, PE_NUM_SAMPLES, 100, p1, &e) == 0);
        for (int k = 0; k < PE_NUM_CLASSES; k++) CHECK(w[i].probs[k] == p1[k]);
    }
    free(w);

    /* a window's explanation is the 10-s record's */
    pe_class_explanation ex_w[PE_NUM_CLASSES], ex_1[PE_NUM_CLASSES];
    copy_window(sig, n, 1000, PE_NUM_SAMPLES, win);
    CHECK(pe_explain_window(c, sig, 12, n, 100, 1000, 3, probs, ex_w, &e) == 0);
    CHECK(pe_explain(c, win, 12, PE_NUM_SAMPLES, 100, 3, p1, ex_1, &e) == 0);
    for (int k = 0; k < PE_NUM_CLASSES; k++) {
        CHECK(probs[k] == alone[1][k] && p1[k] == alone[1][k]);
        CHECK(ex_w[k].logit == ex_1[k].logit && ex_w[k].n_top == ex_1[k].n_top);
        for (int t = 0; t < ex_w[k].n_top; t++)
            CHECK(ex_w[k].top[t].prototype == ex_1[k].top[t].prototype &&
                  ex_w[k].top[t].contribution == ex_1[k].top[t].contribution);
    }

    /* refusals: the 10-s entry points, a window outside the record, a NaN */
    CHECK(pe_classify(c, sig, 12, n, 100, probs, &e) != 0);
    CHECK_CONTAINS(e.msg, "exactly 10 s");
    CHECK(pe_explain(c, sig, 12, n, 100, 3, probs, ex_w, &e) != 0);
    CHECK(pe_explain_window(c, sig, 12, n, 100, 2001, 3, probs, ex_w, &e) != 0);
    CHECK_CONTAINS(e.msg, "does not fit");
    CHECK(pe_explain_window(c, sig, 12, n, 100, -1, 3, probs, ex_w, &e) != 0);
    CHECK(pe_classify_windows(c, sig, 12, 999, 100, 5, probs, &w, &nw, &e) != 0);
    CHECK_CONTAINS(e.msg, "at least 10 s");
    CHECK(w == NULL && nw == 0);
    /* a NaN at 25 s (lead 3, aVR) is in the last window only: it is skipped, the others
     * score as before and the record's probabilities are their maxima */
    sig[(size_t)3 * n + 2500] = NAN;
    CHECK(pe_classify_windows(c, sig, 12, n, 100, 5, probs, &w, &nw, &e) == 0);
    CHECK(nw == 5);
    for (long i = 0; w && i < nw; i++) {
        CHECK(w[i].valid == (i < 4));
        copy_window(sig, n, w[i].start, PE_NUM_SAMPLES, win);
        if (i < 4) CHECK(pe_classify(c, win, 12, PE_NUM_SAMPLES, 100, p1, &e) == 0);
        for (int k = 0; k < PE_NUM_CLASSES; k++)
            CHECK(i < 4 ? w[i].probs[k] == p1[k] : isnan(w[i].probs[k]));
    }
    for (int k = 0; w && k < PE_NUM_CLASSES; k++)
        CHECK(probs[k] == fmaxf(fmaxf(w[0].probs[k], w[1].probs[k]), fmaxf(w[2].probs[k], w[3].probs[k])));
    free(w);
    CHECK(pe_explain_window(c, sig, 12, n, 100, 2000, 3, probs, ex_w, &e) != 0);
    CHECK_CONTAINS(e.msg, "lead 3 has a non-finite sample (NaN or inf) at 2500 (25.00 s)");
    CHECK(pe_explain_window(c, sig, 12, n, 100, 1500, 3, probs, ex_w, &e) == 0);
    /* with a NaN in every window the record fails, naming the first */
    sig[(size_t)3 * n + 999] = sig[(size_t)3 * n + 1999] = NAN;
    CHECK(pe_classify_windows(c, sig, 12, n, 100, 5, probs, &w, &nw, &e) != 0);
    CHECK_CONTAINS(e.msg, "each of the 5 windows has a non-finite sample (the first: lead 3 has a "
                          "non-finite sample (NaN or inf) at 999 (9.99 s))");
    CHECK(w == NULL && nw == 0);

    /* 500 Hz: a window is resampled like the 10-s record it is copied into */
    const long n5 = 17000;
    float *s5 = malloc(sizeof(float) * PE_NUM_LEADS * n5), *w5 = malloc(sizeof(float) * 12 * 5000);
    float a[N10], b[N10];
    for (long i = 0; i < PE_NUM_LEADS * n5; i++) s5[i] = sinf(0.013f * (float)i) + 0.1f * cosf(0.7f * (float)i);
    CHECK(pe_window_to_100hz(s5, 12, n5, 500, 4321, a, &e) == 0);
    copy_window(s5, n5, 4321, 5000, w5);
    CHECK(pe_record_to_100hz(w5, 12, 5000, 500, b, &e) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(pe_window_to_100hz(s5, 12, n5, 500, 12001, a, &e) != 0);
    CHECK_CONTAINS(e.msg, "does not fit");

    free(s5);
    free(w5);
    free(sig);
    pe_classifier_free(c);
    pe_model_free(&m);
    unlink(path);
    TEST_END();
}
