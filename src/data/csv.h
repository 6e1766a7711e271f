/* A small RFC 4180 CSV reader: comma-separated fields, records ended by LF or CRLF,
 * double-quoted fields may contain commas, line breaks and doubled quotes ("").
 * Blank lines (outside quotes) are skipped; a leading UTF-8 BOM is ignored. */
#ifndef PE_DATA_CSV_H
#define PE_DATA_CSV_H

#include <stddef.h>

#include "protoecg.h"

typedef struct {
    char *buf;         /* all field texts, unquoted and NUL-terminated, back to back */
    char **fields;     /* every field of every row, row-major (pointers into buf) */
    size_t *row_start; /* row r has fields[row_start[r] .. row_start[r+1]) */
    int *row_line;     /* 1-based line on which row r starts */
    int n_rows;
} pe_csv;

/* Parses text[0..len) (need not be NUL-terminated; NUL bytes are an error). `path` is
 * used only in error messages, which name the path and the line. */
int pe_csv_parse(const char *text, size_t len, const char *path, pe_csv *csv, pe_error *e);
void pe_csv_free(pe_csv *csv);
/* Reads the file at path and parses it (errors name the path). */
int pe_csv_load(const char *path, pe_csv *csv, pe_error *e);
/* Index of the first header (row 0) field equal to name, or -1. */
int pe_csv_column(const pe_csv *csv, const char *name);

/* Number of fields of row r, and field c of row r. */
static inline int pe_csv_n_fields(const pe_csv *csv, int r) {
    return (int)(csv->row_start[r + 1] - csv->row_start[r]);
}
static inline const char *pe_csv_field(const pe_csv *csv, int r, int c) {
    return csv->fields[csv->row_start[r] + (size_t)c];
}

#endif
