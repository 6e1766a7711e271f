/* WFDB records: header (.hea) parsing and format-16 signal reading. */
#ifndef PE_DATA_WFDB_H
#define PE_DATA_WFDB_H

#include <stddef.h>

#include "protoecg.h"

typedef struct {
    char file_name[256];   /* signal file, relative to the header's directory */
    int format;            /* 16 is supported */
    int samples_per_frame; /* from "16x2"; 1 if absent (only 1 is supported) */
    int skew;              /* from "16:3"; 0 if absent (only 0 is supported) */
    long byte_offset;      /* from "16+24"; 0 if absent */
    double gain;           /* ADC units per physical unit; 0 in the header means 200 */
    double baseline;       /* defaults to adc_zero */
    char units[32];        /* "mV" if absent */
    int adc_resolution;
    int adc_zero;
    int initial_value;     /* defaults to adc_zero */
    int has_initial_value; /* 1 if the header gives it (then pe_wfdb_read verifies it) */
    int has_checksum;      /* 1 if the header gives it (then pe_wfdb_read verifies it) */
    int checksum;          /* 16-bit sum of all samples, as stored (compared mod 2^16) */
    int block_size;
    char description[128]; /* "record NAME, signal N" if absent */
} pe_wfdb_signal;

typedef struct {
    char record_name[256];
    int n_signals;
    double fs;             /* sampling frequency, Hz (250 if absent) */
    double counter_freq;   /* from "fs/cf"; equals fs if absent */
    double base_counter;   /* from "fs/cf(base)"; 0 if absent */
    long n_samples;        /* per signal (0 in the header = unknown: pe_wfdb_read infers it) */
    char base_time[32];    /* "HH:MM:SS" as written; "" if absent */
    char base_date[32];    /* "DD/MM/YYYY" as written; "" if absent */
    pe_wfdb_signal *signals; /* n_signals entries, malloc'd */
} pe_wfdb_header;

/* Parses header text (not necessarily NUL-terminated). `path` is used only in error
 * messages. Multi-segment records are rejected. On error *h is left empty. */
int pe_wfdb_parse_header(const char *text, size_t len, const char *path, pe_wfdb_header *h,
                         pe_error *e);
/* Frees h->signals and zeroes *h (safe on a zeroed or already freed header). */
void pe_wfdb_header_free(pe_wfdb_header *h);

/* Reads a record given its path without extension (e.g. ROOT/records100/00000/00001_lr):
 * parses "<path>.hea", reads every signal file, verifies each lead's checksum and
 * initial value (when the header gives them), and returns physical values
 * (ADC - baseline) / gain as floats in *signal, lead-major (n_signals x n_samples),
 * malloc'd; a stored -32768 (WFDB's invalid sample) reads as NaN. Only format 16 is supported. Signals sharing a file must be on adjacent
 * header lines (as WFDB requires). On error *h is empty and *signal is NULL. */
int pe_wfdb_read(const char *record_path, pe_wfdb_header *h, float **signal, pe_error *e);

#endif
