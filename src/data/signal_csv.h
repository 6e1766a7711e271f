/* A 12-lead ECG stored as a CSV table, the lowest common denominator of ECG exports:
 * a header row naming the columns, one row per sample. The 12 standard leads are found
 * by name (any order or case; other columns are ignored), in mV; an empty cell, "nan"
 * or "NA" is a missing sample (NaN, as a lead off). The sampling rate comes from a time
 * column in seconds (named time, t, time_s, seconds or sec; evenly spaced) or from the
 * caller. The public entry point is pe_signal_csv_read (protoecg.h). */
#ifndef PE_DATA_SIGNAL_CSV_H
#define PE_DATA_SIGNAL_CSV_H

#include <stddef.h>

#include "protoecg.h"

/* Above this mean absolute value (mV) a table is taken to be in microvolts and refused. */
#define PE_CSV_MAX_MEAN_ABS_MV 20.0

/* pe_signal_csv_read on text[0..len) (path only names it in errors). */
int pe_signal_csv_parse(const char *text, size_t len, const char *path, double fs,
                        float **signal, int *n_leads, long *n_samples, double *fs_out,
                        pe_error *e);

/* The sampling rate of evenly spaced times t[0..n) (seconds), n >= 2: 1 / the mean step,
 * rounded to an integer when within 0.1% of one. Fails (naming path) when the times do not
 * increase or a time strays from the even grid by more than half a step. */
int pe_csv_rate_from_times(const double *t, long n, const char *path, double *fs, pe_error *e);

#endif
