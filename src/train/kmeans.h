/* Spherical k-means (cosine similarity), used to start a class's prototypes at the
 * centres of its training latents (train --proto-init-kmeans). */
#ifndef PE_TRAIN_KMEANS_H
#define PE_TRAIN_KMEANS_H

#include "util/error.h"
#include "util/rng.h"

/* X (n, D) rows, any nonzero norm (compared by cosine); k >= 1 clusters.
 * Seeding: k-means++ on the cosine distance 1 - cos (first centre uniform, each next one
 * drawn with probability proportional to its distance from the nearest centre so far),
 * then Lloyd steps (assign each row to the centre of highest cosine, lowest index on
 * ties; a centre becomes the normalized mean of its rows, an empty cluster keeps its
 * centre) until no assignment changes or `iters` steps. With k > n the centres repeat
 * the rows. Writes centres (k, D), unit norm, and assign (n) if not NULL. */
int pe_kmeans_cosine(const float *X, long n, int D, int k, int iters, pe_rng *r,
                     float *centres, int *assign, pe_error *e);

#endif
