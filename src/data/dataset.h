/* A split of the prepared cache as index lists, and batch gathering. */
#ifndef PE_DATA_DATASET_H
#define PE_DATA_DATASET_H

#include <stdint.h>

#include "data/cache.h"
#include "data/ptbxl.h"
#include "util/rng.h"

typedef struct {
    const pe_cache *cache;
    long *idx;  /* record indices into the cache */
    long n;
} pe_split_view;

/* Records of the cache whose fold falls in `split`. */
int pe_split_view_init(pe_split_view *v, const pe_cache *c, pe_split split, pe_error *e);
void pe_split_view_free(pe_split_view *v);

/* Copies records order[0..B-1] (indices into v->idx) into x (B, leads, samples)
 * and their labels into y (B, C). */
void pe_gather_batch(const pe_split_view *v, const long *order, int B, float *x, uint8_t *y);

/* Labels of the whole split (n, C), malloc'd. */
uint8_t *pe_split_labels(const pe_split_view *v);

/* Training augmentation of a batch x (B, leads, samples), in place: per record (when
 * shift) a random circular time shift, a random gain in [1 - scale, 1 + scale] and
 * Gaussian noise of std `noise` (standardized units). The shift's wrap point joins two
 * unrelated beats: an irregular RR interval that rhythm labels do not describe. */
void pe_augment_batch(float *x, int B, int leads, int samples, int shift, float scale,
                      float noise, pe_rng *r);

/* Random crops of a batch x (B, leads, samples) into out (B, leads, len): per record the
 * window of len <= samples samples at a start drawn uniformly from [0, samples - len]. */
void pe_crop_batch(const float *x, int B, int leads, int samples, int len, float *out,
                   pe_rng *r);

/* Mixup (Zhang et al. 2018) of a batch x (B, n) with labels y (B, C), in place: one
 * lambda ~ Beta(alpha, alpha) for the batch (returned) and a random permutation pi;
 * x_b <- lambda x_b + (1 - lambda) x_pi(b), and y_mix_b <- y_pi(b) (the caller weighs
 * the loss of y by lambda and of y_mix by 1 - lambda: BCE is linear in its target).
 * Returns -1 when out of memory. */
double pe_mixup_batch(float *x, const uint8_t *y, uint8_t *y_mix, int B, size_t n, int C,
                      double alpha, pe_rng *r);

#endif
