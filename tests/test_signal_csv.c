/* 12-lead ECGs from CSV tables: the sampling rate from a time column (500 Hz printed
 * exactly, 360 Hz rounded to 4 decimals, a non-integer 257.3 Hz, each against the rate
 * the times were made from) or from the caller; leads found by name in any order or case
 * among other columns; empty and "nan" cells read as missing samples; malformed tables
 * (no samples, a missing lead, a ragged row, a text cell, microvolts, uneven, falling
 * or overflowing times, no rate, disagreeing rates, an absent file) refused with the
 * file, line and column named. On two real PTB-XL records, a table written from the WFDB
 * record (%.9g, the float round trip; leads shuffled, lower case, an extra column) reads
 * back bit for bit, through pe_signal_csv_read and pe_record_read. */
#include "check.h"
#include "data/signal_csv.h"
#include "protoecg.h"

#include <unistd.h>

static const char *const LEADS[12] = {"I",  "II", "III", "aVR", "aVL", "aVF",
                                      "V1", "V2", "V3",  "V4",  "V5",  "V6"};
/* the stored column order of the written tables, and a column that is not a lead */
static const int ORDER[12] = {5, 2, 0, 11, 1, 3, 4, 6, 7, 8, 9, 10};

static char tmp[256];

/* Writes text to the temporary table and returns its path. */
static const char *table(const char *text) {
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (!f) return tmp;
    fputs(text, f);
    fclose(f);
    return tmp;
}

/* A table of n samples of a simple signal: lead k sample i = 0.001 (k + 1) (i % 7), with
 * a time column at rate fs printed with `decimals` decimals (fs <= 0: no time column). */
static const char *synthetic(long n, double fs, int decimals) {
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (!f) return tmp;
    if (fs > 0) fprintf(f, "time,");
    for (int k = 0; k < 12; k++) fprintf(f, "%s%s", LEADS[k], k < 11 ? "," : "\n");
    for (long i = 0; i < n; i++) {
        if (fs > 0) fprintf(f, "%.*f,", decimals, (double)i / fs);
        for (int k = 0; k < 12; k++) fprintf(f, "%.9g%s", 0.001 * (k + 1) * (double)(i % 7), k < 11 ? "," : "\n");
    }
    fclose(f);
    return tmp;
}

static void expect_error(const char *path, double fs, const char *what) {
    pe_error e = {{0}};
    float *sig = NULL;
    int nl;
    long ns;
    double got;
    CHECK(pe_signal_csv_read(path, fs, &sig, &nl, &ns, &got, &e) != 0);
    CHECK(sig == NULL);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, what);
}

static void check_rates(void) {
    pe_error e = {{0}};
    const double rates[3] = {500, 360, 257.3};
    const int decimals[3] = {3, 4, 6};
    for (int r = 0; r < 3; r++) {
        float *sig = NULL;
        int nl;
        long ns;
        double fs = 0;
        CHECK(pe_signal_csv_read(synthetic(2573, rates[r], decimals[r]), 0, &sig, &nl, &ns, &fs, &e) == 0);
        CHECK_CLOSE(fs, rates[r], 0, 1e-6); /* 500 and 360 exactly (rounded), 257.3 as it is */
        CHECK(nl == 12 && ns == 2573);
        if (sig)
            for (int k = 0; k < 12; k++)
                CHECK(sig[(size_t)k * ns + 13] == (float)(0.001 * (k + 1) * 6));
        free(sig);
    }
    /* no time column: the caller's rate */
    float *sig = NULL;
    int nl;
    long ns;
    double fs = 0;
    CHECK(pe_signal_csv_read(synthetic(1000, 0, 0), 100, &sig, &nl, &ns, &fs, &e) == 0);
    CHECK(fs == 100 && ns == 1000);
    free(sig);
    expect_error(synthetic(1000, 0, 0), 0, "no time column");
    expect_error(synthetic(1000, 100, 2), 250, "gives 100 Hz, but 250 Hz");
    expect_error(synthetic(1, 100, 2), 0, "one sample");
}

static void check_malformed(void) {
    const char *hdr = "I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6,time\n";
    char buf[1024];
    expect_error(table(""), 100, "no samples");
    expect_error(table(hdr), 100, "no samples");
    expect_error(table("I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5\n1,2,3,4,5,6,7,8,9,10,11\n"), 100,
                 "lead(s) missing: V6");
    snprintf(buf, sizeof buf, "%s%s%s", hdr, "0,0,0,0,0,0,0,0,0,0,0,0,0\n", "0,0,0,0,0,0,0,0,0,0,0,0\n");
    expect_error(table(buf), 0, "line 3 has 12 fields, the header has 13");
    snprintf(buf, sizeof buf, "%s%s", hdr, "0,0,0,0,1.5x,0,0,0,0,0,0,0,0\n");
    expect_error(table(buf), 0, "line 2, column 5 (aVL): '1.5x' is not a number");
    snprintf(buf, sizeof buf, "%s%s", hdr, "0,0,0,0,inf,0,0,0,0,0,0,0,0\n");
    expect_error(table(buf), 0, "'inf' is not a number");
    snprintf(buf, sizeof buf, "%s%s", hdr, "0,0,0,0,0,0,0,1e39,0,0,0,0,0\n");
    expect_error(table(buf), 0, "column 8 (V2): '1e39' is not a number"); /* beyond float */
    snprintf(buf, sizeof buf, "%s%s", hdr, "0,0,0,0,0,0,0,0,0,0,0,0,\n");
    expect_error(table(buf), 0, "column 13 (time): '' is not a time");
    snprintf(buf, sizeof buf, "%s%s%s", hdr, "350,-410,20,0,0,0,0,0,0,0,0,0,0\n",
             "380,-390,25,0,0,0,0,0,0,0,0,0,0.01\n");
    expect_error(table(buf), 0, "millivolts");
    snprintf(buf, sizeof buf, "%s%s%s", hdr, "0,0,0,0,0,0,0,0,0,0,0,0,0.01\n",
             "0,0,0,0,0,0,0,0,0,0,0,0,0\n");
    expect_error(table(buf), 0, "does not give a sampling rate");
    snprintf(buf, sizeof buf, "%s%s%s", hdr, "0,0,0,0,0,0,0,0,0,0,0,0,-1e308\n",
             "0,0,0,0,0,0,0,0,0,0,0,0,1e308\n");
    expect_error(table(buf), 0, "does not give a sampling rate");
    snprintf(buf, sizeof buf, "%s%s%s%s", hdr, "0,0,0,0,0,0,0,0,0,0,0,0,0\n",
             "0,0,0,0,0,0,0,0,0,0,0,0,0.09\n", "0,0,0,0,0,0,0,0,0,0,0,0,0.1\n");
    expect_error(table(buf), 0, "not evenly spaced (row 2");
    expect_error("/nonexistent/ecg.csv", 100, "cannot open");
    /* missing samples: empty and "nan" cells are NaN, the rest as written */
    snprintf(buf, sizeof buf, "%s%s%s", hdr, "1,,3,4,5,6,7,8,9,10,11,12,0\n",
             "1,2,3,4,5,6,7,8,9,10,NaN,12,0.01\n");
    pe_error e = {{0}};
    float *sig = NULL;
    int nl;
    long ns;
    double fs;
    CHECK(pe_signal_csv_read(table(buf), 0, &sig, &nl, &ns, &fs, &e) == 0);
    if (sig) {
        CHECK(isnan(sig[1 * 2 + 0]) && isnan(sig[10 * 2 + 1]));
        CHECK(sig[1 * 2 + 1] == 2.0f && sig[10 * 2 + 0] == 11.0f && sig[11 * 2 + 1] == 12.0f);
    }
    free(sig);
}

/* A real record through a table written from it: the same floats. */
static void check_real(const char *dir, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    pe_error e = {{0}};
    float *ref = NULL;
    int nl;
    long ns;
    double fs;
    CHECK_MSG(pe_record_read(path, &ref, &nl, &ns, &fs, &e) == 0, "%s", e.msg);
    if (!ref) return;
    for (int with_time = 0; with_time < 2; with_time++) {
        FILE *f = fopen(tmp, "w");
        CHECK(f != NULL);
        if (!f) break;
        fprintf(f, "\"note, quoted\"%s", with_time ? ",Time" : "");
        for (int j = 0; j < 12; j++) {
            char low[8];
            snprintf(low, sizeof low, "%s", LEADS[ORDER[j]]);
            for (char *p = low; *p; p++) *p = (char)(j % 2 ? *p | 0x20 : *p); /* some lower case */
            fprintf(f, ",%s", low);
        }
        fprintf(f, "\r\n");
        for (long i = 0; i < ns; i++) {
            fputs("x", f);
            if (with_time) fprintf(f, ",%.2f", (double)i / fs);
            for (int j = 0; j < 12; j++) fprintf(f, ",%.9g", ref[(size_t)ORDER[j] * ns + i]);
            fprintf(f, "\r\n");
        }
        fclose(f);
        float *sig = NULL;
        int nl2;
        long ns2;
        double fs2;
        int rc = with_time ? pe_record_read(tmp, &sig, &nl2, &ns2, &fs2, &e)
                           : pe_signal_csv_read(tmp, fs, &sig, &nl2, &ns2, &fs2, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        if (!sig) continue;
        CHECK(nl2 == 12 && ns2 == ns && fs2 == fs);
        CHECK(memcmp(sig, ref, sizeof(float) * 12 * (size_t)ns) == 0);
        free(sig);
    }
    free(ref);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/pe_test_signal_csv_%ld.csv", (long)getpid());
    check_rates();
    check_malformed();
    const char *dir = pe_test_data_dir();
    if (dir) {
        check_real(dir, "records100/00000/00452_lr");
        check_real(dir, "records100/02000/02045_lr");
    } else {
        printf("note: ../shared/data/ptbxl absent, real-record round trips skipped\n");
    }
    unlink(tmp);
    return check_failures ? 1 : 0;
}
