/* PTB-XL metadata: ptbxl_database.csv rows, scp_codes, the 16 rhythm labels. */
#include "data/ptbxl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "util/error.h"
#include "util/fileio.h"

pe_split pe_split_of_fold(int strat_fold) {
    if (strat_fold == 9) return PE_SPLIT_VAL;
    if (strat_fold == 10) return PE_SPLIT_TEST;
    return PE_SPLIT_TRAIN;
}

/* ---- scp_codes: a Python dict literal {'CODE': likelihood, ...} ------------------------ */

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

int pe_scp_codes_each(const char *dict, pe_scp_key_fn fn, void *ctx, pe_error *e) {
    const char *s = skip_ws(dict);
    if (*s != '{') return pe_fail(e, "scp_codes is not a dict (no '{'): \"%.80s\"", dict);
    s = skip_ws(s + 1);
    while (*s != '}') {
        /* key: a quoted string */
        char q = *s;
        if (q != '\'' && q != '"')
            return pe_fail(e, "scp_codes is not a dict (expected a quoted key at offset %d): "
                           "\"%.80s\"", (int)(s - dict), dict);
        const char *k0 = ++s;
        while (*s && *s != q) {
            if (*s == '\\')
                return pe_fail(e, "scp_codes: escape sequences in keys are not supported: "
                               "\"%.80s\"", dict);
            s++;
        }
        if (!*s) return pe_fail(e, "scp_codes is not a dict (unterminated key): \"%.80s\"", dict);
        size_t klen = (size_t)(s - k0);
        s = skip_ws(s + 1);
        if (*s != ':')
            return pe_fail(e, "scp_codes is not a dict (expected ':' after key %.*s): \"%.80s\"",
                           (int)(klen > 40 ? 40 : klen), k0, dict);
        s = skip_ws(s + 1);
        /* value: a number (the likelihood; its value does not matter) */
        char *end = (char *)s;
        if ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.') {
            errno = 0;
            double v = strtod(s, &end);
            if (end == s || !isfinite(v)) end = (char *)s;
        }
        if (end == s)
            return pe_fail(e, "scp_codes: likelihood of key %.*s is not a number: \"%.80s\"",
                           (int)(klen > 40 ? 40 : klen), k0, dict);
        if (fn && fn(k0, klen, ctx)) return pe_fail(e, "out of memory");
        s = skip_ws(end);
        if (*s == ',') {
            s = skip_ws(s + 1);
        } else if (*s != '}') {
            return pe_fail(e, "scp_codes is not a dict (expected ',' or '}' at offset %d): "
                           "\"%.80s\"", (int)(s - dict), dict);
        }
    }
    s = skip_ws(s + 1);
    if (*s) return pe_fail(e, "scp_codes: unexpected text after the dict: \"%.80s\"", dict);
    return 0;
}

static int mark_class(const char *key, size_t klen, void *found) {
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (strlen(pe_class_names[c]) == klen && !memcmp(pe_class_names[c], key, klen))
            ((uint8_t *)found)[c] = 1;
    return 0;
}

int pe_scp_codes_to_labels(const char *dict, uint8_t labels[PE_NUM_CLASSES], pe_error *e) {
    memset(labels, 0, PE_NUM_CLASSES);
    uint8_t found[PE_NUM_CLASSES] = {0};
    if (pe_scp_codes_each(dict, mark_class, found, e)) return -1;
    memcpy(labels, found, PE_NUM_CLASSES);
    return 0;
}

/* ---- ptbxl_database.csv ---------------------------------------------------------------- */

/* Whole-string integer parse. */
static int parse_long(const char *s, long *out) {
    if (!*s || *s == ' ') return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

void pe_ptbxl_free(pe_ptbxl_db *db) {
    if (!db) return;
    for (int i = 0; db->rows && i < db->n; i++) free(db->rows[i].scp_codes);
    free(db->rows);
    db->rows = NULL;
    db->n = 0;
}

int pe_ptbxl_find(const pe_ptbxl_db *db, int ecg_id) {
    int lo = 0, hi = db->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (db->rows[mid].ecg_id == ecg_id) return mid;
        if (db->rows[mid].ecg_id < ecg_id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

enum { COL_ECG_ID, COL_PATIENT_ID, COL_SCP_CODES, COL_STRAT_FOLD, COL_FILENAME_LR,
       COL_FILENAME_HR, N_COLS };
static const char *const col_names[N_COLS] = {"ecg_id", "patient_id", "scp_codes",
                                              "strat_fold", "filename_lr", "filename_hr"};

/* Fills one row from CSV row r (columns at col[]). */
static int parse_row(const pe_csv *csv, int r, const int col[N_COLS], const char *path,
                     pe_ptbxl_row *row, pe_error *e) {
    int line = csv->row_line[r];
    const char *f;
    long v;

    f = pe_csv_field(csv, r, col[COL_ECG_ID]);
    if (parse_long(f, &v) || v < 1 || v > INT_MAX)
        return pe_fail(e, "%s:%d: ecg_id '%.40s' is not a positive integer", path, line, f);
    row->ecg_id = (int)v;

    f = pe_csv_field(csv, r, col[COL_PATIENT_ID]);
    char *end;
    errno = 0;
    double pid = *f ? strtod(f, &end) : NAN;
    if (!*f || errno || *end || !isfinite(pid) || pid != floor(pid) || pid < 0 || pid > INT_MAX)
        return pe_fail(e, "%s:%d: patient_id '%.40s' is not a non-negative whole number", path,
                       line, f);
    row->patient_id = (int)pid;

    f = pe_csv_field(csv, r, col[COL_STRAT_FOLD]);
    if (parse_long(f, &v))
        return pe_fail(e, "%s:%d: strat_fold '%.40s' is not an integer", path, line, f);
    if (v < 1 || v > 10)
        return pe_fail(e, "%s:%d: unknown fold %ld (strat_fold must be 1..10)", path, line, v);
    row->strat_fold = (int)v;

    f = pe_csv_field(csv, r, col[COL_FILENAME_LR]);
    if (!*f || strlen(f) >= sizeof row->filename_lr)
        return pe_fail(e, "%s:%d: filename_lr is empty or too long", path, line);
    strcpy(row->filename_lr, f);
    f = pe_csv_field(csv, r, col[COL_FILENAME_HR]);
    if (!*f || strlen(f) >= sizeof row->filename_hr)
        return pe_fail(e, "%s:%d: filename_hr is empty or too long", path, line);
    strcpy(row->filename_hr, f);

    pe_error e2;
    f = pe_csv_field(csv, r, col[COL_SCP_CODES]);
    if (pe_scp_codes_to_labels(f, row->labels, &e2))
        return pe_fail(e, "%s:%d: ecg_id %d: %s", path, line, row->ecg_id, e2.msg);
    row->scp_codes = strdup(f);
    if (!row->scp_codes) return pe_fail(e, "%s: out of memory", path);
    return 0;
}

int pe_ptbxl_parse(const char *text, size_t len, const char *path, pe_ptbxl_db *db, pe_error *e) {
    memset(db, 0, sizeof *db);
    pe_csv csv;
    if (pe_csv_parse(text, len, path, &csv, e)) return -1;
    int rc = -1;
    if (csv.n_rows == 0) {
        pe_fail(e, "%s: empty file (no header row)", path);
        goto done;
    }
    int col[N_COLS];
    int n_cols = pe_csv_n_fields(&csv, 0);
    for (int k = 0; k < N_COLS; k++) {
        col[k] = pe_csv_column(&csv, col_names[k]);
        if (col[k] < 0) {
            pe_fail(e, "%s:%d: missing column '%s' in the header row", path, csv.row_line[0],
                    col_names[k]);
            goto done;
        }
    }
    if (csv.n_rows == 1) {
        pe_fail(e, "%s: no records (only a header row)", path);
        goto done;
    }
    db->rows = calloc((size_t)csv.n_rows - 1, sizeof *db->rows);
    if (!db->rows) {
        pe_fail(e, "%s: out of memory", path);
        goto done;
    }
    for (int r = 1; r < csv.n_rows; r++) {
        if (pe_csv_n_fields(&csv, r) != n_cols) {
            pe_fail(e, "%s:%d: row has %d fields, the header has %d", path, csv.row_line[r],
                    pe_csv_n_fields(&csv, r), n_cols);
            goto done;
        }
        pe_ptbxl_row *row = &db->rows[r - 1];
        if (parse_row(&csv, r, col, path, row, e)) goto done;
        db->n = r; /* the row holds its scp_codes (freed by pe_ptbxl_free) */
        if (r > 1 && row->ecg_id <= row[-1].ecg_id) {
            pe_fail(e, "%s:%d: ecg_id %d after %d (rows must be in increasing ecg_id order)",
                    path, csv.row_line[r], row->ecg_id, row[-1].ecg_id);
            goto done;
        }
    }
    rc = 0;
done:
    pe_csv_free(&csv);
    if (rc) pe_ptbxl_free(db);
    return rc;
}

int pe_ptbxl_load(const char *root, pe_ptbxl_db *db, pe_error *e) {
    memset(db, 0, sizeof *db);
    char path[4096];
    if (pe_path_join(path, sizeof path, root, "ptbxl_database.csv"))
        return pe_fail(e, "%s: path too long", root);
    size_t len;
    char *text = pe_read_file(path, &len, e);
    if (!text) return -1;
    int rc = pe_ptbxl_parse(text, len, path, db, e);
    free(text);
    return rc;
}
