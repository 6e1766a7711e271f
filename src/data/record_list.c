/* Labelled record lists for external validation (record_list.h). */
#include "data/record_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/csv.h"
#include "util/error.h"

/* Sets labels[c] for every code in text (blank- or semicolon-separated). */
static int parse_labels(const char *text, uint8_t labels[PE_NUM_CLASSES], const char *where,
                        pe_error *e) {
    memset(labels, 0, PE_NUM_CLASSES);
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';') p++;
        size_t len = strcspn(p, " \t;");
        if (len == 0) break;
        int found = -1;
        for (int c = 0; c < PE_NUM_CLASSES; c++)
            if (strlen(pe_class_names[c]) == len && strncasecmp(p, pe_class_names[c], len) == 0)
                found = c;
        if (found < 0)
            return pe_fail(e, "%s: unknown label '%.*s' (the labels are 1AVB IVCD 3AVB 2AVB SR "
                              "AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT TRIGU)",
                           where, (int)(len > 40 ? 40 : len), p);
        labels[found] = 1;
        p += len;
    }
    return 0;
}

int pe_record_list_load(const char *csv_path, pe_record_list *l, pe_error *e) {
    memset(l, 0, sizeof *l);
    pe_csv csv;
    if (pe_csv_load(csv_path, &csv, e)) return -1;
    int rc = 0, col_rec = pe_csv_column(&csv, "record"), col_lab = pe_csv_column(&csv, "labels");
    if (col_rec < 0 || col_lab < 0)
        rc = pe_fail(e, "%s: the header must name the columns 'record' and 'labels'", csv_path);
    else if (csv.n_rows < 2)
        rc = pe_fail(e, "%s: no records listed", csv_path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv_path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = '\0';
    else dir[0] = '\0';
    int n = rc == 0 ? csv.n_rows - 1 : 0;
    l->paths = calloc((size_t)(n > 0 ? n : 1), sizeof *l->paths);
    l->labels = calloc((size_t)(n > 0 ? n : 1), PE_NUM_CLASSES);
    if (rc == 0 && (!l->paths || !l->labels)) rc = pe_fail(e, "out of memory");
    for (int r = 1; rc == 0 && r < csv.n_rows; r++) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", csv_path, csv.row_line[r]);
        int nf = pe_csv_n_fields(&csv, r);
        if (nf <= col_rec || nf <= col_lab) {
            rc = pe_fail(e, "%s: %d fields, the header has more", where, nf);
            break;
        }
        const char *rec = pe_csv_field(&csv, r, col_rec);
        if (!rec[0]) {
            rc = pe_fail(e, "%s: empty record field", where);
            break;
        }
        rc = parse_labels(pe_csv_field(&csv, r, col_lab), l->labels + (size_t)l->n * PE_NUM_CLASSES,
                          where, e);
        size_t need = strlen(dir) + strlen(rec) + 1;
        char *path = rc == 0 ? malloc(need) : NULL;
        if (rc == 0 && !path) rc = pe_fail(e, "out of memory");
        if (rc == 0) {
            snprintf(path, need, "%s%s", rec[0] == '/' ? "" : dir, rec);
            l->paths[l->n++] = path;
        }
    }
    pe_csv_free(&csv);
    if (rc) pe_record_list_free(l);
    return rc;
}

void pe_record_list_free(pe_record_list *l) {
    for (int i = 0; l->paths && i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    memset(l, 0, sizeof *l);
}
