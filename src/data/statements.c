/* Auxiliary training targets: PTB-XL's other SCP statements (see statements.h). */
#include "data/statements.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/ptbxl.h"
#include "util/error.h"
#include "util/fileio.h"

static const char *const superclasses[] = {"NORM", "MI", "STTC", "CD", "HYP"};
enum { N_SUPER = 5, MAX_STMT = 1024 };

typedef struct {
    char name[PE_AUX_NAME_LEN];
    long count; /* training records carrying it */
    long last;  /* the last record counted (a key repeated in one dict counts once) */
    long first; /* rank of its first appearance in the training records */
    int super;  /* its diagnostic superclass (index into superclasses), -1: none */
} statement;

typedef struct {
    statement *v;
    int n;
    long rec;      /* the record being read */
    long n_first;  /* statements seen so far in the training records */
    char bad[96];  /* why a key could not be added ("" while all could) */
    uint8_t *row;  /* pass 2: the record's labels (A) */
    const int *col; /* pass 2: statement -> its column or -1 */
    const int *super_col; /* pass 2: superclass -> its column or -1 */
} reader;

static int find(const reader *r, const char *key, size_t len) {
    for (int i = 0; i < r->n; i++)
        if (strlen(r->v[i].name) == len && !memcmp(r->v[i].name, key, len)) return i;
    return -1;
}

static int is_rhythm_class(const char *name) {
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (!strcmp(pe_class_names[c], name)) return 1;
    return 0;
}

/* Adds a statement (count 0) unless present; returns its index, or -1 with r->bad said. */
static int add(reader *r, const char *key, size_t len, int super) {
    int i = find(r, key, len);
    if (i >= 0) return i;
    if (len == 0 || len >= PE_AUX_NAME_LEN || r->n == MAX_STMT) {
        if (r->n == MAX_STMT)
            snprintf(r->bad, sizeof r->bad, "more than %d distinct statement codes", MAX_STMT);
        else
            snprintf(r->bad, sizeof r->bad,
                     "an empty statement code, or one of %d characters or more", PE_AUX_NAME_LEN);
        return -1;
    }
    statement *s = &r->v[r->n];
    memcpy(s->name, key, len);
    s->name[len] = 0;
    s->count = 0, s->last = -1, s->first = -1, s->super = super;
    return r->n++;
}

/* Pass 1 (training records): counts each key. */
static int count_key(const char *key, size_t len, void *ctx) {
    reader *r = ctx;
    int i = add(r, key, len, -1);
    if (i < 0 || r->v[i].last == r->rec) return 0;
    statement *st = &r->v[i];
    if (st->first < 0) st->first = r->n_first++;
    st->count++, st->last = r->rec;
    return 0;
}

/* Pass 2 (every record): sets the key's column and its superclass's. */
static int label_key(const char *key, size_t len, void *ctx) {
    reader *r = ctx;
    int i = find(r, key, len);
    if (i < 0) return 0;
    if (r->col[i] >= 0) r->row[r->col[i]] = 1;
    if (r->v[i].super >= 0 && r->super_col[r->v[i].super] >= 0)
        r->row[r->super_col[r->v[i].super]] = 1;
    return 0;
}

/* scp_statements.csv: each code (first column) with its diagnostic superclass, into r
 * (statements the database uses but this file lacks are added in pass 1, without one). */
static int read_statements(const char *root, reader *r, pe_error *e) {
    char path[4096];
    if (pe_path_join(path, sizeof path, root, "scp_statements.csv"))
        return pe_fail(e, "%s: path too long", root);
    pe_csv csv;
    if (pe_csv_load(path, &csv, e)) return -1;
    int rc = 0, dc = pe_csv_column(&csv, "diagnostic_class");
    if (dc < 0) rc = pe_fail(e, "%s: no 'diagnostic_class' column in the header row", path);
    for (int row = 1; rc == 0 && row < csv.n_rows; row++) {
        if (pe_csv_n_fields(&csv, row) <= dc) {
            rc = pe_fail(e, "%s:%d: row has %d fields, the header has more", path,
                         csv.row_line[row], pe_csv_n_fields(&csv, row));
            break;
        }
        const char *code = pe_csv_field(&csv, row, 0), *cls = pe_csv_field(&csv, row, dc);
        int super = -1;
        for (int k = 0; k < N_SUPER; k++)
            if (!strcmp(cls, superclasses[k])) super = k;
        if (add(r, code, strlen(code), super) < 0)
            rc = pe_fail(e, "%s:%d: '%.40s': %s", path, csv.row_line[row], code, r->bad);
    }
    pe_csv_free(&csv);
    return rc;
}

void pe_aux_labels_free(pe_aux_labels *a) {
    if (!a) return;
    free(a->names), free(a->train_pos), free(a->labels);
    memset(a, 0, sizeof *a);
}

/* 1 if statement a comes after b: fewer training positives, or as many and first seen later. */
static int after(const statement *a, const statement *b) {
    return a->count < b->count || (a->count == b->count && a->first > b->first);
}

int pe_aux_labels_build(const char *root, const pe_cache *c, int min_pos, pe_aux_labels *out,
                        pe_error *e) {
    memset(out, 0, sizeof *out);
    if (min_pos < 1) return pe_fail(e, "auxiliary statements: min_pos must be at least 1");
    long n = c->h.n_records;
    reader r = {0};
    r.v = calloc(MAX_STMT, sizeof *r.v);
    int *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    int *order = malloc(MAX_STMT * sizeof(int)), *col = malloc(MAX_STMT * sizeof(int));
    int super_col[N_SUPER];
    long super_pos[N_SUPER] = {0};
    pe_ptbxl_db db = {0};
    int rc = (r.v && rows && order && col) ? 0 : pe_fail(e, "out of memory");
    if (rc == 0) rc = read_statements(root, &r, e);
    if (rc == 0) rc = pe_ptbxl_load(root, &db, e);
    for (long i = 0; rc == 0 && i < n; i++) {
        rows[i] = pe_ptbxl_find(&db, c->ecg_id[i]);
        if (rows[i] < 0)
            rc = pe_fail(e, "%s/ptbxl_database.csv: no row for ecg_id %d of the prepared cache",
                         root, c->ecg_id[i]);
    }
    /* pass 1: training positives of every statement */
    for (long i = 0; rc == 0 && i < n; i++) {
        if (pe_split_of_fold(c->fold[i]) != PE_SPLIT_TRAIN) continue;
        r.rec = i;
        rc = pe_scp_codes_each(db.rows[rows[i]].scp_codes, count_key, &r, e);
        if (rc == 0 && r.bad[0])
            rc = pe_fail(e, "%s/ptbxl_database.csv: ecg_id %d: %s", root, c->ecg_id[i], r.bad);
        if (rc == 0) { /* the record's superclasses */
            uint8_t has[N_SUPER] = {0};
            for (int k = 0; k < r.n; k++)
                if (r.v[k].last == i && r.v[k].super >= 0) has[r.v[k].super] = 1;
            for (int k = 0; k < N_SUPER; k++) super_pos[k] += has[k];
        }
    }
    /* the kept statements, most frequent first (a stable insertion sort) */
    int A = 0;
    for (int i = 0; rc == 0 && i < r.n; i++) {
        col[i] = -1;
        if (r.v[i].count < min_pos || is_rhythm_class(r.v[i].name)) continue;
        int j = A++;
        while (j > 0 && after(&r.v[order[j - 1]], &r.v[i])) order[j] = order[j - 1], j--;
        order[j] = i;
    }
    for (int j = 0; j < A; j++) col[order[j]] = j;
    int n_stmt = A; /* the superclasses' columns follow */
    for (int k = 0; k < N_SUPER; k++) super_col[k] = super_pos[k] >= min_pos ? A++ : -1;
    if (rc == 0) {
        out->n = A;
        out->n_records = n;
        out->names = calloc((size_t)(A > 0 ? A : 1), sizeof *out->names);
        out->train_pos = calloc((size_t)(A > 0 ? A : 1), sizeof *out->train_pos);
        out->labels = calloc((size_t)(n > 0 ? n : 1) * (size_t)(A > 0 ? A : 1), 1);
        if (!out->names || !out->train_pos || !out->labels) rc = pe_fail(e, "out of memory");
    }
    if (rc == 0) {
        for (int j = 0; j < n_stmt; j++) {
            memcpy(out->names[j], r.v[order[j]].name, PE_AUX_NAME_LEN);
            out->train_pos[j] = r.v[order[j]].count;
        }
        for (int k = 0; k < N_SUPER; k++)
            if (super_col[k] >= 0) {
                snprintf(out->names[super_col[k]], PE_AUX_NAME_LEN, "class:%s", superclasses[k]);
                out->train_pos[super_col[k]] = super_pos[k];
            }
    }
    /* pass 2: the labels of every record */
    r.col = col, r.super_col = super_col;
    for (long i = 0; rc == 0 && i < n; i++) {
        r.row = out->labels + (size_t)i * A;
        rc = pe_scp_codes_each(db.rows[rows[i]].scp_codes, label_key, &r, e);
    }
    free(rows), free(order), free(col), free(r.v);
    pe_ptbxl_free(&db);
    if (rc) pe_aux_labels_free(out);
    return rc;
}
