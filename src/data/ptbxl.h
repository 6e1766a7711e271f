/* PTB-XL metadata: ptbxl_database.csv rows, scp_codes, the 16 rhythm labels. */
#ifndef PE_DATA_PTBXL_H
#define PE_DATA_PTBXL_H

#include <stdint.h>

#include "protoecg.h"

typedef enum { PE_SPLIT_TRAIN = 0, PE_SPLIT_VAL = 1, PE_SPLIT_TEST = 2 } pe_split;

typedef struct {
    int ecg_id;
    int patient_id;
    int strat_fold;                 /* 1..10 */
    char filename_lr[128];          /* e.g. records100/00000/00001_lr */
    char filename_hr[128];
    uint8_t labels[PE_NUM_CLASSES]; /* multi-hot in pe_class_names order */
    char *scp_codes;                /* the row's scp_codes text (owned by the db) */
} pe_ptbxl_row;

typedef struct {
    pe_ptbxl_row *rows; /* sorted by ecg_id as in the file */
    int n;
} pe_ptbxl_db;

/* Loads ROOT/ptbxl_database.csv. Errors name the file and line. Columns are found by
 * header name; rows must be in increasing ecg_id order (as in the official file). */
int pe_ptbxl_load(const char *root, pe_ptbxl_db *db, pe_error *e);
/* Parses CSV text already in memory (path for messages only). */
int pe_ptbxl_parse(const char *text, size_t len, const char *path, pe_ptbxl_db *db, pe_error *e);
void pe_ptbxl_free(pe_ptbxl_db *db);

/* Index of the row with this ecg_id (binary search), or -1 if absent. */
int pe_ptbxl_find(const pe_ptbxl_db *db, int ecg_id);

/* train = folds 1-8, val = 9, test = 10 (the loader rejects folds outside 1..10; any
 * other value maps to train here). */
pe_split pe_split_of_fold(int strat_fold);

/* Parses a scp_codes dict literal such as "{'NORM': 100.0, 'SR': 0.0}" and sets
 * labels[c] = 1 for each of the 16 rhythm codes present (any likelihood); the other
 * entries are set to 0. Keys may use single or double quotes; "{}" gives no label. */
int pe_scp_codes_to_labels(const char *dict, uint8_t labels[PE_NUM_CLASSES], pe_error *e);

/* Calls fn(key, key_len, ctx) for each key of a scp_codes dict literal, in the dict's
 * order (the same syntax checks as pe_scp_codes_to_labels); a non-zero return of fn
 * stops with an out-of-memory error. */
typedef int (*pe_scp_key_fn)(const char *key, size_t len, void *ctx);
int pe_scp_codes_each(const char *dict, pe_scp_key_fn fn, void *ctx, pe_error *e);

#endif
