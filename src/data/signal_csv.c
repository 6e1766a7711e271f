/* A 12-lead ECG from a CSV table (signal_csv.h): header names, leads by name, the rate
 * from a time column or the caller, values in mV with empty cells as missing samples. */
#include "data/signal_csv.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/csv.h"
#include "data/resample.h"
#include "util/error.h"
#include "util/fileio.h"

/* s without leading and trailing blanks, into buf; -1 when that is n characters or more. */
static int trimmed(const char *s, char *buf, size_t n) {
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
    if (len >= n) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

static int is_time_column(const char *name) {
    static const char *const names[] = {"time", "t", "time_s", "seconds", "sec"};
    char buf[32];
    if (trimmed(name, buf, sizeof buf)) return 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(buf, names[i]) == 0) return 1;
    return 0;
}

/* A cell as a finite number: 0 and *v on success, else -1 (text, "1.5x", an infinity).
 * A sample (is_sample) may be missing (an empty cell, "nan" or "NA": NaN) and must fit a
 * float. */
static int cell_value(const char *cell, int is_sample, double *v) {
    char s[64];
    if (trimmed(cell, s, sizeof s)) return -1; /* longer than any number */
    if (!*s || !strcasecmp(s, "nan") || !strcasecmp(s, "na")) {
        *v = NAN;
        return is_sample ? 0 : -1;
    }
    char *end;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v) && (!is_sample || fabs(*v) <= FLT_MAX) ? 0 : -1;
}

int pe_csv_rate_from_times(const double *t, long n, const char *path, double *fs, pe_error *e) {
    double step = (t[n - 1] - t[0]) / (double)(n - 1);
    if (!(step > 0 && isfinite(step) && isfinite(1.0 / step)))
        return pe_fail(e, "%s: the time column does not give a sampling rate (%g s to %g s "
                          "over %ld rows)", path, t[0], t[n - 1], n);
    for (long i = 1; i < n; i++)
        if (fabs(t[i] - (t[0] + (double)i * step)) > 0.5 * step)
            return pe_fail(e, "%s: the time column is not evenly spaced (row %ld: %g s, "
                              "expected %g s at %g Hz)",
                           path, i + 1, t[i], t[0] + (double)i * step, 1.0 / step);
    double r = 1.0 / step, ri = round(r);
    *fs = fabs(r - ri) <= 1e-3 * r ? ri : r;
    return 0;
}

/* Column indices: the 12 leads (PTB-XL order) and the time column (-1: none). */
static int find_columns(const pe_csv *csv, const char *path, int map[PE_NUM_LEADS], int *time_col,
                        pe_error *e) {
    int nf = pe_csv_n_fields(csv, 0);
    const char **names = malloc((size_t)nf * sizeof *names);
    if (!names) return pe_fail(e, "%s: out of memory", path);
    *time_col = -1;
    for (int i = 0; i < nf; i++) {
        names[i] = pe_csv_field(csv, 0, i);
        if (*time_col < 0 && is_time_column(names[i])) *time_col = i;
    }
    pe_error why;
    int rc = pe_lead_order(names, nf, map, &why);
    free(names);
    if (rc) return pe_fail(e, "%s: header (line %d): %s", path, csv->row_line[0], why.msg);
    return 0;
}

/* The table's cells into signal (12 x n, lead-major) and t (n; NULL: no time column). */
static int read_cells(const pe_csv *csv, const char *path, const int map[PE_NUM_LEADS],
                      int time_col, float *signal, double *t, pe_error *e) {
    long n = csv->n_rows - 1;
    int nf = pe_csv_n_fields(csv, 0);
    for (long i = 0; i < n; i++) {
        int r = (int)i + 1, line = csv->row_line[r];
        if (pe_csv_n_fields(csv, r) != nf)
            return pe_fail(e, "%s: line %d has %d fields, the header has %d", path, line,
                           pe_csv_n_fields(csv, r), nf);
        double v;
        for (int k = 0; k < PE_NUM_LEADS; k++) {
            const char *cell = pe_csv_field(csv, r, map[k]);
            if (cell_value(cell, 1, &v))
                return pe_fail(e, "%s: line %d, column %d (%s): '%.40s' is not a number", path,
                               line, map[k] + 1, pe_csv_field(csv, 0, map[k]), cell);
            signal[(size_t)k * n + i] = (float)v;
        }
        if (t && cell_value(pe_csv_field(csv, r, time_col), 0, &t[i]))
            return pe_fail(e, "%s: line %d, column %d (%s): '%.40s' is not a time in seconds",
                           path, line, time_col + 1, pe_csv_field(csv, 0, time_col),
                           pe_csv_field(csv, r, time_col));
    }
    return 0;
}

/* Refuses a table whose mean absolute value says microvolts rather than millivolts. */
static int check_millivolts(const float *signal, size_t len, const char *path, pe_error *e) {
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (isfinite(signal[i])) sum += fabs(signal[i]), count++;
    if (count && sum / (double)count > PE_CSV_MAX_MEAN_ABS_MV)
        return pe_fail(e, "%s: the leads average %.4g in absolute value, too large for mV: the "
                          "table must hold millivolts (microvolts divided by 1000)",
                       path, sum / (double)count);
    return 0;
}

/* The rate: the time column's, the caller's, or both when they agree. */
static int choose_rate(const double *t, long n, double fs_given, const char *path, double *fs,
                       pe_error *e) {
    if (!t) {
        if (!(fs_given > 0 && isfinite(fs_given)))
            return pe_fail(e, "%s: no time column (time, t, time_s, seconds or sec), so the "
                              "sampling rate must be given (protoecg --fs HZ)", path);
        *fs = fs_given;
        return 0;
    }
    if (n < 2) return pe_fail(e, "%s: one sample cannot give a sampling rate", path);
    if (pe_csv_rate_from_times(t, n, path, fs, e)) return -1;
    if (fs_given > 0 && fabs(*fs - fs_given) > 1e-3 * fs_given)
        return pe_fail(e, "%s: the time column gives %g Hz, but %g Hz was given", path, *fs,
                       fs_given);
    return 0;
}

int pe_signal_csv_parse(const char *text, size_t len, const char *path, double fs,
                        float **signal, int *n_leads, long *n_samples, double *fs_out,
                        pe_error *e) {
    *signal = NULL;
    pe_csv csv;
    if (pe_csv_parse(text, len, path, &csv, e)) return -1;
    int map[PE_NUM_LEADS], time_col, rc = 0;
    long n = csv.n_rows - 1;
    float *sig = NULL;
    double *t = NULL;
    if (csv.n_rows < 2) rc = pe_fail(e, "%s: no samples (a header row, then a row per sample)", path);
    if (rc == 0) rc = find_columns(&csv, path, map, &time_col, e);
    if (rc == 0) {
        sig = malloc((size_t)PE_NUM_LEADS * (size_t)n * sizeof *sig);
        t = time_col >= 0 ? malloc((size_t)n * sizeof *t) : NULL;
        if (!sig || (time_col >= 0 && !t)) rc = pe_fail(e, "%s: out of memory", path);
    }
    if (rc == 0) rc = read_cells(&csv, path, map, time_col, sig, t, e);
    if (rc == 0) rc = check_millivolts(sig, (size_t)PE_NUM_LEADS * (size_t)n, path, e);
    if (rc == 0) rc = choose_rate(t, n, fs, path, fs_out, e);
    pe_csv_free(&csv);
    free(t);
    if (rc) {
        free(sig);
        return -1;
    }
    *signal = sig;
    *n_leads = PE_NUM_LEADS;
    *n_samples = n;
    return 0;
}

int pe_signal_csv_read(const char *path, double fs, float **signal, int *n_leads,
                       long *n_samples, double *fs_out, pe_error *e) {
    *signal = NULL;
    size_t len;
    char *text = pe_read_file(path, &len, e);
    if (!text) return -1;
    int rc = pe_signal_csv_parse(text, len, path, fs, signal, n_leads, n_samples, fs_out, e);
    free(text);
    return rc;
}
