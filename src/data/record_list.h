/* A list of labelled records from any source (external validation): a CSV file with a
 * header naming the columns `record` (a WFDB record's path, or an ECG table's: `.csv`
 * with a time column; relative to the CSV file's folder unless absolute) and `labels` (the
 * record's labels among the 16, separated by blanks or semicolons; empty: none). Other
 * columns are ignored. */
#ifndef PE_DATA_RECORD_LIST_H
#define PE_DATA_RECORD_LIST_H

#include <stdint.h>

#include "protoecg.h"

typedef struct {
    int n;
    char **paths;     /* (n) record paths, resolved */
    uint8_t *labels;  /* (n, PE_NUM_CLASSES) */
} pe_record_list;

/* Reads the list at csv_path. Fails, naming the file and line, on a missing column, an
 * empty record field, an unknown label or an empty list. */
int pe_record_list_load(const char *csv_path, pe_record_list *l, pe_error *e);
void pe_record_list_free(pe_record_list *l);

#endif
