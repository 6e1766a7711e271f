/* WFDB records: header (.hea) parsing and format-16 signal reading. */
#ifndef PE_DATA_WFDB_H
#define PE_DATA_WFDB_H

#include <stddef.h>

#include "protoecg.h"

typedef struct {
    char file_name[256];   /* signal file, relative to the header's directory */
    int format;            /* 16 is supported */
    long byte_offset;      /* from "16+24"; 0 if absent */
    double gain;           /* ADC units per physical unit; 0 in the header means 200 */
    double baseline;       /* defaults to adc_zero */
    char units[32];        /* "mV" if absent */
    int adc_resolution;
    int adc_zero;
    int initial_value;     /* defaults to adc_zero */
    int has_checksum;
    int checksum;          /* 16-bit sum of all samples, as stored */
    int block_size;
    char description[128];
} pe_wfdb_signal;

typedef struct {
    char record_name[256];
    int n_signals;
    double fs;             /* sampling frequency, Hz (250 if absent) */
    long n_samples;        /* per signal */
    pe_wfdb_signal *signals; /* n_signals entries, malloc'd */
} pe_wfdb_header;

/* Parses header text. `path` is used only in error messages. */
int pe_wfdb_parse_header(const char *text, size_t len, const char *path, pe_wfdb_header *h,
                         pe_error *e);
void pe_wfdb_header_free(pe_wfdb_header *h);

/* Reads a record given its path without extension (e.g. ROOT/records100/00000/00001_lr):
 * parses "<path>.hea", reads every signal file, verifies each lead's checksum and
 * initial value, and returns physical values (ADC - baseline) / gain as floats in
 * *signal, lead-major (n_signals x n_samples), malloc'd. */
int pe_wfdb_read(const char *record_path, pe_wfdb_header *h, float **signal, pe_error *e);

#endif
