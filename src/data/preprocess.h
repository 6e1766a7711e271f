/* Standardization, class weights and the weighted sampler (spec section 2). */
#ifndef PE_DATA_PREPROCESS_H
#define PE_DATA_PREPROCESS_H

#include <stdint.h>

#include "protoecg.h"
#include "util/rng.h"

/* Per-lead mean and population std over all time points of n records
 * x (n, leads, samples). Accumulates in double. A lead with std 0 gets std 1. */
void pe_standardize_fit(const float *x, long n, int leads, int samples, float *mean, float *std);
/* The same over the records rows[0..n-1] of x only (rows NULL: records 0..n-1). */
void pe_standardize_fit_rows(const float *x, const long *rows, long n, int leads, int samples,
                             float *mean, float *std);
/* x = (x - mean[lead]) / std[lead] in place. */
void pe_standardize_apply(float *x, long n, int leads, int samples, const float *mean,
                          const float *std);

/* n_c positives per class over n records with labels (n, C); T = sum n_c;
 * w_c = (T - n_c) / n_c, and 0 when n_c = 0 (counted in *n_empty, may be NULL). */
void pe_class_weights(const uint8_t *labels, long n, int C, float *w, long *counts, int *n_empty);

/* Weighted sampling with replacement: record weight = sum of w_c over its
 * positive labels (records with weight 0 are never drawn unless all are 0, then
 * uniform). */
typedef struct {
    double *cdf; /* n cumulative weights */
    long n;
} pe_sampler;

int pe_sampler_init(pe_sampler *s, const uint8_t *labels, long n, int C, const float *w,
                    pe_error *e);
/* Draws `count` indices into out. */
void pe_sampler_draw(const pe_sampler *s, pe_rng *r, long *out, long count);
void pe_sampler_free(pe_sampler *s);

#endif
