/* Auxiliary training targets: PTB-XL's other SCP statements.
 *
 * Besides the 16 rhythm classes, each PTB-XL record carries diagnostic and form
 * statements (NORM, IMI, LVH, LAFB, PVC, ...; scp_statements.csv lists all 71). The
 * pretraining can learn them as extra outputs of its linear head (train --aux-statements):
 * every statement outside the 16 with at least min_pos positives among the training
 * records (folds 1-8), then PTB-XL's five diagnostic superclasses (NORM, MI, STTC, CD,
 * HYP: scp_statements.csv's diagnostic_class of any of the record's statements) with at
 * least min_pos positives each. Statements are ordered by training count, most frequent
 * first, ties in the order they first appear (records in the cache's order, keys in
 * scp_codes order). A positive is a statement present in scp_codes at any likelihood,
 * as for the 16 classes. */
#ifndef PE_DATA_STATEMENTS_H
#define PE_DATA_STATEMENTS_H

#include <stdint.h>

#include "data/cache.h"

#define PE_AUX_NAME_LEN 24

typedef struct {
    int n;                           /* A, the number of auxiliary outputs */
    char (*names)[PE_AUX_NAME_LEN];  /* (A): statement codes, superclasses as "class:MI" */
    long *train_pos;                 /* (A): positives among the training records */
    uint8_t *labels;                 /* (n_records, A), in the cache's record order */
    long n_records;
} pe_aux_labels;

/* Builds the auxiliary labels of every record of the cache from ROOT/ptbxl_database.csv
 * and ROOT/scp_statements.csv (min_pos >= 1). Errors name the file and what is wrong
 * (a missing file, a record of the cache absent from the database, a malformed row). */
int pe_aux_labels_build(const char *root, const pe_cache *c, int min_pos, pe_aux_labels *out,
                        pe_error *e);
void pe_aux_labels_free(pe_aux_labels *a);

#endif
